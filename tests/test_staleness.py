"""What an edit leaves out of date (storynb.staleness): counted by the stages' own tests, carried
downstream as a run will carry it, read without writing, and exactly what the next run redoes."""
import pytest

from storynb import Studio
from storynb.staleness import staleness

SMALL = {"size": (144, 256), "fps": 12, "shots": 4, "seed": 5}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    studio = Studio(tmp_path_factory.mktemp("stale") / "studio.db")
    project = studio.create_project("A kite that wanted to stay up all night", **SMALL)
    assert project.run().status == "done"
    return studio, project


def test_nothing_is_out_of_date_after_a_run_and_before_any_video(made, studio):
    _, project = made
    found = staleness(project)
    assert found.has_video and not found.stale and found.summary() == "everything is up to date"
    fresh = studio.create_project("A new one", **SMALL)
    assert not staleness(fresh).stale and not staleness(fresh).has_video  # not made is not stale


def test_an_edit_marks_its_picture_clip_and_video_and_the_next_run_redoes_exactly_that(made):
    studio, project = made
    changes = studio.changes()
    changes.changed()
    project.edit_shot(2, image_prompt="a red kite over a night sea, lanterns below")
    changes.changed()
    found = staleness(project)
    assert not changes.changed()  # a read: nothing was committed (no republish, no plan rows)
    assert found.stale
    assert found.counts == {"rewrite": 0, "storyboard": 0, "images": 1, "camera": 0, "clips": 1,
                            "export": 1}
    assert found.shots["images"] == [2] and found.shots["clips"] == [2]
    assert found.summary() == "1 picture, 1 clip and 1 video need updating"
    project.edit_shot(3, narration="The kite sang to the moon, and the moon sang back.")
    found = staleness(project)  # a new line: its camera move is asked again (it reads the line)
    assert found.shots == {"images": [2], "camera": [3], "clips": [2, 3]}, found
    assert found.summary() == "1 picture, 1 camera move, 2 clips and 1 video need updating"
    last = studio.db.execute("select max(id) from calls").fetchone()[0]
    assert project.run().status == "done"
    made_now = dict(studio.db.execute("select stage, count(*) from calls where id > ? group by stage",
                                      [last]).fetchall())
    # one picture, one camera call, two clips and shot 3's new narration, one video
    assert made_now == {"images": 1, "camera": 1, "clips": 3, "export": 1}, made_now
    assert not staleness(project).stale


def test_a_rolled_back_stage_and_a_skipped_one(made):
    _, project = made
    project.rollback("camera")  # a new take of every camera move: every clip, then the video
    found = staleness(project)
    assert found.counts["camera"] == 4 and found.shots["clips"] == [1, 2, 3, 4]
    assert found.counts["export"] == 1
    project.skip("camera")
    assert staleness(project).counts["camera"] == 0
    project.unskip("camera")


def test_the_cli_status_says_what_is_out_of_date(made):
    import os
    import subprocess
    import sys

    studio, project = made
    project.edit_shot(4, image_prompt="a kite caught in a willow at dawn")
    done = subprocess.run([sys.executable, "-m", "storynb.cli", "--studio", str(studio.path), "status",
                           str(project.id)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "STORYNB_STUDIO": ""})
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("out of date:"))
    # (the camera was rolled back above: its moves and clips are out of date too)
    assert line.startswith("out of date: 1 picture, ") and "1 video need updating" in line, line
    assert line.endswith(f"(storynb run --project {project.id} updates it)"), line
