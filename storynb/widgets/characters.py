"""Characters panel: the project's character sheet (storynb.characters). Pick a character to
edit its locked description, voice and seed, add or remove reference images, and say which
characters each shot shows. Every edit is saved through `project.cast`; the images of the shots
that show an edited character are made again on the next run (and only those)."""
from __future__ import annotations

import html
import json
import tempfile
from pathlib import Path

import ipywidgets as W

from ..characters import shot_names
from ..errors import InvalidInput
from .base import Panel, html_table, read_media, shot_number, text
from .i18n import t

NEW = "＋ New character"  # the value of the "new character" choice (its label: characters.new)
MAX_REFERENCE = 20 * 1024 * 1024


class CharactersPanel(Panel):
    name = "characters"
    title = "Characters"

    def __init__(self, source=None, **kwargs):
        super().__init__(source, **kwargs)
        self.table = W.HTML()
        self.table.add_class("storynb-characters-table")
        self.pick = W.Dropdown(description=t("characters.character"), layout=W.Layout(width="320px"))
        self.on_value(self.pick, self._load)
        self.name_box = W.Text(description=t("characters.name"), layout=W.Layout(width="320px"))
        self.description = W.Textarea(placeholder=t("characters.description_placeholder"),
                                      layout=W.Layout(width="98%", height="80px"))
        self.description.add_class("storynb-character-description")
        self.voice = W.Text(description=t("characters.voice"), placeholder=t("characters.narrator"),
                            layout=W.Layout(width="320px"))
        self.locked = W.Checkbox(value=True, description=t("characters.locked"),
                                 indent=False)
        self.save_b = self.button(t("characters.save"), self.save, style="primary")
        self.delete_b = self.button(t("images.delete"), self.delete, style="danger")
        self.find_b = self.button(t("characters.find"), self.find,
                                  tooltip=t("characters.find_tip"))
        self.refs = W.HBox(layout=W.Layout(flex_flow="row wrap"))
        self.upload = W.FileUpload(accept="image/png,image/jpeg,image/webp", multiple=False,
                                   description=t("characters.add_ref"), layout=W.Layout(width="auto"))
        self.on_value(self.upload, self._uploaded)
        self.shot = W.BoundedIntText(value=1, min=1, max=999, description=t("images.shot"),
                                     layout=W.Layout(width="140px"))
        self.shot.observe(lambda _c: None if self._quiet else self._show_shot(), names="value")
        self.shot_names = W.Text(description=t("characters.shows"), placeholder=t("characters.names_placeholder"),
                                 layout=W.Layout(width="360px"))
        self.tag_b = self.button(t("characters.set"), self.tag)
        self.body.children = [
            self.table,
            W.HBox([self.pick, self.find_b], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.name_box, self.voice], layout=W.Layout(flex_flow="row wrap")),
            self.description,
            W.HBox([self.locked, self.save_b, self.delete_b],
                   layout=W.Layout(align_items="center", flex_flow="row wrap")),
            self.message,
            W.HTML(f"<b>{html.escape(t('characters.refs'))}</b> <span class='storynb-help'>"
                   f"{html.escape(t('characters.refs_help'))}</span>"),
            self.refs, self.upload,
            W.HTML(f"<b>{html.escape(t('characters.who'))}</b>"),
            W.HBox([self.shot, self.shot_names, self.tag_b],
                   layout=W.Layout(align_items="center", flex_flow="row wrap"))]
        self.children = [*self.header, self.body]  # the message sits under the character's buttons
        self.redraw()

    # drawing -------------------------------------------------------------------------------
    def refresh(self) -> None:
        project = self.session.project
        if project is None:
            self.table.value = f"<span class='storynb-help'>{html.escape(t('images.no_project'))}</span>"
            with self.quiet():
                self.pick.options = []
            return
        frame = project.cast.frame()
        rows = [{**r, "shots": ", ".join(map(str, r["shots"])),
                 "locked": t("characters.yes") if r["locked"] else ""}
                for r in frame.to_dict("records")]
        columns = ["name", "description", "locked", "references", "voice", "shots"]
        self.table.value = (html_table(rows, columns, headers={c: t(f"characters.col_{c}") for c in columns})
                            if rows else "<span class='storynb-help'>"
                            f"{html.escape(t('characters.none'))}</span>")
        names = [r["name"] for r in rows]
        with self.quiet():
            current = self.pick.value
            self.pick.options = [(n, n) for n in names] + [(t("characters.new"), NEW)]
            self.pick.value = current if current in [*names, NEW] else (names[0] if names else NEW)
        self._load()
        shots = project.shots()
        self.shot.max = max(1, len(shots))
        self._show_shot()

    def _load(self) -> None:
        project = self.session.project
        if project is None:
            return
        name = self.pick.value
        with self.quiet():
            if name in (None, NEW):
                self.name_box.value, self.description.value, self.voice.value = "", "", ""
                self.locked.value = True
                self.refs.children = []
                return
            row = project.cast.get(name)
            self.name_box.value = row["name"]
            self.description.value = row["description"] or ""
            self.voice.value = row["voice"] or ""
            self.locked.value = bool(row["locked"])
        studio = self.session.studio
        cards = []
        for media in json.loads(row["refs"] or "[]"):
            data = read_media(studio, media)
            if not data:
                continue
            remove = self.button(t("characters.remove"), lambda m=media: self.remove_reference(m), width="100px")
            cards.append(W.VBox([W.Image(value=data, layout=W.Layout(max_width="120px")), remove]))
        self.refs.children = cards

    def _show_shot(self) -> None:
        project = self.session.project
        try:
            shot = project.shot(int(self.shot.value)) if project and project.shots() else None
        except Exception:
            shot = None
        with self.quiet():
            self.shot_names.value = ", ".join(shot_names(shot)) if shot else ""

    # actions -------------------------------------------------------------------------------
    def save(self) -> None:
        project = self.session.require()
        name = text(self.name_box.value, t("characters.name"), max_len=60, required=True)
        description = text(self.description.value, t("characters.col_description"), max_len=1000, required=True)
        voice = text(self.voice.value, t("characters.voice"), max_len=200)
        current = self.pick.value
        if current in (None, NEW):
            project.cast.set(name, description=description, voice=voice,
                             locked=bool(self.locked.value))
        else:
            project.cast.set(current, description=description, voice=voice,
                             locked=bool(self.locked.value),
                             rename=name if name != current else None)
        self.session.changed("characters", self)
        self.redraw()
        with self.quiet():
            self.pick.value = name
        self._load()
        self.ok(t("characters.saved", name=name))

    def delete(self) -> None:
        project = self.session.require()
        if self.pick.value in (None, NEW):
            raise InvalidInput(t("characters.pick_first"))
        name = self.pick.value
        project.cast.delete(name)
        self.session.changed("characters", self)
        self.redraw()
        self.ok(t("characters.deleted", name=name))

    def find(self) -> None:
        project = self.session.require()
        found = project.cast.extract()
        self.session.changed("characters", self)
        self.redraw()
        self.ok(t("characters.found", names=t("flow.join_comma").join(found)) if found
                else t("characters.found_nobody"))

    def tag(self) -> None:
        project = self.session.require()
        seq = shot_number(self.shot.value, project)
        raw = text(self.shot_names.value, t("characters.shows"), max_len=600)
        names = [n.strip() for n in raw.replace("，", ",").split(",") if n.strip()]
        project.cast.tag(seq, names)
        self.session.changed("characters", self)
        self.redraw()
        self.ok(t("characters.shot_shows", seq=seq, names=t("flow.join_comma").join(names))
                if names else t("characters.shot_nobody", seq=seq))

    def remove_reference(self, media: str) -> None:
        project = self.session.require()
        project.cast.remove_reference(self.pick.value, media)
        self._load()
        self.ok(t("characters.ref_removed"))

    def _uploaded(self) -> None:
        project = self.session.require()
        value = self.upload.value
        if not value:
            return
        if self.pick.value in (None, NEW):
            raise InvalidInput(t("characters.save_first"))
        item = value[0]
        if not isinstance(item, dict) or item.get("size", 0) > MAX_REFERENCE:
            raise InvalidInput(t("characters.ref_kind"))
        name = text(item.get("name"), t("project.file_name"), max_len=255, required=True)
        suffix = Path(name).suffix.lower()
        if suffix not in (".png", ".jpg", ".jpeg", ".webp"):
            raise InvalidInput(f"{html.escape(name)} is not a PNG, JPEG or WebP image")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"reference{suffix}"
            path.write_bytes(bytes(item["content"]))
            project.cast.add_reference(self.pick.value, path)
        with self.quiet():
            self.upload.value = ()
        self._load()
        self.ok(t("characters.ref_added", name=self.pick.value))
