"""Rewrite panel: the story in an editable text area, its versions, a diff between any two, and
writing it again with other settings."""
from __future__ import annotations

import html

import ipywidgets as W

from ..errors import InvalidInput
from ..project import LENGTHS
from .base import Panel, choice, text
from .project import STYLES

MAX_STORY = 40000


def diff_html(diff: str) -> str:
    """A unified diff, coloured."""
    if not diff.strip():
        return "<div class='storynb-diff'><i>The two versions are the same.</i></div>"
    lines = []
    for line in diff.splitlines():
        cls = ("hunk" if line.startswith("@@") else "add" if line.startswith("+")
               else "del" if line.startswith("-") else "")
        lines.append(f"<span class='{cls}'>{html.escape(line)}</span>" if cls
                     else html.escape(line) + "\n")
    return "<div class='storynb-diff'>" + "".join(lines) + "</div>"


class RewritePanel(Panel):
    name = "rewrite"
    title = "Story"

    def __init__(self, source=None, **kwargs):
        super().__init__(source, **kwargs)
        self.editor = W.Textarea(layout=W.Layout(width="98%", height="260px"))
        self.editor.add_class("storynb-story-editor")
        self.version_note = W.HTML()
        self.save_b = self.button("Save as a new version", self.save, style="primary")
        # versions and diff -----------------------------------------------------------------
        self.versions = W.Dropdown(options=[], description="Version")
        self.load_b = self.button("Load into the editor", self.load_version)
        self.old = W.Dropdown(options=[], description="Compare")
        self.new = W.Dropdown(options=[], description="with")
        self.old.style.description_width = self.new.style.description_width = "60px"
        self.diff_b = self.button("Show the differences", self.show_diff)
        self.diff = W.HTML()
        # writing again ---------------------------------------------------------------------
        self.style = W.Combobox(options=STYLES, description="Style", ensure_option=False)
        self.length = W.Dropdown(options=list(LENGTHS), description="Length")
        self.audience = W.Text(description="Audience", placeholder="(anyone)")
        self.again_b = self.button("Write again with these settings", self.write_again,
                                   style="success")
        self.take_b = self.button("New take (same settings)", self.new_take,
                                  tooltip="ask the writer again; later stages become stale")
        self.body.children = [
            W.HTML("<p class='storynb-help'>Edit the story and save it as a new version; the "
                   "storyboard follows the newest version the next time it runs.</p>"),
            self.editor, W.HBox([self.save_b, self.version_note],
                                layout=W.Layout(align_items="center")),
            W.HTML("<b>Versions</b>"),
            W.HBox([self.versions, self.load_b], layout=W.Layout()),
            W.HBox([self.old, self.new, self.diff_b], layout=W.Layout()),
            self.diff,
            W.HTML("<b>Write it again</b>"),
            W.HBox([self.style, self.length, self.audience], layout=W.Layout()),
            W.HBox([self.again_b, self.take_b], layout=W.Layout())]
        self.redraw()

    def refresh(self) -> None:
        project = self.session.project
        if project is None:
            self.editor.value = ""
            self.version_note.value = "<span class='storynb-help'>No project open.</span>"
            for d in (self.versions, self.old, self.new):
                d.options = []
            return
        frame = project.stories()
        rows = frame.to_dict("records") if len(frame) else []
        options = [(f"v{r['version']} · {r['source']} · {r['chars']} chars", int(r["version"]))
                   for r in rows]
        for d in (self.versions, self.old, self.new):
            d.options = options
        if rows:
            self.versions.value = rows[-1]["version"]
            self.new.value = rows[-1]["version"]
            self.old.value = rows[-2]["version"] if len(rows) > 1 else rows[-1]["version"]
            self.editor.value = rows[-1]["text"]
            self.version_note.value = (f"<span class='storynb-caption'>showing v{rows[-1]['version']}"
                                       f" of {len(rows)} (by {html.escape(rows[-1]['source'])})</span>")
        else:
            self.editor.value = ""
            self.version_note.value = ("<span class='storynb-help'>No story yet: run the Story "
                                       "stage, or write one here and save it.</span>")
        row = project.row
        self.style.value = row["style"] or ""
        self.length.value = row["length"] if row["length"] in LENGTHS else "short"
        self.audience.value = row["audience"] or ""
        self.diff.value = ""

    def _version(self, dropdown: W.Dropdown) -> int:
        values = [v for _, v in dropdown.options]
        if not values:
            raise InvalidInput("there is no story version yet")
        return choice(dropdown.value, "version", values)

    def save(self) -> None:
        project = self.session.require()
        version = project.set_story(text(self.editor.value, "the story", max_len=MAX_STORY,
                                         required=True))
        self.refresh()
        self.session.changed("story")
        self.ok(f"saved as version {version}")

    def load_version(self) -> None:
        version = self._version(self.versions)
        self.editor.value = self.session.require().story(version)
        self.info(f"version {version} is in the editor: save it to make it the newest version")

    def show_diff(self) -> None:
        old, new = self._version(self.old), self._version(self.new)
        self.diff.value = diff_html(self.session.require().story_diff(old, new))
        self.info(f"differences from v{old} to v{new}")

    def _settings(self) -> dict:
        return {"style": text(self.style.value, "style", max_len=60) or "warm",
                "length": choice(self.length.value, "length", LENGTHS),
                "audience": text(self.audience.value, "audience", max_len=120)}

    def write_again(self) -> None:
        project = self.session.require()
        if self.session.running():
            raise InvalidInput("the project is running: wait for it to finish")
        project.update(**self._settings())
        self.start(["rewrite"], note="writing the story with the new settings")

    def new_take(self) -> None:
        project = self.session.require()
        if self.session.running():
            raise InvalidInput("the project is running: wait for it to finish")
        project.rollback("rewrite")
        self.start(["rewrite"], note="asking the writer for a new take")

