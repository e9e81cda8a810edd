"""A project bundle written in one studio is imported into another and runs on from there."""
import zipfile

import pytest

from storynb import InvalidInput, Studio
from storynb.cli import main as cli


def test_bundle_round_trip_into_another_studio(make_project, tmp_path, capsys):
    project = make_project()
    assert project.run().status == "done"
    bundle = project.export_bundle(tmp_path / "p.zip")

    other = Studio(tmp_path / "other" / "studio.db")
    other.create_project("something else", size=(144, 256), fps=12)
    copy = other.import_bundle(bundle)
    assert copy.id == 2 and copy.story() == project.story()
    assert copy.storyboard().equals(project.storyboard())
    assert copy.status() == project.status()
    calls_before = len(copy.calls())
    report = copy.run()  # everything is already there: nothing is made again
    assert report.status == "done" and [r.status for r in report.stages] == ["skipped"] * 6
    assert len(copy.calls()) == calls_before
    assert copy.video_path().startswith(str(other.exports_dir))

    assert cli(["--studio", str(other.path), "import", str(bundle)]) == 0
    assert "project 3" in capsys.readouterr().out


def test_a_damaged_bundle_is_refused_clearly(make_project, tmp_path):
    project = make_project()
    project.run(["rewrite", "storyboard", "images"])
    bundle = project.export_bundle(tmp_path / "p.zip")
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(damaged, "w") as out:
        for item in src.infolist():
            data = src.read(item)
            out.writestr(item, data[:-10] + b"0123456789" if item.filename.startswith("media/") else data)
    other = Studio(tmp_path / "o2" / "studio.db")
    with pytest.raises(InvalidInput, match="does not match its content hash"):
        other.import_bundle(damaged)
    with pytest.raises(InvalidInput, match="cannot read the bundle"):
        other.import_bundle(tmp_path / "missing.zip")
    assert len(other.projects()) == 0


def test_project_templates(studio, make_project, capsys):
    source = make_project(style="suspense", aspect="1:1", size=(128, 128), shots=5, burn_subtitles=False)
    studio.save_template(source, "square thriller")
    made = studio.create_project("A clock that runs backwards", template="square thriller")
    row = made.row
    assert (row["style"], row["aspect"], row["width"], row["shots_wanted"], row["burn_subtitles"]) == \
        ("suspenseful", "1:1", 128, 5, 0)  # the old name "suspense" is stored as today's
    assert row["prompt_set_id"] == source.row["prompt_set_id"]
    tweaked = studio.create_project("Another", template="square thriller", style="warm")
    assert tweaked.row["style"] == "warm"
    assert list(studio.templates().name) == ["square thriller"]
    with pytest.raises(Exception, match="no project template 'nope'"):
        studio.create_project("x", template="nope")
    assert cli(["--studio", str(studio.path), "run", "A third topic", "--template", "square thriller",
                "--stage", "rewrite"]) == 0
    assert studio.project(4).row["aspect"] == "1:1"
