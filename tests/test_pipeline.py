"""The whole pipeline offline, at a small size: outputs, skipping, targeted redo, failures."""
import re
import time
from pathlib import Path

import pytest

from storynb import InvalidInput
from storynb.providers.base import ImageRequest
from tests.conftest import ffprobe


def call_counts(project, since_id=0):
    rows = project.db.execute(
        "select stage, provider, count(*) from calls where project_id = ? and id > ? "
        "group by stage, provider", [project.id, since_id]).fetchall()
    return {(stage, provider): n for stage, provider, n in rows}


def last_call_id(project):
    return project.db.execute("select coalesce(max(id), 0) from calls").fetchone()[0]


def srt_cues(path):
    blocks = [b for b in Path(path).read_text(encoding="utf-8").strip().split("\n\n") if b.strip()]
    cues = []
    for block in blocks:
        lines = block.splitlines()
        start, end = re.findall(r"(\d\d):(\d\d):(\d\d),(\d\d\d)", lines[1])
        seconds = [int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000 for h, m, s, ms in (start, end)]
        cues.append((int(lines[0]), *seconds, " ".join(lines[2:])))
    return cues


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One project run to the end, shared by the read-only checks below."""
    from storynb import Studio

    studio = Studio(tmp_path_factory.mktemp("studio") / "studio.db")
    project = studio.create_project("A lighthouse keeper befriends a lost whale",
                                    size=(144, 256), fps=12, shots=5, seed=3)
    report = project.run()
    assert report.status == "done", report.summary()
    return project


def test_video_has_h264_aac_and_the_shots_duration(finished):
    shots = finished.shots()
    info = ffprobe(finished.video_path())
    if "fallback" in info:
        pytest.skip("ffprobe not installed")
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p"
    assert (video["width"], video["height"]) == (144, 256)
    assert audio["codec_name"] == "aac"
    expected = finished.latest_export()["duration_s"]  # shots fitted to their spoken lines
    assert expected >= sum(s["duration_s"] for s in shots) - 1e-6
    assert abs(float(info["format"]["duration"]) - expected) <= 1 / 12 + 1e-6


def test_srt_has_one_cue_per_caption_page_inside_its_shot(finished):
    from storynb.render.subtitles import _width
    from storynb.stages.clips import clip_settings, timed_shot

    shots = finished.shots()
    cues = srt_cues(Path(finished.video_path()).with_suffix(".srt"))
    assert [c[0] for c in cues] == list(range(1, len(cues) + 1)) and len(cues) >= len(shots)
    settings = clip_settings(finished, shots)
    start, by_shot = 0.0, []
    for shot in shots:
        length, _ = timed_shot(shot, settings.spoken[shot["id"]], settings.fps)
        assert length >= shot["duration_s"]  # the storyboard's duration is a minimum
        mine = [c for c in cues if start - 0.002 <= c[1] and c[2] <= start + length + 0.002]
        assert mine, f"no cue inside shot {shot['seq']}"
        assert "".join(c[3] for c in mine).replace(" ", "").replace("\n", "") == \
            shot["narration"].replace("\n", "").replace(" ", "")
        for c in mine:  # one caption page: at most 2 lines of ~42 Latin / 16 CJK characters
            assert _width(c[3]) <= 2 * 42 + 1
        by_shot += mine
        start += length
    assert len(by_shot) == len(cues)


def test_every_stage_recorded_its_work(finished):
    counts = call_counts(finished)
    n = len(finished.shots())
    assert counts[("rewrite", "draft-writer")] == 1
    assert counts[("storyboard", "draft-writer")] == 1
    assert counts[("camera", "draft-writer")] == 1
    assert counts[("images", "local-painter")] == n
    assert counts[("clips", "local-motion")] == n
    assert counts[("clips", "local-narrator")] == n  # narration first: shots fit their lines
    assert counts[("export", "local-compositor")] == 1
    assert set(finished.status().values()) == {"done"}


def test_running_again_skips_everything(finished):
    before = last_call_id(finished)
    started = time.perf_counter()
    report = finished.run()
    elapsed = time.perf_counter() - started
    assert report.status == "done"
    assert [r.status for r in report.stages] == ["skipped"] * 6
    assert last_call_id(finished) == before
    assert elapsed < 10  # generous: the real check is zero calls; CI machines are noisy


def test_editing_one_image_prompt_redoes_one_image_one_clip_one_export(finished):
    before = last_call_id(finished)
    old_video = finished.latest_export()["video"]
    finished.edit_shot(2, image_prompt="a red lighthouse on black rocks under a storm")
    report = finished.run()
    assert report.status == "done", report.summary()
    counts = call_counts(finished, before)
    assert counts == {("images", "local-painter"): 1, ("clips", "local-motion"): 1,
                      ("export", "local-compositor"): 1}
    assert finished.latest_export()["video"] != old_video


def test_storyboard_dataframe_and_story_versions(finished):
    frame = finished.storyboard()
    assert list(frame.columns[:5]) == ["seq", "scene", "narration", "image_prompt", "negative_prompt"]
    assert len(frame) == 5
    version = finished.set_story(finished.story() + "\n\nAnd the lamp still shines.")
    assert version == 2
    assert "+And the lamp still shines." in finished.story_diff(1, 2)


def test_failed_shot_does_not_stop_the_others_and_retry_finishes(make_project, studio):
    class FlakyPainter:
        """Fails its second call while broken."""
        name, kind, model = "flaky-painter", "text2image", "flaky"
        broken, calls = True, 0

        async def generate(self, request: ImageRequest, out_path):
            self.calls += 1
            if self.broken and self.calls == 2:
                raise RuntimeError("the painter ran out of paint")
            from PIL import Image
            Image.new("RGB", (request.width, request.height), (request.seed % 255, 90, 160)).save(out_path)

    painter = FlakyPainter()
    studio.register(painter)
    project = make_project(providers={"text2image": "flaky-painter"})
    report = project.run()
    assert report.status == "failed"
    assert project.status()["images"] == "failed"
    assert project.status()["camera"] == "pending"
    images = project.images()
    failed = images[images.status == "failed"]
    assert len(failed) == 1 and "out of paint" in failed.error.iloc[0]
    assert (images.status == "done").sum() == len(project.shots()) - 1
    assert "out of paint" in report.summary()
    done_before = set(images[images.status == "done"].id)
    painter.broken = False
    report = project.run(from_failed=True)
    assert report.status == "done", report.summary()
    after = project.images()
    assert done_before <= set(after[after.status == "done"].id)
    assert painter.calls == len(project.shots()) + 1  # only the failed shot was painted again
    assert project.db["stages"].get((project.id, "images"))["retries"] == 1


def test_pause_between_jobs_then_resume(make_project):
    project = make_project()
    seen = []

    def pause_after_first_clip(event):
        if event.kind == "job_done" and event.stage == "clips" and event.label.endswith(" clip"):
            seen.append(event.label)
            project.pause()

    report = project.run(on_event=pause_after_first_clip)
    assert report.status == "paused"
    assert project.row["status"] == "paused"
    clips_made = project.db["clips"].count_where("project_id = ? and status = 'done'", [project.id])
    assert 1 <= clips_made < len(project.shots())
    before = last_call_id(project)
    report = project.run(from_failed=True)
    assert report.status == "done", report.summary()
    redone = call_counts(project, before).get(("clips", "local-motion"), 0)
    assert redone == len(project.shots()) - clips_made


def test_skip_camera_holds_every_shot_still(make_project):
    project = make_project()
    project.skip("camera")
    report = project.run()
    assert report.status == "done"
    assert "camera: skipped (by request)" in report.summary()
    assert set(project.clips().movement) == {"static"}


def test_rollback_redoes_the_stage_and_marks_later_stages_stale(make_project):
    project = make_project()
    project.run()
    first = set(project.images().media)
    project.rollback("images")
    assert project.status() == {"rewrite": "done", "storyboard": "done", "images": "stale",
                                "camera": "stale", "clips": "stale", "export": "stale"}
    project.run()
    images = project.images()
    assert len(images) == 2 * len(project.shots())
    assert set(images[images.chosen == 1].media).isdisjoint(first)


def test_shot_editing_api(make_project):
    project = make_project()
    project.run(["rewrite", "storyboard"])
    count = len(project.shots())
    added = project.add_shot("The whale sang once more.", after=1, duration_s=3.3)
    assert added["seq"] == 2 and abs(added["duration_s"] * 12 - round(added["duration_s"] * 12)) < 1e-9
    assert len(project.shots()) == count + 1
    project.move_shot(2, count + 1)
    assert project.shots()[-1]["narration"] == "The whale sang once more."
    project.delete_shot(count + 1)
    assert len(project.shots()) == count
    assert [s["seq"] for s in project.shots()] == list(range(1, count + 1))
    with pytest.raises(InvalidInput, match="duration_s"):
        project.edit_shot(1, duration_s="long")
    with pytest.raises(InvalidInput, match="narration cannot be empty"):
        project.edit_shot(1, narration="  ")
    with pytest.raises(InvalidInput, match="unknown shot field"):
        project.edit_shot(1, colour="red")


def test_bad_project_settings_are_explained(studio):
    with pytest.raises(InvalidInput, match="topic is empty"):
        studio.create_project("   ")
    with pytest.raises(InvalidInput, match="aspect '4:3' is not one of"):
        studio.create_project("x", aspect="4:3")
    with pytest.raises(InvalidInput, match="shots must be"):
        studio.create_project("x", shots=400)  # 4 to 300 (long form)


def test_gc_removes_only_unreferenced_media(finished):
    studio = finished.studio
    stray = studio.media.scratch(".png")
    stray.write_bytes(b"not referenced")
    name = studio.media.add(stray, "png")
    assert studio.gc() == (0, 0) or studio.media.exists(name)  # young files get a grace period
    files, freed = studio.gc(grace_s=0)
    assert files >= 1 and not studio.media.exists(name)
    assert Path(finished.video_path()).exists()
    assert studio.media.exists(finished.latest_export()["video"])
    usage = studio.disk_usage()
    assert usage.loc[usage.project_id == finished.id, "bytes"].iloc[0] > 0


def test_start_runs_in_the_background_and_reports_progress(make_project):
    project = make_project()
    events = []
    handle = project.run(background=True, on_event=events.append)
    with pytest.raises(InvalidInput, match="already running"):
        project.run()
    report = handle.wait(timeout=300)
    assert report is not None and report.status == "done", report and report.summary()
    assert handle.done()
    kinds = [e.kind for e in events]
    assert kinds[0] == "run_start" and kinds[-1] == "run_done"
    done_counts = [e.done for e in events if e.kind == "job_done" and e.stage == "images"]
    assert done_counts == sorted(done_counts) and done_counts[-1] == len(project.shots())
    assert project.video_path()


def test_run_inside_a_running_event_loop(make_project):
    """What a Jupyter cell does: call the plain API while a loop is running."""
    import asyncio

    project = make_project()

    async def cell():
        return project.run(["rewrite", "storyboard"])

    report = asyncio.run(cell())
    assert report.status == "done" and len(project.shots()) == 4
