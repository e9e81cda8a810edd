"""The no-code app: every panel in a tab, a run bar that stays in view, no code anywhere.
`notebooks/app.ipynb` shows `App()`; `make app` serves it with Voila."""
from __future__ import annotations

import html

import ipywidgets as W

from ..runner import STAGES
from .abtest import PromptLabPanel
from .base import STAGE_TITLES, STYLE, Panel, Session, chip, open_studio
from .batch import BatchPanel
from .camera import CameraPanel
from .characters import CharactersPanel
from .clips import ClipsPanel
from .export import ExportPanel
from .images import ImagesPanel
from .models import ModelsPanel
from .page import PageSupport
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
/* a phone (390 px): one column, nothing wider than the screen, tabs in rows */
@media (max-width: 700px) {
  body, #rendered_cells { overflow-x: hidden; }
  #rendered_cells, #rendered_cells > div { padding: 0 !important; }
  .storynb-app { padding: 4px; max-width: 100vw; box-sizing: border-box; }
  .storynb-app * { max-width: 100%; box-sizing: border-box; }
  .storynb-header .storynb-help { display: none; }
  .storynb-app .widget-hbox, .storynb-app .jupyter-widgets.widget-hbox { flex-wrap: wrap !important; }
  .storynb-app .widget-hbox > .widget-html, .storynb-app .widget-hbox > .widget-vbox,
  .storynb-app .widget-hbox > .widget-inline-hbox, .storynb-app .widget-hbox > .widget-box {
    min-width: 0 !important; }
  .storynb-runbar > *, .storynb-columns > * { min-width: 0 !important; flex: 1 1 100% !important; }
  .storynb-runbar button { flex: 1 1 auto !important; }
  .storynb-overall-progress, .storynb-app .widget-progress { width: 100% !important; }
  .storynb-app [class*="storynb-stage-"] > * { width: auto !important; flex: 1 1 40% !important; }
  .storynb-app .lm-TabBar { height: auto !important; min-height: 0 !important; }
  .storynb-app .lm-TabBar-content { flex-wrap: wrap !important; height: auto !important; }
  .storynb-app .lm-TabBar-tab { min-width: 0 !important; flex: 1 1 30% !important; margin: 0 !important;
    font-size: 13px !important; }
  .storynb-app .widget-text, .storynb-app .widget-textarea, .storynb-app .widget-dropdown,
  .storynb-app .widget-select, .storynb-app .widget-inline-hbox { width: 100% !important; }
  .storynb-app .widget-label { min-width: 0 !important; width: auto !important; }
  .storynb-app .storynb-table { display: block; overflow-x: auto; }
  .storynb-app .p-Widget, .storynb-app .lm-Widget { min-width: 0; }
}
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
        session.on("progress", lambda _p: self.draw())
        session.on("project", lambda _: self.draw())
        self.draw()

    def draw(self) -> None:
        """Everything from the studio (the session's last read of the project's progress)."""
        from ..live import overall

        project = self.session.project
        progress = self.session.progress
        if project is None or not progress:
            self.label.value = "<span class='storynb-help'>No project open</span>"
            self.bar.value = 0
            self.bar.bar_style = ""
            self.stage.value = ""
            self._buttons()
            return
        row = project.row
        status = progress["status"]
        self.label.value = (f"<b>#{row['id']} {html.escape(row['name'][:40])}</b> {chip(status)}")
        self.bar.value = overall(progress)
        run = progress.get("run") or {}
        if progress["active"]:
            self.bar.bar_style = "danger" if any(s["failed"] for s in progress["stages"]) else "info"
            now = next((s for s in progress["stages"] if s["status"] == "running"
                        and s["stage"] in progress["reached"]), None)
            if run.get("state") == "queued":
                what = "waiting for the worker…"
            elif now is None:
                what = "starting…"
            else:
                what = (f"{STAGE_TITLES[now['stage']]}: {now['done']}/{now['total']}"
                        if now["total"] else f"{STAGE_TITLES[now['stage']]}: planning…")
            if progress["paused"]:
                what += " (pausing)"
            self.stage.value = f"<span class='storynb-caption'>{html.escape(what)}</span>"
        elif run:
            self.bar.bar_style = {"done": "success", "failed": "danger"}.get(status, "warning")
            shown = status if status in ("done", "failed", "paused", "interrupted") else run["state"]
            self.stage.value = f"<span class='storynb-caption'>last run: {html.escape(shown)}</span>"
        else:
            done = sum(1 for s in progress["stages"] if s["status"] in ("done", "skipped"))
            self.bar.bar_style = "success" if done == len(STAGES) else ""
            self.stage.value = (f"<span class='storynb-caption'>{done} of {len(STAGES)} "
                                "stages done</span>")
        self._buttons()

    def _buttons(self) -> None:
        running = self.session.active()
        none = self.session.project is None
        self.run_b.disabled = running or none
        self.resume_b.disabled = running or none
        self.pause_b.disabled = not running


class App(W.VBox):
    """Every panel as a tab over one session. `App()` opens the default studio."""

    TABS = [("Projects", ProjectPanel), ("Run", PipelinePanel), ("Story", RewritePanel),
            ("Storyboard", StoryboardPanel), ("Characters", CharactersPanel), ("Images", ImagesPanel), ("Camera", CameraPanel),
            ("Clips", ClipsPanel), ("Export", ExportPanel), ("Prompts", PromptsPanel),
            ("Prompt lab", PromptLabPanel), ("Models", ModelsPanel), ("Batch", BatchPanel)]

    def __init__(self, studio=None, *, open_latest: bool = True, default_quality: str = "preview"):
        self.session = Session(studio if studio is not None else open_studio())
        self._open_latest = open_latest
        self._attached = False
        if open_latest:
            self._open_newest()
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
        self.page = PageSupport()
        self.page.observe(self._page_ready, names="ready")
        # the page support first: it sets the page's cookie before a visitor can close it
        super().__init__([self.page, W.HTML(STYLE + APP_STYLE), W.HTML(HEADER), self.runbar,
                          self.tabs])
        self.add_class("storynb-app")

    def _open_newest(self) -> None:
        projects = self.session.studio.projects()
        if len(projects):
            newest = int(projects["id"].max())
            if self.session.project is None or self.session.project.id != newest:
                self.session.open(newest)

    def _page_ready(self, change) -> None:
        """A page shows the app. With preheated kernels (app/voila.py) the app was built before
        anyone asked for it, so bring it up to date: the newest project, every panel redrawn."""
        if not change["new"] or self._attached:
            return
        self._attached = True
        if self._open_latest:
            self._open_newest()
        self.session.poll(force=True)
        for panel in self.panels.values():
            panel.mark_dirty()

    def close(self) -> None:
        """Close the app: the live view stops polling the studio (runs go on in the worker)."""
        self.session.close()
        for panel in self.panels.values():
            panel.close()
        super().close()

    def _tab_changed(self, change) -> None:
        index = change["new"]
        for i, panel in enumerate(self.panels.values()):
            panel.activate(i == index)

    def show(self, title: str) -> None:
        """Switch to a tab by its title."""
        self.tabs.selected_index = list(self.panels).index(title)
