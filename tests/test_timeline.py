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
        made = project.db.execute("select duration_s, fps from clips where shot_id = ? and "
                                  "status = 'done' order by id desc limit 1", [shot["id"]]).fetchone()
        assert duration.value == round(made[0] * made[1])  # the shot's clip, fitted to its line
        target = _local(clip.media_reference.target_url)
        assert target.is_file() and target.parent == files["stems"]
        # the stem is the shot's clip, and it really lasts that many frames
        assert probe(target, count_frames=True)["frames"] == duration.value
    video = probe(project.video_path(), count_frames=True)
    total = timeline.duration()
    assert total.value == video["frames"]  # the same number of frames as the exported video
    assert total.to_seconds() == pytest.approx(video["duration"], abs=1 / fps)
    assert total.to_seconds() == pytest.approx(project.latest_export()["duration_s"], abs=1 / fps)
    # narration: each shot's voice starts where its shot starts
    voice = timeline.audio_tracks()[0]
    assert voice.duration() == total
    from storynb.stages.narration import LEAD_S

    starts = [voice.range_of_child(c).start_time for c in voice.find_clips()]
    shot_starts = [timeline.video_tracks()[0].range_of_child(c).start_time for c in clips]
    lead = otio.opentime.RationalTime(round(LEAD_S * fps), fps)
    assert len(starts) == 4, "the offline voice is missing: pip install 'storynb[voice]'"
    assert starts == [t + lead for t in shot_starts]  # as in the mix: just after the shot starts
    for clip in voice.find_clips():
        assert _local(clip.media_reference.target_url).is_file()
    # subtitles as markers, one per cue (caption page) of the .srt, at the cue's time
    from storynb.timeline import read_srt

    cues = read_srt(project.latest_export()["srt_path"])
    markers = list(timeline.tracks.markers)
    assert len(markers) == len(cues) >= len(shots)
    for marker, (start, _end, words) in zip(markers, cues):
        assert marker.name == words
        assert marker.marked_range.start_time.to_seconds() == pytest.approx(start, abs=1 / fps)
    said = " ".join(m.name.replace("\n", " ") for m in markers).split()
    assert said == " ".join(s["narration"] for s in shots).split()


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
    old = otio.adapters.read_from_file(str(files["otio"]))
    project.edit_shot(2, narration="The whale sang once, low and long, under the breaking waves, "
                                   "and the keeper answered with his lamp.")
    assert project.run().status == "done"
    timeline = otio.adapters.read_from_file(str(handoff_files(project)["otio"]))
    assert timeline.metadata["storynb"]["export_key"] != old.metadata["storynb"]["export_key"]
    clips = list(timeline.video_tracks()[0].find_clips())
    shot = project.shot(2)
    made = project.db.execute("select duration_s, fps from clips where shot_id = ? and status = "
                              "'done' order by id desc limit 1", [shot["id"]]).fetchone()
    assert clips[1].duration().value == round(made[0] * made[1])
    assert timeline.duration().value == sum(c.duration().value for c in clips)


def test_at_a_rate_smpte_timecode_lacks_the_otio_says_why_there_is_no_edl_or_fcp_xml(make_project):
    from storynb.timeline import handoff_files

    project = make_project(fps=12, shots=4)
    assert project.run().status == "done"
    files = handoff_files(project)
    assert "edl" not in files and "fcp_xml" not in files and "otio" in files
    timeline = otio.adapters.read_from_file(str(files["otio"]))
    assert "SMPTE" in timeline.metadata["storynb"]["skipped"]["edl"]
    assert "SMPTE" in timeline.metadata["storynb"]["skipped"]["fcp_xml"]
    made = [project.db.execute("select duration_s, fps from clips where shot_id = ? and status = "
                               "'done' order by id desc limit 1", [s["id"]]).fetchone()
            for s in project.shots()]
    assert [c.duration().value for c in timeline.video_tracks()[0].find_clips()] == [
        round(d * f) for d, f in made]


def test_deleting_the_project_removes_its_handoff(exported):
    from storynb.timeline import handoff_files

    studio, project = exported
    files = handoff_files(project)
    assert files
    project.delete()
    assert not any(p.exists() for p in files.values())
