"""The offline camera planner: the `camera` task (one movement per shot, from its words)."""
from __future__ import annotations

import json
import random
from typing import Any

from . import words as T
from .common import seed_of
from ..base import ProviderError
from ...settings import MOVEMENTS


def plan_camera(variables: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The `camera` task: one movement per shot, from its words, never the same twice in a row."""
    shots = variables.get("shots") or []
    if isinstance(shots, str):
        try:
            shots = json.loads(shots)
        except json.JSONDecodeError as exc:
            raise ProviderError(f"camera: variable 'shots' is not valid JSON ({exc})") from None
    if isinstance(shots, dict):
        shots = shots.get("shots", [])
    if not isinstance(shots, list) or not shots:
        raise ProviderError("the draft writer needs the shots to plan camera moves (variable 'shots' is empty)")
    out, previous = [], None
    for k, shot in enumerate(shots):
        shot = shot if isinstance(shot, dict) else {"narration": str(shot)}
        scene = str(shot.get("scene") or "").lower()
        narration = str(shot.get("narration") or "").lower()
        jitter = random.Random(seed_of("camera", scene, narration, k))
        scores = {m: jitter.random() * 0.5 for m in MOVEMENTS}
        scores["static"] -= 0.3
        for words, weights in T.CAMERA_RULES:
            hits = 2 * sum(w in scene for w in words) + sum(w in narration for w in words)
            for move, weight in weights.items():
                scores[move] += weight * min(hits, 3)
        if k == 0:
            for move, bonus in (("dolly_in", 1.6), ("pan_right", 1.3), ("tilt_down", 1.2)):
                scores[move] += bonus
        if k == len(shots) - 1 and len(shots) > 1:
            scores["zoom_out"] += 2.5
            scores["dolly_out"] += 2.2
        if max(scores.values()) < 1.0:  # no words to go on: a varied default
            scores[T.CAMERA_FALLBACK_ORDER[(k + jitter.randrange(3)) % len(T.CAMERA_FALLBACK_ORDER)]] += 1.0
        if previous is not None:
            scores.pop(previous, None)
        movement = max(scores, key=lambda m: (scores[m], m))
        text = scene + " " + narration
        intensity = 0.17 + 0.05 * any(w in text for w in T.INTENSE_WORDS) - 0.03 * any(w in text for w in T.CALM_WORDS)
        intensity = 0.12 if movement == "static" else intensity + jitter.uniform(-0.02, 0.02)
        out.append({"sequence": int(shot.get("sequence") or k + 1), "movement": movement,
                    "params": {"speed": 1.0, "intensity": round(min(0.25, max(0.12, intensity)), 2),
                               "easing": "ease_in_out", "start": 0.0, "end": 1.0}})
        previous = movement
    return {"shots": out}
