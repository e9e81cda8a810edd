"""The guided flow (storynb/widgets/flow.py) driven as the browser drives it: a topic, one
button, the steps, the video and its download right there; after an edit the steps say what is
out of date and one button updates the video; the same in 简体中文, and the language switch."""
import time

import pytest

pytest.importorskip("ipywidgets")

from storynb.widgets import App, i18n  # noqa: E402

TOPIC = "A paper boat carries a letter across the city in the rain"


def follow(session, timeout=90):
    deadline = time.monotonic() + timeout
    while not session.handle.done() and time.monotonic() < deadline:
        session.poll()
        time.sleep(0.05)
    report = session.wait(max(0.1, deadline - time.monotonic()))
    session.poll(force=True)
    return report


@pytest.fixture
def english():
    i18n.set_language("en")
    yield
    i18n.set_language("en")


def test_topic_to_video_then_an_edit_and_one_update(studio, english):
    app = App(studio)
    flow = app.panels["Make"]
    assert app.tabs.selected_index == 0 and flow.topic.layout.display != "none"
    flow.new_b.click()  # no topic: the message sits under the topic box, nothing is created
    assert "class='err'" in flow.form_message.value and "topic" in flow.form_message.value.lower()
    assert len(studio.projects()) == 0
    flow.topic.value = TOPIC
    flow.quality.value = "draft"
    flow.shots.value = 4
    flow.new_b.click()
    project = app.session.project
    assert project is not None and project.row["topic"] == TOPIC and project.row["width"] == 144
    assert app.session.active() and app.runbar.run_b.disabled and not app.runbar.pause_b.disabled
    assert follow(app.session).status == "done"
    bar = app.runbar
    assert bar.steps.value.count("storynb-step-done") == 6, bar.steps.value
    for word in ("Story", "Shots", "Pictures", "Camera", "Clips", "Video"):
        assert word in bar.steps.value
    assert len(flow.player.value) > 1000 and flow.video_box.layout.display != "none", (
        flow.message.value)
    assert flow.video_dl.available and flow.video_dl.filename.endswith(".mp4")
    assert bar.run_b.description == "✓ Video up to date" and bar.run_b.disabled
    shown = flow._shown_video

    # an edit elsewhere (another tab, a notebook): the flow says what it left out of date
    other = studio.for_thread().project(project.id)
    other.edit_shot(2, image_prompt="a paper boat under a red umbrella, night rain")
    app.session.poll()
    assert "1 picture, 1 clip and the video need updating" in bar.stale.value, bar.stale.value
    assert bar.run_b.description == "⟳ Update the video" and not bar.run_b.disabled
    assert "storynb-step-stale" in bar.steps.value
    bar.run_b.click()
    assert follow(app.session).status == "done"
    assert bar.stale.value == "" and bar.run_b.description == "✓ Video up to date"
    assert flow._shown_video != shown and len(flow.player.value) > 1000  # the new video plays

    # "make this shot again" from the pictures grid: only that shot, then the video
    images = app.panels["Images"]
    app.show("Images")
    card = images.gallery.children[2]
    again = card.children[3].children[0]
    assert again.description == "⟳ Make again"
    before = project.chosen_image(3)["id"]
    again.click()
    note = images.gallery.children[2].children[-1]  # the card was drawn again, with its note
    assert "Painting shot 3 again" in note.value and "storynb-card-msg" in note.value
    assert follow(app.session).status == "done"
    assert project.chosen_image(3)["id"] != before
    assert "made again" in images._notes[3]
    app.close()


def test_the_chinese_ui_and_the_language_switch(studio, english):
    project = studio.create_project("一只想看海的小猫", size=(144, 256), fps=12, shots=4, seed=3)
    assert project.run().status == "done"
    project.edit_shot(1, image_prompt="一只小猫坐在礁石上看海浪")
    app = App(studio, language="zh")
    flow = app.panels["Make"]
    assert flow.new_b.description == "▶ 生成视频"
    assert list(app.tabs.titles)[:3] == ["生成", "项目", "故事"]
    assert "1 张画面、1 个片段和成片需要更新" in app.runbar.stale.value
    assert app.runbar.run_b.description == "⟳ 更新视频"
    for step in ("故事", "分镜", "画面", "运镜", "片段", "成片"):
        assert step in app.runbar.steps.value
    app.show("Camera")
    camera = app.panels["Camera"]
    assert "推近" in camera.movement._options_labels or "固定镜头" in camera.movement._options_labels
    assert "草稿（离线）" in camera.table.value  # the offline writer, never "llm"
    assert "tilt_down" not in camera.table.value and "ease_in_out" not in camera.table.value
    # the switch redraws every panel in English and keeps the open project and the tab
    app.language.value = "en"
    assert i18n.language() == "en" and app.panels["Make"] is not flow
    assert app.panels["Make"].new_b.description == "▶ Make the video"
    assert list(app.panels)[app.tabs.selected_index] == "Camera"
    assert app.session.project.id == project.id
    assert "1 picture, 1 clip and the video need updating" in app.runbar.stale.value
    assert flow.session.closed  # the old panels' session stopped polling
    app.close()
