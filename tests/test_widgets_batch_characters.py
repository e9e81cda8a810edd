"""The Batch and Characters panels, driven as the browser drives them (values set on widgets,
button clicks, an upload), without a browser."""
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


def test_the_characters_panel_edits_the_sheet_references_and_shots(studio, tmp_path):
    from fakes.servers import tiny_png

    from storynb.widgets.characters import NEW, CharactersPanel

    project = studio.create_project("A lighthouse keeper befriends a lost whale", size=(144, 256),
                                    fps=12, shots=4, seed=7)
    project.run(["rewrite", "storyboard"])
    panel = CharactersPanel(project)
    hero = project.cast.rows()[0]["name"]
    assert hero in panel.table.value and panel.pick.value == hero
    assert "lighthouse keeper" in panel.description.value
    panel.description.value = "a keeper in a yellow oilskin coat"
    panel.save_b.click()
    assert not errors(panel), panel.message.value
    assert project.cast.get(hero)["description"] == "a keeper in a yellow oilskin coat"
    panel.pick.value = NEW
    panel.name_box.value = "Wren"
    panel.description.value = ""
    panel.save_b.click()
    assert errors(panel) and "description" in panel.message.value.lower()
    panel.description.value = "a small girl in a blue raincoat"
    panel.save_b.click()
    assert not errors(panel) and panel.pick.value == "Wren"
    panel.upload.value = ({"name": "wren.png", "type": "image/png", "size": 200,
                           "content": memoryview(tiny_png()),
                           "last_modified": __import__("datetime").datetime.now()},)
    assert not errors(panel), panel.message.value
    assert len(project.cast.references("Wren")) == 1 and len(panel.refs.children) == 1
    panel.shot.value = 2
    panel.shot_names.value = f"{hero}, Wren"
    panel.tag_b.click()
    assert not errors(panel), panel.message.value
    assert project.cast.in_shot(project.shot(2))[1]["name"] == "Wren"
    panel.shot_names.value = "Nobody"
    panel.tag_b.click()
    assert errors(panel) and "unknown character" in panel.message.value
    panel.refs.children[0].children[1].click()  # remove the reference
    assert project.cast.references("Wren") == []
    panel.delete_b.click()
    assert "Wren" not in [r["name"] for r in project.cast.rows()]
