"""Docs that cannot drift: the CLI reference is what the parser says, and every command and
every public method of Studio and Project is documented (as sqlite-utils checks its docs)."""
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from storynb import Project, Studio

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REGENERATE = "make docs   (or: python docs/cli_reference.py)"

spec = importlib.util.spec_from_file_location("cli_reference", DOCS / "cli_reference.py")
assert spec and spec.loader
cli_reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cli_reference)


def _written() -> str:
    """The hand-written docs: the README and docs/*.md except the generated reference."""
    texts = [(ROOT / "README.md").read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")) if p.name != "cli.md"]
    return "\n".join(texts)


def test_the_cli_reference_is_current():
    checked_in = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert checked_in == cli_reference.render(), f"docs/cli.md is out of date with the CLI; regenerate it: {REGENERATE}"


def test_the_generator_runs_from_a_checkout(tmp_path):
    out = tmp_path / "cli.md"
    subprocess.run([sys.executable, str(DOCS / "cli_reference.py"), str(out)], check=True, capture_output=True)
    assert out.read_text(encoding="utf-8") == (DOCS / "cli.md").read_text(encoding="utf-8")
    check = subprocess.run([sys.executable, str(DOCS / "cli_reference.py"), "--check", str(tmp_path / "none.md")],
                           capture_output=True, text=True)
    assert check.returncode == 1 and "make docs" in check.stdout


def test_the_reference_has_every_command_and_option():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for command in ["run", "providers add", "ab run", "batch", "import", "watch"]:
        assert f"\n## storynb {command}\n" in text, command
    for option in ["--studio", "--executor {inline,celery,worker}", "--key-stdin", "--max-gb GB"]:
        assert option in text, option


@pytest.mark.parametrize("command", cli_reference.commands())
def test_every_command_has_help_and_is_in_the_written_docs(command):
    """Each command says what it does in the parser, and the README or docs/ show it in use."""
    parent, _, name = command.rpartition(" ")
    p = cli_reference.parser()
    for word in parent.split():
        p = dict((n, s) for n, _, s in cli_reference._subcommands(p))[word]
    helps = {n: h for n, h, _ in cli_reference._subcommands(p)}
    assert helps[name].strip(), f"`storynb {command}` has no help text: add help= to its add_parser()"
    assert re.search(r"storynb " + re.escape(command) + r"\b", _written()), (
        f"`storynb {command}` is not shown in README.md or docs/*.md: add an example of it")


def _public(cls) -> list[str]:
    return sorted(n for n in vars(cls) if not n.startswith("_"))


@pytest.mark.parametrize("name", _public(Studio))
def test_every_studio_method_is_documented(name):
    assert re.search(r"\bstudio\." + re.escape(name) + r"\b", _written()), (
        f"Studio.{name} is public but not documented: add `studio.{name}(...)` to docs/python-api.md")


@pytest.mark.parametrize("name", _public(Project))
def test_every_project_method_is_documented(name):
    assert re.search(r"\b(project|Project)\." + re.escape(name) + r"\b", _written()), (
        f"Project.{name} is public but not documented: add `project.{name}(...)` to docs/python-api.md")
