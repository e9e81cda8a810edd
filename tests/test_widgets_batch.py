"""The Batch panel, driven as the browser drives it: paste a table, press run, read the summary."""
import time
from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")

from storynb.widgets import App  # noqa: E402
from storynb.widgets.batch import BatchPanel, batch_root  # noqa: E402


def errors(panel) -> bool:
    return "class='err'" in panel.message.value


def test_the_batch_panel_runs_a_table_and_shows_its_summary(studio):
    panel = BatchPanel(studio)
    panel.batch_name.value = "two-topics"
    panel.topics.value = ("topic,size,fps,shots,seed\n"
                          "A lighthouse keeper befriends a lost whale,144x256,12,4,7\n"
                          "A robot learns to paint,144x256,12,4,8\n")
    panel.notebooks.value = False
    panel.start_b.click()
    assert not errors(panel), panel.message.value
    assert panel.start_b.disabled
    assert panel.wait(300)
    panel.redraw()
    assert "2 of 2 done" in panel.table.value, panel.table.value
    folder = batch_root(studio) / "two-topics"
    assert (folder / "summary.csv").is_file() and (folder / "topics.csv").is_file()
    assert len(list(folder.glob("*/video.mp4"))) == 2
    # the same batch again: nothing is redone
    calls = studio.db["calls"].count
    panel.start_b.click()
    assert panel.wait(300)
    assert studio.db["calls"].count == calls
    assert "two-topics" in panel.past.options


def test_the_batch_panel_refuses_bad_input_with_a_message(studio):
    panel = BatchPanel(studio)
    panel.batch_name.value = "../escape"
    panel.start_b.click()
    assert errors(panel) and "batch name" in panel.message.value
    panel.batch_name.value = "ok"
    panel.topics.value = "title\nA whale\n"
    panel.start_b.click()
    assert errors(panel) and "no &#x27;topic&#x27; column" in panel.message.value
    assert not Path(studio.path).parent.joinpath("escape").exists()
    assert studio.db["projects"].count == 0


def test_the_app_has_a_batch_tab(studio):
    app = App(studio)
    assert isinstance(app.panels["Batch"], BatchPanel)
    app.show("Batch")
    assert app.panels["Batch"].active
