"""The Project panel's bundle import and project templates, driven the way the browser drives
them (the upload widget's value as the page sends it, values set on widgets, button clicks)."""
import zipfile

import pytest

W = pytest.importorskip("ipywidgets")

from storynb import Studio  # noqa: E402
from storynb.widgets import project as project_module  # noqa: E402
from storynb.widgets.project import FROM_TEMPLATE, ProjectPanel  # noqa: E402

SMALL = {"size": (144, 256), "fps": 12, "shots": 4, "seed": 7}


def errors(panel):
    return "class='err'" in panel.message.value


def form_error(panel):
    """The Projects form's own message line, under its buttons."""
    return "class='err'" in panel.create_message.value


def upload(panel, name, data):
    """What the page sends when a file is picked in the FileUpload (content as a buffer)."""
    panel.upload.set_state({"value": [{"name": name, "type": "application/zip", "size": len(data),
                                       "content": memoryview(data), "last_modified": 1700000000000}]})


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A bundle written by another studio: a project with its story, shots and images."""
    where = tmp_path_factory.mktemp("source")
    source = Studio(where / "studio.db")
    project = source.create_project("A lighthouse keeper befriends a lost whale",
                                    name="Whale", **SMALL)
    assert project.run(["rewrite", "storyboard", "images"]).status == "done"
    return project, project.export_bundle(where / "whale.bundle.zip")


def test_import_a_bundle_through_the_upload(studio, bundle):
    source, path = bundle
    studio.create_project("Something already here", **SMALL)
    panel = ProjectPanel(studio)
    upload(panel, "whale.bundle.zip", path.read_bytes())
    assert not errors(panel), panel.message.value
    assert "imported whale.bundle.zip as project #2" in panel.message.value.lower()
    opened = panel.session.project
    assert opened is not None and opened.id == 2 and opened.row["name"] == "Whale"
    assert opened.story() == source.story() and len(opened.shots()) == len(source.shots())
    assert [v for _, v in panel.listing.options] == [2, 1] and panel.listing.value == 2
    assert "Whale" in panel.status.value
    assert panel.upload.value == ()  # the bytes are not kept in the widget
    assert list(studio.media.tmp.iterdir()) == []  # nor the temporary file


def test_a_damaged_upload_shows_an_error_and_adds_no_project(studio, bundle, monkeypatch):
    _, path = bundle
    panel = ProjectPanel(studio)
    # a media file whose bytes no longer match its hash
    damaged = path.with_name("damaged.zip")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(damaged, "w") as out:
        for item in src.infolist():
            data = src.read(item)
            out.writestr(item, data[:-10] + b"0123456789" if item.filename.startswith("media/")
                         else data)
    upload(panel, "damaged.zip", damaged.read_bytes())
    assert errors(panel) and "does not match its content hash" in panel.message.value
    # not a zip at all; the message names the uploaded file, not the temporary one
    upload(panel, "broken.zip", b"PK\x03\x04 this is not really a zip file" * 10)
    assert errors(panel) and "cannot read the bundle broken.zip" in panel.message.value
    assert str(studio.media.tmp) not in panel.message.value
    # checked in Python whatever the page's accept= said
    upload(panel, "notes.txt", b"hello")
    assert errors(panel) and "not a .zip" in panel.message.value
    upload(panel, "empty.zip", b"")
    assert errors(panel) and "empty" in panel.message.value
    monkeypatch.setattr(project_module, "MAX_BUNDLE_BYTES", 1024)
    upload(panel, "huge.zip", path.read_bytes())
    assert errors(panel) and "at most" in panel.message.value and "storynb import" in panel.message.value
    panel.upload.set_state({"value": [
        {"name": "a.zip", "type": "", "size": 1, "content": memoryview(b"x"), "last_modified": 0},
        {"name": "b.zip", "type": "", "size": 1, "content": memoryview(b"y"), "last_modified": 0}]})
    assert errors(panel) and "one project bundle" in panel.message.value
    assert "Traceback" not in panel.message.value
    assert len(studio.projects()) == 0 and panel.session.project is None
    assert panel.upload.value == () and list(studio.media.tmp.iterdir()) == []


def test_save_a_template_and_create_a_project_from_it(studio):
    source = studio.create_project("A clock that runs backwards", style="suspenseful",
                                   aspect="1:1", size=(144, 144), fps=12, shots=5,
                                   burn_subtitles=False, providers={"llm": "draft-writer"})
    panel = ProjectPanel(studio)
    panel.template_name.value = "square thriller"
    panel.save_template_b.click()  # no project open yet
    assert errors(panel) and "no project is open" in panel.message.value.lower()
    panel.listing.value = source.id
    panel.open_b.click()
    assert not panel.save_template_b.disabled
    panel.save_template_b.click()
    assert not errors(panel), panel.message.value
    assert "as template" in panel.message.value and "square thriller" in panel.message.value
    assert list(studio.templates().name) == ["square thriller"]
    assert "square thriller" in [v for _, v in panel.template.options]  # the dropdown refreshed

    panel.template.value = "square thriller"  # fills the form from the template
    assert (panel.language.value, panel.style.value, panel.aspect.value, panel.shots.value,
            panel.quality.value, panel.prompt_set.value, panel.providers["llm"].value) == \
        ("en", "suspenseful", "1:1", 5, "draft", source.row["prompt_set_id"], "draft-writer")
    panel.style.value = "epic"  # a field changed in the form overrides the template
    panel.topic.value = "A kite that wanted to stay up all night"
    panel.create_b.click()
    assert not form_error(panel), panel.create_message.value
    row = panel.session.project.row
    assert (row["style"], row["aspect"], row["width"], row["height"], row["fps"],
            row["shots_wanted"], row["burn_subtitles"], row["prompt_set_id"]) == \
        ("epic", "1:1", 144, 144, 12, 5, 0, source.row["prompt_set_id"])
    assert row["providers"] == '{"llm": "draft-writer"}'

    # back to no template: the defaults, and the template's hidden settings no longer apply
    panel.template.value = ""
    assert (panel.aspect.value, panel.style.value, panel.shots.value) == ("9:16", "warm", 0)
    panel.topic.value = "Plain"
    panel.create_b.click()
    assert panel.session.project.row["burn_subtitles"] == 1


def test_a_template_size_no_preset_gives_is_kept(studio):
    source = studio.create_project("A clock that runs backwards", aspect="1:1", size=(128, 128),
                                   fps=10, shots=6)
    studio.save_template(source, "odd size")
    panel = ProjectPanel(studio)
    assert "odd size" in [v for _, v in panel.template.options]
    panel.template.value = "odd size"
    assert panel.quality.value == FROM_TEMPLATE and "128×128, 10 frames a second" in panel.quality.label
    panel.shots.value = 0  # set back to automatic: that overrides the template's 6 shots
    panel.topic.value = "A moth in love with a lamp"
    panel.aspect.value = "16:9"  # the template's size does not fit another aspect
    panel.create_b.click()
    assert form_error(panel) and "pick a size for 16:9" in panel.create_message.value
    panel.aspect.value = "1:1"
    panel.create_b.click()
    assert not form_error(panel), panel.create_message.value
    row = panel.session.project.row
    assert (row["width"], row["height"], row["fps"], row["shots_wanted"]) == (128, 128, 10, None)
    # a crafted dropdown value is refused in Python
    panel.topic.value = "Another moth"
    panel.template._trait_values["value"] = "no such template"
    panel.create_b.click()
    assert form_error(panel) and "template" in panel.create_message.value.lower()
