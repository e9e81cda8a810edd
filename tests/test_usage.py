"""Usage and cost aggregates, and provider management from Python and the CLI."""
import io
import json

import pytest

from fakes import OpenAIFake
from fakes.helpers import make_studio
from storynb import InvalidInput, NotFound
from storynb.cli import main

SMALL = {"size": (144, 256), "fps": 12, "shots": 4, "seed": 5}


@pytest.fixture
def studio(tmp_path, monkeypatch):
    return make_studio(tmp_path, monkeypatch)


def cli(studio, *args, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["--studio", str(studio.path), *args])


def test_usage_per_provider_project_and_day(studio):
    first = studio.create_project("A fox who wants to see the sea", **SMALL)
    second = studio.create_project("A clockmaker in an old town", **SMALL)
    first.run(["rewrite", "storyboard"])
    second.run(["rewrite"])
    studio.db["calls"].insert({"provider": "draft-writer", "kind": "llm", "project_id": second.id,
                               "stage": "rewrite", "status": "failed", "error": "x", "cost": 0,
                               "tokens_in": 0, "tokens_out": 0, "latency_ms": 5,
                               "created": "2026-01-02T10:00:00.000+00:00"})
    by_provider = studio.usage()
    row = by_provider[by_provider.provider == "draft-writer"].iloc[0]
    assert (row.calls, row.ok, row.failed) == (4, 3, 1)
    by_project = studio.usage("project")
    assert list(by_project.project_id) == [first.id, second.id]
    assert list(by_project.calls) == [2, 2] and by_project.project.iloc[0].startswith("A fox")
    by_day = studio.usage("day")
    assert by_day.day.iloc[0] == "2026-01-02" and len(by_day) == 2
    assert list(studio.usage(["project", "stage"], project=first.id).stage) == ["rewrite", "storyboard"]
    with pytest.raises(InvalidInput, match="grouped by"):
        studio.usage("weekday")


def test_provider_management_validation(studio):
    with pytest.raises(InvalidInput, match="adapter type 'runway' is for image2video"):
        studio.providers.add("x", "llm", "runway")
    with pytest.raises(InvalidInput, match="unknown adapter type"):
        studio.providers.add("x", "llm", "claude_magic")
    with pytest.raises(InvalidInput, match="must start with http"):
        studio.providers.add("x", "llm", "openai_chat", url="ftp://host")
    with pytest.raises(InvalidInput, match="price"):
        studio.providers.add("x", "llm", "openai_chat", price={"per_call": -1})
    with pytest.raises(InvalidInput, match="rpm"):
        studio.providers.add("x", "llm", "openai_chat", rpm=0)
    with pytest.raises(InvalidInput, match="name"):
        studio.providers.add("a|b", "llm", "openai_chat")
    studio.providers.add("x", "llm", "openai_chat", params={"temperature": 0.2})
    with pytest.raises(InvalidInput, match="already"):
        studio.providers.add("x", "llm", "openai_chat")
    with pytest.raises(InvalidInput, match="built in"):
        studio.providers.edit("draft-writer", url="http://elsewhere")
    studio.providers.edit("draft-writer", rpm=30)  # limits of built-ins can change
    with pytest.raises(InvalidInput, match="built in"):
        studio.providers.delete("local-painter")
    project = studio.create_project("A fox", **SMALL, providers={"llm": ["x", "draft-writer"]})
    with pytest.raises(InvalidInput, match=f"routes of project\\(s\\) \\[{project.id}\\]"):
        studio.providers.delete("x")
    studio.providers.deactivate("x")
    assert [m.active for m in project.provider("llm").members] == [False, True]
    studio.providers.delete("x", force=True)
    with pytest.raises(NotFound):
        studio.providers.get("x")


def test_cli_providers_route_usage_and_estimate(studio, capsys, monkeypatch):
    with OpenAIFake(key="sk-cli-abcdefghijklmnop") as server:
        assert cli(studio, "providers", "add", "gpt", "--kind", "llm", "--type", "openai_chat",
                   "--url", server.url + "/v1", "--model", "fake-model", "--key-stdin",
                   "--param", "temperature=0.4", "--price", "per_1k_tokens=0.5", "--rpm", "120",
                   stdin="sk-cli-abcdefghijklmnop\n", monkeypatch=monkeypatch) == 0
        assert cli(studio, "providers", "test", "gpt") == 0
        monkeypatch.setenv("OTHER_KEY", "sk-other-0000000000000000")
        assert cli(studio, "providers", "edit", "gpt", "--key-env", "OTHER_KEY", "--param", "top_p=0.9") == 0
        assert cli(studio, "providers", "test", "gpt") == 1  # the fake refuses that key
        assert cli(studio, "providers", "edit", "gpt", "--key-stdin", stdin="sk-cli-abcdefghijklmnop",
                   monkeypatch=monkeypatch) == 0
        got = studio.providers.get("gpt")
        assert got["params"] == {"temperature": 0.4, "top_p": 0.9} and got["rpm"] == 120

        project = studio.create_project("A lighthouse keeper befriends a whale", **SMALL)
        assert cli(studio, "providers", "route", str(project.id), "llm", "gpt", "draft-writer",
                   "--strategy", "weighted") == 0
        assert project.route_setting("llm") == {"providers": ["gpt", "draft-writer"], "strategy": "weighted"}
        capsys.readouterr()
        assert cli(studio, "estimate", str(project.id)) == 0
        out = capsys.readouterr().out
        assert "gpt, draft-writer [weighted]" in out and "total:" in out
        assert cli(studio, "providers", "route", str(project.id), "llm", "gpt") == 0
        server.replies.append("A story about a keeper and a whale.")
        project.run(["rewrite"])
        capsys.readouterr()
        assert cli(studio, "usage", "--by", "provider") == 0
        out = capsys.readouterr().out
        assert "gpt" in out and "sk-cli" not in out
        assert cli(studio, "usage", "--by", "day", "--project", str(project.id)) == 0
        assert cli(studio, "providers", "deactivate", "gpt") == 0
        assert cli(studio, "providers") == 0
        assert "sk-cli" not in capsys.readouterr().out
        assert cli(studio, "providers", "delete", "gpt") == 2  # a project routes to it
        assert cli(studio, "providers", "delete", "gpt", "--force") == 0
        assert json.loads(project.row["providers"])["llm"] == "gpt"
