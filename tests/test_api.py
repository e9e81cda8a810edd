"""The small public API: one way to run, tables as DataFrames, errors under StorynbError, no
internals on Studio, and the CLI using the API (find_project) with handlers that return codes."""
import pandas as pd
import pytest

from storynb import InvalidInput, NotFound, Project, StorynbError, Studio
from storynb.cli import main
from storynb.pipeline import RunHandle
from storynb.providers.base import AuthError, ProviderError, RateLimited
from storynb.render.motion import CameraMove
from storynb.routing import NoProviderAvailable


def started_stages(events):
    return [e.stage for e in events if e.kind == "stage_start"]


def test_one_way_to_run_replaces_the_old_names():
    for old in ("run_async", "start", "run_stage", "retry", "resume", "start_retry", "start_resume"):
        assert not hasattr(Project, old), old
    for internal in ("call", "served_by", "record_output"):
        assert not hasattr(Studio, internal), internal


def test_run_from_failed_starts_at_the_first_unfinished_stage(make_project):
    project = make_project()
    events = []
    assert project.run("rewrite", on_event=events.append).status == "done"
    assert started_stages(events) == ["rewrite"]
    events.clear()
    report = project.run(["rewrite", "storyboard"], from_failed=True, on_event=events.append)
    assert report.status == "done", report.summary()
    assert started_stages(events) == ["storyboard"]  # rewrite is done: not started again
    events.clear()
    # everything asked for is done: a retry of those stages has nothing to start
    project.run(["rewrite", "storyboard"], from_failed=True, on_event=events.append)
    assert started_stages(events) == []
    assert project.status()["storyboard"] == "done" and project.status()["images"] == "pending"


def test_run_in_the_background_and_its_executor(make_project):
    project = make_project()
    handle = project.run(["rewrite"], background=True, executor="thread")
    assert isinstance(handle, RunHandle) and handle.project_id == project.id
    report = handle.wait(120)
    assert report is not None and report.status == "done", report
    assert handle.done() and project.story()
    with pytest.raises(InvalidInput, match="background=True"):
        project.run(["storyboard"], executor="thread")  # a foreground run happens here
    with pytest.raises(InvalidInput, match="unknown executor"):
        project.run(["storyboard"], background=True, executor="elsewhere")
    with pytest.raises(InvalidInput, match="unknown stage"):
        project.run(["storyboards"])
    assert project.status()["storyboard"] == "pending"  # nothing ran after the refusals


def test_a_pause_is_lifted_by_the_next_run(make_project):
    project = make_project()
    project.pause()
    assert project.row["paused"] == 1
    assert project.run(["rewrite"], from_failed=True).status == "done"
    assert project.row["paused"] == 0


def test_every_error_is_a_storynb_error(studio):
    for kind in (ProviderError, RateLimited, AuthError, NoProviderAvailable, InvalidInput, NotFound):
        assert issubclass(kind, StorynbError), kind
    with pytest.raises(StorynbError, match="http:// or https://"):
        studio.providers.add("bad", "llm", "openai_chat", url="ftp://example.com", model="m", key="k")
    with pytest.raises(InvalidInput, match="intensity"):
        CameraMove.from_params("zoom_in", {"intensity": 3})


def test_find_project_matches_topic_and_settings(studio, make_project):
    project = make_project("A fox who learns to fly", style="dark")
    found = studio.find_project("  A fox who learns to fly ", style="dark", size=(144, 256), fps=12,
                                shots=4)
    assert found is not None and found.id == project.id
    assert studio.find_project("A fox who learns to fly", style="dark", size=(144, 256), fps=12) \
        .id == project.id  # shots left out: any number matches
    assert studio.find_project("A fox who learns to fly", style="warm", size=(144, 256), fps=12) is None
    assert studio.find_project("A fox who learns to fly", style="dark", fps=12) is None  # full size
    assert studio.find_project("A fox who learns to swim", style="dark", size=(144, 256), fps=12) is None
    with pytest.raises(InvalidInput, match="aspect"):
        studio.find_project("A fox", aspect="4:3")


def test_tables_are_dataframes(make_project):
    project = make_project()
    project.run(["rewrite", "storyboard"])
    chapters = project.chapters()
    assert isinstance(chapters, pd.DataFrame)
    assert list(chapters.columns) == ["chapter", "title", "first_seq", "last_seq", "shots", "duration_s"]
    assert chapters["shots"].sum() == project.shot_count()
    videos = project.chapter_videos()
    assert isinstance(videos, pd.DataFrame) and len(videos) == 0
    assert list(videos.columns) == ["chapter", "title", "path", "srt_path", "duration_s"]
    for table in (project.stages(), project.stories(), project.storyboard(), project.images(),
                  project.clips(), project.camera(), project.calls()):
        assert isinstance(table, pd.DataFrame)


def test_cli_handlers_return_their_exit_code(tmp_path, capsys):
    path = tmp_path / "studio.db"
    project = Studio(path).create_project("A quiet harbour at dawn", size=(144, 256), fps=12, shots=4)
    assert main(["--studio", str(path), "skip", str(project.id), "camera"]) == 0
    assert Studio(path).project(project.id).status()["camera"] == "skipped"
    assert main(["--studio", str(path), "calls", str(project.id)]) == 0
    assert "no calls recorded" in capsys.readouterr().out
    assert main(["--studio", str(path), "pause", str(project.id)]) == 0
    assert main(["--studio", str(path), "skip", "99", "camera"]) == 2  # a NotFound: one line
    assert "no project '99'" in capsys.readouterr().err
