"""The local worker: one process per studio that carries out queued runs, so a run started from
a page, a tab or a notebook goes on when the page is closed or its kernel is culled.

`ensure_local_worker(studio)` starts it on demand (a lease in the `workers` table keeps it to
one per studio); it exits after `idle_exit` seconds with nothing to do. `storynb worker` starts
one by hand; with `--broker` it is a Celery worker instead (see storynb.distributed).
"""
from __future__ import annotations

import os
import socket
import sys
import threading
import time

from .jobs import claim_run, close_run
# Which process is the studio's local worker, and starting one: below the pipeline, which starts it.
from .worker_lease import BEAT_S, LEASE, STALE_S, beat, ensure_local_worker, local_worker, take_lease  # noqa: F401


def serve(studio_path, *, idle_exit: float = 60.0, max_runs: int = 4) -> int:
    """Carry out queued runs until there has been nothing to do for `idle_exit` seconds."""
    from .pipeline import run_claimed
    from .studio import Studio

    studio = Studio(studio_path)
    db = studio.db
    if not take_lease(db):
        print("storynb worker: another local worker serves this studio", file=sys.stderr)
        return 0
    name = f"local@{socket.gethostname()}:{os.getpid()}"
    studio.worker_name = name
    active: dict[int, threading.Thread] = {}
    idle_since = last_beat = time.monotonic()
    print(f"storynb worker {name}: serving {studio.path}", file=sys.stderr, flush=True)
    try:
        while True:
            if time.monotonic() - last_beat >= BEAT_S:
                last_beat = time.monotonic()
                if not beat(db):
                    print("storynb worker: lost the lease; stopping", file=sys.stderr)
                    break
            for run_id in [r for r, t in active.items() if not t.is_alive()]:
                del active[run_id]
            while len(active) < max_runs:
                run = claim_run(db, name)
                if run is None:
                    break
                thread = threading.Thread(target=_carry_out, args=(studio, run, run_claimed),
                                          name=f"storynb-run-{run['id']}", daemon=True)
                active[run["id"]] = thread
                thread.start()
            if active:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > idle_exit:
                break
            time.sleep(0.3)
    finally:
        db.execute("delete from workers where name = ? and pid = ?", [LEASE, os.getpid()])
        studio.close()
    return 0


def _carry_out(studio, run: dict, run_claimed) -> None:
    import json

    from .project import Project

    own = studio.for_thread()
    own.worker_name = studio.worker_name
    try:
        project = Project(own, run["project_id"])
        run_claimed(project, json.loads(run["stages"]), run["id"])
    except Exception as exc:  # refused (another process runs it) or broken: the run row says why
        close_run(own.db, run["id"], "failed", error=str(exc)[:2000])
        print(f"storynb worker: run {run['id']} failed: {exc}", file=sys.stderr, flush=True)
    finally:
        own.close()


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m storynb.worker")
    parser.add_argument("--studio", required=True)
    parser.add_argument("--idle-exit", type=float, default=60.0)
    args = parser.parse_args(argv)
    return serve(args.studio, idle_exit=args.idle_exit)


if __name__ == "__main__":
    sys.exit(main())
