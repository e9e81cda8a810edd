"""Provider adapter types are plugins: entry points in the group `storynb.providers`.

A third-party package is simulated by a real (tiny) installed distribution: a module and a
`.dist-info` folder with METADATA and entry_points.txt on sys.path, exactly what pip leaves behind.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storynb import Studio
from storynb.errors import InvalidInput, NotFound
from storynb.providers import plugins

ADAPTER = '''
from storynb.providers.base import LLMResult


class EchoWriter:
    """A third-party LLM adapter: it tells the story back in capitals."""

    kind = "llm"
    type = "echo_writer"
    default_concurrency = 3

    def __init__(self, config):
        self.config = config
        self.name = config.name
        self.model = config.model or "echo-1"

    async def check(self):
        return {"echo": True, "model": self.model}

    async def complete(self, request):
        topic = str(request.variables.get("topic") or request.prompt)
        text = f"ONCE THERE WAS {topic.upper()}. THE END."
        return LLMResult(text=text, tokens_in=len(request.prompt) // 4, tokens_out=8, model=self.model)
'''


def install_plugin(root: Path, package: str, entry_points: str, module_text: str = ADAPTER) -> None:
    """What `pip install <package>` leaves in site-packages: the module and its .dist-info."""
    module = package.replace("-", "_")
    (root / f"{module}.py").write_text(module_text)
    info = root / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[storynb.providers]\n{entry_points}\n")
    (info / "RECORD").write_text("")


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    yield root
    for name in [m for m in sys.modules if m.startswith("storynb_")]:
        del sys.modules[name]
    monkeypatch.undo()
    plugins.refresh()  # forget the plugin for the tests that follow


def test_builtin_adapters_are_registered_as_entry_points():
    found = plugins.refresh()
    assert {"openai_chat", "openai_images", "sdwebui", "comfyui", "runway", "kling", "dashscope_wan",
            "openai_tts"} <= set(found.adapters)
    assert {found.origin[t] for t in ("openai_chat", "kling")} == {"storynb"}
    assert found.broken == {}


def test_a_third_party_adapter_is_usable_through_studio_providers(tmp_path, plugin_dir):
    install_plugin(plugin_dir, "storynb-echo", "echo_writer = storynb_echo:EchoWriter")
    studio = Studio(tmp_path / "studio.db")
    assert "echo_writer" not in studio.providers.types()  # found only when looked for again
    plugins.refresh()
    assert studio.providers.types("llm")["echo_writer"] == "llm"
    assert plugins.discover().origin["echo_writer"] == "storynb-echo"

    added = studio.providers.add("echo", "llm", "echo_writer", model="echo-2")
    assert (added["type"], added["kind"], added["concurrency"]) == ("echo_writer", "llm", 3)
    assert studio.providers.test("echo")["ok"] is True
    assert studio.providers.test("echo")["detail"] == {"echo": True, "model": "echo-2"}

    project = studio.create_project("a lighthouse keeper and a whale", providers={"llm": "echo"},
                                    size=(144, 256), fps=12, shots=4)
    project.run(["rewrite"])
    assert project.story() == "ONCE THERE WAS A LIGHTHOUSE KEEPER AND A WHALE. THE END."
    called = studio.calls(project.id)
    assert list(called["provider"]) == ["echo"] and list(called["status"]) == ["ok"]


def test_cli_lists_and_adds_a_plugin_type(tmp_path, plugin_dir):
    install_plugin(plugin_dir, "storynb-echo", "echo_writer = storynb_echo:EchoWriter")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_dir), os.environ.get("PYTHONPATH", "")])}
    cli = [sys.executable, "-m", "storynb.cli", "--studio", str(tmp_path / "s.db"), "providers"]
    listed = subprocess.run(cli + ["types"], capture_output=True, text=True, env=env, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert any(line.startswith("llm:") and "echo_writer" in line for line in listed.stdout.splitlines())
    added = subprocess.run(cli + ["add", "echo", "--kind", "llm", "--type", "echo_writer"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert added.returncode == 0, added.stderr
    shown = subprocess.run(cli + ["test", "echo"], capture_output=True, text=True, env=env, timeout=120)
    assert shown.returncode == 0 and "echo" in shown.stdout, shown.stdout + shown.stderr


def test_a_broken_plugin_is_reported_and_does_not_hide_the_others(tmp_path, plugin_dir):
    install_plugin(plugin_dir, "storynb-broken", "broken_writer = storynb_broken:Writer",
                   "raise ImportError('needs libfoo 2')\n")
    install_plugin(plugin_dir, "storynb-notanadapter", "odd_writer = storynb_notanadapter:Thing",
                   "class Thing:\n    kind = 'llm'\n")
    found = plugins.refresh()
    assert "openai_chat" in found.adapters and "broken_writer" not in found.adapters
    assert "needs libfoo 2" in found.broken["broken_writer"]
    assert "without a complete() method" in found.broken["odd_writer"]
    studio = Studio(tmp_path / "studio.db")
    with pytest.raises(InvalidInput, match="needs libfoo 2"):
        studio.providers.add("b", "llm", "broken_writer")
    with pytest.raises(InvalidInput, match="unknown adapter type 'nothing'"):
        studio.providers.add("n", "llm", "nothing")


def test_a_plugin_cannot_take_over_a_builtin_type(tmp_path, plugin_dir):
    install_plugin(plugin_dir, "storynb-takeover", "openai_chat = storynb_takeover:EchoWriter")
    found = plugins.refresh()
    assert found.adapters["openai_chat"].__module__ == "storynb.providers.openai_compat"
    assert any("storynb-takeover" in message for message in found.broken.values())


def test_a_row_whose_plugin_was_uninstalled_says_so(tmp_path, plugin_dir):
    install_plugin(plugin_dir, "storynb-echo", "echo_writer = storynb_echo:EchoWriter")
    plugins.refresh()
    studio = Studio(tmp_path / "studio.db")
    studio.providers.add("echo", "llm", "echo_writer")
    (plugin_dir / "storynb_echo-1.0.dist-info" / "entry_points.txt").unlink()
    plugins.refresh()
    studio._adapters.clear()
    with pytest.raises(NotFound, match="no installed package registers adapter type 'echo_writer'"):
        studio.provider("llm", "echo")
