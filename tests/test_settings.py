"""One home for project settings (storynb.settings): the CLI, the panels, the engine, templates and
providers all read it; an older style name still works."""
import subprocess
import sys

import pytest

from storynb import settings
from storynb.errors import InvalidInput
from storynb.providers.offline import words
from storynb.providers.offline.writer import write_story


def test_presets_and_sizes():
    assert settings.preset_size("9:16", "draft") == (144, 256)
    assert settings.preset_size("16:9", "preview") == (640, 360)
    assert settings.preset_size("1:1", "full") is None
    assert settings.quality_for("16:9", (640, 360), 24) == "preview"
    assert settings.quality_for("9:16", None, 24) == "full"
    assert settings.quality_for("9:16", (360, 640), 12) is None  # no preset has that fps
    assert settings.size_for("16:9", 360, 640) == (640, 360)  # the short side is kept
    assert settings.size_problem((360, 641), "9:16")[1].startswith("size 360x641: both sides must be even")
    assert "does not have the 16:9 aspect ratio" in settings.size_problem((360, 640), "16:9")[1]
    assert settings.closest_size(1080, 1920, ["1024x1024", "1536x1024", "1024x1536"]) == "1024x1536"
    assert settings.closest_ratio(1920, 1080, ["1:1", "16:9", "9:16"]) == "16:9"


def test_one_style_list_and_old_names_still_work(tmp_path):
    assert settings.normalize_style("suspense") == "suspenseful"
    assert settings.normalize_style(" Suspense ") == "suspenseful"
    assert settings.normalize_style("noir with rain") == "noir with rain"  # free words are kept
    assert set(words.BANK_STYLES) <= set(settings.STYLES)
    for style in settings.STYLES:  # every offered style picks a phrase bank of the offline writer
        assert any(style in w for w in words.STYLE_ALIASES.values()) or style in words.BANK_STYLES
    topic = {"topic": "a clockmaker's last clock", "length": "short"}
    old = write_story({**topic, "style": "suspense"})
    assert old == write_story({**topic, "style": "suspenseful"}) != write_story({**topic, "style": "warm"})

    from storynb import Studio

    studio = Studio(tmp_path / "studio.db")
    project = studio.create_project("a clockmaker's last clock", style="suspense", size=(144, 256))
    assert project.row["style"] == "suspenseful"
    project.update(style="Suspense")
    assert project.row["style"] == "suspenseful"
    with pytest.raises(InvalidInput, match="fps must be a whole number from 1 to 60"):
        studio.create_project("x", fps=0)


def test_the_cli_and_the_panel_offer_the_settings_lists():
    shown = subprocess.run([sys.executable, "-m", "storynb.cli", "run", "--help"], capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())
    assert ", ".join(settings.STYLES) in text
    assert "{" + ",".join(settings.ASPECTS) + "}" in text and "{" + ",".join(settings.EXECUTORS) + "}" in text

    pytest.importorskip("ipywidgets")
    from storynb.widgets import project as panel

    assert panel.STYLES is settings.STYLES and panel.QUALITIES is settings.QUALITIES
    assert panel.size_for("9:16", "preview") == (360, 640)
