"""Images panel: a gallery of each shot's picture; a shot's candidates to choose from; edit its
prompt and regenerate that one shot (its image, its clip and the final video, nothing else)."""
from __future__ import annotations

import html

import ipywidgets as W

from ..errors import InvalidInput
from .base import Panel, choice, pager, read_media, shot_number, text
from .i18n import t, translate

PER_PAGE = 12
MAX_PROMPT = 4000
REDO = ["images", "clips", "export"]  # what a regenerated picture changes


def image_caption(row: dict | None, rows: list[dict] | None = None) -> str:
    """'take 2 of 2' (which of the shot's pictures is used), in plain words."""
    if not row:
        return t("images.no_image")
    done = [r for r in (rows or [row]) if r["status"] == "done"]
    number = next((i for i, r in enumerate(done, 1) if r["id"] == row["id"]), len(done))
    return t("images.take", n=number, count=len(done))


class ImagesPanel(Panel):
    name = "images"
    title = "Images"

    def __init__(self, source=None, **kwargs):
        super().__init__(source, **kwargs)
        self._page = 0
        self._shots: list[dict] = []
        self._notes: dict[int, str] = {}  # a card's own message (what its button started)
        self.gallery = W.GridBox(layout=W.Layout(
            grid_template_columns="repeat(auto-fill, minmax(170px, 1fr))", grid_gap="8px",
            width="100%"))
        self.gallery.add_class("storynb-gallery")
        self.pages, self._set_total = pager(0, PER_PAGE, self._go)
        # one shot --------------------------------------------------------------------------
        self.shot = W.Dropdown(options=[], description=t("images.shot"))
        self.on_value(self.shot, self._draw_shot)
        self.candidates = W.HBox(layout=W.Layout(flex_flow="row wrap"))
        self.candidates.add_class("storynb-candidates")
        self.prompt = W.Textarea(description=t("images.prompt"), layout=W.Layout(width="98%", height="90px"))
        self.prompt.add_class("storynb-image-prompt")
        self.negative = W.Text(description=t("images.avoid"), placeholder=t("images.nothing"),
                               layout=W.Layout(width="98%"))
        self.regen_b = self.button(t("images.save_and_again"), self.regenerate,
                                   style="primary")
        self.save_b = self.button(t("images.save_only"), self.save_prompt)
        self.shot_message = W.HTML()
        self.shot_message.add_class("storynb-msg")
        self.final_prompt = W.HTML()
        self.body.children = [
            W.HTML(f"<p class='storynb-help'>{html.escape(t('images.help'))}</p>"),
            self.pages, self.gallery, W.HTML(f"<hr><b>{html.escape(t('images.one_shot'))}</b>"), self.shot,
            self.candidates, self.prompt, self.negative,
            W.HBox([self.regen_b, self.save_b], layout=W.Layout(flex_flow="row wrap")),
            self.shot_message, self.final_prompt]
        self.session.on("run", self._run_ended)
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
            self.gallery.children = [W.HTML(f"<span class='storynb-help'>{html.escape(t('images.no_project'))}</span>")]
            return
        if not self._shots:
            self.gallery.children = [W.HTML(f"<span class='storynb-help'>{html.escape(t('images.no_shots'))}</span>")]
            return
        page = self._shots[self._page * PER_PAGE:(self._page + 1) * PER_PAGE]
        images = self._images_by_seq([s["seq"] for s in page])
        self.gallery.children = [self._card(shot, images[shot["seq"]]) for shot in page]

    def _card(self, shot: dict, rows: list[dict]) -> W.VBox:
        studio = self.session.studio
        chosen = next((r for r in rows if r["chosen"] and r["status"] == "done"), None)
        failed = next((r for r in reversed(rows) if r["status"] == "failed"), None)
        parts: list[W.Widget] = [W.HTML(f"<b>{html.escape(t('images.shot_n', n=shot['seq']))}</b>")]
        if chosen:
            parts.append(W.Image(value=read_media(studio, chosen["thumb"]), format="jpeg",
                                 layout=W.Layout(width="150px")))
        elif failed:
            error = translate(str(failed["error"]))[:140]
            parts.append(W.HTML("<span class='err'>" + html.escape(t("images.failed", error=error))
                                + "</span>"))
        else:
            parts.append(W.HTML(f"<span class='storynb-help'>{html.escape(t('images.not_painted'))}</span>"))
        caption = W.HTML(f"<span class='storynb-caption storynb-image-id' data-shot='{shot['seq']}' "
                         f"data-image='{chosen['id'] if chosen else ''}'>"
                         f"{html.escape(image_caption(chosen, rows))}</span>")
        parts.append(caption)
        edit = self.button(t("images.edit"), lambda seq=shot["seq"]: self._select(seq))
        again = self.button(t("images.again"), lambda seq=shot["seq"]: self.again(seq),
                            tooltip=t("images.again_tip"))
        again.add_class("storynb-again")
        again.disabled = self.session.active()
        parts.append(W.HBox([again, edit], layout=W.Layout(flex_flow="row wrap")))
        note = self._notes.get(shot["seq"])
        if note:
            parts.append(W.HTML(f"<span class='storynb-caption storynb-card-msg'>{html.escape(note)}</span>"))
        card = W.VBox(parts, layout=W.Layout(align_items="flex-start"))
        card.add_class("storynb-card")
        card.add_class(f"storynb-shot-{shot['seq']}")
        if failed and not chosen:
            card.add_class("failed")
        return card

    def _select(self, seq: int) -> None:
        self.shot.value = choice(seq, t("images.shot"), [v for _, v in self.shot.options])

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
            parts.append(W.HTML(f"<span class='storynb-caption'>{html.escape(image_caption(row, rows))}"
                                f"{html.escape(t('images.in_use')) if row['chosen'] else ''}</span>"))
            buttons = []
            if row["status"] == "done" and not row["chosen"]:
                buttons.append(self.button(t("images.use"), lambda i=row["id"]: self.use(i)))
            buttons.append(self.button(t("images.delete"), lambda i=row["id"]: self.delete(i)))
            parts.append(W.HBox(buttons))
            card = W.VBox(parts)
            card.add_class("storynb-card")
            if row["chosen"]:
                card.add_class("chosen")
            cards.append(card)
        none = t("images.none_for_shot")
        self.candidates.children = cards or [W.HTML(f"<span class='storynb-help'>{html.escape(none)}</span>")]
        chosen = next((r for r in rows if r["chosen"]), None)
        self.final_prompt.value = ("<span class='storynb-caption'>"
                                   f"{html.escape(t('images.sent', prompt=chosen['prompt']))}</span>" if chosen else "")

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
        return choice(image_id, t("images.picture"), ids)

    def use(self, image_id: int) -> None:
        seq = self._seq()
        self.session.require().choose_image(seq, self._image_id(image_id, seq))
        self.refresh()
        self.session.changed("images", source=self)
        self.shot_message.value = ("<span class='ok'>" + html.escape(t("images.now_uses", seq=seq))
                                   + "</span>")

    def delete(self, image_id: int) -> None:
        seq = self._seq()
        self.session.require().delete_image(seq, self._image_id(image_id, seq))
        self.refresh()
        self.session.changed("images", source=self)
        self.shot_message.value = "<span class='ok'>" + html.escape(t("images.deleted", seq=seq)) + "</span>"

    def _save(self) -> tuple[int, bool]:
        project = self.session.require()
        seq = self._seq()
        prompt = text(self.prompt.value, t("images.prompt_field"), max_len=MAX_PROMPT, required=True)
        negative = text(self.negative.value, t("images.avoid_field"), max_len=MAX_PROMPT)
        shot = project.shot(seq)
        changed = prompt != (shot["image_prompt"] or "") or negative != (shot["negative_prompt"] or "")
        if changed:
            project.edit_shot(seq, image_prompt=prompt, negative_prompt=negative)
        return seq, changed

    def save_prompt(self) -> None:
        seq, changed = self._save()
        self.session.changed("shots", source=self)
        self.shot_message.value = ("<span class='ok'>" + html.escape(
            t("images.prompt_saved" if changed else "images.unchanged", seq=seq)) + "</span>")

    def regenerate(self) -> None:
        if self.session.running():
            raise InvalidInput(t("images.running"))
        seq, changed = self._save()
        if not changed:
            self.session.require().regenerate_image(seq)  # same prompt: a new seed
        self.session.changed("shots", source=self)
        note = t("images.painting", seq=seq)
        self.start(REDO, note=note)
        self.shot_message.value = "<span class='info'>" + html.escape(note) + "…</span>"
        self._notes[seq] = note + "…"

    def again(self, seq: int) -> None:
        """Make this shot's picture again (a new seed), then its clip and the video."""
        project = self.session.require()
        seq = shot_number(seq, project)
        if self.session.running():
            raise InvalidInput(t("images.running"))
        project.regenerate_image(seq)
        note = t("images.painting", seq=seq)
        self._notes[seq] = note + "…"
        self.session.changed("images", source=self)
        self.start(REDO, note=note)
        self._draw_gallery()

    def _run_ended(self, what) -> None:
        if what == "end" and self._notes:
            status = (self.session.progress or {}).get("status", "")
            mark = t("images.made_again") if status == "done" else t("images.not_made_again")
            self._notes = {seq: mark for seq in self._notes}
            self.shot_message.value = ""
            self.mark_dirty()
