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
