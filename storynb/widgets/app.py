"""The no-code app: every panel in a tab, a run bar that stays in view, no code anywhere.
`notebooks/app.ipynb` shows `App()`; `make app` serves it with Voila."""
from __future__ import annotations

import html

import ipywidgets as W

from ..runner import STAGES
from .base import STAGE_TITLES, STYLE, Panel, Session, chip, open_studio
from .batch import BatchPanel
from .camera import CameraPanel
from .characters import CharactersPanel
from .clips import ClipsPanel
from .export import ExportPanel
from .images import ImagesPanel
from .models import ModelsPanel
from .pipeline import PipelinePanel
from .project import ProjectPanel
from .prompts import PromptsPanel
from .rewrite import RewritePanel
from .storyboard import StoryboardPanel

HEADER = """<div class='storynb-header'>
<span style='font-size:20px;font-weight:700'>storynb</span>
<span class='storynb-help'>&nbsp; a topic becomes a narrated story video: write the story, split it
into shots, paint them, move the camera, animate, export. Every step can be edited.</span></div>"""
APP_STYLE = """<style>
.storynb-app { max-width: 1280px; margin: 0 auto; padding: 8px 12px; }
.storynb-app .lm-TabBar-tab { min-width: 90px; font-size: 14px; }
.storynb-header { margin-bottom: 6px; }
.storynb-runbar { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 6px 10px; }
</style>"""


class RunBar(W.HBox):
    """The open project, one overall progress bar and the run / pause / resume buttons."""

    def __init__(self, session: Session, panel: PipelinePanel):
        self.session = session
        self.label = W.HTML(layout=W.Layout(min_width="260px"))
        self.label.add_class("storynb-runbar-project")
        self.bar = W.FloatProgress(value=0, min=0, max=1, layout=W.Layout(width="260px"))
        self.bar.add_class("storynb-overall-progress")
        self.stage = W.HTML(layout=W.Layout(min_width="200px"))
        self.stage.add_class("storynb-runbar-stage")
        self.run_b = panel.button("▶ Make the video", panel.run_all, style="success")
        self.pause_b = panel.button("Pause", panel.pause, style="warning")
        self.resume_b = panel.button("Resume", panel.resume)
        super().__init__([self.label, self.run_b, self.pause_b, self.resume_b, self.bar, self.stage],
                         layout=W.Layout(align_items="center", flex_flow="row wrap"))
        self.add_class("storynb-runbar")
        self._selected: list[str] = list(STAGES)
        session.on("event", self._on_event)
        session.on("project", lambda _: self.draw())
        session.on("run", lambda _: self._buttons())
        self.draw()

    def draw(self) -> None:
        project = self.session.project
        if project is None:
            self.label.value = "<span class='storynb-help'>No project open</span>"
            self.bar.value = 0
            self.stage.value = ""
        else:
            row = project.row
            self.label.value = (f"<b>#{row['id']} {html.escape(row['name'][:40])}</b> "
                                f"{chip(row['status'])}")
            status = project.status()
            done = sum(1 for s in STAGES if status.get(s) in ("done", "skipped"))
            self.bar.value = done / len(STAGES)
            self.bar.bar_style = "success" if done == len(STAGES) else ""
            self.stage.value = f"<span class='storynb-caption'>{done} of {len(STAGES)} stages done</span>"
        self._buttons()

    def _buttons(self) -> None:
        running = self.session.running()
        none = self.session.project is None
        self.run_b.disabled = running or none
        self.resume_b.disabled = running or none
        self.pause_b.disabled = not running

    def _on_event(self, event) -> None:
        if event.kind == "run_start":
            self._selected = [s for s in event.data.get("stages", STAGES)] or list(STAGES)
            self.bar.value = 0
            self.bar.bar_style = "info"
            self.label.value = self.label.value.split("<span class='storynb-chip")[0] + chip("running")
        elif event.stage in self._selected and event.kind in ("stage_start", "job_done",
                                                               "job_skipped", "job_failed",
                                                               "stage_done"):
            index = self._selected.index(event.stage)
            part = 1.0 if event.kind == "stage_done" else (
                event.done / event.total if event.total else 0.0)
            self.bar.value = min(1.0, (index + part) / len(self._selected))
            what = event.label or event.status or ("starting" if event.kind == "stage_start" else "")
            self.stage.value = (f"<span class='storynb-caption'>{STAGE_TITLES[event.stage]}: "
                                f"{html.escape(what)} "
                                f"{f'{event.done}/{event.total}' if event.total else ''}</span>")
            if event.kind == "job_failed":
                self.bar.bar_style = "danger"
        elif event.kind == "run_done":
            self.draw()
            self.bar.bar_style = {"done": "success", "failed": "danger"}.get(event.status, "warning")
            self.stage.value = f"<span class='storynb-caption'>last run: {html.escape(event.status)}</span>"


class App(W.VBox):
    """Every panel as a tab over one session. `App()` opens the default studio."""

    TABS = [("Projects", ProjectPanel), ("Run", PipelinePanel), ("Story", RewritePanel),
            ("Storyboard", StoryboardPanel), ("Characters", CharactersPanel), ("Images", ImagesPanel), ("Camera", CameraPanel),
            ("Clips", ClipsPanel), ("Export", ExportPanel), ("Prompts", PromptsPanel),
            ("Models", ModelsPanel), ("Batch", BatchPanel)]

    def __init__(self, studio=None, *, open_latest: bool = True, default_quality: str = "preview"):
        self.session = Session(studio if studio is not None else open_studio())
        if open_latest:
            projects = self.session.studio.projects()
            if len(projects):
                self.session.project = self.session.studio.project(int(projects["id"].max()))
        self.panels: dict[str, Panel] = {}
        for title, cls in self.TABS:
            extra = {"default_quality": default_quality} if cls is ProjectPanel else {}
            panel = cls(self.session, show_title=False, **extra)
            panel.active = False
            self.panels[title] = panel
        self.panels["Projects"].active = True
        self.tabs = W.Tab(children=list(self.panels.values()), titles=list(self.panels))
        self.tabs.add_class("storynb-tabs")
        self.tabs.observe(self._tab_changed, names="selected_index")
        self.runbar = RunBar(self.session, self.panels["Run"])
        self.panels["Projects"].on_created.append(lambda _p: self.show("Run"))
        super().__init__([W.HTML(STYLE + APP_STYLE), W.HTML(HEADER), self.runbar, self.tabs])
        self.add_class("storynb-app")

    def _tab_changed(self, change) -> None:
        index = change["new"]
        for i, panel in enumerate(self.panels.values()):
            panel.activate(i == index)

    def show(self, title: str) -> None:
        """Switch to a tab by its title."""
        self.tabs.selected_index = list(self.panels).index(title)
