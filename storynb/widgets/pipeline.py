"""Pipeline panel: each stage's state and live progress; run all, run one stage, pause, resume,
retry, skip and roll back. Runs happen in the background (`project.start`), so the kernel and
every other panel stay usable while the bars move."""
from __future__ import annotations

import html
import json
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
        self.activity = W.HTML("<span class='storynb-help'>Nothing has run for this project yet. "
                               "Press <b>▶ Run all</b> to make the video: each stage fills its "
                               "bar, and work that is already done is skipped.</span>")
        self.activity.add_class("storynb-activity")
        self.body.children = [
            W.HBox([self.run_all_b, self.pause_b, self.resume_b, self.retry_b, self.overall],
                   layout=W.Layout(align_items="center", flex_flow="row wrap")),
            *[row.box for row in self.rows.values()],
            W.HTML("<b>Activity</b>"), self.activity]
        self.session.on("progress", lambda _p: self._draw())
        self.redraw()

    # drawing (everything from the studio: session.progress, re-read when anything changed) --
    def refresh(self) -> None:
        self.session.poll(force=True)
        self._draw()

    def _draw(self) -> None:
        progress = self.session.progress
        if self.session.project is None or not progress:
            for row in self.rows.values():
                row.show("pending", 0, 1)
            self.overall.value = "<span class='storynb-help'>Open or create a project first.</span>"
            self._buttons()
            return
        active = progress["active"]
        run = progress.get("run") or {}
        waiting = set(json.loads(run.get("stages") or "[]")) - set(progress["reached"]) \
            if active else set()
        for info in progress["stages"]:
            row = self.rows[info["stage"]]
            if info["stage"] in waiting and info["status"] != "skipped":
                row.show("pending", 0, 1, "waiting")
                continue
            status, done, total, failed = (info["status"], info["done"], info["total"],
                                           info["failed"])
            if status == "running" and not active:
                status = "pending"  # the run that was doing it is gone (interrupted)
            note = ""
            if total:
                note = f"{done} of {total} done"
                if info["running"]:
                    note += f", {info['running']} working"
                if failed:
                    note += f", {failed} failed"
            if status == "failed" and info.get("error"):
                note = str(info["error"]).splitlines()[0][:160]
            row.show(status, done + (failed if status == "failed" else 0), total or 1, note)
            if status == "done" and not total:
                row.bar.value = row.bar.max
        self._overall()
        self._activity(run)
        self._buttons()

    def _overall(self, extra: str = "") -> None:
        progress = self.session.progress
        project = self.session.project
        if project is None or not progress:
            return
        status = progress["status"]
        paused = " (pause requested)" if progress["paused"] and progress["active"] else ""
        video = project.video_path() if status == "done" and not progress["active"] else None
        run = progress.get("run") or {}
        if not extra and run and not progress["active"]:
            extra = f"last run: {run['state']}"
        self.overall.value = (f"project #{project.id} {chip(status)}{paused} "
                              f"{'<b>video ready: see Export</b>' if video else ''} "
                              f"<span class='storynb-caption'>{html.escape(extra)}</span>")

    def _activity(self, run: dict) -> None:
        from ..live import recent_jobs

        if not run:
            return
        lines = []
        for job in reversed(recent_jobs(self.session.studio.db, run)):
            mark = {"done": "✓", "failed": "✗", "running": "…"}[job["state"]]
            line = f"{job['stage']}: {job['label'] or ''} {mark}"
            if job["state"] == "failed" and job["error"]:
                line += " " + job["error"].splitlines()[0][:120]
            lines.append(line)
        if not self.session.active() and (run.get("summary") or run.get("error")):
            lines.append((run.get("summary") or run.get("error") or "").splitlines()[-1])
        if lines:
            self.activity.value = ("<div class='storynb-pre storynb-log'>"
                                   + html.escape("\n".join(lines)) + "</div>")

    def _buttons(self) -> None:
        running = self.session.active()
        no_project = self.session.project is None
        for b in (self.run_all_b, self.retry_b, self.resume_b):
            b.disabled = running or no_project
        self.pause_b.disabled = not running
        for row in self.rows.values():
            for b in (row.run_b, row.skip_b, row.back_b):
                b.disabled = running or no_project

    # actions ---------------------------------------------------------------------------
    def run_all(self) -> None:
        self.start(note="running every stage (finished work is skipped)")

    def run_stage(self, stage: str) -> None:
        stage = choice(stage, "stage", STAGES)
        self.start([stage], note=f"running the {stage} stage")

    def pause(self) -> None:
        self.session.require().pause()
        self.session.poll(force=True)
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

