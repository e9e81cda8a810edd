"""The guided flow: a topic, one "Make the video" button, the steps filling up live, and the
finished video playing right there with its downloads. After an edit the steps say what is out
of date ("1 picture and 1 clip need updating") and the same button reads "Update the video".

The one set of run controls of the app (`RunBar`) lives here. Everything it shows is read from
the studio: the session's last `project.progress()` and `storynb.staleness.staleness(project)`;
nothing about a run is kept in widget memory.
"""
from __future__ import annotations

import functools
import html
import time

import ipywidgets as W

from ..runner import STAGES
from ..staleness import Staleness
from .base import Panel, Session, chip, choice, read_media, stage_title, text
from .download import DownloadButton
from .i18n import t, translate
from .pipeline import PipelinePanel

# the flow's sizes: (short side, fps), the same presets the Projects form offers
FLOW_QUALITIES = ("draft", "preview", "full")
RECOUNT_S = 2.0  # the least time between two countings of what is out of date, while idle
STEP_MARKS = {"done": "✓", "running": "⟳", "failed": "✗", "stale": "!", "skipped": "–",
              "waiting": "…", "pending": "○"}


def _things(counts: dict[str, int]) -> str:
    """'1 picture and 1 clip need updating', in the chosen language."""
    parts = [t(f"flow.thing_{stage}_{'one' if n == 1 else 'many'}", n=n)
             for stage, n in counts.items() if n]
    if not parts:
        return ""
    joined = parts[0] if len(parts) == 1 else t("flow.join_and", first=t("flow.join_comma").join(parts[:-1]),
                                                 last=parts[-1])
    return t("flow.need_updating_one" if sum(counts.values()) == 1 else "flow.need_updating_many",
             things=joined)


class RunBar(W.VBox):
    """The open project, the steps, one overall bar and the make / pause / resume buttons: the
    app's only run controls. The make button reads "Update the video" when an edit left the
    finished video out of date."""

    def __init__(self, session: Session, panel: Panel):
        self.session = session
        self.panel = panel
        self.label = W.HTML()
        self.label.add_class("storynb-runbar-project")
        self.steps = W.HTML()
        self.steps.add_class("storynb-steps")
        self.bar = W.FloatProgress(value=0, min=0, max=1, layout=W.Layout(width="100%"))
        self.bar.add_class("storynb-overall-progress")
        self.stage = W.HTML()
        self.stage.add_class("storynb-runbar-stage")
        self.stale = W.HTML()
        self.stale.add_class("storynb-stale")
        self.run_b = panel.button(t("flow.make"), self.make, style="success")
        self.run_b.add_class("storynb-make")
        self.pause_b = panel.button(t("flow.pause"), self.pause, style="warning",
                                    tooltip=t("flow.pause_tip"))
        self.resume_b = panel.button(t("flow.resume"), self.resume, tooltip=t("flow.resume_tip"))
        self.pause_b.add_class("storynb-pause")
        self.resume_b.add_class("storynb-resume")
        buttons = W.HBox([self.run_b, self.pause_b, self.resume_b],
                         layout=W.Layout(flex_flow="row wrap", align_items="center"))
        buttons.add_class("storynb-runbar-buttons")
        super().__init__([self.label, self.steps, self.bar, self.stage, self.stale, buttons])
        self.add_class("storynb-runbar")
        self._stale: Staleness | None = None  # the engine's answer for the drawn state
        self._up_to_date = False
        self._counted_at = -RECOUNT_S
        self._recount_due = False
        # what is out of date is asked again whenever the studio changed while no run goes on
        session.on("progress", lambda _p: self.draw(recount=not session.active()))
        session.on("studio", lambda _p: self._studio_changed())
        session.on("project", lambda _: self.draw(recount=True))
        session.on("data", lambda _c: self.draw(recount=True))
        self.draw(recount=True)

    # actions ---------------------------------------------------------------------------
    def make(self) -> None:
        project = self.session.require()
        if self._stale is not None and self._stale.stale:
            note = t("flow.updating")
        else:
            note = t("flow.making", id=project.id)
        self.panel.start(note=note)

    def pause(self) -> None:
        self.session.require().pause()
        self.session.poll(force=True)
        self.panel.info(t("flow.pausing"))

    def resume(self) -> None:
        self.panel.start(how="resume", note=t("flow.resuming"))

    # drawing ---------------------------------------------------------------------------
    def draw(self, recount: bool = False) -> None:
        from ..live import overall

        project = self.session.project
        progress = self.session.progress
        if project is None or not progress:
            self.label.value = f"<span class='storynb-help'>{html.escape(t('flow.no_project'))}</span>"
            self.bar.value = 0
            self.bar.bar_style = ""
            self.stage.value = ""
            self.steps.value = ""
            self.stale.value = ""
            self._stale = None
            self._up_to_date = False
            self._buttons()
            return
        row = project.row
        status = progress["status"]
        active = progress["active"]
        self.label.value = f"<b>#{row['id']} {html.escape(row['name'][:60])}</b> {chip(status)}"
        self.bar.value = overall(progress)
        if recount or (not active and self._stale is None):
            self._count()
        run = progress.get("run") or {}
        if active:
            self.bar.bar_style = "danger" if any(s["failed"] for s in progress["stages"]) else "info"
            now = next((s for s in progress["stages"] if s["status"] == "running"
                        and s["stage"] in progress["reached"]), None)
            if run.get("state") == "queued":
                what = t("flow.waiting_worker")
            elif now is None:
                what = t("flow.starting")
            elif now["total"]:
                what = t("flow.stage_count", stage=stage_title(now["stage"]), done=now["done"],
                         total=now["total"])
            else:
                what = t("flow.stage_planning", stage=stage_title(now["stage"]))
            if progress["paused"]:
                what += t("flow.pausing_suffix")
            self.stage.value = f"<span class='storynb-caption'>{html.escape(what)}</span>"
        elif run:
            self.bar.bar_style = {"done": "success", "failed": "danger"}.get(status, "warning")
            shown = status if status in ("done", "failed", "paused", "interrupted") else run["state"]
            self.stage.value = ("<span class='storynb-caption'>"
                                f"{html.escape(t('flow.last_run', state=t('common.status_' + shown)))}</span>")
        else:
            done = sum(1 for s in progress["stages"] if s["status"] in ("done", "skipped"))
            self.bar.bar_style = "success" if done == len(STAGES) else ""
            self.stage.value = ("<span class='storynb-caption'>"
                                f"{html.escape(t('flow.stages_done', done=done, total=len(STAGES)))}</span>")
        self._draw_steps(progress)
        self._draw_stale(active)
        self._buttons()

    def _studio_changed(self) -> None:
        """Something was committed that did not move the open project's progress: an edit, or
        another project's run, which commits every few moments. Ask what is out of date again,
        at most once every RECOUNT_S seconds (the last change is always counted)."""
        if self.session.active() or self._recount_due:
            return
        wait = self._counted_at + RECOUNT_S - time.monotonic()
        if wait <= 0:
            self.draw(recount=True)
            return
        self._recount_due = True

        def due() -> None:
            self._recount_due = False
            if not self.session.active():
                self.draw(recount=True)

        self.session.call_later(wait, due)

    def _count(self) -> None:
        """What an edit left out of date, from the engine (storynb.staleness)."""
        from ..staleness import staleness

        project = self.session.project
        if project is None or self.session.active():
            return
        self._counted_at = time.monotonic()
        try:
            self._stale = staleness(project)
        except Exception:  # a half-made project: nothing to say about staleness yet
            self._stale = None

    def _draw_steps(self, progress: dict) -> None:
        active = progress["active"]
        reached = set(progress.get("reached") or [])
        found = self._stale
        stale: dict[str, int] = found.counts if (found is not None and found.stale and not active) else {}
        cells = []
        for info in progress["stages"]:
            stage = info["stage"]
            status = info["status"]
            if status == "running" and not active:
                status = "pending"
            if active and stage not in reached and status not in ("skipped",):
                status = "waiting"
            note = ""
            if status == "running" and info["total"]:
                note = f"{info['done']}/{info['total']}"
            if stale.get(stage):
                status = "stale"
                note = str(stale[stage])
            mark = STEP_MARKS.get(status, "○")
            cells.append(f"<span class='storynb-step storynb-step-{html.escape(status)}' "
                         f"data-stage='{stage}' title='{html.escape(t('common.status_' + status))}'>"
                         f"<span class='mark'>{mark}</span> {html.escape(stage_title(stage))}"
                         f"{' <small>' + html.escape(note) + '</small>' if note else ''}</span>")
        self.steps.value = "<div class='storynb-stepper'>" + "".join(cells) + "</div>"

    def _draw_stale(self, active: bool) -> None:
        found = self._stale
        progress = self.session.progress or {}
        self._up_to_date = False
        if not active and found is not None and found.stale:
            self.stale.value = f"<span class='storynb-stale-text'>⚠ {html.escape(_things(found.counts))}</span>"
            self.run_b.description = t("flow.update")
            return
        self.stale.value = ""
        if (not active and found is not None and found.has_video and progress.get("status") == "done"):
            self._up_to_date = True
            self.run_b.description = t("flow.up_to_date")
        else:
            self.run_b.description = t("flow.make")

    def _buttons(self) -> None:
        running = self.session.active()
        none = self.session.project is None
        self.run_b.disabled = running or none or getattr(self, "_up_to_date", False)
        # resuming is for a run that stopped before the end (paused, failed, interrupted)
        stopped = (self.session.progress or {}).get("status") in ("paused", "failed", "interrupted")
        self.resume_b.disabled = running or none or not stopped
        self.pause_b.disabled = not running


class FlowPanel(Panel):
    """Topic → Make the video → the steps fill up → the video plays here, with Download."""

    name = "flow"

    def __init__(self, source=None, *, default_quality: str = "preview", **kwargs):
        super().__init__(source, **kwargs)
        self.topic = W.Textarea(placeholder=t("flow.topic_placeholder"),
                                layout=W.Layout(width="100%", height="72px"))
        self.topic.add_class("storynb-flow-topic")
        self.quality = W.Dropdown(options=[(t(f"flow.quality_{q}"), q) for q in FLOW_QUALITIES],
                                  value=default_quality if default_quality in FLOW_QUALITIES else "preview",
                                  layout=W.Layout(width="auto"))
        self.quality.add_class("storynb-flow-quality")
        self.shots = W.Dropdown(options=[(t("flow.shots_auto"), 0)] + [(str(n), n) for n in range(4, 13)],
                                value=0, layout=W.Layout(width="auto"))
        self.shots.add_class("storynb-flow-shots")
        self.new_b = self.button(t("flow.new"), self.create_and_make, style="primary")
        self.new_b.add_class("storynb-flow-new")
        self.form_message = W.HTML()
        self.form_message.add_class("storynb-msg")
        self.form_message.add_class("storynb-flow-form-msg")
        options = W.HBox([W.HTML(f"<span class='storynb-caption'>{html.escape(t('flow.quality'))}</span>"),
                          self.quality,
                          W.HTML(f"<span class='storynb-caption'>{html.escape(t('flow.shots'))}</span>"),
                          self.shots, self.new_b],
                         layout=W.Layout(flex_flow="row wrap", align_items="center"))
        self.form = W.VBox([W.HTML(f"<b>{html.escape(t('flow.topic_label'))}</b>"), self.topic, options,
                            self.form_message])
        self.form.add_class("storynb-flow-form")
        self.runbar = RunBar(self.session, self)
        # the finished video, right here
        self.player = W.Video(value=b"", format="mp4", autoplay=False, loop=False, controls=True,
                              layout=W.Layout(max_width="100%", max_height="560px"))
        self.player.add_class("storynb-flow-video")
        self.video_about = W.HTML()
        self.video_dl = DownloadButton(t("flow.download_video"))
        self.video_dl.add_class("storynb-flow-download")
        self.srt_dl = DownloadButton(t("flow.download_srt"))
        self.video_box = W.VBox([self.video_about, self.player,
                                 W.HBox([self.video_dl, self.srt_dl],
                                        layout=W.Layout(flex_flow="row wrap"))])
        self.video_box.add_class("storynb-flow-result")
        self._shown_video: str | None = None
        # each step by hand (the former Run tab, without a second set of run buttons)
        # made when first opened (`steps`): a page loads every widget before it shows any
        self._steps: PipelinePanel | None = None
        self._details = W.VBox([])
        details = W.Accordion([self._details], titles=(t("flow.details"),), selected_index=None)
        details.add_class("storynb-flow-details")
        details.observe(lambda change: self.steps if change["new"] == 0 else None, names="selected_index")
        # messages sit under the run buttons that cause them
        self.children = [*self.header, self.form, self.runbar, self.message, self.video_box,
                         details]
        self.session.on("run", lambda what: self.mark_dirty() if what == "end" else None)
        self.session.on("progress", self._new_video)
        self.redraw()

    def _new_video(self, progress: dict) -> None:
        """A finished video that is not the one shown (whoever made it): show it."""
        project = self.session.project
        if project is None or progress.get("active"):
            return
        export = project.latest_export()
        if (export["video"] if export else None) != self._shown_video:
            self.mark_dirty()

    @property
    def steps(self) -> PipelinePanel:
        """Each step by hand, in the details below the video."""
        if self._steps is None:
            self._steps = PipelinePanel(self.session, show_title=False, controls=False)
            self._steps.activate(self.active)
            self._details.children = [self._steps]
        return self._steps

    def activate(self, active: bool = True) -> None:
        super().activate(active)
        if self._steps is not None:
            self._steps.activate(active)

    # actions ---------------------------------------------------------------------------
    def create(self):
        """A new project from the topic box (the engine checks it again), opened."""
        from .project import QUALITIES, size_for

        topic = text(self.topic.value, t("flow.topic_field"), max_len=4000, required=True)
        quality = choice(self.quality.value, t("flow.quality"), FLOW_QUALITIES)
        shots = self.shots.value
        settings: dict = {"fps": QUALITIES[quality][2]}
        size = size_for("9:16", quality)
        if size:
            settings["size"] = size
        if shots:
            settings["shots"] = choice(shots, t("flow.shots"), range(4, 13))
        project = self.session.studio.create_project(topic, **settings)
        self.session.open(project.id)
        self.topic.value = ""
        return project

    def create_and_make(self) -> None:
        try:
            project = self.create()
        except Exception as exc:  # the message goes under the topic box that caused it
            from ..errors import StorynbError

            if not isinstance(exc, StorynbError):
                raise
            self.form_message.value = f"<span class='err'>{html.escape(translate(str(exc)))}</span>"
            return
        self.form_message.value = ""
        self.start(note=t("flow.making", id=project.id))

    # drawing ---------------------------------------------------------------------------
    def refresh(self) -> None:
        project = self.session.project
        export = project.latest_export() if project is not None else None
        if export is None:
            self.player.value = b""
            self.player.layout.display = "none"
            self.video_box.layout.display = "none"
            self._shown_video = None
            self.video_dl.set_source(None)
            self.srt_dl.set_source(None)
            return
        self.video_box.layout.display = ""
        self.player.layout.display = ""
        if self._shown_video != export["video"]:  # send the bytes once per new video
            self.player.value = read_media(self.session.studio, export["video"])
            self._shown_video = export["video"]
        from pathlib import Path

        video, srt = Path(export["path"]), Path(export["srt_path"])
        media = self.session.studio.media
        self.video_dl.set_source(functools.partial(media.path, export["video"]), video.name)
        self.srt_dl.set_source(functools.partial(media.path, export["subtitles"]), srt.name)
        facts = t("flow.video_facts", seconds=f"{export['duration_s']:.1f}")
        self.video_about.value = (f"<b>{html.escape(t('flow.your_video'))}</b> "
                                  f"<span class='storynb-caption'>{html.escape(facts)}</span>")
