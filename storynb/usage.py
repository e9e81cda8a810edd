"""Usage and cost: aggregates of the call log (one row per attempt), and an estimate of what a
run will call and cost before it starts.

    studio.usage()                      # per provider
    studio.usage(by="day", project=3)   # per UTC day, one project
    studio.estimate(project)            # calls and cost per stage and provider, before a run
"""
from __future__ import annotations

import json

from .errors import InvalidInput
from .runner import STAGES

GROUPS = {"provider": ["provider"], "project": ["project_id"], "day": ["day"],
          "stage": ["stage"], "kind": ["kind"]}
COLUMNS = ["calls", "ok", "failed", "tokens_in", "tokens_out", "cost", "latency_ms"]

# typical token counts of the LLM stages, for the estimate (real counts are in the call log)
LLM_TOKENS = {"rewrite": (450, 700), "storyboard": (1000, 1100), "camera": (800, 350)}
DEPENDS = {"storyboard": {"rewrite"}, "images": {"storyboard"}, "camera": {"storyboard"},
           "clips": {"images", "camera", "storyboard"}, "export": {"clips", "storyboard"}}


def usage(db, by: str | list[str] = "provider", *, project: int | None = None,
          since: str | None = None, until: str | None = None):
    """Calls, successes, failures, tokens, cost and mean latency, grouped `by` provider, project,
    day (UTC), stage or kind (or a list of them). `since`/`until` are ISO dates."""
    import pandas as pd

    keys = [by] if isinstance(by, str) else list(by)
    unknown = [k for k in keys if k not in GROUPS]
    if unknown or not keys:
        raise InvalidInput(f"usage can be grouped by {', '.join(GROUPS)}, not {unknown or keys}")
    columns = [c for k in keys for c in GROUPS[k]]
    where, args = [], []
    if project is not None:
        where.append("c.project_id = ?")
        args.append(project)
    if since:
        where.append("c.created >= ?")
        args.append(since)
    if until:
        where.append("c.created < ?")
        args.append(until)
    select = ", ".join("substr(c.created, 1, 10) as day" if c == "day" else f"c.{c} as {c}"
                       for c in columns)
    group = ", ".join(columns)
    sql = (f"select {select}, count(*) as calls, sum(c.status = 'ok') as ok, "
           f"sum(c.status != 'ok') as failed, coalesce(sum(c.tokens_in), 0) as tokens_in, "
           f"coalesce(sum(c.tokens_out), 0) as tokens_out, round(coalesce(sum(c.cost), 0), 6) as cost, "
           f"round(avg(c.latency_ms), 1) as latency_ms from calls c "
           f"{'where ' + ' and '.join(where) if where else ''} group by {group} order by {group}")
    frame = pd.DataFrame(list(db.query(sql, args)), columns=columns + COLUMNS)
    if "project_id" in columns and len(frame):
        names = {r["id"]: r["name"] for r in db.query("select id, name from projects")}
        frame.insert(columns.index("project_id") + 1, "project",
                     [names.get(i, "(deleted)" if i is not None else "") for i in frame["project_id"]])
    return frame


def estimate(project, stages=None):
    """What running these stages will call and cost, per stage and provider, assuming no
    failures: work that is already done is skipped (its key has a successful call), and a stage
    whose inputs will change counts in full. A route's calls are shared out by its strategy
    (weighted: by weight; the others: evenly) among its first-priority members."""
    import pandas as pd

    from .pipeline import _selected
    from .routing import cost_of
    from .stages.storyboard import default_shot_count

    selected = _selected(stages)
    status = project.status()
    changed: set[str] = set()
    shots = project.shots()
    row = project.row
    rows = []
    for stage in STAGES:
        if stage not in selected or status.get(stage) == "skipped":
            continue
        upstream_changes = bool(DEPENDS.get(stage, set()) & changed)
        count = shot_count = None
        note = ""
        if not upstream_changes:
            try:
                count, shot_count = _pending_jobs(project, stage)
            except Exception:  # inputs missing (no shots yet …): count it in full
                count = None
        if count is None:
            if shots and "storyboard" not in changed:
                n = len(shots)
            else:
                n = row["shots_wanted"] or default_shot_count(project.story() or row["topic"],
                                                              row["language"])
                note = f"about {n} shots" if stage in ("images", "clips", "export") else ""
            count = {"rewrite": 1, "storyboard": 1, "camera": 1}.get(stage, n)
            shot_count = n
        if not count:
            continue
        changed.add(stage)
        for kind, jobs in _jobs_by_kind(stage, count, shot_count):
            route = project.provider(kind)
            for member, share in _shares(route):
                units, tokens = _units(project, stage, member, shots)
                per_call = cost_of(member.price, tokens[0], tokens[1], units)
                rows.append({"stage": stage, "kind": kind, "provider": member.name,
                             "calls": round(jobs * share, 2),
                             "cost": round(jobs * share * per_call, 6), "note": note})
    frame = pd.DataFrame(rows, columns=["stage", "kind", "provider", "calls", "cost", "note"])
    return frame


def _jobs_by_kind(stage: str, count: int, shots: int | None):
    if stage in ("rewrite", "storyboard", "camera"):
        return [("llm", count)]
    if stage == "images":
        return [("text2image", count)]
    if stage == "clips":
        return [("image2video", count)]
    return [("tts", count)]  # export: narration per shot (the join is local and free)


def _pending_jobs(project, stage: str) -> tuple[int, int]:
    """(jobs still to do, shots) for a stage whose inputs exist; raises when they do not."""
    from .stages import PLANNERS

    jobs = [job for plan in PLANNERS[stage] for job in _plan_quietly(plan, project)]
    todo = 0
    for job in jobs:
        ok = project.db.execute("select 1 from calls where job_key = ? and status = 'ok' limit 1",
                                [job.key]).fetchone()
        todo += 0 if ok else 1
    return todo, len(project.shots())


def _plan_quietly(plan, project):
    if plan.__name__ == "plan_video":  # needs every clip: counted as the local join only
        return []
    return plan(project)


def _shares(route):
    members = [m for m in route.members if m.active] or route.members
    tier = min(m.priority for m in members)
    members = [m for m in members if m.priority == tier]
    if route.strategy == "weighted":
        total = sum(max(0.0, m.weight or 0) for m in members)
        if total > 0:
            return [(m, max(0.0, m.weight or 0) / total) for m in members]
    return [(m, 1 / len(members)) for m in members]


def _units(project, stage: str, member, shots) -> tuple[dict, tuple[int, int]]:
    if stage in LLM_TOKENS:
        return {}, LLM_TOKENS[stage]
    if stage == "clips":
        from .providers.tasks import pick_duration

        seconds = [s["duration_s"] for s in shots] or [4.0]
        mean = sum(seconds) / len(seconds)
        allowed = getattr(member.provider, "params", {}).get("durations")
        return {"seconds": pick_duration(mean, allowed) if allowed else mean}, (0, 0)
    if stage == "export":
        chars = [len(s["narration"]) for s in shots] or [80]
        return {"characters": sum(chars) / len(chars)}, (0, 0)
    return {}, (0, 0)


def describe_route(route) -> str:
    names = ", ".join(f"{m.name}{'' if m.active else ' (inactive)'}" for m in route.members)
    return names if route.single else f"{names} [{route.strategy}]"


def routes_of(project) -> dict[str, str]:
    return {kind: describe_route(project.provider(kind))
            for kind in ("llm", "text2image", "image2video", "tts")}


def prices(db) -> dict[str, dict]:
    return {r["name"]: json.loads(r["price"] or "{}") for r in db.query("select name, price from providers")}
