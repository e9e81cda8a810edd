"""Camera panel: each shot's movement and its parameters, a preset library the user can extend,
and a short preview of a movement over the shot's picture."""
from __future__ import annotations


import ipywidgets as W

from ..errors import InvalidInput
from ..settings import EASINGS, MOVEMENTS
from .base import Panel, choice, html_table, number, shot_number, text

CUSTOM = "(custom)"


class CameraPanel(Panel):
    name = "camera"
    title = "Camera"

    def __init__(self, source=None, **kwargs):
        super().__init__(source, **kwargs)
        self.table = W.HTML()
        self.shot = W.Dropdown(options=[], description="Shot")
        self.on_value(self.shot, self._load_shot)
        self.preset = W.Dropdown(options=[CUSTOM], value=CUSTOM, description="Preset")
        self.on_value(self.preset, self._load_preset)
        self.movement = W.Dropdown(options=list(MOVEMENTS), value="static", description="Movement")
        self.speed = W.FloatSlider(value=1.0, min=0.25, max=2.0, step=0.05, description="Speed")
        self.intensity = W.FloatSlider(value=0.15, min=0.0, max=1.0, step=0.01,
                                       description="Intensity")
        self.easing = W.Dropdown(options=list(EASINGS), value="ease_in_out", description="Easing")
        self.span = W.FloatRangeSlider(value=(0.0, 1.0), min=0.0, max=1.0, step=0.05,
                                       description="Moves during")
        for w in (self.shot, self.preset, self.movement, self.speed, self.intensity, self.easing,
                  self.span):
            w.style.description_width = "90px"
        self.apply_b = self.button("Apply to this shot", self.apply, style="primary")
        self.preview_b = self.button("Preview the motion", self.preview)
        self.player = W.Video(value=b"", format="mp4", autoplay=True, loop=True, controls=True,
                              layout=W.Layout(max_width="240px", max_height="300px"))
        self.player.layout.display = "none"
        self.preset_name = W.Text(description="Name", placeholder="my slow push")
        self.preset_note = W.Text(description="Note", placeholder="what it is good for")
        self.preset_name.style.description_width = self.preset_note.style.description_width = "50px"
        self.save_preset_b = self.button("Save as a preset", self.save_preset)
        self.presets_list = W.HTML()
        controls = W.VBox([self.shot, self.preset, self.movement, self.speed, self.intensity,
                           self.easing, self.span,
                           W.HBox([self.apply_b, self.preview_b], layout=W.Layout()),
                           W.HTML("<b>Preset library</b>"),
                           W.HBox([self.preset_name, self.preset_note, self.save_preset_b],
                                  layout=W.Layout(flex_flow="row wrap"))],
                          layout=W.Layout())
        self.body.children = [
            W.HTML("<p class='storynb-help'>One camera movement per shot. Movements you set "
                   "here are kept when the camera stage runs again.</p>"),
            self.table, W.HBox([controls, self.player], layout=W.Layout()),
            self.presets_list]
        self.redraw()

    # drawing ---------------------------------------------------------------------------
    def _presets(self) -> list[dict]:
        return self.session.studio.camera_presets()

    def refresh(self) -> None:
        project = self.session.project
        presets = self._presets()
        keep = self.preset.value
        with self.quiet():
            self.preset.options = [CUSTOM] + [p["name"] for p in presets]
            self.preset.value = keep if keep in self.preset.options else CUSTOM
        self.presets_list.value = "<details><summary>All presets</summary>" + html_table(
            [{"name": p["name"], "movement": p["movement"], "params": _params_text(p["params"]),
              "note": p["description"], "kind": "built-in" if p["builtin"] else "yours"}
             for p in presets], ["name", "movement", "params", "note", "kind"]) + "</details>"
        if project is None:
            self.table.value = "<span class='storynb-help'>No project open.</span>"
            with self.quiet():
                self.shot.options = []
            return
        frame = project.camera()
        shots = {s["seq"]: s for s in project.shots()}
        rows = []
        for r in frame.to_dict("records"):
            rows.append({"shot": r["seq"], "scene": (shots[r["seq"]]["scene"] or "")[:60],
                         "movement": r["movement"] or "(not chosen yet)",
                         "params": _params_text(r["params"]), "set by": r["source"] or ""})
        self.table.value = html_table(rows, ["shot", "scene", "movement", "params", "set by"])
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
        movement = choice(self.movement.value, "movement", MOVEMENTS)
        span = self.span.value
        if not (isinstance(span, (tuple, list)) and len(span) == 2):
            raise InvalidInput("the span must be two numbers")
        params = {"speed": number(self.speed.value, "speed", 0.05, 4.0),
                  "intensity": number(self.intensity.value, "intensity", 0.0, 1.0),
                  "easing": choice(self.easing.value, "easing", EASINGS),
                  "start": number(span[0], "start", 0.0, 1.0),
                  "end": number(span[1], "end", 0.0, 1.0)}
        return movement, params

    def apply(self) -> None:
        project = self.session.require()
        seq = shot_number(self.shot.value, project)
        movement, params = self.params()
        project.set_camera(seq, movement, **params)
        self.refresh()
        self.session.changed("camera", source=self)
        self.ok(f"shot {seq}: {movement} set; run Clips and Export to see it in the video")

    def preview(self) -> None:
        project = self.session.require()
        seq = shot_number(self.shot.value, project)
        movement, params = self.params()
        self.player.value = project.preview_camera(seq, movement, **params)
        self.player.layout.display = ""
        self.ok(f"preview of {movement} on shot {seq} (small and short; not saved)")

    def save_preset(self) -> None:
        name = text(self.preset_name.value, "the preset name", max_len=60, required=True)
        note = text(self.preset_note.value, "the note", max_len=200)
        movement, params = self.params()
        self.session.studio.save_camera_preset(name, movement, params, note)
        self.preset_name.value = self.preset_note.value = ""
        self.refresh()
        self.preset.value = name
        self.ok(f"preset {name!r} saved")


def _params_text(params) -> str:
    if not params:
        return ""
    return ", ".join(f"{k} {v}" for k, v in params.items())
