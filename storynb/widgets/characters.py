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

NEW = "＋ New character"
MAX_REFERENCE = 20 * 1024 * 1024


class CharactersPanel(Panel):
    name = "characters"
    title = "Characters"

    def __init__(self, source=None, **kwargs):
        super().__init__(source, **kwargs)
        self.table = W.HTML()
        self.table.add_class("storynb-characters-table")
        self.pick = W.Dropdown(description="Character", layout=W.Layout(width="320px"))
        self.on_value(self.pick, self._load)
        self.name_box = W.Text(description="Name", layout=W.Layout(width="320px"))
        self.description = W.Textarea(placeholder="who they are and what they look like: every "
                                      "image prompt of a shot that shows them gets this",
                                      layout=W.Layout(width="98%", height="80px"))
        self.description.add_class("storynb-character-description")
        self.voice = W.Text(description="Voice", placeholder="(the narrator)",
                            layout=W.Layout(width="320px"))
        self.locked = W.Checkbox(value=True, description="locked (the storyboard leaves it alone)",
                                 indent=False)
        self.save_b = self.button("Save", self.save, style="primary")
        self.delete_b = self.button("Delete", self.delete, style="danger")
        self.find_b = self.button("Find characters in the story", self.find,
                                  tooltip="tag the shots that have no characters yet")
        self.refs = W.HBox(layout=W.Layout(flex_flow="row wrap"))
        self.upload = W.FileUpload(accept="image/png,image/jpeg,image/webp", multiple=False,
                                   description="Add a reference image", layout=W.Layout(width="auto"))
        self.on_value(self.upload, self._uploaded)
        self.shot = W.BoundedIntText(value=1, min=1, max=999, description="Shot",
                                     layout=W.Layout(width="140px"))
        self.shot.observe(lambda _c: None if self._quiet else self._show_shot(), names="value")
        self.shot_names = W.Text(description="shows", placeholder="names, separated by commas",
                                 layout=W.Layout(width="360px"))
        self.tag_b = self.button("Set", self.tag)
        self.body.children = [
            self.table,
            W.HBox([self.pick, self.find_b], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.name_box, self.voice], layout=W.Layout(flex_flow="row wrap")),
            self.description,
            W.HBox([self.locked, self.save_b, self.delete_b],
                   layout=W.Layout(align_items="center", flex_flow="row wrap")),
            W.HTML("<b>Reference images</b> <span class='storynb-help'>sent to image services "
                   "that take input images (OpenAI image edits …)</span>"),
            self.refs, self.upload,
            W.HTML("<b>Who is in each shot</b>"),
            W.HBox([self.shot, self.shot_names, self.tag_b],
                   layout=W.Layout(align_items="center", flex_flow="row wrap"))]
        self.redraw()

    # drawing -------------------------------------------------------------------------------
    def refresh(self) -> None:
        project = self.session.project
        if project is None:
            self.table.value = "<span class='storynb-help'>No project open.</span>"
            with self.quiet():
                self.pick.options = []
            return
        frame = project.cast.frame()
        rows = [{**r, "shots": ", ".join(map(str, r["shots"])), "locked": "yes" if r["locked"] else ""}
                for r in frame.to_dict("records")]
        self.table.value = (html_table(rows, ["name", "description", "locked", "references",
                                              "voice", "shots"])
                            if rows else "<span class='storynb-help'>No characters yet: run the "
                            "storyboard, or add one below.</span>")
        names = [r["name"] for r in rows]
        with self.quiet():
            current = self.pick.value
            self.pick.options = names + [NEW]
            self.pick.value = current if current in self.pick.options else (names[0] if names else NEW)
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
            remove = self.button("Remove", lambda m=media: self.remove_reference(m), width="100px")
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
        name = text(self.name_box.value, "name", max_len=60, required=True)
        description = text(self.description.value, "description", max_len=1000, required=True)
        voice = text(self.voice.value, "voice", max_len=200)
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
        self.ok(f"saved {name}: the images of the shots showing them are made again next run")

    def delete(self) -> None:
        project = self.session.require()
        if self.pick.value in (None, NEW):
            raise InvalidInput("pick a character to delete")
        name = self.pick.value
        project.cast.delete(name)
        self.session.changed("characters", self)
        self.redraw()
        self.ok(f"deleted {name}")

    def find(self) -> None:
        project = self.session.require()
        found = project.cast.extract()
        self.session.changed("characters", self)
        self.redraw()
        self.ok(f"found: {', '.join(found) or 'nobody named in the story'}")

    def tag(self) -> None:
        project = self.session.require()
        seq = shot_number(self.shot.value, project)
        raw = text(self.shot_names.value, "names", max_len=600)
        names = [n.strip() for n in raw.replace("，", ",").split(",") if n.strip()]
        project.cast.tag(seq, names)
        self.session.changed("characters", self)
        self.redraw()
        self.ok(f"shot {seq}: {', '.join(names) or 'no characters'}")

    def remove_reference(self, media: str) -> None:
        project = self.session.require()
        project.cast.remove_reference(self.pick.value, media)
        self._load()
        self.ok("reference image removed")

    def _uploaded(self) -> None:
        project = self.session.require()
        value = self.upload.value
        if not value:
            return
        if self.pick.value in (None, NEW):
            raise InvalidInput("save the character first, then add its reference images")
        item = value[0]
        if not isinstance(item, dict) or item.get("size", 0) > MAX_REFERENCE:
            raise InvalidInput("a reference image is one PNG, JPEG or WebP file up to 20 MB")
        name = text(item.get("name"), "the file name", max_len=255, required=True)
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
        self.ok(f"added a reference image of {self.pick.value}")
