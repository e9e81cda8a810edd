"""One run per project across processes: a lease in the projects row (owner + heartbeat).

Two Voila tabs are two kernels; without this they could run the same project at once. A lease
whose process is gone (killed, crashed) or whose heartbeat is old is taken over at once.
"""
from __future__ import annotations

import asyncio
import os
import socket
import time

from .db import writing
from .errors import InvalidInput

STALE_AFTER_S = 120.0  # no heartbeat for this long: the owner is presumed gone
HEARTBEAT_EVERY_S = 5.0  # well under STALE_AFTER_S


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine sharing the database: trust its heartbeat
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def held(owner: str | None, beat: float | None) -> bool:
    """Whether a lease is held by a process that is still running the project."""
    return bool(owner and beat is not None and time.time() - beat < STALE_AFTER_S and _alive(owner))


def acquire(db, project_id: int) -> str:
    """Take the project's run lease, or raise if a live process holds it."""
    me = _me()
    with writing(db):
        row = db.execute("select run_owner, run_heartbeat from projects where id = ?",
                         [project_id]).fetchone()
        owner, beat = row if row else (None, None)
        if owner and owner != me and held(owner, beat):
            raise InvalidInput(f"project {project_id} is being run by another process ({owner}): "
                               "wait for it to finish, or pause it")
        db.execute("update projects set run_owner = ?, run_heartbeat = ? where id = ?",
                   [me, time.time(), project_id])
    return me


async def keep_alive(db, project_id: int) -> None:
    """Renew the lease every few seconds for as long as the run goes on (a single job, such as
    polling a video service, may take minutes). Run it as a task; cancel it at the end."""
    while True:
        await asyncio.sleep(HEARTBEAT_EVERY_S)
        db.execute("update projects set run_heartbeat = ? where id = ? and run_owner = ?",
                   [time.time(), project_id, _me()])
        db.execute("update runs set heartbeat = ? where project_id = ? and owner = ? and "
                   "state = 'running'", [time.time(), project_id, _me()])


def release(db, project_id: int) -> None:
    db.execute("update projects set run_owner = null, run_heartbeat = null "
               "where id = ? and run_owner = ?", [project_id, _me()])
