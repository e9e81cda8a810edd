"""Provider settings are checked when they are given: finite positive weights, max_tokens ≥ 1,
priority ≥ 0, timeout > 0 (0 is an error, not 120), numeric params finite, and a ComfyUI
workflow in API format with a {{prompt}} placeholder (at add, edit and `providers test`)."""
import json
import math
import subprocess
import sys

import pytest

from fakes import ComfyUIFake
from fakes.helpers import make_studio
from storynb.errors import InvalidInput
from storynb.providers.images import DEFAULT_WORKFLOW


@pytest.fixture
def studio(tmp_path, monkeypatch):
    return make_studio(tmp_path, monkeypatch)


BAD_SETTINGS = [
    ({"weight": math.inf}, "weight must be a finite number above 0"),
    ({"weight": math.nan}, "weight must be a finite number above 0"),
    ({"weight": 0}, "weight must be a finite number above 0"),
    ({"weight": -2}, "weight must be a finite number above 0"),
    ({"priority": -1}, "priority must be a whole number ≥ 0"),
    ({"priority": 1.5}, "priority must be a whole number ≥ 0"),
    ({"timeout": 0}, "timeout must be a finite number above 0"),
    ({"timeout": -5}, "timeout must be a finite number above 0"),
    ({"timeout": math.inf}, "timeout must be a finite number above 0"),
    ({"params": {"max_tokens": -100}}, "max_tokens must be a whole number ≥ 1"),
    ({"params": {"max_tokens": 0}}, "max_tokens must be a whole number ≥ 1"),
    ({"params": {"max_tokens": 10.5}}, "max_tokens must be a whole number ≥ 1"),
    ({"params": {"max_tokens": "lots"}}, "max_tokens must be a whole number ≥ 1"),
    ({"params": {"temperature": math.nan}}, "temperature must be a number ≥ 0"),
    ({"params": {"top_p": 1.5}}, "top_p must be a number from 0 to 1"),
    ({"params": {"seed_bias": math.inf}}, "plain JSON values"),
]


@pytest.mark.parametrize("settings, message", BAD_SETTINGS)
def test_loose_settings_are_refused_at_add_and_edit(studio, settings, message):
    with pytest.raises(InvalidInput, match=message):
        studio.providers.add("gpt", "llm", "openai_chat", model="m", **settings)
    assert studio.db["providers"].count_where("name = 'gpt'") == 0
    studio.providers.add("gpt", "llm", "openai_chat", model="m")
    with pytest.raises(InvalidInput, match=message):
        studio.providers.edit("gpt", **settings)
    stored = studio.providers.get("gpt")
    assert (stored["weight"], stored["priority"], stored["timeout"], stored["params"]) == (1.0, 0, 120.0, {})


def test_good_settings_are_kept(studio):
    row = studio.providers.add("gpt", "llm", "openai_chat", model="m", weight=0.25, priority=2,
                               timeout=30, params={"max_tokens": 1, "temperature": 0, "top_p": 1})
    assert (row["weight"], row["priority"], row["timeout"]) == (0.25, 2, 30.0)
    assert row["params"] == {"max_tokens": 1, "temperature": 0, "top_p": 1}
    assert studio.providers.add("other", "llm", "openai_chat", model="m")["timeout"] == 120.0


BAD_WORKFLOWS = [
    ([], "must be an API-format JSON object"),
    (123, "must be an API-format JSON object"),
    ({}, "must be an API-format JSON object"),
    ({"a": 1}, "node 'a' is not an API-format node"),
    ("{not json", "not valid JSON"),
    ({"nodes": [{"id": 6, "type": "CLIPTextEncode"}], "links": [], "version": 0.4}, "editor's format"),
    ({"6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat"}}}, "no {{prompt}} placeholder"),
]


@pytest.mark.parametrize("workflow, message", BAD_WORKFLOWS)
def test_comfyui_workflows_must_be_api_format_with_a_prompt(studio, workflow, message):
    with pytest.raises(InvalidInput, match=message):
        studio.providers.add("comfy", "text2image", "comfyui", url="http://127.0.0.1:8188",
                             params={"workflow": workflow})
    studio.providers.add("comfy", "text2image", "comfyui", url="http://127.0.0.1:8188")
    with pytest.raises(InvalidInput, match=message):
        studio.providers.edit("comfy", params={"workflow": workflow})


def test_good_workflows_are_accepted(studio):
    studio.providers.add("a", "text2image", "comfyui", params={"workflow": DEFAULT_WORKFLOW})
    studio.providers.add("b", "text2image", "comfyui", params={"workflow": json.dumps(
        {"6": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{ prompt }}, oil painting"}}})})


def test_providers_test_checks_a_stored_workflow(studio, tmp_path):
    with ComfyUIFake() as server:
        studio.providers.add("comfy", "text2image", "comfyui", url=server.url)
        assert studio.providers.test("comfy")["ok"]
        # a row written before these checks existed (or by hand): `providers test` says what is wrong
        studio.db["providers"].update(studio.providers._row("comfy")["id"],
                                      {"params": json.dumps({"workflow": {"a": 1}})})
        studio._adapters.clear()
        result = studio.providers.test("comfy")
        assert not result["ok"] and "API-format" in result["error"]
        done = subprocess.run([sys.executable, "-m", "storynb.cli", "--studio", str(studio.path),
                               "providers", "test", "comfy"], capture_output=True, text=True,
                              timeout=120, env={"STORYNB_KEY_FILE": str(tmp_path / "keys" / "secret.key"),
                                                "PATH": "/usr/bin:/bin"})
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "API-format" in done.stderr


CLI_CASES = [
    (["--weight", "inf"], "weight must be a finite number above 0"),
    (["--weight", "nan"], "weight must be a finite number above 0"),
    (["--priority", "-1"], "priority must be a whole number"),
    (["--timeout", "0"], "timeout must be a finite number above 0"),
    (["--param", "max_tokens=-5"], "max_tokens must be a whole number"),
    (["--param", "workflow=[]"], "API-format"),
]


def add_args(args):
    kind_type = ["--kind", "text2image", "--type", "comfyui"] if "workflow=[]" in args else \
        ["--kind", "llm", "--type", "openai_chat"]
    return ["providers", "add", "p", *kind_type, *args]


def test_the_cli_says_what_is_wrong_in_one_line(tmp_path, monkeypatch, capsys):
    from storynb.cli import main

    monkeypatch.setenv("STORYNB_KEY_FILE", str(tmp_path / "k"))
    for args, message in CLI_CASES:  # in-process, then one of them as a user runs it
        assert main(["--studio", str(tmp_path / "s.db"), *add_args(args)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (args, err)
    done = subprocess.run([sys.executable, "-m", "storynb.cli", "--studio", str(tmp_path / "s.db"),
                           *add_args(["--weight", "inf"])], capture_output=True, text=True,
                          timeout=120, env={"STORYNB_KEY_FILE": str(tmp_path / "k"), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "weight must be a finite" in done.stderr
