"""The six stages. Each stage is one or more planners run in order; a planner returns the
stage's jobs (each keyed by what determines it)."""
from .. import longform
from . import camera, clips, export, images, narration, rewrite, storyboard
from .. import characters

PLANNERS = {
    "rewrite": [longform.plan_rewrite, longform.plan_rewrite_join, rewrite.plan],
    "storyboard": [longform.plan_storyboard, longform.plan_assemble, storyboard.plan,
                   characters.plan],  # then the characters each shot shows
    "images": [images.plan],
    "camera": [camera.plan],
    "clips": [narration.plan, clips.plan],  # narration first: shots fit their spoken lines
    "export": [export.plan_video, longform.plan_chapter_videos],
}
