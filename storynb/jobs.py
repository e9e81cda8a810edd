"""Runs and jobs as rows: the studio is the one truth about what is planned, running and done.

A *run* is a request to take a project through some stages (a row in `runs`: queued → running →
done | failed | paused | cancelled). Whoever executes it (this process, the local worker, a
coordinator with Celery workers) records every *job* it plans as a row in `jobs` (queued →
running → done | failed | cancelled, with attempts, owner and heartbeat), so any page, tab,
notebook or terminal reads the live state of any run from the studio, and a reloaded page
shows exactly what the worker is doing.

`progress(db, project_id)` is the one read of that state; `Changes` is the cheap change counter
views poll before reading it.
"""
from __future__ import annotations

import json
import os
import socket
import time
from typing import Iterable

from .db import now, writing

RUN_STATES = ("queued", "running", "done", "failed", "paused", "cancelled")
JOB_STATES = ("queued", "running", "done", "failed", "cancelled")


def me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# runs -------------------------------------------------------------------------------------
def request_run(db, project_id: int, stages: list[str], executor: str) -> int:
    """Queue a run for a worker to pick up (or to be run at once by the caller)."""
    return db["runs"].insert({"project_id": project_id, "stages": json.dumps(stages),
                              "state": "queued", "executor": executor,
                              "requested": now()}).last_pk


def open_run(db, project_id: int, stages: list[str], executor: str,
             run_id: int | None = None) -> int:
    """Mark a run as running in this process (creating its row for a run started here)."""
    with writing(db):
        if run_id is None:
            run_id = request_run(db, project_id, stages, executor)
        db["runs"].update(run_id, {"state": "running", "owner": me(), "heartbeat": time.time(),
                                   "started": now()})
    return run_id


def close_run(db, run_id: int, state: str, summary: str = "", error: str | None = None) -> None:
    db["runs"].update(run_id, {"state": state, "finished": now(), "summary": summary[:4000],
                               "error": error})


def claim_run(db, worker: str) -> dict | None:
    """The oldest queued run, taken by this worker (None when nothing waits)."""
    with writing(db):
        row = db.execute("select id from runs where state = 'queued' order by id limit 1").fetchone()
        if not row:
            return None
        db.execute("update runs set state = 'running', owner = ?, heartbeat = ?, started = ? "
                   "where id = ? and state = 'queued'", [worker, time.time(), now(), row[0]])
    found = db["runs"].get(row[0])
    return dict(found) if found["owner"] == worker else None


def latest_run(db, project_id: int) -> dict | None:
    rows = list(db["runs"].rows_where("project_id = ?", [project_id], order_by="id desc", limit=1))
    return rows[0] if rows else None


def cancel_queued(db, project_id: int) -> int:
    """Withdraw runs of a project that no worker has started yet."""
    cursor = db.execute("update runs set state = 'cancelled', finished = ? "
                        "where project_id = ? and state = 'queued'", [now(), project_id])
    return cursor.rowcount


# jobs -------------------------------------------------------------------------------------
class JobBook:
    """Records one run's jobs of one stage: what was planned, claimed, finished or failed."""

    def __init__(self, db, run_id: int | None, project_id: int, stage: str):
        self.db, self.run_id, self.project_id, self.stage = db, run_id, project_id, stage
        self.owner = me()
        self.ids: dict[str, int] = {}

    def plan(self, jobs: Iterable, done: dict[str, bool]) -> None:
        """Enter every planned job: finished ones as done, the rest queued (one transaction)."""
        stamp = now()
        with writing(self.db):
            for job in jobs:
                state = "done" if done[job.key] else "queued"
                self.db.execute(
                    "insert into jobs (run_id, project_id, stage, key, shot_id, label, state, "
                    "attempts, created) values (?, ?, ?, ?, ?, ?, ?, 0, ?) "
                    "on conflict (project_id, stage, key) do update set run_id = excluded.run_id, "
                    "shot_id = excluded.shot_id, label = excluded.label, "
                    "state = case when jobs.state = 'done' and excluded.state = 'done' then 'done' "
                    "else excluded.state end, owner = null, error = case when "
                    "excluded.state = 'done' then null else jobs.error end",
                    [self.run_id, self.project_id, self.stage, job.key, job.shot_id, job.label,
                     state, stamp])
            rows = self.db.execute("select key, id from jobs where project_id = ? and stage = ?",
                                   [self.project_id, self.stage]).fetchall()
        self.ids.update(dict(rows))

    def claim(self, key: str) -> None:
        self.db.execute("update jobs set state = 'running', owner = ?, heartbeat = ?, started = ?, "
                        "attempts = attempts + 1 where id = ?",
                        [self.owner, time.time(), now(), self.ids.get(key)])

    def done(self, key: str, call_id: int | None = None) -> None:
        self.db.execute("update jobs set state = 'done', finished = ?, owner = null, error = null, "
                        "call_id = coalesce(?, (select max(id) from calls where job_key = ? and "
                        "status = 'ok'), call_id) where id = ?",
                        [now(), call_id, key, self.ids.get(key)])

    def failed(self, key: str, error: str) -> None:
        self.db.execute("update jobs set state = 'failed', finished = ?, owner = null, error = ? "
                        "where id = ?", [now(), error[:2000], self.ids.get(key)])

    def cancelled(self, key: str) -> None:
        self.db.execute("update jobs set state = 'cancelled', owner = null where id = ? and "
                        "state = 'queued'", [self.ids.get(key)])


# reading ----------------------------------------------------------------------------------
class Changes:
    """A cheap "did anything change?" for views: SQLite's data_version (bumped by commits of
    other connections) plus this connection's own change count. Poll it, then read `progress`."""

    def __init__(self, db):
        self.db = db
        self.last = None

    def token(self) -> tuple[int, int]:
        version = self.db.execute("pragma data_version").fetchone()[0]
        return version, self.db.conn.total_changes

    def changed(self) -> bool:
        current = self.token()
        if current != self.last:
            self.last = current
            return True
        return False


def progress(db, project_id: int, stages_order: tuple[str, ...]) -> dict:
    """The live state of a project: its status, its latest run and, per stage, the status and
    how many of the run's jobs are done, running, failed and planned."""
    from .lease import held

    project = db.execute("select status, paused, run_owner, run_heartbeat from projects "
                         "where id = ?", [project_id]).fetchone()
    if project is None:
        return {}
    status, paused, owner, beat = project
    run = latest_run(db, project_id)
    if status == "running" and not held(owner, beat):
        status = "interrupted"
    if run and run["state"] == "queued":
        status = "queued"
    counts: dict[str, dict[str, int]] = {}
    if run:
        for stage, state, count in db.execute(
                "select stage, state, count(*) from jobs where run_id = ? group by stage, state",
                [run["id"]]):
            counts.setdefault(stage, {})[state] = count
    stages = []
    rows = {r["stage"]: r for r in db["stages"].rows_where("project_id = ?", [project_id])}
    for stage in stages_order:
        row = rows.get(stage) or {}
        mine = counts.get(stage, {})
        total = sum(mine.values())
        stages.append({
            "stage": stage, "status": row.get("status") or "pending",
            "done": mine.get("done", 0) if mine else (row.get("ran") or 0) + (row.get("skipped") or 0),
            "running": mine.get("running", 0), "failed": mine.get("failed", 0) if mine else (row.get("failed") or 0),
            "total": total if mine else (row.get("ran") or 0) + (row.get("skipped") or 0) + (row.get("failed") or 0),
            "error": row.get("error")})
    return {"project_id": project_id, "status": status, "paused": bool(paused),
            "run": dict(run) if run else None, "stages": stages}


# paid once ---------------------------------------------------------------------------------
def adoptable_call(db, key: str, *, media=None) -> dict | None:
    """A successful call for this job that no finished attempt has used or rejected: what a run
    killed after a paid answer arrived left behind. With `media`, only a call whose file is in
    the store (returned with "media" and "result"); without, an answer's text ("response")."""
    if not key:
        return None
    last_failure = db.execute("select max(finished) from jobs where key = ? and error is not null",
                              [key]).fetchone()[0] or ""
    rows = db.execute("select id, response, tokens_in, tokens_out from calls where job_key = ? and "
                      "status = 'ok' and created > ? order by id desc limit 5",
                      [key, last_failure]).fetchall()
    for call_id, response, tokens_in, tokens_out in rows:
        if media is None:
            if response:
                return {"id": call_id, "response": response, "tokens_in": tokens_in,
                        "tokens_out": tokens_out}
            continue
        try:
            note = json.loads(response or "{}")
        except ValueError:
            continue
        name = note.get("media") if isinstance(note, dict) else None
        if name and media.exists(name):
            return {"id": call_id, "media": name, "result": note.get("result")}
    return None
