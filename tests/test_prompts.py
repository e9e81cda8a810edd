import pytest

from storynb import PromptError
from storynb.errors import InvalidInput
from storynb.prompts import render


def test_defaults_ship_in_both_languages(studio):
    for language in ("en", "zh"):
        chosen = studio.prompts.default_set(language)
        assert chosen["language"] == language
        for stage in ("rewrite", "storyboard", "camera"):
            assert studio.prompts.template(chosen["id"], stage)["version"] == 1


def test_every_edit_is_a_new_version_and_old_ones_stay(studio):
    set_id = studio.prompts.create_set("mine", "en", copy_from="default-en")
    first = studio.prompts.template(set_id, "rewrite")
    studio.prompts.edit(set_id, "rewrite", "Tell a {{ style }} tale of {{ topic }}.")
    studio.prompts.edit(set_id, "rewrite", "Tell a {{ style }} fable of {{ topic }}.")
    versions = studio.prompts.versions(set_id, "rewrite")
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert versions[0]["body"] == first["body"]
    assert studio.prompts.test_render(set_id, "rewrite", {"style": "calm", "topic": "rain"}) == \
        "Tell a calm fable of rain."
    assert "fable" not in studio.prompts.test_render(set_id, "rewrite", {"style": "calm", "topic": "rain"}, version=2)


def test_undefined_variable_is_named():
    with pytest.raises(PromptError, match="'audience'"):
        render("For {{ audience }}: {{ topic }}", {"topic": "x"})


def test_sandbox_blocks_unsafe_access():
    with pytest.raises(PromptError, match="sandbox"):
        render("{{ topic.__class__.__mro__[1].__subclasses__() }}", {"topic": "x"})


def test_syntax_error_is_reported_with_line(studio):
    with pytest.raises(PromptError, match="line 2"):
        studio.prompts.edit("default-en", "rewrite", "ok\n{% if %}")


def test_set_in_use_cannot_be_deleted(studio, make_project):
    project = make_project()
    with pytest.raises(InvalidInput, match="used by 1 project"):
        studio.prompts.delete_set(project.row["prompt_set_id"])


def test_project_records_the_template_version_it_used(studio, make_project):
    project = make_project()
    project.run(["rewrite"])
    used = project.db["stories"].get(1)["template_id"]
    assert studio.prompts.template_by_id(used)["stage"] == "rewrite"


def test_editing_the_body_keeps_the_system_prompt(studio):
    before = studio.prompts.template("default-en", "storyboard")
    after = studio.prompts.edit("default-en", "storyboard", before["body"] + "\nKeep it short.")
    assert after["version"] == before["version"] + 1 and after["system"] == before["system"]
    cleared = studio.prompts.edit("default-en", "storyboard", after["body"], system="")
    assert cleared["system"] == ""
