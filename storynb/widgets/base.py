"""What every panel shares.

- `Session`: the studio, the project that is open, and the run going on. Run events arrive on the
  run's worker thread; the session hands them to the panels on the kernel's own event loop, so
  widgets are only ever changed from one thread and the kernel stays free while work runs.
- `Panel`: a VBox with a message line; button handlers run through `Panel.action`, which turns
  an engine error into a readable message instead of a silent failure.
- Input checks. Voila lets a visitor reach every widget, hidden or disabled ones included, and
  set any value, so every value a handler reads is checked here before it reaches the engine.

Panels hold no business logic: they call the same public functions a user calls in a cell.
"""
from __future__ import annotations

import asyncio
import functools
import html
import logging
import os
import threading
import traceback
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import ipywidgets as W

from ..errors import InvalidInput, StorynbError
from ..runner import STAGES
from .i18n import catalogue, t, translate

log = logging.getLogger("storynb.widgets")



def stage_title(stage: str) -> str:
    """A stage's name for people, in the chosen language (Story, Shots, Pictures …)."""
    return t(f"common.stage_{stage}")


STATUS_COLOURS = {"pending": "#8a8f98", "running": "#1f6feb", "done": "#1a7f37",
                  "failed": "#cf222e", "skipped": "#9a6700", "stale": "#bc4c00",
                  "paused": "#8250df", "draft": "#8a8f98"}

STYLE = """<style>
.storynb-panel { gap: 6px; }
.storynb-panel .widget-hbox, .storynb-panel .widget-vbox, .storynb-runbar { gap: 6px; }
.storynb-columns { gap: 24px !important; }
.storynb-panel .widget-html-content { line-height: 1.45; }
.storynb-panel .widget-html { min-height: 0; }
.storynb-panel .widget-text, .storynb-panel .widget-textarea, .storynb-panel .widget-dropdown,
.storynb-panel .widget-combobox { max-width: 100%; }
button.storynb-download { width: auto; padding: 0 12px; }
.storynb-panel h3 { margin: 4px 0 2px 0; font-size: 15px; }
.storynb-msg { min-height: 20px; }
.storynb-msg .ok { color: #1a7f37; }
.storynb-msg .err { color: #cf222e; font-weight: 600; }
.storynb-msg .info { color: #57606a; }
.storynb-chip { display: inline-block; padding: 1px 8px; margin: 1px 3px 1px 0; border-radius: 10px;
  color: white; font-size: 12px; line-height: 18px; }
.storynb-card { border: 1px solid #d0d7de; border-radius: 6px; padding: 6px; background: #fff; }
.storynb-card.chosen { border: 2px solid #1a7f37; }
.storynb-card.failed { border: 2px solid #cf222e; }
.storynb-caption { font-size: 12px; color: #57606a; }
.storynb-story { white-space: pre-wrap; font-family: Georgia, serif; font-size: 14px; line-height: 1.5; }
.storynb-diff { font-family: monospace; font-size: 12px; white-space: pre-wrap; }
.storynb-diff .add { background: #dafbe1; display: block; }
.storynb-diff .del { background: #ffebe9; display: block; }
.storynb-diff .hunk { color: #8250df; display: block; }
.storynb-pre { font-family: monospace; font-size: 12px; white-space: pre-wrap; background: #f6f8fa;
  padding: 6px; border-radius: 4px; max-height: 320px; overflow: auto; }
.storynb-table { border-collapse: collapse; font-size: 13px; }
.storynb-table th, .storynb-table td { border-bottom: 1px solid #d0d7de; padding: 3px 8px; text-align: left;
  vertical-align: top; }
.storynb-help { color: #57606a; font-size: 13px; }
</style>"""


# ------------------------------------------------------------------------------ the studio
def open_studio(path: str | Path | None = None):
    """The studio a notebook works on: `path`, else $STORYNB_STUDIO, else the repository's
    `data/studio.db` when the notebook runs from `notebooks/` (so the database and media never
    land inside the folder Voila serves), else `data/studio.db` under the working directory."""
    from ..studio import Studio

    if path is None and not os.environ.get("STORYNB_STUDIO"):
        here = Path.cwd()
        if here.name == "notebooks" and (here.parent / "storynb").is_dir():
            path = here.parent / "data" / "studio.db"
    return Studio(path)


@dataclass
class Change:
    what: str
    source: Any = None


def _running_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Session:
    """The studio, the open project and the live state of its runs, shared by the panels of one
    view.

    The state of a run is read from the studio, never kept in memory: a poller on the kernel's
    event loop looks at the studio's change counter twice a second and, when anything was
    committed (by this kernel, another tab's kernel, the local worker or a terminal), reads the
    open project's `progress()` again. So a reloaded page or a second tab shows a run that
    another process is carrying out, and buttons follow what is stored.

    Topics panels listen to: "project" (another project was opened, or the list changed),
    "data" (stored work changed: a run finished, a shot was edited …), "progress" (a new
    progress() of the open project, with "active": whether a run is queued or going on),
    "run" ("start" or "end": a run of the open project began or ended, whoever runs it),
    "stage" (a stage's stored status or counts moved; the payload is its progress entry) and
    "studio" (something else was committed: an edit here, in another tab or in a terminal).
    """

    POLL_S = 0.5

    def __init__(self, studio=None, project=None, *, poll: bool = True):
        self.studio = studio if studio is not None else open_studio()
        self.project = project
        self.handle = None  # the last run started from this session (tests and notebooks wait on it)
        self.progress: dict | None = None
        self._listeners: dict[str, list[Callable]] = {}
        self._loop = _running_loop()
        self._main = threading.get_ident()
        self._changes = self.studio.changes()
        self._task = None
        self.closed = False
        self.poll(force=True)
        if poll and self._loop is not None:
            self._task = self._loop.create_task(_poll_forever(weakref.ref(self), self.POLL_S))

    # listeners -------------------------------------------------------------------------
    def on(self, topic: str, fn: Callable[[Any], None]) -> None:
        self._listeners.setdefault(topic, []).append(fn)

    def emit(self, topic: str, payload: Any = None) -> None:
        """Call the topic's listeners, on the kernel's loop when called from another thread."""
        if self._loop is not None and threading.get_ident() != self._main:
            if self._loop.is_closed():
                return
            self._loop.call_soon_threadsafe(self._deliver, topic, payload)
        else:
            self._deliver(topic, payload)

    def call_main(self, fn: Callable, *args: Any) -> None:
        """Call `fn(*args)` on the kernel's thread (from a worker thread, via its loop)."""
        def safe():
            try:
                fn(*args)
            except Exception:
                log.error("storynb panel callback failed:\n%s", traceback.format_exc())

        if self._loop is not None and threading.get_ident() != self._main:
            if not self._loop.is_closed():
                self._loop.call_soon_threadsafe(safe)
        else:
            safe()

    def call_later(self, seconds: float, fn: Callable[[], None]) -> None:
        """Call `fn()` on the kernel's loop after `seconds` (at once where there is no loop)."""
        if self._loop is None or self._loop.is_closed():
            fn()
            return
        self._loop.call_later(seconds, lambda: None if self.closed else self.call_main(fn))

    def _deliver(self, topic: str, payload: Any) -> None:
        for fn in list(self._listeners.get(topic, ())):
            try:
                fn(payload)
            except Exception:  # one broken view must not stop the others
                log.error("storynb panel listener failed:\n%s", traceback.format_exc())

    # the live state ----------------------------------------------------------------------
    def poll(self, force: bool = False) -> bool:
        """One look at the studio: if anything was committed since the last look (or `force`),
        read the open project's progress and tell the panels what moved. The poller calls this
        on the kernel's loop; code without a loop (a script, a test) may call it by hand."""
        if self.closed:
            return False
        changed = self._changes.changed()
        if not (changed or force):
            return False
        old = self.progress
        if self.project is None:
            self.progress = None
            return True
        from ..live import run_active, stages_reached

        new = self.project.progress()
        if not new:  # the project was deleted (by another tab, say)
            self.progress = None
            return True
        new["active"] = run_active(self.studio.db, self.project.id)
        new["reached"] = stages_reached(self.studio.db, self.project.id, new.get("run"))
        self.progress = new
        if old is not None and old.get("project_id") != new["project_id"]:
            old = None
        if new == old:
            if changed:
                self.emit("studio")  # something else was committed (an edit, another tab's …)
            return True
        was = _run_key(old)
        now_ = _run_key(new)
        if was != now_:
            if new["active"] and (not old or not old.get("active") or was[0] != now_[0]):
                self.emit("run", "start")
            elif not new["active"] and old and (old.get("active") or was[0] != now_[0]):
                self.emit("run", "end")
                self.emit("data", Change("run"))
        before = {s["stage"]: s for s in (old or {}).get("stages", [])}
        for stage in new["stages"]:
            if old is not None and before.get(stage["stage"]) != stage:
                self.emit("stage", stage)
        self.emit("progress", new)
        return True

    def close(self) -> None:
        """Stop following the studio (the poller ends); the panels stay as they are."""
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def wait(self, timeout: float | None = None):
        """Wait for the run this session started and show its end (for code and tests)."""
        report = self.handle.wait(timeout) if self.handle is not None else None
        self.poll()
        return report

    # the project -----------------------------------------------------------------------
    def open(self, ref) -> None:
        self.project = self.studio.project(ref)
        self.handle = None
        self.progress = None
        self.poll(force=True)
        self.emit("project", self.project)

    def close_project(self) -> None:
        self.project = None
        self.handle = None
        self.progress = None
        self.emit("project", None)

    def require(self):
        if self.project is None:
            raise InvalidInput(t("common.no_project_open"))
        return self.project

    def changed(self, what: str = "edit", source=None) -> None:
        """Tell the panels that stored work changed (`source`: the panel that changed it)."""
        self.emit("data", Change(what, source))

    # runs ------------------------------------------------------------------------------
    def running(self) -> bool:
        """Whether a run of the open project is queued or going on, as stored in the studio
        (whichever page, kernel, worker or terminal started it)."""
        if self.project is None:
            return False
        from ..live import run_active

        return run_active(self.studio.db, self.project.id)

    def active(self) -> bool:
        """The last polled answer to `running()` (what buttons are drawn from)."""
        return bool(self.progress and self.progress.get("active"))

    def start(self, stages=None, *, how: str = "run"):
        """Start work (`how`: run, retry or resume) and return at once. The studio's local
        worker process carries it out (so it outlives this page and kernel), except for projects
        that use providers registered only in this process, which run in a thread here."""
        project = self.require()
        if self.running():
            raise InvalidInput(t("common.already_running"))
        if how in ("retry", "resume"):  # a run lifts the pause and starts at the first unfinished stage
            self.handle = project.run(background=True, from_failed=True)
        else:
            self.handle = project.run(stages, background=True)
        self.poll(force=True)
        return self.handle


def _run_key(progress: dict | None) -> tuple:
    if not progress:
        return (None, None, None)
    run = progress.get("run") or {}
    return (run.get("id"), run.get("state"), bool(progress.get("active")))


async def _poll_forever(ref, interval: float) -> None:
    """The session's poller: ends when the session is closed or garbage-collected."""
    while True:
        await asyncio.sleep(interval)
        session = ref()
        if session is None or session.closed:
            return
        try:
            session.poll()
        except Exception:  # a locked or vanished studio must not end the live view for good
            log.warning("storynb: reading the studio failed:\n%s", traceback.format_exc())
        del session


def as_session(source) -> Session:
    """A panel accepts a Session, a Project, a Studio or nothing (the default studio)."""
    from ..project import Project
    from ..studio import Studio

    if isinstance(source, Session):
        return source
    if isinstance(source, Project):
        return Session(source.studio, source)
    if isinstance(source, Studio):
        return Session(source)
    if source is None:
        return Session()
    raise TypeError(f"a panel needs a Session, Project or Studio, not {type(source).__name__}")


# ------------------------------------------------------------------------------ panels
class Panel(W.VBox):
    """A panel: a VBox over a Session, with a message line for results and errors."""

    name = "panel"
    title = ""

    def __init__(self, source=None, *, show_title: bool = True, **kwargs):
        self._owns_session = not isinstance(source, Session)
        self.session = as_session(source)
        self.message = W.HTML(layout=W.Layout(min_height="22px"))
        self.message.add_class("storynb-msg")
        self.active = True
        self._dirty = False
        self._quiet = 0
        self._run_note = ""
        self.body = W.VBox()
        header = [W.HTML(STYLE)]
        title = t(f"{self.name}.title") if f"{self.name}.title" in catalogue() else self.title
        if show_title and title:
            header.append(W.HTML(f"<h3>{html.escape(title)}</h3>"))
        self.header: list[W.Widget] = header
        super().__init__(children=[*header, self.body, self.message], **kwargs)
        self.add_class("storynb-panel")
        self.add_class(f"storynb-{self.name}")
        self.session.on("project", lambda _: self.mark_dirty())
        self.session.on("data", self._data_changed)
        self.session.on("run", self._run_finished)

    # refreshing ------------------------------------------------------------------------
    def _data_changed(self, change) -> None:
        if isinstance(change, Change) and change.source is self:
            return  # the panel already shows its own edit
        self.mark_dirty()

    def mark_dirty(self) -> None:
        """Redraw now if shown, else when next shown (the app only redraws the visible tab)."""
        self._dirty = True
        if self.active:
            self.redraw()

    def activate(self, active: bool = True) -> None:
        self.active = active
        if active and self._dirty:
            self.redraw()

    def redraw(self) -> None:
        self._dirty = False
        try:
            self.refresh()
        except StorynbError as exc:
            self.error(str(exc))
        except Exception as exc:
            log.error("storynb panel %s failed to refresh:\n%s", self.name, traceback.format_exc())
            self.error(t("common.could_not_show", error=f"{type(exc).__name__}: {exc}"))

    def refresh(self) -> None:  # pragma: no cover - each panel draws itself
        pass

    # values and runs -------------------------------------------------------------------
    @contextmanager
    def quiet(self):
        """Change widget values from code without running their handlers."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def on_value(self, widget: W.Widget, handler: Callable[[], None]) -> None:
        """Run `handler` (checked, errors shown) when the user changes `widget`'s value."""
        wrapped = self.action(handler)
        widget.observe(lambda _change: None if self._quiet else wrapped(), names="value")

    def start(self, stages=None, *, how: str = "run", note: str = "") -> None:
        """Start a background run for this panel; its message says when it has finished."""
        self.session.start(stages, how=how)
        self._run_note = note or t("common.working")
        self.info(t("common.ellipsis", text=self._run_note))

    def _run_finished(self, what) -> None:
        if what == "end" and self._run_note:
            note, self._run_note = self._run_note, ""
            status = (self.session.progress or {}).get("status", "")
            if status == "done":
                self.ok(t("common.run_done", note=note))
            else:
                self.error(t("common.run_ended", note=note, status=t("common.status_" + status)
                             if "common.status_" + status in catalogue() else status))

    def close(self) -> None:
        """Close the panel's widgets; a session the panel made for itself stops polling."""
        session = getattr(self, "session", None)  # None: __init__ failed before it was set
        if session is not None and getattr(self, "_owns_session", False):
            session.close()
        super().close()

    # messages --------------------------------------------------------------------------
    def ok(self, text: str) -> None:
        self.message.value = f"<span class='ok'>{html.escape(text)}</span>"

    def info(self, text: str) -> None:
        self.message.value = f"<span class='info'>{html.escape(text)}</span>"

    def error(self, text: str) -> None:
        """Show an error; an engine's (English) text in the UI's language where it is known."""
        self.message.value = f"<span class='err'>{html.escape(translate(text))}</span>"

    def action(self, fn: Callable) -> Callable:
        """Wrap a handler: engine errors become the panel's message; nothing fails silently."""

        @functools.wraps(fn)
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except StorynbError as exc:
                self.error(str(exc))
            except Exception as exc:
                log.error("storynb panel %s: %s", self.name, traceback.format_exc())
                self.error(f"{type(exc).__name__}: {exc}")
            return None

        return run

    def button(self, description: str, handler: Callable, *, style: str = "",
               tooltip: str = "", width: str = "") -> W.Button:
        btn = W.Button(description=description, button_style=style, tooltip=tooltip or description,
                       layout=W.Layout(width=width) if width else W.Layout(width="auto"))
        wrapped = self.action(handler)
        btn.on_click(lambda _b: wrapped())
        return btn


# ------------------------------------------------------------------------------ checks
def text(value: Any, field: str, *, max_len: int = 2000, required: bool = False) -> str:
    """A text value from the browser: a string, stripped, not too long."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(t("common.must_be_text", field=field))
    value = value.strip()
    if required and not value:
        raise InvalidInput(t("common.is_empty", field=field))
    if len(value) > max_len:
        raise InvalidInput(t("common.too_long", field=field, length=len(value), limit=max_len))
    if "\x00" in value:
        raise InvalidInput(t("common.nul", field=field))
    return value


def choice(value: Any, field: str, choices) -> Any:
    """A value that must be one of `choices` (a dropdown's value can be set to anything)."""
    allowed = list(choices)
    if value not in allowed:
        raise InvalidInput(t("common.not_a_choice", field=field, value=repr(value)))
    return value


def integer(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(t("common.whole_number", field=field))
    if not low <= value <= high:
        raise InvalidInput(t("common.between", field=field, low=low, high=high, value=value))
    return value


def number(value: Any, field: str, low: float, high: float) -> float:
    import math

    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInput(t("common.a_number", field=field))
    if not low <= value <= high:
        raise InvalidInput(t("common.between", field=field, low=low, high=high, value=value))
    return float(value)


def shot_number(value: Any, project) -> int:
    count = len(project.shots())
    if count == 0:
        raise InvalidInput(t("common.no_shots_yet"))
    return integer(value, t("common.shot"), 1, count)


# ------------------------------------------------------------------------------ view helpers
def chip(status: str, label: str | None = None) -> str:
    colour = STATUS_COLOURS.get(status, "#8a8f98")
    return (f"<span class='storynb-chip storynb-status-{html.escape(status)}' "
            f"style='background:{colour}'>{html.escape(label or status_word(status))}</span>")


def status_word(status: str) -> str:
    """A status ('done', 'running' …) in the chosen language."""
    key = f"common.status_{status}"
    return t(key) if key in catalogue() else status


def stage_chips(status: dict[str, str]) -> str:
    return "".join(chip(status.get(s, "pending"),
                        f"{stage_title(s)}: {status_word(status.get(s, 'pending'))}")
                   for s in STAGES)


def is_offline(project, kind: str) -> bool:
    """Whether the project's providers of a kind are all the built-in offline ones (shown as
    "draft (offline)", never as an AI)."""
    try:
        names = [m.name for m in project.provider(kind).members]
    except Exception:
        return False
    if not names:
        return False
    marks = ",".join("?" * len(names))
    types = [r[0] for r in project.studio.db.execute(
        f"select type from providers where name in ({marks})", names).fetchall()]
    return bool(types) and all(kind_ == "local" for kind_ in types)


def made_by(project, kind: str) -> str:
    """Who made a thing, in plain words: "draft (offline)" for the built-in providers."""
    return t("common.by_offline") if is_offline(project, kind) else t(f"common.by_{kind}")


def html_table(rows: list[dict], columns: list[str], *, headers: dict[str, str] | None = None,
               classes: str = "storynb-table") -> str:
    headers = headers or {}
    head = "".join(f"<th>{html.escape(headers.get(c, c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if r.get(c) is None else str(r.get(c)))}</td>"
                         for c in columns) + "</tr>" for r in rows)
    return f"<table class='{classes}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def read_media(studio, name: str | None) -> bytes:
    """The bytes of a stored media file (b'' when missing)."""
    if not name or not studio.media.exists(name):
        return b""
    return studio.media.path(name).read_bytes()


def pager(total: int, per_page: int, on_change: Callable[[int], None]) -> tuple[W.HBox, Callable]:
    """Previous/next buttons and a label; returns the box and a function to set the total."""
    state = {"page": 0, "total": total}
    label = W.HTML()
    prev_b = W.Button(description=t("common.previous"), layout=W.Layout(width="auto"))
    next_b = W.Button(description=t("common.next"), layout=W.Layout(width="auto"))

    def pages() -> int:
        return max(1, -(-state["total"] // per_page))

    def draw() -> None:
        label.value = ("<span class='storynb-caption'>"
                       + html.escape(t("common.page_of", page=state["page"] + 1, pages=pages(),
                                       total=state["total"])) + "</span>")
        prev_b.disabled = state["page"] <= 0
        next_b.disabled = state["page"] >= pages() - 1

    def go(delta: int) -> None:
        page = min(max(0, state["page"] + delta), pages() - 1)  # the only pages there are
        if page != state["page"]:
            state["page"] = page
            draw()
            on_change(page)

    def set_total(new_total: int, page: int | None = None) -> int:
        state["total"] = max(0, int(new_total))
        if page is not None:
            state["page"] = page
        state["page"] = min(state["page"], pages() - 1)
        draw()
        return state["page"]

    prev_b.on_click(lambda _b: go(-1))
    next_b.on_click(lambda _b: go(1))
    draw()
    return W.HBox([prev_b, label, next_b], layout=W.Layout(align_items="center")), set_total
