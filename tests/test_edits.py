"""Hand edits and controls: what is kept, what is redone, and nothing more."""
import asyncio
import time

import pytest

from storynb import InvalidInput
from storynb.cli import main as cli
from tests.test_pipeline import call_counts, last_call_id


class SlowPainter:
    name, kind, model = "slow-painter", "text2image", "slow"
    concurrency = 1

    def __init__(self, delay):
        self.delay = delay

    async def generate(self, request, out_path):
        await asyncio.sleep(self.delay)
        from PIL import Image
        Image.new("RGB", (request.width, request.height), (request.seed % 255, 80, 120)).save(out_path)


def test_edits_from_the_caller_do_not_break_a_background_run(studio, make_project):
    studio.register(SlowPainter(0.05))
    project = make_project(providers={"text2image": "slow-painter"})
    handle = project.run(background=True)
    n = 0
    while not handle.done():
        if project.shots():
            project.edit_shot(1, scene=f"edited while running {n}")
            n += 1
        time.sleep(0.01)
    report = handle.wait()
    assert report.status == "done", report.summary()
    assert n > 0


def test_the_lease_is_renewed_during_a_long_job(studio, make_project, monkeypatch):
    from storynb import lease

    monkeypatch.setattr(lease, "HEARTBEAT_EVERY_S", 0.05)
    studio.register(SlowPainter(0.6))
    project = make_project(providers={"text2image": "slow-painter"})
    handle = project.run(["rewrite", "storyboard", "images"], background=True)
    beats = set()
    while not handle.done():
        beat = project.db.execute("select run_heartbeat from projects where id = ?", [project.id]).fetchone()[0]
        if beat:
            beats.add(beat)
        time.sleep(0.02)
    assert handle.wait().status == "done"
    assert len(beats) > 10  # renewed many times although each job took 0.6 s
    assert project.row["run_owner"] is None  # released at the end


def test_a_new_story_does_not_silently_replace_hand_edited_shots(make_project):
    project = make_project()
    project.run()
    project.edit_shot(2, narration="MY HAND EDIT")
    project.set_story(project.story() + "\n\nThen the whale came back.")
    report = project.run()
    assert report.status == "failed"
    assert "hand edits" in report.summary() and "rollback('storyboard')" in report.summary()
    assert project.shot(2)["narration"] == "MY HAND EDIT"
    project.rollback("storyboard")
    assert project.run().status == "done"
    assert "MY HAND EDIT" not in [s["narration"] for s in project.shots()]
    assert "the whale came back" in " ".join(s["narration"] for s in project.shots())


def test_a_storyboard_made_by_hand_is_kept(make_project):
    project = make_project()
    for line in ("A storm rolls in.", "The keeper lights the lamp.", "A whale surfaces.",
                 "Morning comes."):
        project.add_shot(line, duration_s=2)
    report = project.run()
    assert report.status == "done", report.summary()
    assert [s["narration"] for s in project.shots()][0] == "A storm rolls in."


def test_a_story_written_before_the_rewrite_stage_is_kept(make_project):
    project = make_project()
    mine = "Once upon a time a keeper named Ada kept the light. One night a whale sang to her."
    project.set_story(mine)
    assert project.run(["rewrite", "storyboard"]).status == "done"
    assert project.story() == mine
    project.rollback("rewrite")  # ask the writer after all
    project.run(["rewrite"])
    assert project.story() != mine


def test_narration_shared_with_another_project_is_linked_not_borrowed(studio, make_project):
    first = make_project(seed=1)
    first.run()
    second = make_project(seed=1)
    second.run()
    rows = studio.db["narrations"].count_where("project_id = ?", [second.id])
    assert rows == len(second.shots())
    first.delete()
    studio.gc()
    before = last_call_id(second)
    assert second.run().status == "done"
    assert call_counts(second, before) == {}


def test_project_ids_are_never_reused(studio, make_project):
    project = make_project()
    project.run(["rewrite"])
    old_id = project.id
    project.delete()
    again = make_project()
    assert again.id != old_id and len(again.calls()) == 0


def test_pause_right_after_start_is_kept(studio, make_project):
    studio.register(SlowPainter(0.1))
    project = make_project(providers={"text2image": "slow-painter"})
    handle = project.run(background=True)
    project.pause()
    assert handle.wait().status == "paused"


def test_a_pick_made_after_a_prompt_edit_is_kept(make_project):
    project = make_project()
    project.run()
    old, first_video = project.chosen_image(1)["id"], project.latest_export()["video"]
    project.edit_shot(1, image_prompt="a red lighthouse on black rocks")
    project.run()
    assert project.chosen_image(1)["id"] != old
    project.choose_image(1, old)
    before = last_call_id(project)
    project.run()
    assert project.chosen_image(1)["id"] == old
    # the clip follows the pick: back to the first run's clip and video, nothing re-rendered
    assert call_counts(project, before) == {}
    assert project.latest_export()["video"] == first_video


def test_rollback_of_clips_and_export_redoes_them(make_project):
    project = make_project()
    project.run()
    before = last_call_id(project)
    project.rollback("clips")
    project.run()
    counts = call_counts(project, before)
    assert counts[("clips", "local-motion")] == len(project.shots())
    assert ("images", "local-painter") not in counts


def test_skipping_camera_after_a_run_gives_still_shots(make_project):
    project = make_project()
    project.run()
    project.skip("camera")
    project.rollback("images")
    assert project.status()["camera"] == "skipped"  # a rollback leaves a skip alone
    project.run()
    assert set(project.clips().groupby("seq").last().movement) == {"static"}


def test_deleting_the_chosen_image_does_not_bring_it_back(make_project):
    project = make_project()
    project.run()
    chosen = project.chosen_image(1)
    project.delete_image(1, chosen["id"])
    project.run()
    assert project.chosen_image(1)["media"] != chosen["media"]
    with pytest.raises(Exception, match="no image"):
        project.delete_image(1, 999999)


def test_moving_a_shot_renders_no_clip_and_adding_one_renders_one(make_project):
    project = make_project()
    project.run()
    before = last_call_id(project)
    project.move_shot(4, 1)
    project.run()
    counts = call_counts(project, before)
    assert ("clips", "local-motion") not in counts and ("images", "local-painter") not in counts
    assert counts[("export", "local-compositor")] == 1
    before = last_call_id(project)
    project.add_shot("The whale sang once more.", after=2)
    project.run()
    counts = call_counts(project, before)
    assert counts[("images", "local-painter")] == 1 and counts[("clips", "local-motion")] == 1
    assert counts[("camera", "draft-writer")] == 1


def test_cli_run_with_other_settings_starts_another_project(studio, capsys):
    args = ["--studio", str(studio.path), "run", "A fox who wants to see the sea", "--size", "144x256",
            "--shots", "4", "--seed", "2", "--stage", "rewrite"]
    assert cli(args) == 0
    assert cli(args) == 0
    assert "continuing" in capsys.readouterr().err
    assert cli(args[:-2] + ["--no-burn", "--stage", "rewrite"]) == 0
    assert len(studio.projects()) == 2


def test_cli_bad_studio_path_is_one_line(capsys):
    assert cli(["--studio", "/proc/nope/studio.db", "projects"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("storynb:") and "\n" not in err


def test_update_validates(make_project):
    project = make_project()
    with pytest.raises(InvalidInput, match="shots"):
        project.update(shots=301)  # 4 to 300 (long form)
    with pytest.raises(InvalidInput, match="name"):
        project.update(name=None)


def test_gc_frees_media_of_deleted_shots_but_keeps_candidates(studio, make_project):
    project = make_project()
    project.run()
    project.regenerate_image(1)
    project.run()
    candidates = set(project.images(1).media)
    assert len(candidates) == 2
    gone = project.chosen_image(4)["media"]
    project.delete_shot(4)
    studio.gc(grace_s=0)
    assert all(studio.media.exists(m) for m in candidates)
    assert not studio.media.exists(gone)
    assert project.run().status == "done"
    assert studio.media.exists(project.latest_export()["video"])
