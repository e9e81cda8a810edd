"""Rewrite panel: the story in an editable text area, its versions, a diff between any two, and
writing it again with other settings."""
from __future__ import annotations

import html

import ipywidgets as W

from ..errors import InvalidInput
from ..project import LENGTHS
from .base import Panel, choice, made_by, text
from .i18n import style_key, style_name, style_names, t

MAX_STORY = 40000


def diff_html(diff: str) -> str:
    """A unified diff, coloured."""
    if not diff.strip():
        return f"<div class='storynb-diff'><i>{html.escape(t('rewrite.same'))}</i></div>"
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
        self.save_b = self.button(t("rewrite.save"), self.save, style="primary")
        # versions and diff -----------------------------------------------------------------
        self.versions = W.Dropdown(options=[], description=t("rewrite.version"))
        self.load_b = self.button(t("rewrite.load"), self.load_version)
        self.old = W.Dropdown(options=[], description=t("rewrite.compare"))
        self.new = W.Dropdown(options=[], description=t("rewrite.with"))
        self.old.style.description_width = self.new.style.description_width = "60px"
        self.diff_b = self.button(t("rewrite.show_diff"), self.show_diff)
        self.diff = W.HTML()
        # writing again ---------------------------------------------------------------------
        self.style = W.Combobox(options=style_names(), description=t("rewrite.style"), ensure_option=False)
        self.length = W.Dropdown(options=[(t(f"rewrite.length_{n}"), n) for n in LENGTHS],
                                 description=t("rewrite.length"))
        self.audience = W.Text(description=t("rewrite.audience"), placeholder=t("rewrite.anyone"))
        self.again_b = self.button(t("rewrite.again"), self.write_again,
                                   style="success")
        self.take_b = self.button(t("rewrite.take"), self.new_take,
                                  tooltip=t("rewrite.take_tip"))
        self.body.children = [
            W.HTML(f"<p class='storynb-help'>{html.escape(t('rewrite.help'))}</p>"),
            self.editor, W.HBox([self.save_b, self.version_note],
                                layout=W.Layout(align_items="center", flex_flow="row wrap")),
            self.message,
            W.HTML(f"<b>{html.escape(t('rewrite.versions'))}</b>"),
            W.HBox([self.versions, self.load_b], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.old, self.new, self.diff_b], layout=W.Layout(flex_flow="row wrap")),
            self.diff,
            W.HTML(f"<b>{html.escape(t('rewrite.write_again'))}</b>"),
            W.HBox([self.style, self.length, self.audience], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.again_b, self.take_b], layout=W.Layout(flex_flow="row wrap"))]
        self.children = [*self.header, self.body]  # the message sits under the editor
        self.redraw()

    def refresh(self) -> None:
        project = self.session.project
        if project is None:
            self.editor.value = ""
            self.version_note.value = f"<span class='storynb-help'>{html.escape(t('rewrite.no_project'))}</span>"
            for d in (self.versions, self.old, self.new):
                d.options = []
            return
        frame = project.stories()
        rows = frame.to_dict("records") if len(frame) else []
        by_writer = made_by(project, "llm")

        def who(source: str) -> str:
            return {"user": t("common.by_user"), "source": t("rewrite.by_source")}.get(source, by_writer)

        options = [(t("rewrite.version_label", v=r["version"], who=who(r["source"]), chars=r["chars"]),
                    int(r["version"])) for r in rows]
        for d in (self.versions, self.old, self.new):
            d.options = options
        if rows:
            self.versions.value = rows[-1]["version"]
            self.new.value = rows[-1]["version"]
            self.old.value = rows[-2]["version"] if len(rows) > 1 else rows[-1]["version"]
            self.editor.value = rows[-1]["text"]
            note = t("rewrite.showing", v=rows[-1]["version"], n=len(rows), who=who(rows[-1]["source"]))
            self.version_note.value = f"<span class='storynb-caption'>{html.escape(note)}</span>"
        else:
            self.editor.value = ""
            self.version_note.value = f"<span class='storynb-help'>{html.escape(t('rewrite.no_story'))}</span>"
        row = project.row
        self.style.value = style_name(row["style"] or "")
        self.length.value = row["length"] if row["length"] in LENGTHS else "short"
        self.audience.value = row["audience"] or ""
        self.diff.value = ""

    def _version(self, dropdown: W.Dropdown) -> int:
        values = [v for _, v in dropdown.options]
        if not values:
            raise InvalidInput(t("rewrite.no_version"))
        return choice(dropdown.value, t("rewrite.version"), values)

    def save(self) -> None:
        project = self.session.require()
        version = project.set_story(text(self.editor.value, t("rewrite.story_field"), max_len=MAX_STORY,
                                         required=True))
        self.refresh()
        self.session.changed("story")
        self.ok(t("rewrite.saved", v=version))

    def load_version(self) -> None:
        version = self._version(self.versions)
        self.editor.value = self.session.require().story(version)
        self.info(t("rewrite.loaded", v=version))

    def show_diff(self) -> None:
        old, new = self._version(self.old), self._version(self.new)
        self.diff.value = diff_html(self.session.require().story_diff(old, new))
        self.info(t("rewrite.diff_shown", old=old, new=new))

    def _settings(self) -> dict:
        return {"style": style_key(text(self.style.value, t("rewrite.style"), max_len=60)) or "warm",
                "length": choice(self.length.value, t("rewrite.length"), LENGTHS),
                "audience": text(self.audience.value, t("rewrite.audience"), max_len=120)}

    def write_again(self) -> None:
        project = self.session.require()
        if self.session.running():
            raise InvalidInput(t("images.running"))
        project.update(**self._settings())
        self.start(["rewrite"], note=t("rewrite.writing"))

    def new_take(self) -> None:
        project = self.session.require()
        if self.session.running():
            raise InvalidInput(t("images.running"))
        project.rollback("rewrite")
        self.start(["rewrite"], note=t("rewrite.taking"))

