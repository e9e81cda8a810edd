import pytest

from storynb import PromptError
from storynb.errors import InvalidInput, NotFound
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
    studio.prompts.create_set("mine", "en", copy_from="default-en")
    make_project(prompt_set="mine")
    with pytest.raises(InvalidInput, match="used by 1 project"):
        studio.prompts.delete_set("mine")


def test_project_records_the_template_version_it_used(studio, make_project):
    project = make_project()
    project.run(["rewrite"])
    used = project.db["stories"].get(1)["template_id"]
    assert studio.prompts.template_by_id(used)["stage"] == "rewrite"


def test_editing_the_body_keeps_the_system_prompt(studio):
    studio.prompts.create_set("mine", "en", copy_from="default-en")
    before = studio.prompts.template("mine", "storyboard")
    after = studio.prompts.edit("mine", "storyboard", before["body"] + "\nKeep it short.")
    assert after["version"] == before["version"] + 1 and after["system"] == before["system"]
    cleared = studio.prompts.edit("mine", "storyboard", after["body"], system="")
    assert cleared["system"] == ""


def test_a_built_in_set_stays_as_shipped_and_its_edits_go_into_a_copy(studio, make_project):
    shipped = {stage: studio.prompts.template("default-en", stage) for stage in ("rewrite", "camera")}
    # a template the stage cannot fill is refused before anything is copied
    with pytest.raises(PromptError, match=r"\{\{ colour \}\}.*the rewrite stage does not give"):
        studio.prompts.edit("default-en", "rewrite", "Tell {{ topic }} in {{ colour }}.")
    assert [s["name"] for s in studio.prompt_sets()] == ["default-en", "default-zh"]
    saved = studio.prompts.edit("default-en", "rewrite", "Tell {{ topic }} gently.", note="gentle")
    assert saved["copied_from"] == "default-en" and saved["set_name"] == "default-en (my copy)"
    assert "stays as shipped" in saved["notice"] and "default-en (my copy)" in saved["notice"]
    copy = studio.prompts.get_set("default-en (my copy)")
    assert saved["set_id"] == copy["id"] and not copy["builtin"]
    assert [v["version"] for v in studio.prompts.versions(copy["id"], "rewrite")] == [1, 2]
    # the second edit goes into the same copy; the shipped set never changes
    again = studio.prompts.edit("default-en", "camera", shipped["camera"]["body"] + "\nBe calm.")
    assert again["set_id"] == copy["id"]
    for stage, row in shipped.items():
        assert studio.prompts.versions("default-en", stage) == [row]
    assert studio.prompts.template(copy["id"], "rewrite")["body"] == "Tell {{ topic }} gently."
    # saving the shipped text again is no change: nothing is copied or added
    same = studio.prompts.edit("default-en", "rewrite", shipped["rewrite"]["body"])
    assert same["id"] == shipped["rewrite"]["id"] and not same["copied_from"]
    with pytest.raises(InvalidInput, match="built-in set"):
        studio.prompts.delete_set("default-en")
    assert make_project().row["prompt_set_id"] == shipped["rewrite"]["set_id"]
    zh = studio.prompts.edit("default-zh", "rewrite", "讲一个关于{{ topic }}的故事。")
    assert zh["set_name"] == "default-zh（我的副本）"


def test_a_built_in_set_gets_a_missing_stage_as_shipped(studio, make_project):
    # a set made before the long-form stages existed gets the shipped text, in the set itself
    from storynb import longform

    project = make_project()
    studio.db["prompt_templates"].delete_where("set_id = ? and stage = 'adapt'",
                                               [project.row["prompt_set_id"]])
    added = longform.template(project, "adapt")
    assert added["set_id"] == project.row["prompt_set_id"] and not added["copied_from"]
    assert len(studio.prompt_sets()) == 2


def test_any_version_can_be_restored(studio):
    set_id = studio.prompts.create_set("mine", "en", copy_from="default-en")
    first = studio.prompts.template(set_id, "rewrite")
    studio.prompts.edit(set_id, "rewrite", "Tell {{ topic }}.", system="Be brief.")
    studio.prompts.edit(set_id, "rewrite", "Tell {{ topic }} in {{ style }}.")
    restored = studio.prompts.restore("mine", "rewrite", 1)
    assert restored["version"] == 4 and restored["note"] == "restored v1"
    assert (restored["body"], restored["system"]) == (first["body"], first["system"])
    assert studio.prompts.restore(set_id, "rewrite", 2)["system"] == "Be brief."
    assert [v["version"] for v in studio.prompts.versions(set_id, "rewrite")] == [1, 2, 3, 4, 5]
    with pytest.raises(InvalidInput, match="already the current"):
        studio.prompts.restore(set_id, "rewrite", 5)
    with pytest.raises(NotFound, match="no rewrite template version 9; its versions are: v1, v2"):
        studio.prompts.restore(set_id, "rewrite", 9)
    with pytest.raises(InvalidInput, match="a version is a number"):
        studio.prompts.restore(set_id, "rewrite", "1")


# ------------------------------------------------------------------------------ the panel
def _panel_errors(panel):
    return "class='err'" in panel.message.value


def _field(panel, name):
    return next(f.widget for f in panel.fields if f.name == name)


def test_prompts_panel_renders_the_editors_text_with_a_field_per_variable(studio):
    pytest.importorskip("ipywidgets")
    from storynb.prompts import STAGE_VARIABLES
    from storynb.widgets.prompts import PromptsPanel

    panel = PromptsPanel(studio)
    panel.new_name.value = "mine"
    panel.copy_from.value = studio.prompts.get_set("default-en")["id"]
    panel.create_b.click()
    assert studio.prompts.get_set("mine") and not _panel_errors(panel)
    for stage in STAGE_VARIABLES:  # every stage: one form field per variable it gives
        panel.stage.value = stage
        assert [f.name for f in panel.fields] == list(STAGE_VARIABLES[stage])
        panel.render_b.click()
        assert not _panel_errors(panel), (stage, panel.message.value)
    panel.stage.value = "storyboard"
    assert _field(panel, "shots").value == 6  # a number field
    panel.stage.value = "rewrite"
    original = panel.body_t.value
    # a variable the stage does not give is refused at save time (it would fail every run)
    panel.body_t.value = original + "\nMention {{ colour }} once."
    panel.save_b.click()
    assert _panel_errors(panel) and "colour" in panel.message.value
    assert [v["version"] for v in studio.prompts.versions("mine", "rewrite")] == [1]
    # test render uses the editor's text, not the saved version, with the form's values
    panel.body_t.value = "A {{ style }} story of {{ topic }} for {{ audience or 'everyone' }}."
    _field(panel, "style").value = "stormy"
    _field(panel, "topic").value = "two lighthouses"
    panel.render_b.click()
    assert "A stormy story of two lighthouses for everyone." in panel.rendered.value
    assert "unsaved changes included" in panel.message.value
    panel.body_t.value = "Mention {{ colour }}."
    panel.render_b.click()
    assert _panel_errors(panel) and "colour" in panel.message.value
    panel.stage.value = "camera"  # a list of records is one field, as JSON
    _field(panel, "shots").value = "[{not json"
    panel.render_b.click()
    assert _panel_errors(panel) and "shots is not valid JSON" in panel.message.value
    panel.stage.value = "rewrite"
    panel.body_t.value = original + "\nWrite it for {{ audience or 'everyone' }}."
    panel.save_b.click()
    assert [v["version"] for v in studio.prompts.versions("mine", "rewrite")] == [1, 2]
    # any version can be restored (as a new version)
    assert panel.restore_b.disabled  # the current version is shown
    panel.version.value = 1
    assert not panel.restore_b.disabled
    panel.restore_b.click()
    assert not _panel_errors(panel), panel.message.value
    assert "Restored v1" in panel.message.value
    assert studio.prompts.template("mine", "rewrite")["body"] == original
    assert [v["version"] for v in studio.prompts.versions("mine", "rewrite")] == [1, 2, 3]
    panel.body_t.value = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    panel.save_b.click()
    assert _panel_errors(panel)


def test_a_built_in_prompt_set_is_edited_as_a_copy_in_the_panel(studio, make_project):
    pytest.importorskip("ipywidgets")
    from storynb.widgets.prompts import PromptsPanel

    panel = PromptsPanel(studio)
    builtin = studio.prompts.get_set("default-en")
    panel.sets.value = builtin["id"]
    assert "stays as shipped" in panel.builtin_hint.value and panel.delete_b.disabled
    panel.stage.value = "rewrite"
    before = studio.prompts.template("default-en", "rewrite")
    panel.body_t.value = before["body"] + "\nEnd on a hopeful note."
    panel.save_b.click()
    assert not _panel_errors(panel) and "my copy" in panel.message.value, panel.message.value
    assert studio.prompts.template("default-en", "rewrite") == before  # shipped set unchanged
    copy = studio.prompts.get_set("default-en (my copy)")
    assert panel.sets.value == copy["id"] and not copy["builtin"]
    assert panel.body_t.value.endswith("hopeful note.") and not panel.builtin_hint.value
    assert studio.prompts.template(copy["id"], "rewrite")["body"].endswith("hopeful note.")
    assert make_project().row["prompt_set_id"] == builtin["id"]  # new projects still get the default


def test_the_prompts_panel_speaks_chinese(studio):
    pytest.importorskip("ipywidgets")
    from storynb.widgets import i18n
    from storynb.widgets.prompts import PromptsPanel

    i18n.set_language("zh-CN")
    try:
        panel = PromptsPanel(studio)
        panel.sets.value = studio.prompts.get_set("default-zh")["id"]
        assert panel.save_b.description == "另存为新版本" and panel.render_b.description == "试渲染"
        assert dict(panel.stage.options)["故事"] == "rewrite"
        panel.body_t.value = "讲一个关于{{ topic }}的故事。"
        panel.save_b.click()
        assert "内置集 default-zh 保持出厂内容" in panel.message.value, panel.message.value
        assert panel.sets.value == studio.prompts.get_set("default-zh（我的副本）")["id"]
    finally:
        i18n.set_language("en")
