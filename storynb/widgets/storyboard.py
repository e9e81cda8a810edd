"""Storyboard panel: the shots in an editable grid (ipydatagrid, fine with hundreds of rows);
add, delete and reorder shots. Every edit is saved through `project.edit_shot`, which checks it;
a rejected edit is shown and the cell goes back to the stored value."""
from __future__ import annotations

import ipywidgets as W
import pandas as pd
from ipydatagrid import DataGrid, TextRenderer

from ..errors import InvalidInput
from ..project import SHOT_FIELDS
from .base import Panel, integer, number, shot_number, text
from .i18n import t

EDITABLE = list(SHOT_FIELDS)  # scene, narration, image_prompt, negative_prompt, duration_s
WIDTHS = {"seq": 48, "scene": 240, "narration": 320, "image_prompt": 320, "negative_prompt": 150,
          "duration_s": 80}
REDO = ["images", "clips", "export"]  # what making a shot's picture again changes


def header(column: str) -> str:
    """A grid column's label for people (not the field's name), in the chosen language."""
    return t(f"storyboard.col_{column}")
MAX_FIELD = 4000


class StoryboardPanel(Panel):
    name = "storyboard"
    title = "Storyboard"

    def __init__(self, source=None, *, height: str = "380px", **kwargs):
        super().__init__(source, **kwargs)
        self._seqs: list[int] = []
        self._values: dict[tuple[int, str], object] = {}
        self.grid = DataGrid(self._frame([]), editable=True, selection_mode="cell",
                             base_row_size=26, base_column_size=120, header_visibility="all",
                             column_widths={header(c): w for c, w in WIDTHS.items()},
                             default_renderer=TextRenderer(text_wrap=False),
                             layout=W.Layout(height=height, width="100%"))
        self.grid.add_class("storynb-grid")
        # Edits are taken from the page's message itself rather than on_cell_change: the
        # grid's own handler fails on some values (text in a number column) before listeners run.
        self.grid.on_msg(self._grid_message)
        self.grid.on_cell_click(self.action(self._cell_clicked))
        # add / delete / move ---------------------------------------------------------------
        self.new_narration = W.Text(placeholder=t("storyboard.new_placeholder"),
                                    layout=W.Layout(width="340px"))
        self.after = W.BoundedIntText(value=0, min=0, max=10000, description=t("storyboard.after"),
                                      layout=W.Layout(width="170px"))
        self.add_b = self.button(t("storyboard.add"), self.add, style="primary")
        self.shot = W.BoundedIntText(value=1, min=1, max=10000, description=t("storyboard.shot"),
                                     layout=W.Layout(width="150px"))
        self.to = W.BoundedIntText(value=1, min=1, max=10000, description=t("storyboard.to"),
                                   layout=W.Layout(width="180px"))
        self.move_b = self.button(t("storyboard.move"), self.move)
        self.delete_b = self.button(t("storyboard.delete"), self.delete, style="danger")
        self.again_b = self.button(t("storyboard.again"), self.again, style="primary",
                                   tooltip=t("storyboard.again_tip"))
        self.again_b.add_class("storynb-again")
        for w in (self.after, self.shot, self.to):
            w.style.description_width = "initial"
        self.count = W.HTML()
        self.body.children = [
            W.HTML(f"<p class='storynb-help'>{t('storyboard.help')}</p>"),
            self.count, self.grid, self.message,
            W.HBox([self.shot, self.again_b, self.to, self.move_b, self.delete_b],
                   layout=W.Layout(align_items="center", flex_flow="row wrap")),
            W.HBox([self.new_narration, self.after, self.add_b],
                   layout=W.Layout(align_items="center", flex_flow="row wrap"))]
        self.children = [*self.header, self.body]  # the message sits under the grid
        self.redraw()

    @staticmethod
    def _frame(shots: list[dict]) -> pd.DataFrame:
        frame = pd.DataFrame([{c: s[c] for c in ["seq", *EDITABLE]} for s in shots],
                             columns=["seq", *EDITABLE])
        frame["duration_s"] = frame["duration_s"].astype(float)
        for column in EDITABLE[:-1]:
            frame[column] = frame[column].fillna("").astype(object)
        return frame.set_index("seq").rename(columns=header).rename_axis(header("seq"))

    def refresh(self) -> None:
        project = self.session.project
        shots = project.shots() if project is not None else []
        self._seqs = [s["seq"] for s in shots]
        self._values = {(s["seq"], c): s[c] for s in shots for c in EDITABLE}
        self.grid.data = self._frame(shots)
        if project is None:
            self.count.value = f"<span class='storynb-help'>{t('storyboard.no_project')}</span>"
        elif not shots:
            self.count.value = f"<span class='storynb-help'>{t('storyboard.no_shots')}</span>"
        else:
            total = sum(s["duration_s"] for s in shots)
            self.count.value = ("<span class='storynb-caption'>"
                                f"{t('storyboard.count', n=len(shots), seconds=f'{total:.1f}')}</span>")

    # editing ---------------------------------------------------------------------------
    def _grid_message(self, _grid, content, _buffers) -> None:
        if not isinstance(content, dict) or content.get("event_type") != "cell-changed":
            return
        index = content.get("column_index")
        label = (DataGrid._column_index_to_name(self.grid._data, index)
                 if isinstance(index, int) and not isinstance(index, bool) and index >= 0 else None)
        column = {header(c): c for c in ["seq", *EDITABLE]}.get(label, label) if label is not None else None
        self.action(self._cell_changed)({"row": content.get("row"), "column": column,
                                         "value": content.get("value")})

    def _cell_changed(self, cell: dict) -> None:
        row, column, value = cell.get("row"), cell.get("column"), cell.get("value")
        try:
            if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < len(self._seqs):
                raise InvalidInput(t("storyboard.not_a_shot"))
            if column not in EDITABLE:
                raise InvalidInput(t("storyboard.not_editable", column=header(column) if column else "?"))
            seq = self._seqs[row]
            if column == "duration_s":
                if isinstance(value, str):
                    try:
                        value = float(value.strip())
                    except ValueError:
                        raise InvalidInput(t("storyboard.seconds_number", value=repr(value))) from None
                value = number(value, header("duration_s"), 0.5, 60)
            else:
                value = text(value, header(column), max_len=MAX_FIELD)
            saved = self.session.require().edit_shot(seq, **{column: value})
        except Exception:
            self.refresh()  # show what is stored again (also undoes any stray row)
            raise
        stored = saved[column]
        self._values[(seq, column)] = stored
        if stored != cell.get("value"):  # the engine normalised it (whole frames, trimmed text)
            self.grid.set_cell_value_by_index(header(column), row, stored)
        self.session.changed("shots", source=self)
        redo = {"image_prompt": "pictures", "negative_prompt": "pictures", "narration": "clips",
                "duration_s": "clips", "scene": "camera"}[column]
        self.ok(t(f"storyboard.saved_{redo}", seq=seq, what=header(column)))

    def _cell_clicked(self, cell: dict) -> None:
        row = cell.get("primary_key_row", cell.get("row"))
        if isinstance(row, int) and 0 <= row < len(self._seqs):
            self.shot.value = self._seqs[row]
            self.after.value = self._seqs[row]

    # add / move / delete ---------------------------------------------------------------
    def add(self) -> None:
        project = self.session.require()
        narration = text(self.new_narration.value, t("storyboard.new_field"), max_len=MAX_FIELD,
                         required=True)
        after = integer(self.after.value, t("storyboard.after"), 0, len(project.shots()))
        shot = project.add_shot(narration, after=after)
        self.new_narration.value = ""
        self.refresh()
        self.session.changed("shots", source=self)
        self.ok(t("storyboard.added", seq=shot["seq"]))

    def move(self) -> None:
        project = self.session.require()
        seq = shot_number(self.shot.value, project)
        to = shot_number(self.to.value, project)
        project.move_shot(seq, to)
        self.refresh()
        self.session.changed("shots", source=self)
        self.ok(t("storyboard.moved", seq=seq, to=to))

    def delete(self) -> None:
        project = self.session.require()
        seq = shot_number(self.shot.value, project)
        project.delete_shot(seq)
        self.refresh()
        self.session.changed("shots", source=self)
        self.ok(t("storyboard.deleted", seq=seq))

    def again(self) -> None:
        """Make the chosen shot's picture again (a new one), then its clip and the video."""
        project = self.session.require()
        seq = shot_number(self.shot.value, project)
        if self.session.running():
            raise InvalidInput(t("images.running"))
        project.regenerate_image(seq)
        self.session.changed("images", source=self)
        self.start(REDO, note=t("images.painting", seq=seq))
