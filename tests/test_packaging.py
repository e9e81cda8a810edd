"""The wheel works on its own: built from this tree, installed into a fresh venv (its
dependencies from the package registry, runtime only: no extras), it makes a video when run from
another directory, reading its prompt sets, camera presets and capabilities from the package."""
import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What a clean checkout has at its top that the wheel must not need (the user's studio in data/,
# the dev venv, stale build output).
LEFT_OUT = {".venv", ".git", "build", "dist", "data", "tests", "bench", "notebooks", "app",
            ".pytest_cache", ".mypy_cache", ".ruff_cache"}
SHIPPED = ["storynb/data/prompts/en.json", "storynb/data/prompts/zh.json",
           "storynb/data/camera_presets.json", "storynb/data/capabilities.json",
           "storynb/reports/report.ipynb", "storynb/widgets/strings/common.json"]


def _package_data() -> list[str]:
    """Every file under storynb/ that is not Python source: all of it must ship in the wheel."""
    return sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "storynb").rglob("*")
                  if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts)


def _run(cmd: list, what: str, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    assert proc.returncode == 0, f"{what} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`pip wheel` of a copy of the source tree (so stale build/ output cannot leak in)."""
    src = tmp_path_factory.mktemp("src") / "storynb"

    def ignore(folder: str, names: list[str]) -> set[str]:
        top = LEFT_OUT if Path(folder) == ROOT else set()
        return {n for n in names if n in top or n == "__pycache__" or n.endswith(".egg-info")}

    shutil.copytree(ROOT, src, ignore=ignore)
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, src], "building the wheel")
    (found,) = out.glob("storynb-*.whl")
    return found


def test_the_wheel_holds_the_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    data = _package_data()
    assert set(SHIPPED) <= set(data), "the shipped data files moved; update SHIPPED"
    missing = [name for name in data if name not in names]
    assert not missing, (f"{wheel.name} lacks {missing}: add their folders to "
                         "[tool.setuptools.package-data] in pyproject.toml")
    assert not [n for n in names if n.startswith("data/")], "the repository's data/ (the studio) is not package data"
    en = json.loads(zipfile.ZipFile(wheel).read("storynb/data/prompts/en.json"))
    assert {"rewrite", "storyboard", "camera"} <= set(en["templates"])


def test_the_installed_wheel_makes_a_video_from_another_directory(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)  # this pip installs into it (`--python`): no ensurepip
    python, storynb = env_dir / "bin" / "python", env_dir / "bin" / "storynb"
    # Dependencies come from the package registry (pip's cache keeps a rerun quick).
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-compile",
          "--disable-pip-version-check", wheel], "installing the wheel into a fresh venv")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "STORYNB_STUDIO", "PYTHONHOME")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    probe = _run([python, "-c", """
import json, storynb
from storynb import Studio
from storynb.stages.camera import presets
studio = Studio('probe.db')
sets = [r['language'] for r in studio.db['prompt_sets'].rows]
print(json.dumps({'file': storynb.__file__, 'sets': sets, 'presets': len(presets(studio.db))}))
"""], "opening a studio with the installed package", cwd=elsewhere, env=env)
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert Path(found["file"]).is_relative_to(env_dir), f"storynb imported from {found['file']}, not the venv"
    assert {"en", "zh"} <= set(found["sets"]), found
    assert found["presets"] >= 9, found

    run = _run([storynb, "run", "A paper boat sails across a rainy street", "--shots", "4",
                "--size", "144x256", "--fps", "12"], "storynb run from the installed wheel",
               cwd=elsewhere, env=env)
    video = Path(run.stdout.strip().splitlines()[-1])
    assert video.suffix == ".mp4" and video.is_file(), run.stdout
    assert video.resolve().is_relative_to(elsewhere.resolve()), f"{video}: not in the studio under the working directory"
    assert (elsewhere / "data" / "studio.db").is_file()

    if shutil.which("ffprobe"):
        info = json.loads(_run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", video],
                               "ffprobe").stdout)
        streams = {s["codec_type"]: s for s in info["streams"]}
        assert streams["video"]["codec_name"] == "h264"
        assert (streams["video"]["width"], streams["video"]["height"]) == (144, 256)
        assert int(streams["video"]["nb_frames"]) >= 4 * 2 * 12  # four shots of at least 2 s at 12 fps
    else:  # the ffmpeg that the wheel's own dependency ships
        ffmpeg = _run([python, "-c", "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())"],
                      "finding ffmpeg").stdout.strip()
        text = subprocess.run([ffmpeg, "-hide_banner", "-i", video], capture_output=True, text=True).stderr
        assert "Video: h264" in text and "144x256" in text, text
    # Without the `voice` extra the video is made, and the run says it is not narrated.
    assert "NOT narrated" in run.stderr and "storynb[voice]" in run.stderr, run.stderr[-2000:]
