"""Camera panel: each shot's movement and its parameters, a preset library the user can extend,
and a short preview of a movement over the shot's picture."""
from __future__ import annotations

import html

import ipywidgets as W

from ..errors import InvalidInput
from ..settings import EASINGS, MOVEMENTS
from .base import Panel, choice, made_by, number, shot_number, text
from .i18n import t, translate

CUSTOM = "(custom)"
# A small looping preview of each movement: a CSS animation of a little scene (no request,
# no video); movements added later fall back to a still frame.
PREVIEW_MOVES = {
    "static": ("none", "none"),
    "zoom_in": ("scale(1)", "scale(1.45)"), "zoom_out": ("scale(1.45)", "scale(1)"),
    "pan_left": ("translateX(12%) scale(1.3)", "translateX(-12%) scale(1.3)"),
    "pan_right": ("translateX(-12%) scale(1.3)", "translateX(12%) scale(1.3)"),
    "tilt_up": ("translateY(-12%) scale(1.3)", "translateY(12%) scale(1.3)"),
    "tilt_down": ("translateY(12%) scale(1.3)", "translateY(-12%) scale(1.3)"),
    "dolly_in": ("scale(1) translateY(0)", "scale(1.5) translateY(-8%)"),
    "dolly_out": ("scale(1.5) translateY(-8%)", "scale(1) translateY(0)"),
}
PREVIEW_STYLE = "<style>" + "".join(
    f"@keyframes storynb-move-{name} {{ from {{ transform: {a}; }} to {{ transform: {b}; }} }}"
    for name, (a, b) in PREVIEW_MOVES.items() if a != "none") + """
.storynb-move { display: inline-block; width: 36px; height: 24px; overflow: hidden; border-radius: 3px;
  vertical-align: middle; margin-right: 6px; border: 1px solid #d0d7de; background: #bfe3ff; }
.storynb-move i { display: block; width: 100%; height: 100%; transform-origin: 50% 62%;
  background: radial-gradient(circle at 70% 30%, #ffd33d 0 12%, transparent 13%),
              linear-gradient(to top, #2da44e 0 30%, transparent 30%),
              radial-gradient(ellipse at 35% 78%, #8250df 0 14%, transparent 15%);
  animation-duration: 2s; animation-iteration-count: infinite; animation-direction: alternate;
  animation-timing-function: ease-in-out; }
</style>"""


def movement_name(movement: str | None) -> str:
    """A movement's name for people ("Zoom in", "Tilt down" …), in the chosen language."""
    if not movement:
        return t("camera.not_chosen")
    key = f"camera.move_{movement}"
    from .i18n import catalogue

    return t(key) if key in catalogue() else movement.replace("_", " ")


def movement_preview(movement: str | None) -> str:
    """A tiny looping picture of the movement (HTML), then its name."""
    style = (f" style='animation-name: storynb-move-{movement}'"
             if movement in PREVIEW_MOVES and movement != "static" else "")
    return (f"<span class='storynb-move' title='{html.escape(movement_name(movement))}'><i{style}></i></span>"
            f"{html.escape(movement_name(movement))}")


def params_words(params) -> str:
    """A movement's settings in words: speed ×1.0 · strength 15% · smooth start and end."""
    if not params:
        return ""
    parts = []
    if "speed" in params:
        parts.append(t("camera.p_speed", value=f"{float(params['speed']):.2g}"))
    if "intensity" in params:
        parts.append(t("camera.p_intensity", value=round(float(params["intensity"]) * 100)))
    if params.get("easing"):
        parts.append(t(f"camera.easing_{params['easing']}") if params["easing"] in EASINGS
                     else str(params["easing"]))
    if float(params.get("start", 0) or 0) > 0 or float(params.get("end", 1) or 1) < 1:
        parts.append(t("camera.p_span", start=round(float(params.get("start", 0)) * 100),
                       end=round(float(params.get("end", 1)) * 100)))
    return " · ".join(parts)


class CameraPanel(Panel):
    name = "camera"
    title = "Camera"

    def __init__(self, source=None, **kwargs):
        super().__init__(source, **kwargs)
        self.table = W.HTML()
        self.shot = W.Dropdown(options=[], description=t("camera.shot"))
        self.on_value(self.shot, self._load_shot)
        self.preset = W.Dropdown(options=[(t("camera.custom"), CUSTOM)], value=CUSTOM,
                                 description=t("camera.preset"))
        self.on_value(self.preset, self._load_preset)
        self.movement = W.Dropdown(options=[(movement_name(m), m) for m in MOVEMENTS], value="static",
                                   description=t("camera.movement"))
        self.movement_look = W.HTML()
        self.movement.observe(lambda _c: self._draw_look(), names="value")
        self.speed = W.FloatSlider(value=1.0, min=0.25, max=2.0, step=0.05, description=t("camera.speed"))
        self.intensity = W.FloatSlider(value=0.15, min=0.0, max=1.0, step=0.01,
                                       description=t("camera.intensity"))
        self.easing = W.Dropdown(options=[(t(f"camera.easing_{e}"), e) for e in EASINGS],
                                 value="ease_in_out", description=t("camera.easing"))
        self.span = W.FloatRangeSlider(value=(0.0, 1.0), min=0.0, max=1.0, step=0.05,
                                       description=t("camera.span"))
        for w in (self.shot, self.preset, self.movement, self.speed, self.intensity, self.easing,
                  self.span):
            w.style.description_width = "90px"
        self.apply_b = self.button(t("camera.apply"), self.apply, style="primary")
        self.preview_b = self.button(t("camera.preview"), self.preview)
        self.player = W.Video(value=b"", format="mp4", autoplay=True, loop=True, controls=True,
                              layout=W.Layout(max_width="240px", max_height="300px"))
        self.player.layout.display = "none"
        self.preset_name = W.Text(description=t("camera.name"), placeholder=t("camera.name_placeholder"))
        self.preset_note = W.Text(description=t("camera.note"), placeholder=t("camera.note_placeholder"))
        self.preset_name.style.description_width = self.preset_note.style.description_width = "50px"
        self.save_preset_b = self.button(t("camera.save_preset"), self.save_preset)
        self.presets_list = W.HTML()
        controls = W.VBox([self.shot, self.preset, self.movement, self.movement_look, self.speed,
                           self.intensity, self.easing, self.span,
                           W.HBox([self.apply_b, self.preview_b], layout=W.Layout(flex_flow="row wrap")),
                           self.message,
                           W.HTML(f"<b>{html.escape(t('camera.library'))}</b>"),
                           W.HBox([self.preset_name, self.preset_note, self.save_preset_b],
                                  layout=W.Layout(flex_flow="row wrap"))],
                          layout=W.Layout())
        self.body.children = [
            W.HTML(PREVIEW_STYLE + f"<p class='storynb-help'>{html.escape(t('camera.help'))}</p>"),
            self.table, W.HBox([controls, self.player], layout=W.Layout(flex_flow="row wrap")),
            self.presets_list]
        self.children = [*self.header, self.body]  # the message sits under the buttons
        self.redraw()

    def _draw_look(self) -> None:
        self.movement_look.value = ("<div class='storynb-caption storynb-move-look'>"
                                    f"{movement_preview(self.movement.value)}</div>")

    # drawing ---------------------------------------------------------------------------
    def _presets(self) -> list[dict]:
        return self.session.studio.camera_presets()

    def refresh(self) -> None:
        project = self.session.project
        presets = self._presets()
        keep = self.preset.value
        with self.quiet():
            self.preset.options = [(t("camera.custom"), CUSTOM)] + [(translate(p["name"]), p["name"]) for p in presets]
            self.preset.value = keep if keep in [v for _, v in self.preset.options] else CUSTOM
        self._draw_look()
        columns = ["name", "movement", "params", "note", "kind"]
        self.presets_list.value = (f"<details><summary>{html.escape(t('camera.all_presets'))}</summary>"
                                   + _preview_table(
            [{"name": html.escape(translate(p["name"])), "movement": movement_preview(p["movement"]),
              "params": html.escape(params_words(p["params"])), "note": html.escape(translate(p["description"] or "")),
              "kind": html.escape(t("camera.builtin") if p["builtin"] else t("camera.yours"))}
             for p in presets], columns, {c: t(f"camera.col_{c}") for c in columns}) + "</details>")
        if project is None:
            self.table.value = f"<span class='storynb-help'>{html.escape(t('camera.no_project'))}</span>"
            with self.quiet():
                self.shot.options = []
            return
        frame = project.camera()
        shots = {s["seq"]: s for s in project.shots()}
        rows = []
        by_writer = made_by(project, "llm")
        for r in frame.to_dict("records"):
            source = r["source"] or ""
            rows.append({"shot": str(r["seq"]), "scene": html.escape((shots[r["seq"]]["scene"] or "")[:60]),
                         "movement": movement_preview(r["movement"]),
                         "params": html.escape(params_words(r["params"])),
                         "set_by": html.escape(t("common.by_user") if source == "user"
                                               else by_writer if source else "")})
        columns = ["shot", "scene", "movement", "params", "set_by"]
        self.table.value = _preview_table(rows, columns, {c: t(f"camera.col_{c}") for c in columns})
        keep_shot = self.shot.value
        with self.quiet():
            self.shot.options = [(str(s), s) for s in shots]
            if shots:
                self.shot.value = keep_shot if keep_shot in shots else next(iter(shots))
        self._load_shot()

    def _load_shot(self) -> None:
        project = self.session.project
        if project is None or self.shot.value is None:
            return
        frame = project.camera()
        rows = [r for r in frame.to_dict("records") if r["seq"] == self.shot.value]
        if rows and rows[0]["movement"]:
            self._show(rows[0]["movement"], rows[0]["params"] or {})

    def _load_preset(self) -> None:
        if self.preset.value in (None, CUSTOM):
            return
        found = [p for p in self._presets() if p["name"] == self.preset.value]
        if found:
            self._show(found[0]["movement"], found[0]["params"])

    def _show(self, movement: str, params: dict) -> None:
        self.movement.value = movement if movement in MOVEMENTS else "static"
        self.speed.value = min(2.0, max(0.25, float(params.get("speed", 1.0))))
        self.intensity.value = float(params.get("intensity", 0.15))
        self.easing.value = params.get("easing", "ease_in_out")
        self.span.value = (float(params.get("start", 0.0)), float(params.get("end", 1.0)))

    # actions ---------------------------------------------------------------------------
    def params(self) -> tuple[str, dict]:
        """The movement and parameters in the controls, checked."""
        movement = choice(self.movement.value, t("camera.movement"), MOVEMENTS)
        span = self.span.value
        if not (isinstance(span, (tuple, list)) and len(span) == 2):
            raise InvalidInput(t("camera.span_two"))
        params = {"speed": number(self.speed.value, t("camera.speed"), 0.05, 4.0),
                  "intensity": number(self.intensity.value, t("camera.intensity"), 0.0, 1.0),
                  "easing": choice(self.easing.value, t("camera.easing"), EASINGS),
                  "start": number(span[0], t("camera.span"), 0.0, 1.0),
                  "end": number(span[1], t("camera.span"), 0.0, 1.0)}
        return movement, params

    def apply(self) -> None:
        project = self.session.require()
        seq = shot_number(self.shot.value, project)
        movement, params = self.params()
        project.set_camera(seq, movement, **params)
        self.refresh()
        self.session.changed("camera", source=self)
        self.ok(t("camera.applied", seq=seq, movement=movement_name(movement)))

    def preview(self) -> None:
        project = self.session.require()
        seq = shot_number(self.shot.value, project)
        movement, params = self.params()
        self.player.value = project.preview_camera(seq, movement, **params)
        self.player.layout.display = ""
        self.ok(t("camera.previewed", seq=seq, movement=movement_name(movement)))

    def save_preset(self) -> None:
        name = text(self.preset_name.value, t("camera.name"), max_len=60, required=True)
        note = text(self.preset_note.value, t("camera.note"), max_len=200)
        movement, params = self.params()
        self.session.studio.save_camera_preset(name, movement, params, note)
        self.preset_name.value = self.preset_note.value = ""
        self.refresh()
        self.preset.value = name
        self.ok(t("camera.preset_saved", name=name))


def _preview_table(rows: list[dict], columns: list[str], headers: dict[str, str]) -> str:
    """A table whose cells are HTML already (the movement column holds its little preview)."""
    head = "".join(f"<th>{html.escape(headers[c])}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{r.get(c, '')}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table class='storynb-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
