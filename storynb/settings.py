"""One home for a project's settings: the output formats (aspect, size, fps), the quality presets,
the styles and every choice list the CLI, the panels, the templates and the providers offer.

A low-level module: it imports nothing of storynb, so every layer may read it.

    from storynb import settings
    settings.ASPECTS["9:16"]                     # (1080, 1920): the aspect's full size
    settings.preset_size("16:9", "preview")      # (640, 360)
    settings.normalize_style("suspense")         # "suspenseful" (an older name still works)
"""
from __future__ import annotations

from typing import Any, Iterable

# ------------------------------------------------------------------------------ choice lists
KINDS = ("llm", "text2image", "image2video", "tts")
KIND_LABELS = {"llm": "Writer (LLM)", "text2image": "Images", "image2video": "Video", "tts": "Narration"}
LANGUAGES = ("en", "zh")
LENGTHS = ("short", "medium", "long")
# How a route shares its calls among its providers (storynb.routing).
STRATEGIES = ("round_robin", "random", "weighted", "least_loaded")
# The fields of a provider's price table (storynb.routing.cost_of).
PRICE_KEYS = ("per_call", "per_1k_tokens", "per_1k_input", "per_1k_output", "per_second",
              "per_unit", "per_1k_characters", "per_1k_cached_input", "currency")
# Camera movements (storynb.render.motion draws them; the camera stage plans them).
MOVEMENTS = ("static", "zoom_in", "zoom_out", "pan_left", "pan_right", "tilt_up", "tilt_down",
             "dolly_in", "dolly_out")
EASINGS = ("linear", "ease_in", "ease_out", "ease_in_out")
# Where a run's provider calls are carried out (`storynb run --executor`).
EXECUTORS = ("inline", "celery", "worker")
# How `storynb usage` / `studio.usage(by=...)` groups the call log.
USAGE_BY = ("provider", "project", "day", "stage", "kind")

# ---------------------------------------------------------------------------- output format
# Aspect → the full (width, height). A smaller size must keep the aspect ratio (check_size).
ASPECTS: dict[str, tuple[int, int]] = {"9:16": (1080, 1920), "16:9": (1920, 1080), "1:1": (1080, 1080)}
ASPECT_LABELS = {"9:16": "9:16 vertical", "16:9": "16:9 wide", "1:1": "1:1 square"}
FPS_RANGE = (1, 60)
MIN_SIDE = 64
# Output sizes a person picks by name: (label, short side in pixels or None for the aspect's
# full size, fps).
QUALITIES: dict[str, tuple[str, int | None, int]] = {
    "draft": ("Draft: small and fast (144 px, 12 fps)", 144, 12),
    "preview": ("Preview (360 px, 24 fps)", 360, 24),
    "full": ("Full HD (1080 px, 24 fps)", None, 24),
}

# ------------------------------------------------------------------------------------ styles
# The styles offered by name (a project may also be given any other words: a real model reads
# them; the offline writer picks its nearest phrase bank).
STYLES = ("warm", "whimsical", "suspenseful", "melancholic", "epic", "playful", "documentary")
# Names earlier versions stored or offered → today's name (old projects and templates keep working).
STYLE_RENAMES = {"suspense": "suspenseful"}

# What a new project gets when a setting is not given (the CLI's `storynb run` defaults).
DEFAULTS: dict[str, Any] = {"style": "warm", "length": "short", "aspect": "9:16", "fps": 24,
                            "burn": True}


def normalize_style(value: Any) -> Any:
    """A style as stored today: an older name becomes its new one ("suspense" → "suspenseful"),
    a known one its lowercase form; other words are kept as given (trimmed), and a value that is
    not text is returned as it is (the caller checks it)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    low = text.lower()
    if low in STYLE_RENAMES:
        return STYLE_RENAMES[low]
    return low if low in STYLES else text


# ---------------------------------------------------------------------------- sizes and fps
def even(value: float) -> int:
    """The nearest even whole number (video encoders want even sides)."""
    return round(value / 2) * 2


def scaled_size(aspect: str, short_side: int) -> tuple[int, int]:
    """The aspect's size with its short side at `short_side` pixels (even, at least MIN_SIDE)."""
    w, h = ASPECTS[aspect]
    scale = short_side / min(w, h)
    return max(MIN_SIDE, even(w * scale)), max(MIN_SIDE, even(h * scale))


def size_for(aspect: str, width: int, height: int) -> tuple[int, int]:
    """The size for `aspect` at the scale of width x height (its short side kept): a 360x640
    preview is 640x360 in 16:9, 360x360 in 1:1; full HD stays full HD."""
    return scaled_size(aspect, min(width, height))


def preset_size(aspect: str, quality: str) -> tuple[int, int] | None:
    """The (width, height) of a quality preset at an aspect ratio (None: the aspect's full size)."""
    short = QUALITIES[quality][1]
    return None if short is None else scaled_size(aspect, short)


def quality_for(aspect: str, size: Iterable[int] | None, fps: int) -> str | None:
    """The quality preset that gives `size` (None: the aspect's full size) and `fps`, if any."""
    wanted = tuple(size) if size else ASPECTS[aspect]
    for key, (_, _, preset_fps) in QUALITIES.items():
        if preset_fps == fps and (preset_size(aspect, key) or ASPECTS[aspect]) == wanted:
            return key
    return None


def size_problem(size: Any, aspect: str) -> tuple[tuple[int, int] | None, str]:
    """((width, height), "") for a usable size at `aspect`, else (None, what is wrong)."""
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        return None, f"size must be (width, height), not {size!r}"
    if width < MIN_SIDE or height < MIN_SIDE or width % 2 or height % 2:
        return None, f"size {width}x{height}: both sides must be even and at least {MIN_SIDE}"
    aw, ah = ASPECTS[aspect]
    if abs(width / height - aw / ah) > 0.02:
        return None, f"size {width}x{height} does not have the {aspect} aspect ratio"
    return (width, height), ""


def fps_ok(fps: Any) -> bool:
    return isinstance(fps, int) and not isinstance(fps, bool) and FPS_RANGE[0] <= fps <= FPS_RANGE[1]


# ------------------------------------------------------------ a service's nearest format
def closest_size(width: int, height: int, sizes: list[str]) -> str:
    """Of a service's sizes ("1024x1792" …), the one nearest in shape to width x height (the
    larger one on a tie)."""
    want = width / height

    def score(size: str) -> tuple[float, int]:
        w, h = (int(v) for v in size.lower().split("x"))
        return abs(w / h - want), -w * h

    return min(sizes, key=score)


def closest_ratio(width: int, height: int, ratios: list[str]) -> str:
    """Of a service's aspect ratios ("16:9" …), the one nearest to width x height."""
    want = width / height

    def score(ratio: str) -> float:
        w, h = (int(v) for v in ratio.split(":"))
        return abs(w / h - want)

    return min(ratios, key=score)
