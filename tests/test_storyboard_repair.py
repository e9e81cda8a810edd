"""Real-world broken storyboard answers (the shapes LLMs really send: out of order, duplicates,
too few shots, the seed's `scenes` format, Chinese keys, aliases, broken JSON), each parsed into
the right shots in the right order or rejected with a clear error; the shot count is enforced
with one repair request through the normal LLM call path, and repairs are noted on the stage."""
import json

import pytest

from fakes import OpenAIFake
from fakes.helpers import make_studio
from storynb.providers.base import LLMResult
from storynb.stages.storyboard import parse_storyboard


def shot(seq, narration, scene=None, prompt=None, seconds=4):
    return {"sequence": seq, "scene": scene or f"scene {seq}", "narration": narration,
            "image_prompt": prompt or f"prompt {seq}", "duration_s": seconds}


FOUR = ["The keeper lit the lamp.", "A whale rose in the dark water.",
        "They watched each other all night.", "At dawn the whale swam home."]

# (answer, language, shots wanted, narrations expected in order, checks on the first shot / repairs)
GOOD_CASES = {
    "finale listed first": (
        json.dumps({"shots": [shot(4, FOUR[3]), shot(1, FOUR[0]), shot(2, FOUR[1]), shot(3, FOUR[2])]}),
        "en", 4, FOUR, "sorted by their sequence numbers"),
    "a shot listed twice": (
        json.dumps({"shots": [shot(1, FOUR[0]), shot(2, FOUR[1]), shot(2, FOUR[1]), shot(3, FOUR[2]),
                              shot(4, FOUR[3])]}),
        "en", 4, FOUR, "repeats shot 2 word for word"),
    "the seed's format": (
        json.dumps({"scenes": [
            {"scene_number": 2, "description": FOUR[1], "visual_prompt": "a whale, night sea, moonlight", "duration": 5},
            {"scene_number": 1, "description": FOUR[0], "visual_prompt": "a lighthouse at dusk", "duration": 4},
            {"scene_number": 3, "description": FOUR[2], "visual_prompt": "two silhouettes", "duration": 4},
            {"scene_number": 4, "description": FOUR[3], "visual_prompt": "sunrise over the sea", "duration": 6}]}),
        "en", 4, FOUR, "description is read aloud"),
    "Chinese keys in a fence with prose": (
        "好的，以下是分镜脚本：\n```json\n" + json.dumps([
            {"序号": "2", "场景": "海面上的鲸鱼", "旁白": "一头鲸鱼从黑色的海水里浮了上来。", "时长": "5秒"},
            {"序号": "1", "场景": "灯塔", "旁白": "守塔人点亮了灯。", "时长": "4秒"},
            {"序号": "3", "场景": "对望", "旁白": "他们整夜望着彼此。", "时长": "约4秒"},
            {"序号": "4", "场景": "黎明", "旁白": "天亮时，鲸鱼游回了家。", "时长": "0:05"}], ensure_ascii=False)
        + "\n```\n希望对你有帮助！",
        "zh", 4, ["守塔人点亮了灯。", "一头鲸鱼从黑色的海水里浮了上来。", "他们整夜望着彼此。", "天亮时，鲸鱼游回了家。"],
        "sorted by their sequence numbers"),
    "Chinese top key and unit in brackets": (
        json.dumps({"分镜": [
            {"镜号": "第1镜", "画面描述": "灯塔", "旁白文案": "守塔人点亮了灯。", "文生图提示词": "lighthouse", "时长（秒）": 4},
            {"镜号": "第2镜", "画面描述": "鲸鱼", "旁白文案": "鲸鱼浮了上来。", "文生图提示词": "whale", "时长（秒）": 4},
            {"镜号": "第3镜", "画面描述": "夜", "旁白文案": "他们整夜望着彼此。", "文生图提示词": "night", "时长（秒）": 4},
            {"镜号": "第4镜", "画面描述": "黎明", "旁白文案": "鲸鱼游回了家。", "文生图提示词": "dawn", "时长（秒）": 4}]},
            ensure_ascii=False),
        "zh", 4, ["守塔人点亮了灯。", "鲸鱼浮了上来。", "他们整夜望着彼此。", "鲸鱼游回了家。"], "read the shots from '分镜'"),
    "English aliases, nested": (
        json.dumps({"storyboard": {"shots": [
            {"shot_number": f"Shot {i + 1}", "visual_description": f"v{i}", "voiceover": n,
             "text_to_image_prompt": f"p{i}", "duration_seconds": f"{4 + i}s"} for i, n in enumerate(FOUR)]}}),
        "en", 4, FOUR, None),
    "single quotes, Python literals, trailing commas": (
        "{'shots': [" + ", ".join(
            "{'seq': %d, 'scene': 'scene %d', 'narration': \"%s\", 'negative_prompt': None, 'ok': True,}"
            % (i + 1, i + 1, n) for i, n in enumerate(FOUR)) + ",]}",
        "en", 4, FOUR, "repaired broken JSON"),
    "smart quotes and comments": (
        "{\n  “shots”: [\n" + ",\n".join(
            "    // shot %d\n    {“sequence”: %d, “narration”: “%s”}" % (i + 1, i + 1, n)
            for i, n in enumerate(FOUR)) + "\n  ]\n}",
        "en", 4, FOUR, "repaired broken JSON"),
    "plain strings": (json.dumps(FOUR), "en", 4, FOUR, "given as plain text"),
    "narration as a list of lines": (
        json.dumps({"shots": [{"sequence": i + 1, "narration": n.split(" ", 2)[:2] + [n.split(" ", 2)[2]]}
                              for i, n in enumerate(FOUR)]}),
        "en", 4, FOUR, None),
    "one number used twice": (
        json.dumps({"shots": [shot(1, FOUR[0]), shot(2, FOUR[1]), shot(2, FOUR[2]), shot(3, FOUR[3])]}),
        "en", 4, FOUR, "used twice"),
    "some numbers missing": (
        json.dumps({"shots": [shot(3, FOUR[0]), {"narration": FOUR[1]}, shot(1, FOUR[2]), shot(2, FOUR[3])]}),
        "en", 4, FOUR, "kept the order they are listed in"),
    "one more than asked (within the tolerance)": (
        json.dumps({"shots": [shot(i + 1, n) for i, n in enumerate(FOUR + ["The lamp went out."])]}),
        "en", 4, FOUR + ["The lamp went out."], "within the tolerance"),
    "gaps in the numbering": (
        json.dumps({"shots": [shot(10, FOUR[0]), shot(20, FOUR[1]), shot(30, FOUR[2]), shot(40, FOUR[3])]}),
        "en", 4, FOUR, "renumbered"),
}

BAD_CASES = {
    "too few shots": (json.dumps({"shots": [shot(1, FOUR[0]), shot(2, FOUR[1])]}), 4,
                      r"has 2 shot\(s\) but 4 were asked for \(between 3 and 5"),
    "too many shots": (json.dumps({"shots": [shot(i, f"Line {i}.") for i in range(1, 10)]}), 4,
                       r"has 9 shot\(s\) but 4 were asked for"),
    "two shots that are one shot twice": (json.dumps({"shots": [shot(1, FOUR[0])] * 4}), 4,
                                          r"has 1 shot\(s\)"),
    "cut off at the token limit": ('```json\n{"shots": [' + json.dumps(shot(1, FOUR[0])) +
                                   ', {"sequence": 2, "narration": "A whale ro', 4, r"cut off"),
    "a refusal": ("I'm sorry, but I can't help with that request.", 4, r"no JSON"),
    "a shot with no words": (json.dumps({"shots": [shot(1, FOUR[0]), {"sequence": 2, "scene": "A dark forest"},
                                                   shot(3, FOUR[2]), shot(4, FOUR[3])]}), 4,
                             r"shot 2 is unusable.*narration.*A dark forest"),
    "shots is text": (json.dumps({"shots": "1. The keeper lit the lamp. 2. A whale rose."}), 4,
                      r"non-empty list"),
    "an empty list": (json.dumps({"shots": []}), 4, r"non-empty list"),
    "numbers, not shots": (json.dumps({"shots": [1, 2, 3, 4]}), 4, r"shot 1 is not an object"),
    "no shot list at all": (json.dumps({"title": "The whale", "story": "…"}), 4, r"no \"shots\" list"),
}


@pytest.mark.parametrize("name", GOOD_CASES)
def test_broken_answers_become_the_right_shots_in_order(name):
    answer, language, wanted, narrations, note = GOOD_CASES[name]
    shots, repairs = parse_storyboard(answer, language, wanted)
    assert [s["narration"] for s in shots] == narrations, repairs
    assert all(s["scene"] and s["image_prompt"] and 0.5 <= s["duration_s"] <= 60 for s in shots)
    if note:
        assert any(note in r for r in repairs), repairs


def test_fields_are_read_from_their_aliases():
    shots, _ = parse_storyboard(GOOD_CASES["the seed's format"][0], "en", 4)
    assert shots[0]["image_prompt"] == "a lighthouse at dusk" and shots[0]["scene"] == FOUR[0]
    assert [s["duration_s"] for s in shots] == [4, 5, 4, 6]
    shots, _ = parse_storyboard(GOOD_CASES["Chinese keys in a fence with prose"][0], "zh", 4)
    assert [s["duration_s"] for s in shots] == [4, 5, 4, 5] and shots[0]["scene"] == "灯塔"
    shots, _ = parse_storyboard(GOOD_CASES["English aliases, nested"][0], "en", 4)
    assert shots[1]["image_prompt"] == "p1" and shots[1]["scene"] == "v1" and shots[1]["duration_s"] == 5


@pytest.mark.parametrize("name", BAD_CASES)
def test_unusable_answers_are_rejected_with_a_clear_error(name):
    answer, wanted, message = BAD_CASES[name]
    with pytest.raises(ValueError, match=message):
        parse_storyboard(answer, "en", wanted)


# the stage: one repair request through the call path, then a clear error -----------------------
STORY = "The keeper lit the lamp. A whale rose. They watched all night. At dawn it swam home."


def answer_with(narrations, order=None, twice=None):
    listed = [shot(i + 1, n) for i, n in enumerate(narrations)]
    listed = [listed[i] for i in (order or range(len(listed)))]
    if twice is not None:  # one shot listed a second time, word for word
        listed.append(dict(listed[twice]))
    return json.dumps({"shots": listed})


@pytest.fixture
def gpt(tmp_path, monkeypatch):
    studio = make_studio(tmp_path, monkeypatch)
    with OpenAIFake() as server:
        studio.providers.add("gpt", "llm", "openai_chat", url=server.url + "/v1", key="sk-test-0000000000000000",
                             model="m")
        project = studio.create_project("A lighthouse keeper and a whale", shots=4, size=(144, 256),
                                        fps=12, providers={"llm": "gpt"})
        project.set_story(STORY)
        yield studio, server, project


def test_too_few_shots_get_one_repair_request(gpt):
    studio, server, project = gpt
    server.replies.extend([answer_with(FOUR[:2]),  # 2 of 4: asked again
                           answer_with(FOUR, order=[3, 0, 1, 2], twice=2)])  # out of order, one twice
    report = project.run(["storyboard"])
    assert report.status == "done", report.summary()
    assert [s["narration"] for s in project.shots()] == FOUR
    assert [s["seq"] for s in project.shots()] == [1, 2, 3, 4]
    chats = server.hits("chat")
    assert len(chats) == 2
    repair = chats[1].json["messages"][-1]["content"]
    assert "has 2 shot(s) but 4 were asked for" in repair
    repairs = json.loads(list(studio.db["storyboards"].rows)[-1]["repairs"])
    assert any("sorted by their sequence numbers" in r for r in repairs)
    assert any("word for word" in r for r in repairs)


def test_too_few_shots_twice_is_a_clear_error(gpt):
    studio, server, project = gpt
    server.replies.extend([answer_with(FOUR[:2]), answer_with(FOUR[:2])])
    report = project.run(["storyboard"])
    assert report.status == "failed"
    error = "\n".join(e for r in report.stages for e in r.errors)
    assert "has 2 shot(s) but 4 were asked for" in error and "repair" in error
    assert project.shots() == []
    assert len(server.hits("chat")) == 2  # one answer, one repair: no more


class OneShotWriter:
    """An LLM provider that ignores `validate` (as custom and offline ones may): the stage asks
    it once more itself."""
    kind, name, model, concurrency = "llm", "terse", "terse-1", 1

    def __init__(self, answers):
        self.answers, self.prompts = list(answers), []

    async def complete(self, request):
        self.prompts.append(request.prompt)
        return LLMResult(text=self.answers.pop(0) if self.answers else "[]", tokens_in=1, tokens_out=1)


@pytest.mark.parametrize("second, ok", [(answer_with(FOUR), True), (answer_with(FOUR[:1]), False)])
def test_a_provider_that_does_not_validate_is_asked_once_more_by_the_stage(studio, second, ok):
    writer = OneShotWriter([answer_with(FOUR[:2]), second])
    studio.register(writer)
    project = studio.create_project("A lighthouse keeper and a whale", shots=4, size=(144, 256),
                                    fps=12, providers={"llm": "terse"})
    project.set_story(STORY)
    report = project.run(["storyboard"])
    assert len(writer.prompts) == 2 and "has 2 shot(s) but 4 were asked for" in writer.prompts[1]
    if ok:
        assert report.status == "done" and [s["narration"] for s in project.shots()] == FOUR
        repairs = json.loads(list(studio.db["storyboards"].rows)[-1]["repairs"])
        assert repairs[0].startswith("asked the model once more")
    else:
        assert report.status == "failed" and project.shots() == []
        error = "\n".join(e for r in report.stages for e in r.errors)
        assert "also after one repair request" in error and "has 1 shot(s)" in error
