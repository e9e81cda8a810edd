"""Prompt experiments against a fake model on 127.0.0.1 whose answers depend on the prompt
(tests/fakes/prompt_model.py): 2 versions × 3 topics × 3 samples, assertions, statistics, blind
pairwise judging with swapped positions, reruns on a changed temperature, the critic loop, the
regression gate, the honest offline mode and the CLI."""
import json
import os
import subprocess
import sys
import warnings

import pytest

from storynb import InvalidInput, NotFound
from storynb.experiments import ABTests, ExperimentWarning, mean_ci, sign_test
from tests.fakes.helpers import make_studio
from tests.fakes.prompt_model import PromptModelFake

TOPICS = ["A lighthouse keeper befriends a lost whale", "A robot learns to paint",
          "Two bakers share one oven"]
RUBRIC = {"type": "llm-rubric", "value": "the story has a 'twist'", "judge": "judge"}


@pytest.fixture
def lab(tmp_path, monkeypatch):
    with PromptModelFake() as server, PromptModelFake(position_bias=True) as biased:
        studio = make_studio(tmp_path, monkeypatch)
        studio.providers.add("writer", "llm", "openai_chat", url=server.url + "/v1",
                             model="fake-writer", params={"temperature": 0.7},
                             price={"per_1k_tokens": 0.002})
        studio.providers.add("judge", "llm", "openai_chat", url=server.url + "/v1",
                             model="fake-judge", price={"per_1k_tokens": 0.001})
        studio.providers.add("biased", "llm", "openai_chat", url=biased.url + "/v1",
                             model="fake-biased")
        studio.prompts.create_set("lab", "en", copy_from="default-en")
        v1 = studio.prompts.template("lab", "rewrite", 1)
        studio.prompts.edit("lab", "rewrite", v1["body"] + "\nEnd with a twist.", note="twist")
        ab = ABTests(studio)
        ab.cases.save("twists", [
            {"topic": TOPICS[0], "traits": "the whale stays in the story",
             "assert": [{"type": "contains", "value": "whale"}]},
            {"topic": TOPICS[1]}, {"topic": TOPICS[2]}])
        ab.server, ab.biased = server, biased
        yield ab


def run_twist(ab, **kw):
    return ab.run("twist", "rewrite", [("lab", 1), ("lab", 2)], cases="twists", provider="writer",
                  samples=3, assertions=[RUBRIC, {"type": "regex", "value": "^Then came the twist"},
                                         {"type": "max-latency", "value": 30000}], **kw)


def test_two_versions_three_topics_three_samples_show_the_difference(lab):
    ab = lab
    frame = run_twist(ab)
    assert len(frame) == 18 and set(frame["status"]) == {"ok"}
    samples = frame.groupby(["case_id", "arm"])["sample"].apply(lambda s: tuple(sorted(s)))
    assert len(samples) == 6 and set(samples) == {(0, 1, 2)}
    # the arm order is shuffled per topic and sample: each arm ran first somewhere, second elsewhere
    assert frame.groupby("arm")["position"].nunique().eq(2).all()
    firsts = frame[frame["position"] == 0].groupby("arm").size()  # counterbalanced over 9 groups
    assert sorted(firsts) == [4, 5]
    # seeds and temperature reached the model; samples of one cell differ (seeded openers)
    bodies = [r.json for r in ab.server.hits("chat") if "story" in json.dumps(r.json)
              and "Output 1" not in json.dumps(r.json) and "Instruction:" not in json.dumps(r.json)]
    assert {b["seed"] for b in bodies} == {1, 2, 3} and {b["temperature"] for b in bodies} == {0.7}
    cell = frame[(frame["arm"] == "lab v1") & (frame["topic"] == TOPICS[1])]
    assert cell["output"].nunique() >= 2
    # the rendered prompt is kept beside each output, and differs by the one added line
    diff = ab.prompt_diff("twist", "lab v1", "lab v2")
    assert "+End with a twist." in diff and diff.count("\n+") == 2  # the header and the one line

    matrix = ab.matrix("twist")
    assert list(matrix.columns) == ["lab v1", "lab v2"] and len(matrix) == 3
    assert matrix["lab v2"].str.startswith("✓ 3/3").all()
    assert matrix["lab v1"].str.startswith("✗ 0/3").all()
    assert matrix["lab v1"].str.contains("llm-rubric").all() and matrix["lab v1"].str.contains("regex").all()
    checks = [json.loads(c) for c in frame[frame["arm"] == "lab v2"]["checks"]]
    assert all(c["pass"] for run in checks for c in run)
    whale = frame[frame["topic"] == TOPICS[0]]  # the case's own assertion passes for both arms
    assert all(c["pass"] for cs in whale["checks"] for c in json.loads(cs) if c["type"] == "contains")

    report = ab.report("twist")
    stats = report.stats.set_index("arm")
    assert stats.loc["lab v2", "pass_rate"] == 1.0 and stats.loc["lab v1", "pass_rate"] < 0.7
    assert stats.loc["lab v1", "checked"] == 9 and stats.loc["lab v1", "rated"] == 0
    test = report.paired[0]
    assert (test.candidate, test.wins, test.losses, test.ties, test.win_rate) == ("lab v2", 3, 0, 0, 1.0)
    assert test.p == pytest.approx(0.25)
    assert "lab v2 beats lab v1 on 3 of 3 topics" in test.sentence() and "p = 0.25" in test.sentence()
    assert "can never reach p < 0.05" in test.sentence()


def test_blind_pairwise_judging_does_not_flip_with_the_position(lab):
    ab = lab
    run_twist(ab)
    pairs = ab.pairwise("twist", judge="judge")
    assert len(pairs) == 9 and (pairs["first"] == pairs["second"]).all()  # both orders agree
    assert set(pairs["winner"]) == {"lab v2"} and pairs["consistent"].all()
    asked = [r.json for r in ab.server.hits("chat") if "Output 1:" in json.dumps(r.json)]
    assert len(asked) == 18 and all(b["temperature"] == 0 for b in asked)
    # a judge that always prefers whatever comes first: its verdicts flip, so they count as ties
    ab.pairwise("twist", judge="biased")
    both = ab.judgments("twist", kind="pair")
    biased = both[both["judge"] == "biased"]
    assert len(biased) == 9 and set(biased["winner"]) == {"tie"} and not biased["consistent"].any()
    assert biased["reason"].str.contains("flipped with the position").all()
    report = ab.report("twist")
    table = report.pairwise.set_index("judge")
    assert table.loc["LLM judge: judge (fake-judge)", "wins"] == 9
    assert table.loc["LLM judge: biased (fake-biased)", "position flips"] == 9
    assert table.loc["LLM judge: biased (fake-biased)", "win rate"] == 0.5
    assert table.loc["LLM judge: judge (fake-judge)", "cost"] > 0 and report.costs["judges"] > 0
    assert any("blind pairwise: lab v2 beats lab v1 on 3 of 3 topics" in s for s in report.sentences())
    # judges side by side, with history: a new round adds rows, the newest round is what counts
    ab.pairwise("twist", judge="judge", redo=True)
    assert len(ab.judgments("twist", kind="pair")) == 18
    assert len(ab.judgments("twist", kind="pair", history=True)) == 27
    # one output at a time, two judges side by side
    ab.judge("twist")
    ab.judge("twist", provider="judge")
    scores = ab.report("twist").scores.set_index("judge")
    assert list(scores.index) == ["heuristic checker (offline rules, not an AI)", "LLM judge: judge (fake-judge)"]
    assert scores.loc["LLM judge: judge (fake-judge)", "lab v2"].startswith("7 ")  # 5 + 2 for the twist
    assert scores.loc["LLM judge: judge (fake-judge)", "lab v1"].startswith("5 ")
    with pytest.raises(InvalidInput, match="grade its own work"):
        ab.pairwise("twist", judge="writer")
    with pytest.raises(InvalidInput, match="cannot judge"):
        ab.pairwise("twist", judge="draft-writer")


def test_changing_the_providers_temperature_runs_again_instead_of_skipping(lab):
    ab = lab
    ab.run("temp", "rewrite", [("lab", 1), ("lab", 2)], topics=TOPICS, provider="writer")
    calls = ab.db["calls"].count_where("stage = 'ab:rewrite'")
    assert calls == 6
    ab.run("temp", "rewrite", [("lab", 1), ("lab", 2)], topics=TOPICS, provider="writer")
    assert ab.db["calls"].count_where("stage = 'ab:rewrite'") == 6  # unchanged: skipped
    ab.studio.providers.edit("writer", params={"temperature": 0.0})
    frame = ab.run("temp", "rewrite", [("lab", 1), ("lab", 2)], topics=TOPICS, provider="writer")
    assert ab.db["calls"].count_where("stage = 'ab:rewrite'") == 12
    assert len(frame) == 6 and {json.loads(p)["temperature"] for p in frame["params"]} == {0.0}
    assert len(ab.results("temp", config="all")) == 12  # the earlier runs stay, as history
    ab.run("temp", "rewrite", [("lab", 1), ("lab", 2)], topics=TOPICS, provider="writer", seed=5)
    assert ab.db["calls"].count_where("stage = 'ab:rewrite'") == 18  # a new seed runs again too
    with pytest.raises(InvalidInput, match="named judge"):
        ab.run("temp", "rewrite", [("lab", 1)], topics=TOPICS, provider="writer",
               assertions=[{"type": "llm-rubric", "value": "has a 'twist'"}])
    # pinned: the same experiment cannot switch stage or provider
    with pytest.raises(InvalidInput, match="pinned"):
        ab.run("temp", "rewrite", [("lab", 1)], topics=TOPICS, provider="judge")
    with pytest.raises(InvalidInput, match="pinned"):
        ab.run("temp", "storyboard", [("lab", 1)], inputs=[{"story": "A short story."}], provider="writer")


def test_the_critic_proposes_a_version_that_joins_the_next_run_and_regress_guards(lab):
    ab = lab
    ab.run("plain", "rewrite", [("lab", 1)], cases="twists", provider="writer",
           assertions=[RUBRIC])
    latest_before = ab.studio.prompts.template("lab", "rewrite")["version"]
    suggestion = ab.suggest("plain", critic="judge")
    assert suggestion["critic"] == "LLM critic: judge (fake-judge)"
    assert suggestion["status"] == "queued" and "(suggested)" in suggestion["label"]
    assert "+End with a twist." in suggestion["diff"]
    new = ab.db["prompt_templates"].get(suggestion["template_id"])
    assert new["note"].startswith("suggested by LLM critic") and new["body"].endswith("End with a twist.")
    assert ab.studio.prompts.template("lab", "rewrite")["version"] == latest_before  # projects unaffected
    frame = ab.run("plain", "rewrite", [("lab", 1)], cases="twists", provider="writer",
                   assertions=[RUBRIC])
    assert set(frame["arm"]) == {"lab v1", suggestion["label"]}
    assert ab.suggestions("plain")["status"].tolist() == ["tested"]
    good = ab.regress("plain", baseline="lab v1", candidate=suggestion["label"])
    assert good.passed and good.candidate_mean == 1.0 and good.baseline_mean == pytest.approx(1 / 6)
    bad = ab.regress("plain", baseline=suggestion["label"], candidate="lab v1")
    assert not bad.passed and bad.message.startswith("FAIL")
    adopted = ab.adopt(suggestion["id"])  # the same text as lab v2 here: no duplicate version
    assert adopted["body"] == new["body"] and adopted["version"] == latest_before
    assert ab.suggestions("plain")["status"].tolist() == ["adopted"]


def test_offline_a_wording_only_experiment_says_it_cannot_show_a_difference(studio):
    ab = ABTests(studio)
    studio.prompts.create_set("off", "en", copy_from="default-en")
    v1 = studio.prompts.template("off", "rewrite", 1)
    studio.prompts.edit("off", "rewrite", v1["body"] + "\nEnd with a twist.")
    with pytest.warns(ExperimentWarning, match="wording-only experiment.*cannot show"):
        frame = ab.run("offline", "rewrite", [("off", 1), ("off", 2)], topics=TOPICS[:2],
                       assertions=[{"type": "contains", "value": "twist"},
                                   {"type": "max-latency", "value": 60000}])
    for checks in frame["checks"]:
        by_type = {c["type"]: c for c in json.loads(checks)}
        assert by_type["contains"]["pass"] is None and "skipped" in by_type["contains"]["reason"]
        assert by_type["max-latency"]["pass"] is True
    assert (frame.groupby("topic")["output"].nunique() == 1).all()  # indeed no difference
    text = " ".join(ab.report("offline").text().split())
    assert "WARNING: a wording-only experiment" in text and "structural assertions" in text
    notes = ab.judge("offline")["judge_notes"]
    assert notes.str.startswith("(offline: the draft writer ignores wording").all()


def test_a_topic_in_another_language_than_the_set_is_warned_about(studio):
    ab = ABTests(studio)
    with pytest.warns(ExperimentWarning, match="en prompt set but 1 topic.*zh"):
        ab.run("mixed", "rewrite", [("default-en", 1)], topics=["一只想看海的小猫", TOPICS[0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExperimentWarning)
        with pytest.raises(ExperimentWarning, match="offline"):  # only the offline note is left
            ab.run("zh", "rewrite", [("default-zh", 1)], cases="stories-zh")


def test_case_sets_are_versioned_and_bad_input_is_refused(studio):
    ab = ABTests(studio)
    first = ab.cases.save("mine", [{"topic": "A fox", "assert": [{"type": "contains", "value": "fox"}]}])
    same = ab.cases.save("mine", [{"topic": "A fox", "assert": [{"type": "contains", "value": "fox"}]}])
    second = ab.cases.save("mine", [{"topic": "A fox"}, {"topic": "一只狐狸"}])
    assert (first["version"], same["version"], second["version"]) == (1, 1, 2)
    assert second["language"] == "mixed" and [c["language"] for c in second["cases"]] == ["en", "zh"]
    assert len(ab.cases.get("mine", 1)["cases"]) == 1
    assert {"stories-en", "stories-zh"} <= set(ab.cases.list()["name"])
    for bad, message in (([], "non-empty"), ([{"topic": ""}], "no topic"),
                         ([{"topic": "x", "assert": [{"type": "smells-nice"}]}], "one of"),
                         ([{"topic": "x", "assert": [{"type": "regex", "value": "("}]}], "invalid"),
                         ([{"topic": "x", "assert": [{"type": "shots", "value": 0}]}], "count"),
                         ([{"topic": "x", "colour": 1}], "unknown field")):
        with pytest.raises(InvalidInput, match=message):
            ab.cases.save("bad", bad)
    with pytest.raises(NotFound, match="stories-en"):
        ab.cases.get("nope")
    with pytest.raises(InvalidInput, match="samples"):
        ab.run("x", "rewrite", [("default-en", 1)], topics=["A fox"], samples=0)


def test_blind_rating_hides_the_arms_until_saved(studio):
    from storynb.widgets.abtest import BlindRatingPanel

    ab = ABTests(studio)
    ab.run("blind", "rewrite", [("default-en", 1), ("default-en", 1, {"style": "whimsical"})],
           topics=TOPICS[:2])
    groups = ab.blind("blind", seed=1)
    assert len(groups) == 2 and all(set(r) == {"id", "output"} for g in groups for r in g["runs"])
    panel = BlindRatingPanel(ab, "blind", seed=1)

    def shown():
        return " ".join(w.value for card in panel.body.children[2].children
                        for w in card.children if hasattr(w, "value") and isinstance(w.value, str))

    assert "default-en v1" not in shown() and "whimsical" not in shown()
    list(panel.ratings.values())[0].value = 4
    panel.action(panel.save)()
    assert "saved 1 rating" in panel.message.value and "default-en v1" in shown()
    assert ab.results("blind")["rating"].notna().sum() == 1


def test_statistics_are_the_textbook_values():
    assert sign_test(7, 2) == pytest.approx(2 * (1 + 9 + 36) / 512)
    assert sign_test(3, 0) == pytest.approx(0.25) and sign_test(0, 0) == 1.0
    mean, low, high, n = mean_ci([1, 2, 3])
    assert (mean, n) == (2.0, 3) and high - mean == pytest.approx(4.303 / 3 ** 0.5, rel=1e-4)
    assert mean_ci([5])[1:] == (None, None, 1)
    assert mean_ci([9, 10, 9], bounds=(1, 10))[2] == 10  # clipped to the score's range


def test_the_cli_prints_the_same_report_and_fails_a_regression(lab):
    ab = lab
    run_twist(ab)
    ab.pairwise("twist", judge="judge")
    env = {**os.environ}
    cli = [sys.executable, "-m", "storynb.cli", "--studio", str(ab.studio.path), "ab"]
    shown = subprocess.run(cli + ["show", "twist"], capture_output=True, text=True, env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.rstrip("\n") == ab.report("twist").text()
    assert "lab v2 beats lab v1 on 3 of 3 topics" in " ".join(shown.stdout.split())
    worse = subprocess.run(cli + ["regress", "twist", "--baseline", "lab v2", "--candidate", "lab v1"],
                           capture_output=True, text=True, env=env)
    assert worse.returncode == 1 and worse.stderr.startswith("FAIL")
    better = subprocess.run(cli + ["regress", "twist", "--baseline", "lab v1", "--candidate", "lab v2"],
                            capture_output=True, text=True, env=env)
    assert better.returncode == 0 and better.stdout.startswith("PASS")
    bad = subprocess.run(cli + ["run", "x", "--arm", "lab:1", "--topic", "A fox", "--assert", "smells=1"],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "the type is one of" in bad.stderr
    offline = subprocess.run(cli + ["run", "cli-off", "--arm", "lab:1", "--arm", "lab:2",
                                    "--topic", "A fox", "--assert", "is-json"],
                             capture_output=True, text=True, env=env)
    assert offline.returncode == 0, offline.stderr
    assert "WARNING: a wording-only experiment" in " ".join(offline.stdout.split())


def test_the_prompt_lab_panel_runs_reports_and_refuses_bad_input(studio):
    from storynb.widgets.abtest import PromptLabPanel

    panel = PromptLabPanel(studio)
    assert "No experiments yet" in panel.report.value
    panel.name_w.value, panel.arms_w.value = "from-panel", "default-en:1, default-en"
    panel.action(panel.run)()
    assert "SET:VERSION" in panel.message.value and not len(ABTests(studio).experiments())
    panel.arms_w.value, panel.temperature_w.value = "default-en:1, default-en:1", "hot"
    panel.action(panel.run)()
    assert "temperature is a number" in panel.message.value
    studio.prompts.create_set("p2", "en", copy_from="default-en")
    panel.arms_w.value, panel.temperature_w.value = "default-en:1, p2:1", ""
    panel.action(panel.run)()
    assert "done" in panel.message.value and panel.pick.value == "from-panel"
    assert "wording-only experiment" in panel.warnings.value
    assert "default-en v1" in panel.report.value and "p2 v1" in panel.report.value
    panel.action(panel.judge)()  # the heuristic checker, labelled
    assert ABTests(studio).judgments("from-panel", kind="pair")["label"].str.contains("not an AI").all()
    panel.action(panel.suggest)()
    assert "pick an LLM as the critic" in panel.message.value
