"""The offline providers: a draft writer, a painter and a narrator that need no key and no network.

They are deterministic (same input, same output) and are what the pipeline uses by default and in
tests. One module each: .writer (the `rewrite` task and the DraftWriter provider), .storyboarder,
.camera (the camera planner), .painter and .narrator; the phrase banks and word lists are in .words.
"""
from __future__ import annotations

from ...settings import MOVEMENTS
from .camera import plan_camera
from .narrator import LocalNarrator
from .painter import Painter, paint
from .storyboarder import make_storyboard, shot_duration
from .writer import DraftWriter, write_story

__all__ = ["DraftWriter", "Painter", "LocalNarrator", "offline_providers", "write_story",
           "make_storyboard", "plan_camera", "paint", "shot_duration", "MOVEMENTS"]


def offline_providers() -> dict[str, object]:
    """One instance of each offline provider, by name."""
    return {"draft-writer": DraftWriter(), "local-painter": Painter(), "local-narrator": LocalNarrator()}
