"""The notebook panels, driven the way the browser drives them (button clicks, values set on
widgets, DataGrid cell messages), without a browser. The browser itself is in tests/browser."""
import json
import time

import pandas as pd
import pytest

W = pytest.importorskip("ipywidgets")
pytest.importorskip("ipydatagrid")

from ipywidgets.widgets import widget as widget_module  # noqa: E402

from storynb import InvalidInput  # noqa: E402
from storynb.widgets import App, Session  # noqa: E402
from storynb.widgets.camera import CameraPanel  # noqa: E402
from storynb.widgets.download import DownloadButton  # noqa: E402
from storynb.widgets.images import ImagesPanel  # noqa: E402
from storynb.widgets.models import ModelsPanel, bar_chart  # noqa: E402
from storynb.widgets.pipeline import PipelinePanel  # noqa: E402
from storynb.widgets.project import ProjectPanel, size_for  # noqa: E402
from storynb.widgets.rewrite import RewritePanel  # noqa: E402
from storynb.widgets.storyboard import StoryboardPanel, header  # noqa: E402

SMALL = {"size": (144, 256), "fps": 12, "shots": 4, "seed": 7}
# ipydatagrid 1.4 calls DataFrame.drop(inplace=True), which pandas 3.1 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")


@pytest.fixture(scope="module")
def done_studio(tmp_path_factory):
    """A studio with one finished small project (shared by read-mostly tests)."""
    from storynb import Studio

    studio = Studio(tmp_path_factory.mktemp("widgets") / "studio.db")
    project = studio.create_project("A lighthouse keeper befriends a lost whale", **SMALL)
    report = project.run()
    assert report.status == "done", report.summary()
    return studio


def cell_edit(grid, row, column, value):
    """What the page sends when a DataGrid cell is edited."""
    index = grid._column_name_to_index(header(column)) if isinstance(column, str) else column
    grid._handle_msg({"content": {"data": {"method": "custom", "content": {
        "event_type": "cell-changed", "row": row, "column_index": index,
        "value": value}}}, "buffers": []})


def follow(session, timeout=60):
    """Wait for the session's run the way the kernel's poller follows it: look at the studio
    every 50 ms until the run is over, then return its report."""
    deadline = time.monotonic() + timeout
    while not session.handle.done() and time.monotonic() < deadline:
        session.poll()
        time.sleep(0.05)
    return session.wait(max(0.1, deadline - time.monotonic()))


def errors(panel):
    return "class='err'" in panel.message.value


def form_error(panel):
    """The Projects form's own message line, under its buttons."""
    return "class='err'" in panel.create_message.value


# --------------------------------------------------------------------------------- the app
def test_every_tab_draws_without_an_error(done_studio):
    app = App(done_studio)
    assert app.session.project is not None
    for index, (title, panel) in enumerate(app.panels.items()):
        app.tabs.selected_index = index
        assert panel.active and not errors(panel), (title, panel.message.value)
    export = app.panels["Export"]
    assert len(export.player.value) > 1000 and export.video_dl.available
    assert export.video_dl.filename.endswith(".mp4") and export.srt_dl.filename.endswith(".srt")
    assert "1 of 6" not in app.runbar.stage.value and app.runbar.bar.value == 1.0


def test_create_from_the_form_runs_in_the_background_and_the_bars_move(studio):
    panel = ProjectPanel(studio)
    pipeline = PipelinePanel(panel.session)
    seen = {stage: [] for stage in pipeline.rows}
    for stage, row in pipeline.rows.items():
        row.bar.observe(lambda c, s=stage: seen[s].append(c["new"]), names="value")
    panel.topic.value = "A robot in a flooded city learns to paint"
    panel.quality.value = "draft"
    panel.shots.value = 4
    started = time.perf_counter()
    panel.create_run_b.click()
    returned = time.perf_counter() - started
    handle = panel.session.handle
    assert handle is not None and not errors(panel), panel.message.value
    report = follow(panel.session, 120)
    assert report.status == "done", report.summary()
    assert returned < 5  # the click returned while the run went on
    project = panel.session.project
    assert (project.row["width"], project.row["height"]) == (144, 256)
    assert len(project.shots()) == 4
    # it moved (the view samples the studio twice a second, so fast jobs may skip a step)
    assert len(set(seen["images"])) >= 2 and len(set(seen["clips"])) >= 2
    for row in pipeline.rows.values():
        assert "done" in row.status.value and row.bar.value == row.bar.max
    assert "storynb-chip" in panel.status.value and "the video is ready" in panel.status.value


def test_quality_sizes_keep_the_aspect():
    assert size_for("9:16", "draft") == (144, 256)
    assert size_for("16:9", "preview") == (640, 360)
    assert size_for("1:1", "draft") == (144, 144)
    assert size_for("9:16", "full") is None


def test_form_inputs_are_checked_in_python(studio):
    panel = ProjectPanel(studio)
    before = len(studio.projects())
    panel.topic.value = "x" * 5000
    panel.create_b.click()
    assert form_error(panel) and "4000" in panel.create_message.value
    panel.topic.value = "A kite that wanted to stay up all night"
    panel.style.value = "s" * 500
    panel.create_b.click()
    assert form_error(panel) and "style" in panel.create_message.value.lower()
    panel.style.value = "warm"
    panel.shots._trait_values["value"] = 99  # what a crafted message could leave behind
    panel.create_b.click()
    assert form_error(panel) and "shots" in panel.create_message.value.lower()
    assert len(studio.projects()) == before
    # delete is refused without the confirmation, even though the button was clicked
    project = studio.create_project("A kite that wanted to stay up all night", **SMALL)
    panel.refresh()
    panel.listing.value = project.id
    panel.delete_b.click()
    assert errors(panel) and project.id in list(studio.projects()["id"])
    panel.delete_confirm.value = True
    panel.delete_b.click()
    assert not errors(panel) and project.id not in list(studio.projects()["id"])


# --------------------------------------------------------------------------------- storyboard
def test_storyboard_edits_are_saved_and_bad_edits_go_back(make_project):
    project = make_project()
    project.run(["rewrite", "storyboard"])
    panel = StoryboardPanel(project)
    grid = panel.grid
    cell_edit(grid, 1, "narration", "  The whale sang once more.  ")
    assert not errors(panel), panel.message.value
    assert project.shot(2)["narration"] == "The whale sang once more."
    assert grid.data.loc[2, header("narration")] == "The whale sang once more."  # trimmed, as stored

    cell_edit(grid, 0, "duration_s", 4.04)  # whole frames at 12 fps
    assert project.shot(1)["duration_s"] == pytest.approx(4.0)
    assert grid.data.loc[1, header("duration_s")] == pytest.approx(4.0)

    stored = project.shot(1)["duration_s"]
    for column, value in (("duration_s", "soon"), ("duration_s", 900), ("narration", ""),
                          ("narration", "n" * 5000)):
        cell_edit(grid, 0, column, value)
        assert errors(panel), (column, value)
    assert project.shot(1)["duration_s"] == stored and project.shot(1)["narration"]
    assert grid.data.loc[1, header("duration_s")] == pytest.approx(stored)

    cell_edit(grid, 99, "narration", "a row that does not exist")  # pandas would add the row
    assert errors(panel) and len(grid.data) == 4 and len(project.shots()) == 4
    cell_edit(grid, 0, 17, "a column that does not exist")
    assert errors(panel) and list(grid.data.columns) == list(StoryboardPanel._frame([]).columns)


def test_storyboard_add_move_delete(make_project):
    project = make_project()
    project.run(["rewrite", "storyboard"])
    panel = StoryboardPanel(project)
    panel.new_narration.value = "A gull lands on the rail."
    panel.after.value = 1
    panel.add_b.click()
    assert project.shot(2)["narration"] == "A gull lands on the rail." and len(panel.grid.data) == 5
    panel.shot.value, panel.to.value = 2, 5
    panel.move_b.click()
    assert project.shot(5)["narration"] == "A gull lands on the rail."
    panel.shot.value = 5
    panel.delete_b.click()
    assert len(project.shots()) == 4 and len(panel.grid.data) == 4
    panel.shot._trait_values["value"] = 77
    panel.delete_b.click()
    assert errors(panel) and len(project.shots()) == 4


def test_storyboard_grid_stays_light_with_300_shots(make_project):
    project = make_project()
    project.replace_shots([{"scene": f"scene {i}", "narration": f"Line {i} of a long story.",
                            "image_prompt": f"a lighthouse, view {i}", "duration_s": 3.0}
                           for i in range(1, 301)])
    before = len(widget_module._instances)
    started = time.perf_counter()
    panel = StoryboardPanel(project)
    built = time.perf_counter() - started
    assert len(panel.grid.data) == 300
    assert len(widget_module._instances) - before < 150  # one grid, not widgets per cell (1500+)
    started = time.perf_counter()
    cell_edit(panel.grid, 299, "image_prompt", "the last lighthouse")
    edited = time.perf_counter() - started
    assert project.shot(300)["image_prompt"] == "the last lighthouse" and not errors(panel)
    # generous bounds: they catch a grid rebuilt per edit or a widget per cell, not jitter
    assert built < 5 and edited < 1, (built, edited)


# --------------------------------------------------------------------------------- images
def test_regenerating_one_shot_changes_only_that_shot(done_studio):
    project = done_studio.project(1)
    panel = ImagesPanel(project)
    captions = lambda: [c.children[2].value for c in panel.gallery.children]
    before = captions()
    since = project.db.execute("select max(id) from calls").fetchone()[0]
    panel.gallery.children[1].children[3].children[1].click()  # "Edit" on shot 2
    assert panel.shot.value == 2
    panel.prompt.value = "a red lighthouse on black rocks, storm"
    panel.regen_b.click()
    report = follow(panel.session, 60)
    assert report.status == "done", report.summary()
    after = captions()
    assert [a == b for a, b in zip(before, after)] == [True, False, True, True]
    made = dict(project.db.execute(
        "select stage, count(*) from calls where id > ? and stage in ('images', 'clips') "
        "group by stage", [since]).fetchall())
    assert made == {"images": 1, "clips": 1}
    # candidates: the old picture is still there and can be chosen back
    panel.shot.value = 2
    assert len(panel.candidates.children) == 2
    old_id = int(project.images(2).query("chosen == 0")["id"].iloc[0])
    panel.use(old_id)
    assert int(project.chosen_image(2)["id"]) == old_id
    with pytest.raises(InvalidInput):
        panel.use(10_000)  # not one of this shot's images


# --------------------------------------------------------------------------------- others
def test_pipeline_pause_resume_skip_rollback(make_project):
    project = make_project()
    panel = PipelinePanel(project)
    panel.rows["camera"].skip_b.click()
    assert project.status()["camera"] == "skipped"
    panel.rows["camera"].skip_b.click()
    assert project.status()["camera"] == "pending"
    panel.run_all_b.click()
    panel.pause_b.click()
    report = follow(panel.session, 60)
    assert report.status in ("paused", "done")
    if report.status == "paused":
        assert "paused" in panel.overall.value
        panel.resume_b.click()
        report = follow(panel.session, 60)
    assert report.status == "done", report.summary()
    panel.rows["images"].back_b.click()
    assert project.status()["images"] == "stale" and project.status()["export"] == "stale"
    panel.rows["images"].run_b.click()
    assert follow(panel.session, 60).status == "done"
    panel.run_all_b.click()
    with pytest.raises(InvalidInput, match="already running"):
        project.run(background=True)  # one run per project at a time, whoever asks
    follow(panel.session, 60)


def test_rewrite_panel_versions_and_diff(make_project):
    project = make_project()
    project.run(["rewrite"])
    panel = RewritePanel(project)
    assert panel.editor.value == project.story()
    panel.editor.value = project.story().replace(".", "!", 1)
    panel.save_b.click()
    assert len(project.stories()) == 2 and not errors(panel)
    panel.old.value, panel.new.value = 1, 2
    panel.diff_b.click()
    assert "class='add'" in panel.diff.value and "class='del'" in panel.diff.value
    panel.style.value = "whimsical"
    panel.again_b.click()
    assert follow(panel.session, 60).status == "done"
    assert project.row["style"] == "whimsical"
    panel.editor.value = "   "
    panel.save_b.click()
    assert errors(panel)


def test_camera_panel_apply_preview_and_presets(done_studio):
    project = done_studio.project(1)
    panel = CameraPanel(project)
    panel.shot.value = 3
    panel.movement.value = "pan_left"
    panel.intensity.value = 0.3
    panel.apply_b.click()
    row = project.camera().query("seq == 3").iloc[0]
    assert row["movement"] == "pan_left" and row["params"]["intensity"] == 0.3
    assert row["source"] == "user"
    panel.preview_b.click()
    assert len(panel.player.value) > 500 and not errors(panel)
    panel.preset_name.value = "gentle drift"
    panel.save_preset_b.click()
    assert "gentle drift" in [value for _, value in panel.preset.options]
    panel.preset_name.value = "hold"  # a built-in preset cannot be replaced
    panel.save_preset_b.click()
    assert errors(panel)
    panel.span._trait_values["value"] = (0.9, 0.2)
    panel.apply_b.click()
    assert errors(panel)


def test_no_key_reaches_widget_state(studio, monkeypatch, tmp_path):
    monkeypatch.setenv("STORYNB_KEY_FILE", str(tmp_path / "secret.key"))
    monkeypatch.delenv("STORYNB_SECRET_KEY", raising=False)
    secret = "sk-test-7a1c9e55b0d24f1f8e3b"
    studio.providers.add("remote-llm", "llm", "openai_chat", url="http://127.0.0.1:9/v1",
                         key=secret, model="gpt-test")
    app = App(studio)
    models = app.panels["Models"]
    models.redraw()
    assert "remote-llm" in models.table.value
    models.add_name.value = "remote-two"
    models.add_kind.value = "llm"
    models.add_url.value = "http://127.0.0.1:9/v1"
    models.add_key.value = secret + "2"
    models.add_b.click()
    assert not errors(models), models.message.value
    assert models.add_key.value == ""
    states = json.dumps([w.get_state() for w in list(widget_module._instances.values())],
                        default=lambda v: f"<{type(v).__name__}>")
    assert secret not in states and "7a1c9e55" not in states


def test_models_panel_test_connection_and_usage(done_studio):
    panel = ModelsPanel(done_studio)
    assert "draft-writer" in panel.table.value and "free" in panel.cost_chart.value
    assert "<svg" in panel.calls_chart.value and "local-painter" in panel.usage_table.value
    priced = pd.DataFrame({"day": ["2026-01-01", "2026-01-02", "2026-01-02"],
                           "provider": ["gpt", "gpt", "sd"], "cost": [0.5, 0.25, 1.0]})
    chart = bar_chart(priced, "cost", title="Cost per day")
    assert chart.count("<rect") == 3 + 2 and "sd 2026-01-02: 1" in chart
    panel.provider.value = "draft-writer"
    panel.test_b.click()
    for _ in range(100):
        if "connected" in panel.message.value or errors(panel):
            break
        time.sleep(0.05)
    assert "connected" in panel.message.value, panel.message.value


def test_download_button_sends_the_file_only_when_asked(tmp_path):
    path = tmp_path / "video.srt"
    path.write_text("1\n00:00:00,000 --> 00:00:01,000\nHello\n", encoding="utf-8")
    button = DownloadButton("Subtitles", source=lambda: path)
    button.available = True
    sent = []
    button.send = lambda content, buffers=None: sent.append((content, buffers))
    assert "Hello" not in json.dumps(button.get_state(), default=str)
    button._handle(button, {"event": "download", "request": "r1"}, [])
    content, buffers = sent[-1]
    assert content["request"] == "r1" and content["filename"] == "video.srt"
    assert bytes(buffers[0]).startswith(b"1\n00:00:00")
    button._handle(button, {"event": "something else", "path": "/etc/passwd"}, [])
    assert len(sent) == 1
    button.set_source(None)
    button._handle(button, {"event": "download", "request": "r2"}, [])
    assert "error" in sent[-1][0]


def test_session_accepts_a_project_or_a_studio(done_studio):
    assert Session(done_studio).project is None
    project = done_studio.project(1)
    assert Session(done_studio, project).project.id == project.id
    with pytest.raises(TypeError):
        ProjectPanel("not a studio")


def test_a_failed_stage_shows_its_error_and_retry_runs_again(studio):
    class Broken:
        name = "broken-painter"
        kind = "text2image"
        model = "broken"
        failures = 1

        async def generate(self, request, out_path):
            if Broken.failures > 0:
                Broken.failures -= 1
                raise RuntimeError("the painter ran out of paint")
            from storynb.providers.offline import Painter

            await Painter().generate(request, out_path)

    studio.register(Broken())
    project = studio.create_project("A kite that wanted to stay up all night",
                                    providers={"text2image": "broken-painter"}, **SMALL)
    app = App(studio)
    pipeline = app.panels["Make"].steps  # each step, inside the guided flow
    app.runbar.run_b.click()
    report = follow(app.session, 60)
    assert report.status == "failed" and app.session.project.id == project.id
    row = pipeline.rows["images"]
    assert "failed" in row.status.value and "out of paint" in row.count.value
    flow = app.panels["Make"]
    assert app.runbar.bar.bar_style == "danger" and "failed" in flow.message.value
    assert "storynb-step-failed" in app.runbar.steps.value
    app.runbar.resume_b.click()  # the one set of run controls: resume goes on from the failure
    assert follow(app.session, 60).status == "done"
    assert "done" in row.status.value and app.runbar.bar.value == 1.0
