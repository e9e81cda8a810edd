"""The six stages. Each stage is one or more planners run in order; a planner returns the
stage's jobs (each keyed by what determines it)."""
from . import camera, clips, export, images, rewrite, storyboard

PLANNERS = {
    "rewrite": [rewrite.plan],
    "storyboard": [storyboard.plan],
    "images": [images.plan],
    "camera": [camera.plan],
    "clips": [clips.plan],
    "export": [export.plan_narration, export.plan_video],
}
