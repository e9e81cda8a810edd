"""The panels follow runs from the studio, not from the memory of the kernel that started them
(issue 7): a view opened mid-run (a reloaded page, a second tab) shows the run moving and its
end; buttons follow the stored state; the poller lives on the kernel's event loop and stops
with the widget. The browser versions are in tests/browser/test_live_runs.py."""
import asyncio
import gc
import time

import pytest

pytest.importorskip("ipywidgets")

from storynb.widgets import App, Session  # noqa: E402
from storynb.widgets.pipeline import PipelinePanel  # noqa: E402

SMALL = {"size": (144, 256), "fps": 12, "shots": 4, "seed": 11}


def buttons(app):
    bar = app.runbar
    return {"make": not bar.run_b.disabled, "resume": not bar.resume_b.disabled,
            "pause": not bar.pause_b.disabled}


def test_a_view_opened_mid_run_follows_the_workers_run_to_the_end(studio):
    project = studio.create_project("A snail crosses the garden before the rain", **SMALL)
    starter = App(studio)
    starter.runbar.run_b.click()  # the run goes to the studio's local worker process
    handle = starter.session.handle
    assert handle.run_id and handle.state() in ("queued", "running")
    assert buttons(starter) == {"make": False, "resume": False, "pause": True}
    starter.close()  # the page that started it goes away

    deadline = time.monotonic() + 60
    while project.progress()["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    other = studio.for_thread()  # another kernel: its own connection to the studio
    reloaded = App(other)
    pipeline = reloaded.panels["Make"].steps
    assert reloaded.session.project.id == project.id
    assert "running" in reloaded.runbar.label.value
    assert buttons(reloaded) == {"make": False, "resume": False, "pause": True}
    widths, events = [], []
    reloaded.session.on("run", events.append)
    while time.monotonic() < deadline:
        reloaded.session.poll()  # what the poller does on the kernel's loop
        widths.append(reloaded.runbar.bar.value)
        if "last run: done" in reloaded.runbar.stage.value:
            break
        time.sleep(0.05)
    assert "last run: done" in reloaded.runbar.stage.value, project.progress()
    assert events == ["end"]
    assert len(set(widths)) >= 3 and widths[-1] == 1.0, widths  # it moved, then ended full
    # done and up to date: nothing to make (the button says so), nothing to resume or pause
    assert buttons(reloaded) == {"make": False, "resume": False, "pause": False}
    assert reloaded.runbar.run_b.description == "✓ Video up to date"
    for row in pipeline.rows.values():
        assert "done" in row.status.value and row.bar.value == row.bar.max
    assert "shot 4 clip" in pipeline.activity.value
    assert project.progress()["run"]["executor"] == "local"
    reloaded.close()


def test_buttons_come_from_the_studio_not_from_the_view_that_started_the_run(studio):
    project = studio.create_project("A heron waits for the tide", **SMALL)
    watcher = PipelinePanel(Session(studio.for_thread(), studio.project(project.id)))
    assert not watcher.run_all_b.disabled and watcher.pause_b.disabled
    handle = project.run(background=True)  # started elsewhere (a notebook, say): the panel never saw it begin
    deadline = time.monotonic() + 60
    seen_busy = False
    while time.monotonic() < deadline and not handle.done():
        watcher.session.poll()
        seen_busy |= watcher.run_all_b.disabled and not watcher.pause_b.disabled
        time.sleep(0.05)
    watcher.session.poll()
    assert seen_busy and handle.wait(5).status == "done"
    assert not watcher.run_all_b.disabled and watcher.pause_b.disabled
    assert "last run: done" in watcher.overall.value
    # an interrupted run (its process died) does not keep the buttons disabled
    project.db["projects"].update(project.id, {"status": "running", "run_owner": "nohost:1",
                                               "run_heartbeat": time.time() - 3600})
    watcher.session.poll()
    assert watcher.session.progress["status"] == "interrupted"
    assert not watcher.run_all_b.disabled and not watcher.retry_b.disabled


def test_the_poller_runs_on_the_loop_and_stops_with_the_widget(studio):
    project = studio.create_project("A lantern festival on the river", **SMALL)

    async def scenario():
        app = App(studio)
        task = app.session._task
        assert task is not None and not task.done()
        assert app.session.project.id == project.id
        app.runbar.run_b.click()
        for _ in range(1200):  # the loop is free: the poller alone brings the end in
            await asyncio.sleep(0.05)
            if "last run: done" in app.runbar.stage.value:
                break
        assert "last run: done" in app.runbar.stage.value, project.progress()
        assert app.runbar.resume_b.disabled and app.runbar.pause_b.disabled  # it ended: nothing to resume
        app.close()
        await asyncio.sleep(0)
        assert task.done() and app.session.closed
        # a panel that made its own session stops its poller when closed, too
        panel = PipelinePanel(project)
        own = panel.session._task
        panel.close()
        await asyncio.sleep(0)
        assert own.done()
        # a session nobody holds any more ends its poller by itself
        session = Session(studio)
        orphan = session._task
        del session
        gc.collect()
        await asyncio.sleep(Session.POLL_S * 2)
        assert orphan.done()
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run(scenario()) == []  # no leaked tasks
