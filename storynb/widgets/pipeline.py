"""Pipeline panel: each stage's state and live progress; run all, run one stage, pause, resume,
retry, skip and roll back. Runs happen in the background (`project.start`), so the kernel and
every other panel stay usable while the bars move."""
from __future__ import annotations

import html
from collections import deque

import ipywidgets as W

from ..errors import InvalidInput
from ..runner import STAGES
from .base import STAGE_TITLES, Panel, chip, choice

BAR_STYLES = {"done": "success", "failed": "danger", "skipped": "warning", "paused": "warning",
              "stale": "warning", "running": "info", "pending": ""}
HELP = {"rewrite": "topic → story", "storyboard": "story → shots", "images": "a picture per shot",
        "camera": "a camera movement per shot", "clips": "picture + movement → clip",
        "export": "narration, joined video, subtitles"}


class _StageRow:
    def __init__(self, panel: "PipelinePanel", stage: str):
        self.stage = stage
        self.label = W.HTML(f"<b>{STAGE_TITLES[stage]}</b><br><span class='storynb-caption'>"
                            f"{HELP[stage]}</span>", layout=W.Layout(width="190px"))
        self.status = W.HTML(layout=W.Layout(width="90px"))
        self.bar = W.IntProgress(value=0, min=0, max=1, layout=W.Layout(width="220px"))
        self.bar.add_class(f"storynb-progress-{stage}")
        self.count = W.HTML(layout=W.Layout(width="230px"))
        self.count.add_class(f"storynb-count-{stage}")
        self.run_b = panel.button("Run", lambda: panel.run_stage(stage),
                                  tooltip=f"run only the {stage} stage")
        self.skip_b = panel.button("Skip", lambda: panel.toggle_skip(stage),
                                   tooltip="leave this stage out of runs (or bring it back)")
        self.back_b = panel.button("Roll back", lambda: panel.rollback(stage),
                                   tooltip="redo this stage next run; later stages become stale")
        self.box = W.HBox([self.label, self.status, self.bar, self.count, self.run_b, self.skip_b,
                           self.back_b], layout=W.Layout(align_items="center"))
        self.box.add_class(f"storynb-stage-{stage}")

    def show(self, status: str, done: int | None = None, total: int | None = None,
             note: str = "") -> None:
        self.status.value = chip(status)
        self.bar.bar_style = BAR_STYLES.get(status, "")
        if total is not None:
            self.bar.max = max(1, total)
        if done is not None:
            self.bar.value = min(done, self.bar.max)
        self.count.value = f"<span class='storynb-caption'>{html.escape(note)}</span>"
        self.skip_b.description = "Unskip" if status == "skipped" else "Skip"


class PipelinePanel(Panel):
    name = "pipeline"
    title = "Run"

    def __init__(self, source=None, **kwargs):
        super().__init__(source, **kwargs)
        self.run_all_b = self.button("▶ Run all", self.run_all, style="success",
                                     tooltip="run every stage; finished work is skipped")
        self.pause_b = self.button("Pause", self.pause, style="warning",
                                   tooltip="stop starting new work; what is running finishes")
        self.resume_b = self.button("Resume", self.resume,
                                    tooltip="continue a paused run")
        self.retry_b = self.button("↻ Retry", self.retry,
                                   tooltip="run again from the first failed or unfinished stage")
        self.overall = W.HTML()
        self.overall.add_class("storynb-run-state")
        self.rows = {stage: _StageRow(self, stage) for stage in STAGES}
        self.log_lines: deque[str] = deque(maxlen=14)
        self.activity = W.HTML("<span class='storynb-help'>Nothing has run in this window yet. "
                               "Press <b>▶ Run all</b> to make the video: each stage fills its "
                               "bar, and work that is already done is skipped.</span>")
        self.body.children = [
            W.HBox([self.run_all_b, self.pause_b, self.resume_b, self.retry_b, self.overall],
                   layout=W.Layout(align_items="center", flex_flow="row wrap")),
            *[row.box for row in self.rows.values()],
            W.HTML("<b>Activity</b>"), self.activity]
        self.session.on("event", self._on_event)
        self.session.on("run", lambda _: self._buttons())
        self.redraw()

    # drawing ---------------------------------------------------------------------------
    def refresh(self) -> None:
        project = self.session.project
        if project is None:
            for row in self.rows.values():
                row.show("pending", 0, 1)
            self.overall.value = "<span class='storynb-help'>Open or create a project first.</span>"
            self._buttons()
            return
        stages = {r["stage"]: r for r in project.stages().to_dict("records")}
        for stage, row in self.rows.items():
            info = stages.get(stage, {})
            status = info.get("status") or "pending"
            ran, skipped, failed = (_count(info.get(k)) for k in ("ran", "skipped", "failed"))
            total = ran + skipped + failed
            note = ""
            if total:
                note = f"{ran} made, {skipped} up to date" + (f", {failed} failed" if failed else "")
            if status == "failed" and info.get("error"):
                note = str(info["error"]).splitlines()[0][:160]
            full = status in ("done", "failed") and total
            row.show(status, total if full else 0, total or 1, note)
        self._overall()
        self._buttons()

    def _overall(self, extra: str = "") -> None:
        project = self.session.project
        if project is None:
            return
        row = project.row
        paused = " (pause requested)" if row["paused"] and self.session.running() else ""
        video = project.video_path() if row["status"] == "done" else None
        self.overall.value = (f"project #{row['id']} {chip(row['status'])}{paused} "
                              f"{'<b>video ready: see Export</b>' if video else ''} "
                              f"<span class='storynb-caption'>{html.escape(extra)}</span>")

    def _buttons(self) -> None:
        running = self.session.running()
        no_project = self.session.project is None
        for b in (self.run_all_b, self.retry_b, self.resume_b):
            b.disabled = running or no_project
        self.pause_b.disabled = not running
        for row in self.rows.values():
            for b in (row.run_b, row.skip_b, row.back_b):
                b.disabled = running or no_project

    def _on_event(self, event) -> None:
        row = self.rows.get(event.stage) if event.stage else None
        if event.kind == "run_start":
            self.log_lines.clear()
            for stage in event.data.get("stages", []):
                self.rows[stage].show("pending", 0, 1, "waiting")
            self._overall("running…")
        elif event.kind == "stage_start" and row:
            row.show("running", 0, 1, "planning…")
        elif event.kind.startswith("job_") and row:
            state = "failed" if event.kind == "job_failed" else "running"
            row.show(state if state == "failed" else "running", event.done, event.total,
                     f"{event.done}/{event.total} · {event.label}")
        elif event.kind == "stage_done" and row:
            status = {"skipped": "done", "done": "done"}.get(event.status, event.status)
            if event.status == "skipped" and not event.total:
                status = "skipped"
            row.show(status, event.total if status != "paused" else event.done,
                     max(event.total, 1), (event.message or "").split(": ", 1)[-1])
            if status == "done" and not event.total:
                row.bar.value = row.bar.max
        elif event.kind == "run_done":
            self.refresh()
            self._overall(f"last run: {event.status}")
        if event.kind in ("stage_done", "job_failed"):
            self._log(event.message.splitlines()[0] if event.message
                      else f"{event.stage}: {event.status}")
        elif event.kind == "run_done":
            self._log(event.message.splitlines()[-1] if event.message else f"run: {event.status}")
        elif event.kind == "job_done":
            self._log(f"{event.stage}: {event.label} ✓")

    def _log(self, line: str) -> None:
        self.log_lines.append(line)
        self.activity.value = ("<div class='storynb-pre storynb-log'>"
                          + html.escape("\n".join(self.log_lines)) + "</div>")

    # actions ---------------------------------------------------------------------------
    def run_all(self) -> None:
        self.start(note="running every stage (finished work is skipped)")

    def run_stage(self, stage: str) -> None:
        stage = choice(stage, "stage", STAGES)
        self.start([stage], note=f"running the {stage} stage")

    def pause(self) -> None:
        self.session.require().pause()
        self._overall("pause requested: the jobs running now will finish")
        self.info("pausing after the jobs that are running")

    def resume(self) -> None:
        self.start(how="resume", note="resuming")

    def retry(self) -> None:
        self.start(how="retry", note="retrying from the first stage that is not done")

    def toggle_skip(self, stage: str) -> None:
        stage = choice(stage, "stage", STAGES)
        project = self.session.require()
        if self.session.running():
            raise InvalidInput("wait for the run to finish")
        if project.status().get(stage) == "skipped":
            project.unskip(stage)
            self.ok(f"{stage} will run again")
        else:
            project.skip(stage)
            self.ok(f"{stage} will be skipped")
        self.refresh()

    def rollback(self, stage: str) -> None:
        stage = choice(stage, "stage", STAGES)
        project = self.session.require()
        if self.session.running():
            raise InvalidInput("wait for the run to finish")
        project.rollback(stage)
        self.ok(f"{stage} will be redone next run; the stages after it are stale")
        self.session.changed("rollback")


def _count(value) -> int:
    """A stage's count from its row (empty before the stage first runs)."""
    try:
        return int(value) if value == value and value is not None else 0  # NaN != NaN
    except (TypeError, ValueError):
        return 0
