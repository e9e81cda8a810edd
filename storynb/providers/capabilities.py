"""Per-model capabilities: which params a model takes and which values it allows, read from a
table that is data (storynb/data/capabilities.json), not code.

    capabilities.for_model("openai_chat", "o4-mini")     # {"temperature": False, "token_field": ...}
    capabilities.for_model("runway", "gen4_turbo")["durations"]     # {"min": 2, "max": 10, "step": 1}

Adapters build their requests from it: a param the model does not take is left out, a value it
does not allow is snapped to the nearest allowed one (clip durations are rounded up so the clip
covers the shot), and each change is noted on the call (`CallContext.note["adjusted"]`). A model
the table does not know gets the adapter's conservative `default` entry and a warning
(`note["warnings"]`).

The table is user-extendable in two ways: the provider param `capabilities` (a dict merged over
the model's entry, e.g. `{"durations": [4, 8]}`; stored with the provider, so it travels with
bundles and to remote workers), and machine-wide a JSON file of the same shape as the package
table named by $STORYNB_CAPABILITIES (its entries are tried before the package's).
"""
from __future__ import annotations

import fnmatch
import json
import logging
import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

TABLE = Path(__file__).resolve().parent.parent / "data" / "capabilities.json"
log = logging.getLogger("storynb.providers")
_logged: set[str] = set()


@lru_cache(maxsize=8)
def _read(path: str, stamp: float) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"the capabilities table {path} cannot be read: {exc}; fix the JSON "
                           "or unset $STORYNB_CAPABILITIES") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"the capabilities table {path} must be a JSON object of adapter types")
    return data


def _load(path: Path) -> dict:
    return _read(str(path), path.stat().st_mtime if path.exists() else 0.0)


def table() -> dict:
    """The merged table: per adapter type {"default": {...}, "models": [user entries, package entries]}."""
    merged: dict[str, dict[str, Any]] = {
        k: {"default": dict(v.get("default") or {}), "models": list(v.get("models") or [])}
        for k, v in _load(TABLE).items() if not k.startswith("_") and isinstance(v, dict)}
    extra = os.environ.get("STORYNB_CAPABILITIES")
    if extra:
        path = Path(extra).expanduser()
        if not path.exists():
            raise InvalidInput(f"$STORYNB_CAPABILITIES names {path}, which does not exist")
        for adapter, section in _load(path).items():
            if adapter.startswith("_") or not isinstance(section, dict):
                continue
            target = merged.setdefault(adapter, {"default": {}, "models": []})
            target["default"].update(section.get("default") or {})
            target["models"] = list(section.get("models") or []) + target["models"]
    return merged


def for_model(adapter_type: str, model: str, overrides: dict | None = None) -> dict:
    """What `model` accepts through adapter `adapter_type`: the adapter's default entry updated
    with the first matching model entry and then `overrides` (the provider param). Extra keys:
    `known` (a table entry matched, or overrides were given), `match` (the pattern) and
    `warning` (for unknown models). Keys for LLMs: temperature, top_p, seed (bools),
    token_field, reasoning, min_max_tokens, max_max_tokens, thinking_off (merged into the body);
    for video: durations (a list, or {"min", "max", "step"}), resolutions, ratios,
    camera_control, reference_images; for images: sizes, response_format, quality, style."""
    section = table().get(adapter_type) or {"default": {}, "models": []}
    caps = dict(section.get("default") or {})
    name = (model or "").strip().lower()
    found = None
    for entry in section.get("models") or []:
        patterns = entry.get("match") or []
        patterns = [patterns] if isinstance(patterns, str) else patterns
        hit = next((p for p in patterns if fnmatch.fnmatchcase(name, str(p).lower())), None)
        if hit is not None:
            found = hit
            caps.update({k: v for k, v in entry.items() if k != "match"})
            break
    if overrides:
        if not isinstance(overrides, dict):
            raise InvalidInput(f"the provider param `capabilities` must be a dict like "
                               f"{{\"durations\": [5, 10]}}, not {overrides!r}")
        caps.update(overrides)
    caps["known"] = found is not None or bool(overrides)
    caps["match"] = found
    if not caps["known"] and section.get("models"):
        caps["warning"] = (f"model {model or '(none)'!r} is not in the {adapter_type} capabilities "
                           "table: conservative defaults are used; describe it with the provider "
                           "param `capabilities` (see storynb/data/capabilities.json)")
    return caps


def for_provider(provider) -> dict:
    """The capabilities of a provider object (an adapter, or an offline provider, which has no
    table entry: {"known": False})."""
    own = getattr(provider, "capabilities", None)
    if callable(own):
        return own()
    params = getattr(provider, "params", None) or {}
    return for_model(getattr(provider, "type", "") or "", getattr(provider, "model", "") or "",
                     params.get("capabilities") if isinstance(params, dict) else None)


def summary(caps: dict) -> dict:
    """What `providers test` shows: the table's answer without its bookkeeping."""
    return {k: v for k, v in caps.items() if k not in ("source",) and v not in (None, [], {})}


# snapping ----------------------------------------------------------------------------------
def allowed_values(spec) -> list[float]:
    """The allowed values of a durations spec: a list, or {"min", "max", "step"}."""
    if isinstance(spec, dict):
        low, high, step = float(spec.get("min", 1)), float(spec.get("max", 10)), float(spec.get("step", 1))
        count = int(round((high - low) / step)) + 1
        return [round(low + i * step, 6) for i in range(max(1, count))]
    return sorted(float(v) for v in (spec or []))


def snap_duration(wanted: float, spec) -> float:
    """The shortest allowed duration that covers `wanted` seconds (the longest when none does)."""
    values = allowed_values(spec)
    if not values:
        return float(math.ceil(wanted))
    return next((v for v in values if v >= wanted - 1e-6), values[-1])


def snap_resolution(wanted: str, allowed: list[str]) -> str:
    """The allowed resolution ("480P", "1080P" …) nearest to `wanted` (ties go to the larger)."""
    if not allowed or wanted in allowed:
        return wanted

    def lines(value: str) -> int:
        digits = "".join(c for c in str(value) if c.isdigit())
        return int(digits) if digits else 0

    target = lines(wanted)
    return min(allowed, key=lambda r: (abs(lines(r) - target), -lines(r)))


def snap_choice(wanted, allowed: list):
    """`wanted` if allowed, else the first allowed value."""
    if not allowed or wanted in allowed:
        return wanted
    return allowed[0]


def note_change(context, field: str, wanted, sent, why: str = "") -> None:
    """Record on the call that a requested value was changed or left out for this model."""
    if context is None or wanted == sent:
        return
    item = {"param": field, "wanted": wanted, "sent": sent}
    if why:
        item["why"] = why
    adjusted = context.note.setdefault("adjusted", [])
    if item not in adjusted:  # one note per change, however many requests the call makes
        adjusted.append(item)


def note_warning(context, text: str | None) -> None:
    """A warning on the call row (and once per process in the log)."""
    if not text:
        return
    if text not in _logged:
        _logged.add(text)
        log.warning(text)
    if context is None:
        return
    warnings = context.note.setdefault("warnings", [])
    if text not in warnings:
        warnings.append(text)
