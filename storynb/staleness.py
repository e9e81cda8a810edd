"""What an edit left out of date: the work a run would redo now, counted per stage and in the
words a person uses ("1 picture and 1 clip need updating").

It asks each stage's planners for their jobs and the runner's own `Job.done()` test (the same
test a run uses to skip work), so what it reports is exactly what "Update the video" will do.
It is a read: nothing is planned into the studio, nothing is run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .runner import STAGES

# what a stage makes, for people: (one, many)
THINGS = {"rewrite": ("story", "stories"), "storyboard": ("shot list", "shot lists"),
          "images": ("picture", "pictures"), "camera": ("camera move", "camera moves"),
          "clips": ("clip", "clips"), "export": ("video", "videos")}


@dataclass
class Staleness:
    """Per stage, how many things a run would (re)make, and the shot numbers they belong to."""

    counts: dict[str, int] = field(default_factory=dict)
    shots: dict[str, list[int]] = field(default_factory=dict)
    has_video: bool = False

    @property
    def stale(self) -> bool:
        """Whether the finished video no longer matches the project (an edit since it was made)."""
        return self.has_video and any(self.counts.values())

    def summary(self) -> str:
        """'1 picture and 1 clip need updating' (English; the app words it from `counts`)."""
        parts = [f"{n} {THINGS[s][0] if n == 1 else THINGS[s][1]}"
                 for s, n in self.counts.items() if n]
        if not parts:
            return "everything is up to date"
        words = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        total = sum(self.counts.values())
        return f"{words} {'needs' if total == 1 else 'need'} updating"


def staleness(project) -> Staleness:
    """What a run of `project` would redo now, after its last finished video. Stages that are
    skipped, or whose inputs do not exist yet (no shots before the storyboard ran), count 0.
    Per shot stages count the shots they change; the export counts 1 when the join is due."""
    from .usage import pending_jobs

    status = project.status()
    result = Staleness(has_video=project.latest_export() is not None)
    seq_of = {s["id"]: s["seq"] for s in project.shots()}
    for stage in STAGES:
        if status.get(stage) in ("skipped", "pending") and not result.has_video:
            result.counts[stage] = 0
            continue
        if stage == "export":
            result.counts[stage] = int(status.get(stage) != "skipped" and _join_due(project))
            continue
        pending = None if status.get(stage) == "skipped" else pending_jobs(project, stage)
        if pending is None:
            result.counts[stage] = 0
            continue
        jobs, changed, _join = pending
        if stage in ("images", "camera", "clips"):
            result.counts[stage] = len(changed)
            result.shots[stage] = sorted(seq_of[i] for i in changed if i in seq_of)
        else:
            result.counts[stage] = 1 if jobs else 0
    _cascade(result, status)
    return result


def _join_due(project) -> bool:
    """Whether the final join would run: the key the export would have now is not the key of the
    latest finished video (compared, not tested with the job's own done(), which republishes)."""
    from .stages.export import plan_video

    latest = project.latest_export()
    if latest is None:
        return False  # nothing made yet: not out of date, only not made
    try:
        keys = {job.key for job in plan_video(project)}
    except Exception:  # a clip is missing: the join waits for it, so it will run
        return True
    return latest.get("key") not in keys


def _cascade(result: Staleness, status: dict[str, str]) -> None:
    """A stage's own test sees only its inputs as they are stored now: a clip still matches the
    picture it was made from until that picture is made again. So carry what is out of date
    downstream, as a run will: a shot's new picture or camera move means a new clip, and any
    new story, shot list or clip means a new video."""
    clips = set(result.shots.get("clips", []))
    if status.get("clips") != "skipped":
        for stage in ("images", "camera"):
            clips |= set(result.shots.get(stage, []))
        if clips:
            result.shots["clips"] = sorted(clips)
            result.counts["clips"] = len(clips)
    upstream = any(result.counts.get(s) for s in ("rewrite", "storyboard", "images", "camera", "clips"))
    if upstream and status.get("export") != "skipped":
        result.counts["export"] = 1
