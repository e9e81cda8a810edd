"""Pipeline panel: each stage's state and live progress; run all, run one stage, pause, resume,
retry, skip and roll back. Runs happen in the background (`project.start`), so the kernel and
every other panel stay usable while the bars move."""
from __future__ import annotations

import html
import json
import ipywidgets as W

from ..errors import InvalidInput
from ..runner import STAGES
from .base import Panel, chip, choice, stage_title
from .i18n import t, translate

BAR_STYLES = {"done": "success", "failed": "danger", "skipped": "warning", "paused": "warning",
              "stale": "warning", "running": "info", "pending": ""}


class _StageRow:
    def __init__(self, panel: "PipelinePanel", stage: str):
        self.stage = stage
        self.label = W.HTML(f"<b>{html.escape(stage_title(stage))}</b><br><span class='storynb-caption'>"
                            f"{html.escape(t('pipeline.help_' + stage))}</span>", layout=W.Layout(width="190px"))
        self.status = W.HTML(layout=W.Layout(width="90px"))
        self.bar = W.IntProgress(value=0, min=0, max=1, layout=W.Layout(width="220px"))
        self.bar.add_class(f"storynb-progress-{stage}")
        self.count = W.HTML(layout=W.Layout(width="230px"))
        self.count.add_class(f"storynb-count-{stage}")
        self.run_b = panel.button(t("pipeline.run"), lambda: panel.run_stage(stage),
                                  tooltip=t("pipeline.run_tip", stage=stage_title(stage)))
        self.skip_b = panel.button(t("pipeline.skip"), lambda: panel.toggle_skip(stage),
                                   tooltip=t("pipeline.skip_tip"))
        self.back_b = panel.button(t("pipeline.redo"), lambda: panel.rollback(stage),
                                   tooltip=t("pipeline.redo_tip"))
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
        self.skip_b.description = t("pipeline.unskip") if status == "skipped" else t("pipeline.skip")


class PipelinePanel(Panel):
    name = "pipeline"
    title = "Run"  # (in notebooks; the app shows it inside the guided flow)

    def __init__(self, source=None, *, controls: bool = True, **kwargs):
        """`controls=False` leaves out the run-all / pause / resume / retry buttons (the app's
        one set of run controls is the guided flow's run bar)."""
        super().__init__(source, **kwargs)
        self.run_all_b = self.button(t("pipeline.run_all"), self.run_all, style="success",
                                     tooltip=t("pipeline.run_all_tip"))
        self.pause_b = self.button(t("flow.pause"), self.pause, style="warning",
                                   tooltip=t("flow.pause_tip"))
        self.resume_b = self.button(t("flow.resume"), self.resume,
                                    tooltip=t("flow.resume_tip"))
        self.retry_b = self.button(t("pipeline.retry"), self.retry,
                                   tooltip=t("pipeline.retry_tip"))
        self.overall = W.HTML()
        self.overall.add_class("storynb-run-state")
        self.rows = {stage: _StageRow(self, stage) for stage in STAGES}
        self.activity = W.HTML("<span class='storynb-help'>" + html.escape(t("pipeline.nothing_yet"))
                               + "</span>")
        self.activity.add_class("storynb-activity")
        top = ([self.run_all_b, self.pause_b, self.resume_b, self.retry_b] if controls else []) \
            + [self.overall]
        self.body.children = [
            W.HBox(top, layout=W.Layout(align_items="center", flex_flow="row wrap")),
            *[row.box for row in self.rows.values()],
            W.HTML(f"<b>{html.escape(t('pipeline.activity'))}</b>"), self.activity]
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
            self.overall.value = f"<span class='storynb-help'>{html.escape(t('pipeline.open_first'))}</span>"
            self._buttons()
            return
        active = progress["active"]
        run = progress.get("run") or {}
        waiting = set(json.loads(run.get("stages") or "[]")) - set(progress["reached"]) \
            if active else set()
        for info in progress["stages"]:
            row = self.rows[info["stage"]]
            if info["stage"] in waiting and info["status"] != "skipped":
                row.show("pending", 0, 1, t("common.status_waiting"))
                continue
            status, done, total, failed = (info["status"], info["done"], info["total"],
                                           info["failed"])
            if status == "running" and not active:
                status = "pending"  # the run that was doing it is gone (interrupted)
            note = ""
            if total:
                note = t("pipeline.n_done", done=done, total=total)
                if info["running"]:
                    note += t("pipeline.n_working", n=info["running"])
                if failed:
                    note += t("pipeline.n_failed", n=failed)
            if status == "failed" and info.get("error"):
                note = translate(str(info["error"]).splitlines()[0])[:160]
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
        paused = t("pipeline.pause_requested") if progress["paused"] and progress["active"] else ""
        video = project.video_path() if status == "done" and not progress["active"] else None
        run = progress.get("run") or {}
        if not extra and run and not progress["active"]:
            extra = t("flow.last_run", state=t("common.status_" + run["state"]))
        self.overall.value = (f"{html.escape(t('pipeline.project', id=project.id))} {chip(status)}{paused} "
                              f"{'<b>' + html.escape(t('pipeline.video_ready')) + '</b>' if video else ''} "
                              f"<span class='storynb-caption'>{html.escape(extra)}</span>")

    def _activity(self, run: dict) -> None:
        from ..live import recent_jobs

        if not run:
            return
        lines = []
        for job in reversed(recent_jobs(self.session.studio.db, run)):
            mark = {"done": "✓", "failed": "✗", "running": "…"}[job["state"]]
            line = f"{stage_title(job['stage'])}: {translate(job['label'] or '')} {mark}"
            if job["state"] == "failed" and job["error"]:
                line += " " + translate(job["error"].splitlines()[0])[:120]
            lines.append(line)
        if not self.session.active() and (run.get("summary") or run.get("error")):
            lines.append(translate((run.get("summary") or run.get("error") or "").splitlines()[-1]))
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
        self.start(note=t("pipeline.running_all"))

    def run_stage(self, stage: str) -> None:
        stage = choice(stage, "stage", STAGES)
        self.start([stage], note=t("pipeline.running_one", stage=stage_title(stage)))

    def pause(self) -> None:
        self.session.require().pause()
        self.session.poll(force=True)
        self._overall(t("pipeline.pause_requested_long"))
        self.info(t("flow.pausing"))

    def resume(self) -> None:
        self.start(how="resume", note=t("flow.resuming"))

    def retry(self) -> None:
        self.start(how="retry", note=t("pipeline.retrying"))

    def toggle_skip(self, stage: str) -> None:
        stage = choice(stage, "stage", STAGES)
        project = self.session.require()
        if self.session.running():
            raise InvalidInput(t("pipeline.wait_for_run"))
        if project.status().get(stage) == "skipped":
            project.unskip(stage)
            self.ok(t("pipeline.will_run", stage=stage_title(stage)))
        else:
            project.skip(stage)
            self.ok(t("pipeline.will_skip", stage=stage_title(stage)))
        self.refresh()

    def rollback(self, stage: str) -> None:
        stage = choice(stage, "stage", STAGES)
        project = self.session.require()
        if self.session.running():
            raise InvalidInput(t("pipeline.wait_for_run"))
        project.rollback(stage)
        self.ok(t("pipeline.will_redo", stage=stage_title(stage)))
        self.session.changed("rollback")

