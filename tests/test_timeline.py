"""Hand-off to editors: every export writes an .otio timeline, FCP XML and a CMX 3600 EDL beside
the video, with the clips and narration stems they point to; all three read back through OTIO."""
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

otio = pytest.importorskip("opentimelineio")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One offline project exported through the CLI, as a user would."""
    root = tmp_path_factory.mktemp("handoff")
    studio = root / "studio.db"
    run = subprocess.run(
        [sys.executable, "-m", "storynb.cli", "--studio", str(studio), "run",
         "A lighthouse keeper befriends a lost whale", "--size", "144x256", "--fps", "24",
         "--shots", "4", "--seed", "7"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    from storynb import Studio

    s = Studio(studio)
    return s, s.project(1)


def _local(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def test_the_otio_has_one_clip_per_shot_with_exact_durations(exported):
    from storynb.render.compose import probe
    from storynb.timeline import handoff_files

    studio, project = exported
    files = handoff_files(project)
    assert set(files) == {"otio", "fcp_xml", "edl", "stems"}
    timeline = otio.adapters.read_from_file(str(files["otio"]))
    clips = list(timeline.video_tracks()[0].find_clips())
    shots = project.shots()
    assert len(clips) == len(shots) == 4
    fps = project.row["fps"]
    for clip, shot in zip(clips, shots):
        duration = clip.duration()
        assert duration.rate == fps
        assert duration.value == round(shot["duration_s"] * fps)
        assert duration.to_seconds() == pytest.approx(shot["duration_s"], abs=1e-9)
        target = _local(clip.media_reference.target_url)
        assert target.is_file() and target.parent == files["stems"]
        # the stem is the shot's clip, and it really lasts that many frames
        assert probe(target, count_frames=True)["frames"] == duration.value
    video = probe(project.video_path(), count_frames=True)
    total = timeline.duration()
    assert total.value == video["frames"]  # the same number of frames as the exported video
    assert total.to_seconds() == pytest.approx(video["duration"], abs=1 / fps)
    assert total.to_seconds() == pytest.approx(sum(s["duration_s"] for s in shots), abs=1e-9)
    # narration: each shot's voice starts where its shot starts
    voice = timeline.audio_tracks()[0]
    assert voice.duration() == total
    starts = [voice.range_of_child(c).start_time for c in voice.find_clips()]
    shot_starts = [timeline.video_tracks()[0].range_of_child(c).start_time for c in clips]
    assert starts == shot_starts
    for clip in voice.find_clips():
        assert _local(clip.media_reference.target_url).is_file()
    # subtitles as markers, one per cue of the .srt, with the narration's text
    markers = list(timeline.tracks.markers)
    assert [m.name for m in markers] == [s["narration"] for s in shots]


def test_fcp_xml_and_edl_read_back_through_otio(exported):
    from storynb.timeline import handoff_files

    studio, project = exported
    files = handoff_files(project)
    reference = otio.adapters.read_from_file(str(files["otio"]))
    expected = [c.duration().value for c in reference.video_tracks()[0].find_clips()]

    xml = otio.adapters.read_from_file(str(files["fcp_xml"]), adapter_name="fcp_xml")
    assert [c.duration().value for c in xml.video_tracks()[0].find_clips()] == expected
    assert len(xml.audio_tracks()) >= 1
    assert xml.duration().value == sum(expected)

    edl = otio.adapters.read_from_file(str(files["edl"]), adapter_name="cmx_3600",
                                       rate=project.row["fps"])
    clips = list(edl.video_tracks()[0].find_clips())
    assert [round(c.duration().value) for c in clips] == expected
    assert all(_local(c.media_reference.target_url).name.startswith("shot_") for c in clips)


def test_a_second_export_run_keeps_the_handoff_and_an_edit_rewrites_it(exported):
    from storynb.timeline import handoff_files

    studio, project = exported
    files = handoff_files(project)
    before = files["otio"].stat().st_mtime_ns
    project.run()
    assert handoff_files(project)["otio"].stat().st_mtime_ns == before  # nothing changed
    project.edit_shot(2, duration_s=3.0)
    project.run()
    timeline = otio.adapters.read_from_file(str(handoff_files(project)["otio"]))
    clips = list(timeline.video_tracks()[0].find_clips())
    assert clips[1].duration().value == 3 * project.row["fps"]


def test_at_a_rate_smpte_timecode_lacks_the_otio_says_why_there_is_no_edl_or_fcp_xml(make_project):
    from storynb.timeline import handoff_files

    project = make_project(fps=12, shots=4)
    assert project.run().status == "done"
    files = handoff_files(project)
    assert "edl" not in files and "fcp_xml" not in files and "otio" in files
    timeline = otio.adapters.read_from_file(str(files["otio"]))
    assert "SMPTE" in timeline.metadata["storynb"]["skipped"]["edl"]
    assert "SMPTE" in timeline.metadata["storynb"]["skipped"]["fcp_xml"]
    assert [c.duration().value for c in timeline.video_tracks()[0].find_clips()] == [
        round(s["duration_s"] * 12) for s in project.shots()]


def test_deleting_the_project_removes_its_handoff(exported):
    from storynb.timeline import handoff_files

    studio, project = exported
    files = handoff_files(project)
    assert files
    project.delete()
    assert not any(p.exists() for p in files.values())
