"""Images panel: a gallery of each shot's picture; a shot's candidates to choose from; edit its
prompt and regenerate that one shot (its image, its clip and the final video, nothing else)."""
from __future__ import annotations

import html

import ipywidgets as W

from ..errors import InvalidInput
from .base import Panel, choice, pager, read_media, shot_number, text

PER_PAGE = 12
MAX_PROMPT = 4000
REDO = ["images", "clips", "export"]  # what a regenerated picture changes


def image_caption(row: dict | None) -> str:
    if not row:
        return "no image yet"
    return f"image #{row['id']} · {str(row['media'] or '')[:6]}"


class ImagesPanel(Panel):
    name = "images"
    title = "Images"

    def __init__(self, source=None, **kwargs):
        super().__init__(source, **kwargs)
        self._page = 0
        self._shots: list[dict] = []
        self.gallery = W.GridBox(layout=W.Layout(
            grid_template_columns="repeat(auto-fill, minmax(170px, 1fr))", grid_gap="8px",
            width="100%"))
        self.gallery.add_class("storynb-gallery")
        self.pages, self._set_total = pager(0, PER_PAGE, self._go)
        # one shot --------------------------------------------------------------------------
        self.shot = W.Dropdown(options=[], description="Shot")
        self.on_value(self.shot, self._draw_shot)
        self.candidates = W.HBox(layout=W.Layout(flex_flow="row wrap"))
        self.candidates.add_class("storynb-candidates")
        self.prompt = W.Textarea(description="Prompt", layout=W.Layout(width="98%", height="90px"))
        self.prompt.add_class("storynb-image-prompt")
        self.negative = W.Text(description="Avoid", placeholder="(nothing)",
                               layout=W.Layout(width="98%"))
        self.regen_b = self.button("Save prompt and regenerate this shot", self.regenerate,
                                   style="primary")
        self.save_b = self.button("Save prompt only", self.save_prompt)
        self.final_prompt = W.HTML()
        self.body.children = [
            W.HTML("<p class='storynb-help'>Each shot's chosen picture. Press <b>Edit</b> on a "
                   "shot to see its candidates, change its prompt or make it again.</p>"),
            self.pages, self.gallery, W.HTML("<hr><b>One shot</b>"), self.shot,
            self.candidates, self.prompt, self.negative,
            W.HBox([self.regen_b, self.save_b], layout=W.Layout()), self.final_prompt]
        self.session.on("stage", self._on_stage)
        self.redraw()

    # drawing ---------------------------------------------------------------------------
    def refresh(self) -> None:
        project = self.session.project
        shots = project.shots() if project is not None else []
        self._shots = shots
        self._page = self._set_total(len(shots))
        options = [(f"{s['seq']}: {s['scene'][:50]}", s["seq"]) for s in shots]
        keep = self.shot.value
        with self.quiet():
            self.shot.options = options
            values = [v for _, v in options]
            if values:
                self.shot.value = keep if keep in values else values[0]
        self._draw_gallery()
        self._draw_shot()

    def _go(self, page: int) -> None:
        self._page = page
        self.action(self._draw_gallery)()

    def _images_by_seq(self, seqs: list[int]) -> dict[int, list[dict]]:
        project = self.session.project
        frame = project.images()
        found: dict[int, list[dict]] = {s: [] for s in seqs}
        if len(frame):
            for row in frame.to_dict("records"):
                if row["seq"] in found:
                    found[row["seq"]].append(row)
        return found

    def _draw_gallery(self) -> None:
        if self.session.project is None:
            self.gallery.children = [W.HTML("<span class='storynb-help'>No project open.</span>")]
            return
        if not self._shots:
            self.gallery.children = [W.HTML("<span class='storynb-help'>No shots yet.</span>")]
            return
        page = self._shots[self._page * PER_PAGE:(self._page + 1) * PER_PAGE]
        images = self._images_by_seq([s["seq"] for s in page])
        self.gallery.children = [self._card(shot, images[shot["seq"]]) for shot in page]

    def _card(self, shot: dict, rows: list[dict]) -> W.VBox:
        studio = self.session.studio
        chosen = next((r for r in rows if r["chosen"] and r["status"] == "done"), None)
        failed = next((r for r in reversed(rows) if r["status"] == "failed"), None)
        parts: list[W.Widget] = [W.HTML(f"<b>Shot {shot['seq']}</b>")]
        if chosen:
            parts.append(W.Image(value=read_media(studio, chosen["thumb"]), format="jpeg",
                                 layout=W.Layout(width="150px")))
        elif failed:
            parts.append(W.HTML(f"<span class='err'>failed: {html.escape(str(failed['error'])[:140])}"
                                "</span>"))
        else:
            parts.append(W.HTML("<span class='storynb-help'>not painted yet</span>"))
        caption = W.HTML(f"<span class='storynb-caption storynb-image-id' data-shot='{shot['seq']}'>"
                         f"{html.escape(image_caption(chosen))}</span>")
        parts.append(caption)
        edit = self.button("Edit", lambda seq=shot["seq"]: self._select(seq))
        parts.append(edit)
        card = W.VBox(parts, layout=W.Layout(align_items="flex-start"))
        card.add_class("storynb-card")
        card.add_class(f"storynb-shot-{shot['seq']}")
        if failed and not chosen:
            card.add_class("failed")
        return card

    def _select(self, seq: int) -> None:
        self.shot.value = choice(seq, "shot", [v for _, v in self.shot.options])

    def _draw_shot(self) -> None:
        project = self.session.project
        seq = self.shot.value
        if project is None or seq is None:
            self.candidates.children = []
            self.prompt.value = self.negative.value = ""
            self.final_prompt.value = ""
            return
        shot = project.shot(seq)
        self.prompt.value = shot["image_prompt"] or ""
        self.negative.value = shot["negative_prompt"] or ""
        rows = self._images_by_seq([seq])[seq]
        studio = self.session.studio
        cards = []
        for row in rows:
            parts: list[W.Widget] = []
            if row["status"] == "done":
                parts.append(W.Image(value=read_media(studio, row["thumb"]), format="jpeg",
                                     layout=W.Layout(width="120px")))
            else:
                parts.append(W.HTML(f"<span class='err'>{html.escape(str(row['error'])[:120])}</span>"))
            parts.append(W.HTML(f"<span class='storynb-caption'>#{row['id']}"
                                f"{' · chosen' if row['chosen'] else ''}</span>"))
            buttons = []
            if row["status"] == "done" and not row["chosen"]:
                buttons.append(self.button("Use this", lambda i=row["id"]: self.use(i)))
            buttons.append(self.button("Delete", lambda i=row["id"]: self.delete(i)))
            parts.append(W.HBox(buttons))
            card = W.VBox(parts)
            card.add_class("storynb-card")
            if row["chosen"]:
                card.add_class("chosen")
            cards.append(card)
        self.candidates.children = cards or [W.HTML("<span class='storynb-help'>No pictures for "
                                                    "this shot yet.</span>")]
        chosen = next((r for r in rows if r["chosen"]), None)
        self.final_prompt.value = (f"<span class='storynb-caption'>sent to the painter: "
                                   f"{html.escape(chosen['prompt'])}</span>" if chosen else "")

    def _on_stage(self, stage: dict) -> None:
        if stage["stage"] == "images" and stage["status"] in ("done", "failed"):
            self.mark_dirty()

    # actions ---------------------------------------------------------------------------
    def _seq(self) -> int:
        project = self.session.require()
        return shot_number(self.shot.value, project)

    def _image_id(self, image_id, seq: int) -> int:
        frame = self.session.require().images(seq)
        ids = [int(i) for i in frame["id"]] if len(frame) else []
        return choice(image_id, "image", ids)

    def use(self, image_id: int) -> None:
        seq = self._seq()
        self.session.require().choose_image(seq, self._image_id(image_id, seq))
        self.refresh()
        self.session.changed("images", source=self)
        self.ok(f"shot {seq} now uses image #{image_id}: run Clips and Export to see it move")

    def delete(self, image_id: int) -> None:
        seq = self._seq()
        self.session.require().delete_image(seq, self._image_id(image_id, seq))
        self.refresh()
        self.session.changed("images", source=self)
        self.ok(f"deleted image #{image_id}")

    def _save(self) -> tuple[int, bool]:
        project = self.session.require()
        seq = self._seq()
        prompt = text(self.prompt.value, "the image prompt", max_len=MAX_PROMPT, required=True)
        negative = text(self.negative.value, "the negative prompt", max_len=MAX_PROMPT)
        shot = project.shot(seq)
        changed = prompt != (shot["image_prompt"] or "") or negative != (shot["negative_prompt"] or "")
        if changed:
            project.edit_shot(seq, image_prompt=prompt, negative_prompt=negative)
        return seq, changed

    def save_prompt(self) -> None:
        seq, changed = self._save()
        self.session.changed("shots", source=self)
        self.ok(f"shot {seq}: prompt saved" if changed else f"shot {seq}: nothing changed")

    def regenerate(self) -> None:
        if self.session.running():
            raise InvalidInput("the project is running: wait for it to finish")
        seq, changed = self._save()
        if not changed:
            self.session.require().regenerate_image(seq)  # same prompt: a new seed
        self.session.changed("shots", source=self)
        self.start(REDO, note=f"painting shot {seq} again, then its clip and the video")
