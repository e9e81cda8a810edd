"""Usage and cost: aggregates of the call log (one row per attempt), and an estimate of what a
run will call and cost before it starts.

    studio.usage()                      # per provider
    studio.usage(by="day", project=3)   # per UTC day, one project
    studio.estimate(project)            # calls and cost per stage and provider, before a run
"""
from __future__ import annotations

import json
from typing import Any

from .errors import InvalidInput
from .runner import STAGES

GROUPS = {"provider": ["provider"], "project": ["project_id"], "day": ["day"],
          "stage": ["stage"], "kind": ["kind"]}
COLUMNS = ["calls", "ok", "failed", "tokens_in", "tokens_out", "cost", "latency_ms"]

# typical token counts of the LLM stages, for the estimate (real counts are in the call log)
LLM_TOKENS = {"rewrite": (450, 700), "storyboard": (1000, 1100), "camera": (800, 350)}


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
    where: list[str] = []
    args: list[Any] = []
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
    failures. It counts what a run would really do: a job is skipped when the runner's own test
    (`Job.done()`) says it is finished, and work whose inputs a run would change first is counted
    shot by shot (a new image for shot 2 redoes shot 2's clip and the final join, nothing else;
    a new storyboard redoes everything after it). A route's calls are shared out by its strategy
    (weighted: by weight; the others: evenly) among its first-priority members."""
    import pandas as pd

    from .pipeline import selected_stages
    from .routing import cost_of
    from .stages.export import COMPOSITOR
    from .stages.storyboard import default_shot_count

    selected = selected_stages(stages)
    status = project.status()
    shots = project.shots()
    row = project.row
    rows = []
    everything = False          # the story or the storyboard will change: every shot is new
    redo: dict[str, set] = {}   # stage → ids of the shots whose output a run will change
    for stage in STAGES:
        if stage not in selected or status.get(stage) == "skipped":
            continue
        note = ""
        counts: list[tuple[str, object, int]] = []  # (kind, provider route, calls)
        pending = None if everything else pending_jobs(project, stage)
        if pending is None:  # inputs missing or about to change: count the stage in full
            if shots and not everything:
                n = len(shots)
            else:
                n = row["shots_wanted"] or default_shot_count(project.story() or row["topic"],
                                                              row["language"])
                note = f"about {n} shots" if stage in ("images", "clips", "export") else ""
            llm_stage = stage in ("rewrite", "storyboard", "camera")
            counts = [(_KIND[stage], None, 1 if llm_stage else n)]
            if stage == "clips":  # each shot's narration first (shots fit their lines)
                counts.insert(0, ("tts", None, n))
            if stage == "export":  # the join and the sound mix: local
                counts = [("export", COMPOSITOR, 1)]
            if stage in ("rewrite", "storyboard"):
                everything = True
        else:
            jobs, changed, join_due = pending
            narrations = 0
            if stage == "clips":  # a new image, movement or narration redoes that shot's clip
                voiced = _pending_narration(project)
                narrations = len(voiced)
                changed |= redo.get("images", set()) | redo.get("camera", set()) | voiced
                jobs = len(changed)
            if stage == "export":
                join = bool(redo.get("clips") or join_due)
                counts = [("export", COMPOSITOR, 1)] if join else []
            else:
                counts = ([("tts", None, narrations)] if stage == "clips" else []) + \
                    [(_KIND[stage], None, jobs)]
            redo[stage] = changed
            if stage in ("rewrite", "storyboard") and jobs:
                everything = True
        for kind, provider, calls in counts:
            if not calls:
                continue
            if provider is not None:  # the local join: free, one call row
                rows.append({"stage": stage, "kind": kind, "provider": provider.name,
                             "calls": float(calls), "cost": 0.0, "note": note})
                continue
            route = project.provider(kind)
            for member, share in _shares(route):
                units, tokens = _units(project, stage, member, shots)
                per_call = cost_of(member.price, tokens[0], tokens[1], units)
                rows.append({"stage": stage, "kind": kind, "provider": member.name,
                             "calls": round(calls * share, 2),
                             "cost": round(calls * share * per_call, 6), "note": note})
    frame = pd.DataFrame(rows, columns=["stage", "kind", "provider", "calls", "cost", "note"])
    return frame


_KIND = {"rewrite": "llm", "storyboard": "llm", "camera": "llm", "images": "text2image",
         "clips": "image2video", "export": "export"}


def _pending_narration(project) -> set:
    """Ids of the shots whose narration a run would make (the first phase of the clips stage)."""
    from .stages import narration

    try:
        return {job.shot_id for job in narration.plan(project) if not _done(job)}
    except Exception:
        return {s["id"] for s in project.shots()}


def pending_jobs(project, stage: str):
    """(jobs a run would do, ids of the shots they change, whether the final join is due) for a
    stage whose inputs exist; None when they do not (no shots yet …)."""
    from .stages import PLANNERS, narration
    from .stages.export import plan_video

    try:  # (narration is counted apart: see _pending_narration)
        jobs = [job for plan in PLANNERS[stage] if plan not in (plan_video, narration.plan)
                for job in plan(project)]
    except Exception:
        return None
    todo = [job for job in jobs if not _done(job)]
    changed: set = set()
    for job in todo:
        if job.shot_id is not None:
            changed.add(job.shot_id)
        pending_shots = getattr(job, "pending_shots", None)
        if callable(pending_shots):  # the camera: one call for the shots whose movement is stale
            try:
                changed |= set(pending_shots())
            except Exception:
                pass
    join_due = False
    if stage == "export":
        try:
            join_due = not all(_done(job) for job in plan_video(project))
        except Exception:  # a clip is missing: the join waits for it, so it will run
            join_due = True
    return len(todo), changed, join_due


def _done(job) -> bool:
    """The runner's own test of whether a job is finished (the same `Job.done()` a run uses to
    skip it), so the estimate counts exactly what a run would do."""
    try:
        return bool(job.done())
    except Exception:  # its inputs are missing or broken: a run would try it
        return False


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
    if getattr(member.provider, "kind", "") == "tts":
        chars = [len(s["narration"]) for s in shots] or [80]
        return {"characters": sum(chars) / len(chars)}, (0, 0)
    if stage == "clips":
        from .providers.tasks import pick_duration

        seconds = [s["duration_s"] for s in shots] or [4.0]
        mean = sum(seconds) / len(seconds)
        allowed = getattr(member.provider, "params", {}).get("durations")
        return {"seconds": pick_duration(mean, allowed) if allowed else mean}, (0, 0)
    return {}, (0, 0)


def describe_route(route) -> str:
    names = ", ".join(f"{m.name}{'' if m.active else ' (inactive)'}" for m in route.members)
    return names if route.single else f"{names} [{route.strategy}]"


def routes_of(project) -> dict[str, str]:
    return {kind: describe_route(project.provider(kind))
            for kind in ("llm", "text2image", "image2video", "tts")}


def prices(db) -> dict[str, dict]:
    return {r["name"]: json.loads(r["price"] or "{}") for r in db.query("select name, price from providers")}
