"""The six stages. Each stage is one or more planners run in order; a planner returns the
stage's jobs (each keyed by what determines it)."""
from . import camera, clips, export, images, narration, rewrite, storyboard
from .. import characters

PLANNERS = {
    "rewrite": [rewrite.plan],
    "storyboard": [storyboard.plan, characters.plan],  # then the characters each shot shows
    "images": [images.plan],
    "camera": [camera.plan],
    "clips": [narration.plan, clips.plan],  # narration first: shots fit their spoken lines
    "export": [export.plan_video],
}
