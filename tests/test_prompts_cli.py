"""`storynb prompts …`: the Prompts panel's work from the command line: list the sets, edit a
template (a built-in set's edit goes into its copy), list versions, restore one, show and render."""
import subprocess
import sys

import pytest

from storynb import Studio
from storynb.cli import main


@pytest.fixture
def studio_path(tmp_path):
    Studio(tmp_path / "studio.db")
    return str(tmp_path / "studio.db")


def cli(studio_path, *args, stdin=None):
    done = subprocess.run([sys.executable, "-m", "storynb.cli", "--studio", studio_path, *args],
                          capture_output=True, text=True, input=stdin, timeout=120)
    return done.returncode, done.stdout, done.stderr


def test_edit_versions_restore_show_and_render(studio_path, tmp_path, capsys):
    assert main(["--studio", studio_path, "prompts"]) == 0
    listed = capsys.readouterr().out
    assert "default-en  [en, default, built-in]" in listed and "rewrite" in listed

    new = tmp_path / "rewrite.j2"
    new.write_text("Tell a {{ style }} story about {{ topic }} in {{ language }}.", encoding="utf-8")
    assert main(["--studio", studio_path, "prompts", "edit", "default-en", "rewrite", "--file", str(new),
                 "--note", "one line"]) == 0
    out = capsys.readouterr().out
    assert "default-en (my copy)" in out and "v2 is current" in out  # the built-in set stays as shipped

    assert main(["--studio", studio_path, "prompts", "versions", "default-en (my copy)", "rewrite"]) == 0
    out = capsys.readouterr().out
    assert "v1 " in out and "v2 (current)" in out and "one line" in out

    assert main(["--studio", studio_path, "prompts", "render", "default-en (my copy)", "rewrite",
                 "--var", "topic=A robot learns to paint"]) == 0
    assert capsys.readouterr().out.strip() == "Tell a warm story about A robot learns to paint in en."

    assert main(["--studio", studio_path, "prompts", "restore", "default-en (my copy)", "rewrite", "1"]) == 0
    assert "v1 restored as v3" in capsys.readouterr().out
    studio = Studio(studio_path)
    shipped = studio.prompts.template("default-en", "rewrite")
    assert studio.prompts.template("default-en (my copy)", "rewrite")["body"] == shipped["body"]
    assert shipped["version"] == 1  # the built-in set was never changed

    assert main(["--studio", studio_path, "prompts", "show", "default-en (my copy)", "rewrite",
                 "--version", "2"]) == 0
    assert "{{ topic }}" in capsys.readouterr().out


def test_bad_input_says_what_to_do(studio_path, tmp_path):
    bad = tmp_path / "bad.j2"
    bad.write_text("About {{ topik }}", encoding="utf-8")
    code, _out, err = cli(studio_path, "prompts", "edit", "default-en", "rewrite", "--file", str(bad))
    assert code == 2 and "topik" in err
    code, _out, err = cli(studio_path, "prompts", "restore", "default-en", "rewrite", "1")
    assert code == 2 and "already the current" in err
    code, _out, err = cli(studio_path, "prompts", "render", "default-en", "rewrite", "--var", "colour=red")
    assert code == 2 and "gives no variable 'colour'" in err
    code, _out, err = cli(studio_path, "prompts", "edit", "default-en", "rewrite", "--file", str(tmp_path / "none"))
    assert code == 2 and "cannot read the template file" in err
    code, out, _err = cli(studio_path, "prompts", "edit", "default-zh", "rewrite", "--file", "-",
                          stdin="用{{ language }}讲一个关于{{ topic }}的故事。")
    assert code == 0 and "default-zh（我的副本）" in out
