"""Reads for views that follow a run from the studio (panels, the app, `storynb watch`):
what the latest run's jobs did, newest first. The state itself is `project.progress()`;
`studio.changes()` says when to read it again."""
from __future__ import annotations


def recent_jobs(db, run: dict | None, limit: int = 14) -> list[dict]:
    """What the run (a `runs` row, e.g. `progress()["run"]`) has worked on, newest first:
    stage, label, state, error, started, finished. Jobs that were already done when the run
    planned them (nothing to do) are left out."""
    if not run or not run.get("started"):
        return []
    rows = db.execute(
        "select stage, label, state, error, started, finished from jobs where run_id = ? and "
        "state in ('running', 'done', 'failed') and started >= ? "
        "order by coalesce(finished, started) desc, id desc limit ?",
        [run["id"], run["started"], limit]).fetchall()
    keys = ("stage", "label", "state", "error", "started", "finished")
    return [dict(zip(keys, row)) for row in rows]


ACTIVE = ("queued", "running")


def run_active(db, project_id: int) -> bool:
    """Whether a run of the project is waiting or going on anywhere, from the studio alone: a
    queued run, a live process holding the project's run lease, or a run a live worker has just
    claimed. A run whose process died is not active (it shows as interrupted)."""
    from .jobs import latest_run
    from .lease import held

    row = db.execute("select run_owner, run_heartbeat from projects where id = ?",
                     [project_id]).fetchone()
    if row is None:
        return False
    if held(*row):
        return True
    run = latest_run(db, project_id)
    if not run:
        return False
    return run["state"] == "queued" or (run["state"] == "running" and held(run["owner"], run["heartbeat"]))


def stages_reached(db, project_id: int, run: dict | None) -> list[str]:
    """The stages the run has begun (or finished): the others of its list are still waiting,
    whatever an earlier run left in their rows."""
    if not run or not run.get("started"):
        return []
    rows = db.execute("select stage from stages where project_id = ? and started >= ?",
                      [project_id, run["started"]]).fetchall()
    return [r[0] for r in rows]


def overall(progress: dict) -> float:
    """How far the latest run (or, with none active, the project) is, 0..1, for one bar."""
    import json

    run = progress.get("run") or {}
    stages = {s["stage"]: s for s in progress.get("stages", [])}
    if progress.get("active") and run:
        selected = json.loads(run.get("stages") or "[]") or list(stages)
        reached = set(progress.get("reached") or [])
        parts = []
        for name in selected:
            info = stages.get(name, {})
            if info.get("status") == "skipped":
                parts.append(1.0)
            elif name not in reached:
                parts.append(0.0)
            elif info.get("status") == "running":
                total = info.get("total") or 0
                parts.append((info.get("done", 0) + info.get("failed", 0)) / total if total else 0.0)
            else:
                parts.append(1.0)
        return sum(parts) / len(parts) if parts else 0.0
    finished = sum(1 for s in stages.values() if s["status"] in ("done", "skipped"))
    return finished / len(stages) if stages else 0.0
