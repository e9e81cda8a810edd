"""CLI edge cases, as a user meets them (subprocess): every one gives a clear one-line message
and no traceback. --studio paths; settings given with --project; a template with another aspect;
pause on an idle project; unskip."""
import os
import sqlite3
import subprocess
import sys

import pytest

from storynb import Studio
from storynb.project import size_for


def cli(*args, cwd=None, studio=None):
    command = [sys.executable, "-m", "storynb.cli"] + (["--studio", str(studio)] if studio else []) + list(args)
    env = {**os.environ, "STORYNB_STUDIO": ""}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd, env=env)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def one_line_error(done) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("storynb: "), lines
    return lines[0]


def test_studio_paths(tmp_path):
    (tmp_path / "notes.txt").write_text("my notes\n")
    (tmp_path / "fake.db").write_text("not a database\n")

    done = cli("projects", studio="my.sqlite", cwd=tmp_path)  # a new file, not a folder
    assert done.returncode == 0 and (tmp_path / "my.sqlite").is_file()
    with sqlite3.connect(tmp_path / "my.sqlite") as db:
        assert db.execute("select count(*) from prompt_sets").fetchone()[0] >= 2
    for name in ("notes.txt", "fake.db"):
        message = one_line_error(cli("projects", studio=name, cwd=tmp_path))
        assert f"{name} is not a SQLite database" in message
        assert (tmp_path / name).read_text().endswith("\n") and (tmp_path / name).is_file()
    (tmp_path / "folder").mkdir()
    assert cli("projects", studio="folder", cwd=tmp_path).returncode == 0
    assert (tmp_path / "folder" / "studio.db").is_file()
    assert cli("projects", studio="newfolder", cwd=tmp_path).returncode == 0
    assert (tmp_path / "newfolder" / "studio.db").is_file()
    # an existing database under any name is used as it is
    Studio(tmp_path / "work.sqlite3").create_project("A heron waits", shots=4)
    done = cli("projects", studio="work.sqlite3", cwd=tmp_path)
    assert done.returncode == 0 and "A heron waits" in done.stdout


@pytest.fixture
def finished(tmp_path):
    studio = Studio(tmp_path / "studio.db")
    project = studio.create_project("A fox finds a lantern", size=(144, 256), fps=12, shots=4, seed=5)
    assert project.run().status == "done"
    return studio, project


def test_settings_given_with_project_change_it_and_say_so(finished):
    studio, project = finished
    font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    done = cli("run", "--project", str(project.id), "--no-burn", "--font", font, "--style", "epic",
               studio=studio.path)
    assert done.returncode == 0, done.stderr
    assert "burned subtitles on → off" in done.stderr and "style 'warm' → 'epic'" in done.stderr
    row = project.row
    assert (row["burn_subtitles"], row["font"], row["style"]) == (0, font, "epic")
    assert done.stdout.strip().endswith(".mp4")

    done = cli("run", "--project", str(project.id), "--no-burn", studio=studio.path)
    assert "settings unchanged" in done.stderr and done.returncode == 0
    message = one_line_error(cli("run", "--project", str(project.id), "--font", "No Such Font 9",
                                 studio=studio.path))
    assert "No Such Font 9" in message and project.row["font"] == font
    for extra in (["--lang", "zh"], ["--seed", "3"], ["--template", "t"], ["--new"], ["a topic"]):
        message = one_line_error(cli("run", "--project", str(project.id), *extra, studio=studio.path))
        assert "cannot be used with --project" in message


def test_a_template_with_another_aspect_keeps_what_was_asked(finished):
    studio, project = finished
    studio.save_template(project, "small")
    done = cli("run", "An owl reads at night", "--template", "small", "--aspect", "16:9",
               "--stage", "rewrite", studio=studio.path)
    assert done.returncode == 0, done.stderr
    row = studio.project("An owl reads at night").row
    assert (row["aspect"], row["width"], row["height"], row["fps"]) == ("16:9", 256, 144, 12)
    # Python: update(aspect=…) keeps a preview a preview
    project.update(aspect="1:1")
    assert (project.row["width"], project.row["height"]) == (144, 144)
    project.update(aspect="9:16", size=(360, 640))
    assert (project.row["width"], project.row["height"]) == (360, 640)
    assert size_for("16:9", 1080, 1920) == (1920, 1080)


def test_pause_when_idle_and_unskip_say_what_happened(finished):
    studio, project = finished
    done = cli("pause", str(project.id), studio=studio.path)
    assert done.returncode == 0 and "is not running (done): nothing to pause" in done.stdout
    assert project.row["paused"] == 0
    done = cli("unskip", str(project.id), "camera", studio=studio.path)
    assert "camera is not skipped (it is done)" in done.stdout
    assert project.status()["camera"] == "done"
    cli("skip", str(project.id), "camera", studio=studio.path)
    done = cli("unskip", str(project.id), "camera", studio=studio.path)
    assert "camera is back in runs" in done.stdout and project.status()["camera"] == "pending"
