"""A process killed while clips render loses nothing that finished; the next run goes on."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from storynb import InvalidInput, Studio


def test_kill_during_clips_then_continue(tmp_path):
    db_path = tmp_path / "studio.db"
    command = [sys.executable, "-m", "storynb.cli", "--studio", str(db_path), "run",
               "A lighthouse keeper befriends a lost whale", "--shots", "8", "--size", "360x640",
               "--seed", "5"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    clips_before_kill = 0
    deadline = time.time() + 240
    try:
        while time.time() < deadline and process.poll() is None:
            time.sleep(0.05)
            if not db_path.exists():
                continue
            try:
                with sqlite3.connect(db_path, timeout=5) as conn:
                    clips_before_kill = conn.execute(
                        "select count(*) from clips where status = 'done'").fetchone()[0]
            except sqlite3.OperationalError:
                continue
            if clips_before_kill >= 2:
                # Meanwhile another process may not run the same project.
                with pytest.raises(InvalidInput, match="another process"):
                    Studio(db_path).project(1).run()
                os.killpg(process.pid, signal.SIGKILL)
                break
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert 2 <= clips_before_kill < 8

    studio = Studio(db_path)
    project = studio.project(1)
    assert project.state == "interrupted"
    assert studio.projects().status.tolist() == ["interrupted"]
    done_keys = {r["key"] for r in studio.db["clips"].rows_where("status = 'done'")}
    report = project.run()
    assert report.status == "done", report.summary()
    clip_calls = list(studio.db.query(
        "select job_key, count(*) as n from calls where stage = 'clips' and provider = 'local-motion' "
        "and status = 'ok' group by job_key"))
    assert all(row["n"] == 1 for row in clip_calls), "a finished clip was rendered twice"
    assert len(clip_calls) == 8
    images_calls = studio.db.execute("select count(*) from calls where stage = 'images'").fetchone()[0]
    assert images_calls == 8
    assert len(done_keys) >= clips_before_kill
    assert os.path.exists(project.video_path())
