"""Clips panel: a player per shot; make one shot's clip again, or delete it."""
from __future__ import annotations

import html

import ipywidgets as W

from ..errors import InvalidInput
from .base import Panel, pager, read_media, shot_number
from .camera import movement_name
from .i18n import t, translate

PER_PAGE = 6


class ClipsPanel(Panel):
    name = "clips"
    title = "Clips"

    def __init__(self, source=None, **kwargs):
        super().__init__(source, **kwargs)
        self._page = 0
        self._shots: list[dict] = []
        self.grid = W.GridBox(layout=W.Layout(
            grid_template_columns="repeat(auto-fill, minmax(200px, 1fr))", grid_gap="8px",
            width="100%"))
        self.grid.add_class("storynb-clips")
        self.pages, self._set_total = pager(0, PER_PAGE, self._go)
        self.body.children = [
            W.HTML(f"<p class='storynb-help'>{html.escape(t('clips.help'))}</p>"), self.pages, self.grid]
        self.session.on("stage", self._on_stage)
        self.redraw()

    def refresh(self) -> None:
        project = self.session.project
        self._shots = project.shots() if project is not None else []
        self._page = self._set_total(len(self._shots))
        self._draw()

    def _go(self, page: int) -> None:
        self._page = page
        self.action(self._draw)()

    def _draw(self) -> None:
        project = self.session.project
        if project is None:
            self.grid.children = [W.HTML(f"<span class='storynb-help'>{html.escape(t('clips.no_project'))}</span>")]
            return
        if not self._shots:
            self.grid.children = [W.HTML(f"<span class='storynb-help'>{html.escape(t('clips.no_shots'))}</span>")]
            return
        frame = project.clips()
        latest: dict[int, dict] = {}
        for row in (frame.to_dict("records") if len(frame) else []):
            latest[row["seq"]] = row  # ordered by id: the newest row of each shot wins
        page = self._shots[self._page * PER_PAGE:(self._page + 1) * PER_PAGE]
        self.grid.children = [self._card(shot, latest.get(shot["seq"])) for shot in page]

    def _card(self, shot: dict, clip: dict | None) -> W.VBox:
        parts: list[W.Widget] = [W.HTML(f"<b>{html.escape(t('images.shot_n', n=shot['seq']))}</b> "
                                        f"<span class='storynb-caption'>{html.escape(shot['scene'][:50])}"
                                        "</span>")]
        if clip and clip["status"] == "done":
            data = read_media(self.session.studio, clip["media"])
            parts.append(W.Video(value=data, format="mp4", autoplay=False, loop=False,
                                 controls=True, layout=W.Layout(max_width="190px",
                                                                max_height="240px")))
            facts = t("clips.facts", movement=movement_name(clip["movement"]),
                      seconds=f"{clip['duration_s']:.1f}")
            parts.append(W.HTML(f"<span class='storynb-caption storynb-clip-id' data-clip='{clip['id']}'>"
                                f"{html.escape(facts)}</span>"))
        elif clip and clip["status"] == "failed":
            error = translate(str(clip["error"]))[:160]
            parts.append(W.HTML("<span class='err'>" + html.escape(t("clips.failed", error=error))
                                + "</span>"))
        else:
            parts.append(W.HTML(f"<span class='storynb-help'>{html.escape(t('clips.none'))}</span>"))
        parts.append(W.HBox([
            self.button(t("images.again"), lambda seq=shot["seq"]: self.regenerate(seq)),
            self.button(t("images.delete"), lambda seq=shot["seq"]: self.delete(seq))]))
        card = W.VBox(parts)
        card.add_class("storynb-card")
        return card

    def _on_stage(self, stage: dict) -> None:
        if stage["stage"] == "clips" and stage["status"] in ("done", "failed"):
            self.mark_dirty()

    def regenerate(self, seq: int) -> None:
        project = self.session.require()
        if self.session.running():
            raise InvalidInput(t("images.running"))
        seq = shot_number(seq, project)
        project.delete_clip(seq)
        self.start(["clips", "export"], note=t("clips.rendering", seq=seq))

    def delete(self, seq: int) -> None:
        project = self.session.require()
        if self.session.running():
            raise InvalidInput(t("images.running"))
        seq = shot_number(seq, project)
        removed = project.delete_clip(seq)
        self.refresh()
        self.session.changed("clips", source=self)
        self.ok(t("clips.deleted", seq=seq, n=removed))
