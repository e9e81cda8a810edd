"""The no-code app: the guided flow first (topic → video), every other panel in a tab (a
select on a phone), a language switch, no code anywhere.
`notebooks/app.ipynb` shows `App()`; `make app` serves it with Voila."""
from __future__ import annotations

import html
from collections.abc import Mapping

import ipywidgets as W

from . import i18n
from .abtest import PromptLabPanel
from .base import STYLE, Panel, Session, open_studio
from .batch import BatchPanel
from .camera import CameraPanel
from .characters import CharactersPanel
from .clips import ClipsPanel
from .export import ExportPanel
from .flow import FlowPanel
from .images import ImagesPanel
from .models import ModelsPanel
from .page import PageSupport, widget_tree
from .project import ProjectPanel
from .prompts import PromptsPanel
from .rewrite import RewritePanel
from .storyboard import StoryboardPanel
from .i18n import t



def header_html() -> str:
    return ("<div class='storynb-header'><span style='font-size:20px;font-weight:700'>storynb</span>"
            f"<span class='storynb-help'>&nbsp; {html.escape(t('app.tagline'))}</span></div>")


APP_STYLE = """<style>
.storynb-app { max-width: 1280px; margin: 0 auto; padding: 8px 12px; }
.storynb-app .lm-TabBar-tab { min-width: 90px; font-size: 14px; }
.storynb-header { margin-bottom: 6px; }
.storynb-header-row { display: flex; align-items: center; justify-content: space-between; }
.storynb-runbar { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 6px 10px; }
.storynb-stepper { display: flex; flex-wrap: wrap; gap: 4px; margin: 2px 0; }
.storynb-step { padding: 2px 10px; border-radius: 12px; background: #eaeef2; color: #57606a; font-size: 13px;
  white-space: nowrap; }
.storynb-step .mark { font-weight: 700; }
.storynb-step-done { background: #dafbe1; color: #1a7f37; }
.storynb-step-running { background: #ddf4ff; color: #0969da; font-weight: 600; }
.storynb-step-failed { background: #ffebe9; color: #cf222e; font-weight: 600; }
.storynb-step-stale { background: #fff1e5; color: #bc4c00; font-weight: 600; }
.storynb-stale-text { color: #bc4c00; font-weight: 600; }
.storynb-flow-video video, video.storynb-flow-video { max-width: 100%; }
.storynb-section { display: none !important; }
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
  /* the tabs become one select */
  .storynb-app .storynb-tabs > .lm-TabBar { display: none !important; }
  .storynb-app .storynb-section { display: flex !important; width: 100% !important; margin: 2px 0 !important; }
  .storynb-app .storynb-section select { font-size: 16px; height: 36px; }
  .storynb-app .storynb-tabs > .widget-tab-contents, .storynb-app .storynb-tabs > .lm-TabPanel-stackedPanel {
    border-top: 1px solid #d0d7de !important; }
  .storynb-step { font-size: 12px; padding: 2px 7px; }
  .storynb-app .widget-text, .storynb-app .widget-textarea, .storynb-app .widget-dropdown,
  .storynb-app .widget-select, .storynb-app .widget-inline-hbox {
    width: calc(100% - 2 * var(--jp-widgets-margin, 2px)) !important; }
  .storynb-app .widget-label { min-width: 0 !important; width: auto !important; }
  .storynb-app .storynb-table { display: block; overflow-x: auto; }
  .storynb-app .p-Widget, .storynb-app .lm-Widget { min-width: 0; }
}
</style>"""


class App(W.VBox):
    """The guided flow and every panel as a tab over one session. `App()` opens the default
    studio. `app.panels` is keyed by the English tab names below, whatever the UI language."""

    TABS = [("Make", FlowPanel), ("Projects", ProjectPanel), ("Story", RewritePanel),
            ("Storyboard", StoryboardPanel), ("Characters", CharactersPanel), ("Images", ImagesPanel),
            ("Camera", CameraPanel), ("Clips", ClipsPanel), ("Export", ExportPanel),
            ("Prompts", PromptsPanel), ("Prompt lab", PromptLabPanel), ("Models", ModelsPanel),
            ("Batch", BatchPanel)]

    def __init__(self, studio=None, *, open_latest: bool = True, default_quality: str = "preview",
                 language: str | None = None):
        if language is not None:
            i18n.set_language(language)
        self._studio = studio if studio is not None else open_studio()
        self._open_latest = open_latest
        self._default_quality = default_quality
        self._attached = False
        self.session = Session(self._studio)
        if open_latest:
            self._open_newest()
        self.page = PageSupport()
        self.page.observe(self._page_ready, names="ready")
        self.panels: Panels
        super().__init__([])
        self.add_class("storynb-app")
        self._build()

    def _build(self) -> None:
        """Make the app in the chosen language (again, after a switch). Only the shown section's
        panel is made now, the others when first shown or asked for (`app.panels[...]`): a page
        loads every widget of the app before it shows any, so fewer widgets show it sooner."""
        labels = [t("app.tab_" + title.lower().replace(" ", "_")) for title, _cls in self.TABS]
        pages = [W.VBox([]) for _tab in self.TABS]
        self.panels = Panels(self, pages)
        self.tabs = W.Tab(children=pages, titles=labels)
        self.tabs.add_class("storynb-tabs")
        self.panels["Make"].activate(True)
        self.tabs.observe(self._tab_changed, names="selected_index")
        # on a phone the tab bar is hidden (CSS) and this select chooses the section
        self.section = W.Dropdown(options=[(label, i) for i, label in enumerate(labels)], value=0,
                                  layout=W.Layout(width="100%"))
        self.section.add_class("storynb-section")
        self.section.observe(self._section_changed, names="value")
        self.language = W.Dropdown(options=[(name, code) for code, name in i18n.LANGUAGES.items()],
                                   value=i18n.language(), layout=W.Layout(width="auto"))
        self.language.add_class("storynb-language")
        self.language.observe(self._language_changed, names="value")
        top = W.HBox([W.HTML(header_html()), self.language],
                     layout=W.Layout(justify_content="space-between", align_items="center",
                                     flex_flow="row wrap"))
        # the page support first: it sets the page's cookie before a visitor can close it
        self.children = [self.page, W.HTML(STYLE + APP_STYLE), top, self.section, self.tabs]

    def _make_panel(self, title: str) -> Panel:
        cls = dict(self.TABS)[title]
        extra = {"default_quality": self._default_quality} if cls in (ProjectPanel, FlowPanel) else {}
        panel = cls(self.session, show_title=False, **extra)
        panel.active = False
        if title == "Projects":
            panel.on_created.append(lambda _p: self.show("Make"))
        return panel

    def _language_changed(self, change) -> None:
        """The switch: every label in the new language (the open project and runs stay as they are)."""
        if change["new"] not in i18n.LANGUAGES or change["new"] == i18n.language():
            return
        i18n.set_language(change["new"])
        shown = list(self.panels)[self.tabs.selected_index or 0]
        old, old_tree = self.panels, widget_tree(self)
        self.session.close()  # the old panels' listeners go with the old session
        project = self.session.project
        self.session = Session(self._studio, project)
        self._build()
        for panel in old.built():
            panel.close()
        kept = set(map(id, widget_tree(self)))
        for widget in reversed(old_tree):  # the old tabs, select and switch go too
            if id(widget) not in kept:
                widget.close()
        self.show(shown)
        if self._attached:
            for panel in self.panels.built():
                panel.mark_dirty()

    def _section_changed(self, change) -> None:
        if isinstance(change["new"], int) and self.tabs.selected_index != change["new"]:
            self.tabs.selected_index = change["new"]

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
        for panel in self.panels.built():
            panel.mark_dirty()

    def close(self) -> None:
        """Close the app: the live view stops polling the studio (runs go on in the worker)."""
        tree = widget_tree(self)  # the tabs, their pages, every panel's widgets, layouts …
        self.session.close()
        for panel in self.panels.built():
            panel.close()
        for widget in reversed(tree):
            if widget is not self:
                widget.close()
        super().close()

    def _tab_changed(self, change) -> None:
        index = change["new"]
        if isinstance(index, int):
            self.panels[self.TABS[index][0]]  # made when first shown
        for title, panel in self.panels.built_items():
            panel.activate(title == self.TABS[index][0] if isinstance(index, int) else False)
        if self.section.value != index:
            self.section.value = index

    def show(self, title: str) -> None:
        """Switch to a tab by its (English) name."""
        self.tabs.selected_index = list(self.panels).index(title)

    @property
    def runbar(self):
        """The app's one set of run controls (in the guided flow)."""
        return self.panels["Make"].runbar


class Panels(Mapping):
    """The app's panels by (English) tab name, each made on first use and put in its tab."""

    def __init__(self, app: App, pages: list):
        self._app = app
        self._pages = dict(zip((title for title, _cls in app.TABS), pages))
        self._made: dict[str, Panel] = {}

    def __getitem__(self, title: str) -> Panel:
        if title not in self._made:
            page = self._pages[title]  # KeyError for a name that is no tab
            self._made[title] = self._app._make_panel(title)
            page.children = [self._made[title]]
        return self._made[title]

    def __iter__(self):
        return iter(self._pages)

    def __len__(self) -> int:
        return len(self._pages)

    def built(self) -> list[Panel]:
        """The panels made so far (the others have nothing to update or close)."""
        return list(self._made.values())

    def built_items(self) -> list[tuple[str, Panel]]:
        return list(self._made.items())
