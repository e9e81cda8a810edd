"""A/B runs of prompt template versions: stored runs, skipping, ratings, judges, comparison."""
import json

import pytest

from storynb import InvalidInput, NotFound
from storynb.abtest import HEURISTIC_JUDGE, ABTests, heuristic_judge
from storynb.providers.base import LLMResult

TOPICS = ["A lighthouse keeper befriends a lost whale", "一只想看海的小猫"]


@pytest.fixture
def ab(studio):
    studio.prompts.create_set("ab", "en", copy_from="default-en")
    v1 = studio.prompts.template("ab", "rewrite", 1)
    studio.prompts.edit("ab", "rewrite", v1["body"] + "\nEnd on a hopeful image.",
                        system=v1["system"], note="v2")
    return ABTests(studio)


class Critic:
    """A fake LLM: answers stories and judges, counting calls."""

    name = "critic"
    kind = "llm"
    model = "critic-1"

    def __init__(self):
        self.prompts = []

    async def complete(self, request):
        self.prompts.append(request.prompt)
        if request.task == "judge":
            return LLMResult(text='```json\n{"score": 7, "strengths": "clear", '
                                  '"suggestions": "ask for dialogue"}\n```', tokens_in=50, tokens_out=20)
        return LLMResult(text=f"A story from a prompt of {len(request.prompt)} characters.",
                         tokens_in=len(request.prompt) // 4, tokens_out=12)


def test_runs_are_stored_compared_and_skipped_when_repeated(ab):
    frame = ab.run("hope", "rewrite", [("ab", 1), ("ab", 2, {"style": "whimsical"})], topics=TOPICS)
    assert len(frame) == 4 and set(frame["status"]) == {"ok"}
    assert set(frame["arm"]) == {"ab v1", "ab v2 · style=whimsical"}
    assert (frame["tokens_in"] > 0).all() and frame["latency_ms"].notna().all()
    table = ab.compare("hope")
    assert list(table.index) == TOPICS
    assert table.columns.names == ["arm", "metric"]
    assert table[("ab v1", "output")].str.len().min() > 50
    # the second version's prompt is longer, and so are its input tokens
    assert (table[("ab v2 · style=whimsical", "tokens_in")] > table[("ab v1", "tokens_in")]).all()
    calls = ab.db["calls"].count_where("stage = 'ab:rewrite'")
    assert calls == 4
    again = ab.run("hope", "rewrite", [("ab", 1), ("ab", 2, {"style": "whimsical"})], topics=TOPICS)
    assert len(again) == 4 and ab.db["calls"].count_where("stage = 'ab:rewrite'") == 4
    ab.run("hope", "rewrite", [("ab", 1)], topics=TOPICS[:1], repeat=True)
    assert len(ab.results("hope")) == 5
    assert ab.experiments()["runs"].tolist() == [5]


def test_ratings_and_the_heuristic_judge_are_labelled_and_stored(ab):
    frame = ab.run("hope", "rewrite", [("ab", 1), ("ab", 2)], topics=TOPICS)
    first = int(frame[frame["arm"] == "ab v1"]["id"].iloc[0])
    ab.rate(first, 5, "lovely")
    for bad in (0, 6, 3.5, True, "4"):
        with pytest.raises(InvalidInput):
            ab.rate(first, bad)
    with pytest.raises(NotFound):
        ab.rate(10_000, 3)
    judged = ab.judge("hope")
    assert set(judged["judge"]) == {HEURISTIC_JUDGE} and "not an AI" in HEURISTIC_JUDGE
    assert judged["judge_score"].between(1, 10).all() and judged["judge_notes"].str.len().min() > 0
    summary = ab.summary("hope")
    assert summary.loc["ab v1", "rating"] == 5 and summary.loc["ab v1", "runs"] == 2


def test_an_llm_judge_is_named_with_its_scores(ab):
    critic, writer = Critic(), Critic()
    writer.name = "writer"
    ab.studio.register(critic)
    ab.studio.register(writer)
    ab.run("critic", "rewrite", [("ab", 1), ("ab", 2)], topics=TOPICS[:1], provider="writer")
    with pytest.raises(InvalidInput, match="grade its own work"):
        ab.judge("critic", provider="writer")
    judged = ab.judge("critic", provider="critic")
    assert set(judged["judge"]) == {"LLM judge: critic (critic-1)"}
    assert judged["judge_score"].tolist() == [7.0, 7.0]
    assert "ask for dialogue" in judged["judge_notes"].iloc[0]
    assert any("End on a hopeful image." in p for p in critic.prompts if "Score the output" in p)


def test_storyboard_arms_and_failures_are_rows(ab):
    story = "The keeper climbed the stairs. The whale sang. The storm passed at dawn."
    frame = ab.run("boards", "storyboard", [("ab", 1)], inputs=[{"story": story}])
    assert frame["status"].tolist() == ["ok"]
    score, notes = heuristic_judge({**frame.iloc[0].to_dict(), "stage": "storyboard",
                                    "variables": json.dumps({"shots": 6})})
    assert 1 <= score <= 10 and notes
    studio = ab.studio
    # saving refuses variables the stage does not give; a render can still fail on the data
    studio.prompts.edit("ab", "camera", "Move the camera for {{ shots[0].missing_thing }}")
    failed = ab.run("broken", "camera", [("ab", 2)], inputs=[{"shots": [{"sequence": 1}]}])
    assert failed["status"].tolist() == ["failed"] and "missing_thing" in failed["error"].iloc[0]


def test_bad_arms_and_inputs_are_refused(ab):
    with pytest.raises(InvalidInput):
        ab.run("x", "images", [("ab", 1)], topics=TOPICS)
    with pytest.raises(InvalidInput):
        ab.run("x", "rewrite", [], topics=TOPICS)
    with pytest.raises(InvalidInput):
        ab.run("x", "rewrite", [("ab", 1)], topics=[])
    with pytest.raises(InvalidInput):
        ab.run("", "rewrite", [("ab", 1)], topics=TOPICS)
    with pytest.raises(InvalidInput):
        ab.run("x", "rewrite", [("ab", 1), ("ab", 1)], topics=TOPICS)
    storyboard_id = ab.studio.prompts.template("ab", "storyboard")["id"]
    with pytest.raises(InvalidInput):
        ab.run("x", "rewrite", [storyboard_id], topics=TOPICS)
    with pytest.raises(NotFound):
        ab.compare("never ran")
