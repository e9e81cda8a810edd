"""Runs live in the studio: started anywhere, followed from anywhere, and they outlive the
process that started them."""
import multiprocessing
import os
import subprocess
import sys
import time

import pytest

from storynb import InvalidInput, Studio


def _open_and_create(path):
    try:
        studio = Studio(path)
        studio.create_project("a cat who wants to see the sea")
        studio.close()
        return "ok"
    except Exception as exc:  # pragma: no cover - the assertion shows it
        return repr(exc)


def test_twenty_processes_open_one_new_studio_at_once(tmp_path):
    path = str(tmp_path / "new" / "studio.db")
    with multiprocessing.get_context("spawn").Pool(20) as pool:
        outcomes = pool.map(_open_and_create, [path] * 20)
    assert outcomes == ["ok"] * 20
    studio = Studio(path)
    assert studio.db["projects"].count == 20
    names = [r["name"] for r in studio.db["prompt_sets"].rows]
    assert len(names) == len(set(names))


def test_a_run_started_by_a_process_that_exits_goes_on(tmp_path):
    db_path = tmp_path / "studio.db"
    script = ("import sys; from storynb import Studio; s = Studio(sys.argv[1]); "
              "p = s.create_project('A fox who learns to fly', shots=4, size=(180, 320), seed=2); "
              "h = p.run(background=True); print(type(h).__name__, h.run_id, p.state)")
    started = subprocess.run([sys.executable, "-c", script, str(db_path)], capture_output=True,
                             text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    assert started.stdout.split()[0] == "WorkerRun"
    assert started.stdout.split()[2] in ("queued", "running")
    studio = Studio(db_path)
    project = studio.project(1)
    deadline = time.time() + 240
    seen = set()
    changes = studio.changes()
    while time.time() < deadline and project.state not in ("done", "failed"):
        if changes.changed():
            progress = project.progress()
            seen.add(progress["status"])
        time.sleep(0.2)
    assert project.state == "done", project.progress()
    assert "running" in seen
    assert os.path.exists(project.video_path())
    run = project.progress()["run"]
    assert run["state"] == "done" and run["executor"] == "local"
    states = {r["state"] for r in studio.db["jobs"].rows_where("project_id = 1")}
    assert states == {"done"}
    workers = {r["worker"].split("@")[0] for r in studio.db.query("select worker from calls")}
    assert workers == {"local"}


def test_a_second_start_is_refused_while_one_is_queued_or_running(tmp_path):
    studio = Studio(tmp_path / "studio.db")
    project = studio.create_project("An owl who cannot sleep", shots=4, size=(180, 320), seed=1)
    handle = project.run(background=True)
    with pytest.raises(InvalidInput, match="already running"):
        project.run(background=True)
    report = handle.wait(timeout=240)
    assert report is not None and report.status == "done", report and report.summary()
    assert "project 1: done" in report.summary()
    again = project.run(background=True)  # nothing left to do: every job is up to date
    assert again.wait(timeout=120).status == "done"
    assert studio.db.execute("select count(*) from jobs where run_id = ? and state = 'done'",
                             [again.run_id]).fetchone()[0] > 0


def test_watch_follows_a_run_in_another_process(tmp_path):
    db_path = tmp_path / "studio.db"
    studio = Studio(db_path)
    studio.create_project("A whale who sings to ships", shots=4, size=(180, 320), seed=7)
    runner = subprocess.Popen([sys.executable, "-m", "storynb.cli", "--studio", str(db_path),
                               "run", "--project", "1"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while studio.project(1).state not in ("running", "done") and time.time() < deadline:
        time.sleep(0.05)
    watch = subprocess.run([sys.executable, "-m", "storynb.cli", "--studio", str(db_path),
                            "watch", "1", "--timeout", "240"], capture_output=True, text=True)
    runner.wait(timeout=240)
    assert runner.returncode == 0
    assert watch.returncode == 0, watch.stderr
    assert watch.stdout.strip().endswith(".mp4")
    lines = watch.stderr.splitlines()
    assert any(line.startswith("clips: running") for line in lines), watch.stderr
    assert any(line.startswith("export: done") for line in lines), watch.stderr


def test_watch_exits_1_when_the_run_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("STORYNB_KEY_FILE", str(tmp_path / "secret.key"))
    db_path = tmp_path / "studio.db"
    studio = Studio(db_path)
    project = studio.create_project("A kite that would not fly", shots=4, size=(180, 320))
    project.run(["rewrite", "storyboard"])
    studio.providers.add("img", "text2image", "openai_images", url="http://127.0.0.1:9/v1",
                         key="sk-test", model="gpt-image-1", timeout=2)  # nothing listens there
    project.update(providers={"text2image": "img"})
    failed = subprocess.run([sys.executable, "-m", "storynb.cli", "--studio", str(db_path),
                             "run", "--project", "1", "--executor", "worker"],
                            capture_output=True, text=True, timeout=60)
    assert failed.returncode == 0, failed.stderr
    watch = subprocess.run([sys.executable, "-m", "storynb.cli", "--studio", str(db_path),
                            "watch", "1", "--timeout", "240"], capture_output=True, text=True)
    assert watch.returncode == 1, (watch.stdout, watch.stderr)
    assert "storynb:" in watch.stderr.splitlines()[-1]
