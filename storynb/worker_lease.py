"""Which process is a studio's local worker (a lease in the `workers` table) and starting one
(`python -m storynb.worker`) when a run is queued. Below the pipeline, which starts the worker;
storynb.worker is the worker itself."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from .db import now, writing

LEASE = "local"  # the row of the `workers` table that says which process is the local worker
BEAT_S = 3.0
STALE_S = 15.0


def alive(host: str, pid: int | None) -> bool:
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid or 0), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return bool(pid)


def local_worker(db) -> dict | None:
    """The live local worker of this studio (its workers row), if there is one."""
    found = db["workers"].get(LEASE) if db["workers"].count_where("name = ?", [LEASE]) else None
    if found and time.time() - (found["heartbeat"] or 0) < STALE_S and alive(found["host"], found["pid"]):
        return dict(found)
    return None


def ensure_local_worker(studio) -> None:
    """Start the studio's local worker unless one is running (it picks up queued runs)."""
    if local_worker(studio.db):
        return
    log = Path(studio.path).parent / "worker.log"
    with open(log, "ab") as out:
        subprocess.Popen([sys.executable, "-m", "storynb.worker", "--studio", str(studio.path)],
                         stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                         start_new_session=True, close_fds=True, env={**os.environ})


def take_lease(db) -> bool:
    with writing(db):
        if local_worker(db):
            return False
        db["workers"].upsert({"name": LEASE, "kind": "local", "host": socket.gethostname(),
                              "pid": os.getpid(), "heartbeat": time.time(), "started": now(),
                              "studio": ""}, pk="name")
    return True


def beat(db) -> bool:
    """Renew the lease; False if another process has taken it."""
    cursor = db.execute("update workers set heartbeat = ? where name = ? and host = ? and pid = ?",
                        [time.time(), LEASE, socket.gethostname(), os.getpid()])
    return cursor.rowcount == 1
