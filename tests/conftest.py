import subprocess
from pathlib import Path

import pytest

from storynb import Studio

SMALL = {"size": (144, 256), "fps": 12, "shots": 4, "seed": 7}


@pytest.fixture
def studio(tmp_path):
    return Studio(tmp_path / "studio.db")


@pytest.fixture
def make_project(studio):
    def make(topic="A lighthouse keeper befriends a lost whale", **settings):
        return studio.create_project(topic, **{**SMALL, **settings})
    return make


def ffprobe(path: Path) -> dict:
    """Streams and duration as Debian's ffprobe reports them (falls back to storynb's probe)."""
    import json
    import shutil

    if not shutil.which("ffprobe"):
        from storynb.render.compose import probe
        return {"fallback": probe(path)}
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json",
                          str(path)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)
