"""The offline providers: draft writer, painter and narrator."""
import asyncio
import json
import re
import shutil
import wave

import numpy as np
import pytest
from PIL import Image

from storynb.providers.base import (LLM, ImageRequest, LLMRequest, ProviderError, SpeechRequest,
                                    TextToImage, TextToSpeech)
from storynb.providers.local import (MOVEMENTS, DraftWriter, LocalNarrator, Painter, offline_providers,
                                     shot_duration)


def ask(task, **variables):
    result = asyncio.run(DraftWriter().complete(LLMRequest(task=task, prompt="(rendered prompt)",
                                                           variables=variables, json=task != "rewrite")))
    assert result.model == "draft-writer (offline, not an AI)"
    assert result.tokens_in > 0 and result.tokens_out > 0
    return result.text


def story(topic="A little fox who wants to see the sea", language="en", style="warm", length="medium", **kw):
    return ask("rewrite", topic=topic, language=language, style=style, length=length, **kw)


def storyboard(text, **kw):
    return json.loads(ask("storyboard", story=text, **kw))["shots"]


def squash(text):
    return re.sub(r"\s+", "", text)


# ------------------------------------------------------------------------------ draft writer
def test_registry_and_protocols():
    found = offline_providers()
    assert set(found) == {"draft-writer", "local-painter", "local-narrator"}
    assert isinstance(found["draft-writer"], LLM) and found["draft-writer"].kind == "llm"
    assert isinstance(found["local-painter"], TextToImage) and found["local-painter"].kind == "text2image"
    assert isinstance(found["local-narrator"], TextToSpeech) and found["local-narrator"].kind == "tts"
    for name, provider in found.items():
        assert provider.name == name


def test_story_is_deterministic_and_has_paragraphs():
    first = story()
    assert first == story()
    paragraphs = first.split("\n\n")
    assert len(paragraphs) == 5 and all(p.strip() for p in paragraphs)
    assert "see the sea" in first and "fox" in first


def test_stories_vary_with_topic_and_style():
    a, b = story("A little fox who wants to see the sea"), story("The last lighthouse keeper")
    assert a != b and "lighthouse keeper" in b
    styles = {story(style=s) for s in ("warm", "suspense", "epic", "whimsical")}
    assert len(styles) == 4
    assert story(style="something unheard of")  # unknown styles fall back


def test_story_length_grows():
    short, medium, long = (len(story(length=n)) for n in ("short", "medium", "long"))
    assert short < medium < long


def test_chinese_story_is_chinese():
    text = story("一只想去看海的小狐狸。", language="zh", style="温暖")
    cjk = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
    assert cjk > 0.8 * len(squash(text))
    assert "。" in text and "，" in text and "." not in text
    assert "看海" in text and "狐狸" in text
    assert not re.search(r"[A-Za-z]", text)


def test_topic_is_read_sensibly():
    assert "wanted to befriend a lost whale" in story("A lighthouse keeper befriends a lost whale", length="long") \
        or "to befriend a lost whale" in story("A lighthouse keeper befriends a lost whale", length="long")
    assert "how two robots fall in love" in story("Write a story about two robots fall in love.")
    assert "Paris in the rain" in story("Paris in the rain")
    zh = story("写一个关于守灯人和迷路的鲸鱼的故事。", language="zh")
    assert "守灯人和迷路的鲸鱼" in zh and "实现了和" not in zh
    assert "学画画" in story("机器人学画画", language="zh")


def test_children_audience_adds_a_closing_line():
    assert len(story(audience="children")) > len(story())


def test_unknown_task_and_missing_topic_are_errors():
    with pytest.raises(ProviderError, match="summarise"):
        ask("summarise", topic="x")
    with pytest.raises(ProviderError, match="topic"):
        ask("rewrite", topic="  ")


# -------------------------------------------------------------------------------- storyboard
@pytest.mark.parametrize("language,topic", [("en", "A robot learns to paint"), ("zh", "小狐狸找妈妈")])
@pytest.mark.parametrize("length", ["short", "long"])
def test_storyboard_covers_the_story_in_order(language, topic, length):
    text = story(topic, language=language, style="epic", length=length)
    shots = storyboard(text, language=language)
    assert 4 <= len(shots) <= 12
    assert squash("".join(s["narration"] for s in shots)) == squash(text)
    for shot in shots:
        assert set(shot) == {"scene", "narration", "image_prompt", "duration_s"}
        assert shot["scene"] and shot["narration"]
        assert re.fullmatch(r"[\x20-\x7e]+", shot["image_prompt"])  # English prompt
        assert 2 <= shot["duration_s"] <= 10 and (shot["duration_s"] * 2).is_integer()
    if language == "zh":
        assert all(re.search(r"[\u4e00-\u9fff]", s["scene"]) for s in shots)
    assert storyboard(text, language=language) == shots  # deterministic


def test_storyboard_honours_the_shot_count_and_clamps_it():
    text = story(length="long")
    assert len(storyboard(text, shots=6)) == 6
    assert len(storyboard(text, shots=40)) == 12
    assert len(storyboard(text, shots=1)) == 4
    # a story of two long sentences is split at clauses to reach four shots
    two = "The rain fell on the harbour, and the boats rocked. Mara watched from the window, waiting, hoping."
    shots = storyboard(two, shots=4)
    assert len(shots) == 4 and squash("".join(s["narration"] for s in shots)) == squash(two)


def test_image_prompts_follow_the_words():
    shots = storyboard("The moon rose over the sea. A small boat drifted toward the lighthouse. "
                       "The fox waited on the shore. Snow began to fall on the village.")
    prompts = " ".join(s["image_prompt"] for s in shots)
    for word in ("moon", "sea", "boat", "lighthouse", "fox", "snow"):
        assert word in prompts
    zh = storyboard("月亮升起来了，照在海面上。一艘小船慢慢靠近灯塔。小狐狸在岸边等着。村子里下起了雪。", language="zh")
    prompts = " ".join(s["image_prompt"] for s in zh)
    for word in ("moon", "sea", "boat", "lighthouse", "fox", "snow"):
        assert word in prompts


def test_durations():
    assert shot_duration("one two three", False) == 2.0
    assert shot_duration("word " * 13, False) == 5.5  # 13/2.6 + 0.5 = 5.5
    assert shot_duration("word " * 100, False) == 10.0
    assert shot_duration("月" * 18, True) == 4.5  # 18/4.5 + 0.5
    assert shot_duration("word " * 12, False, fps=25) == 6.0  # a whole number of frames at 25 fps
    for n in range(1, 40):
        d = shot_duration("word " * n, False)
        assert (d * 24).is_integer() and (d * 30).is_integer()


# ------------------------------------------------------------------------------------ camera
def test_camera_is_one_to_one_without_repeats():
    for language, topic in (("en", "A robot learns to paint"), ("zh", "一只想去看海的小狐狸")):
        shots = storyboard(story(topic, language=language, length="long"), language=language)
        request = [{"sequence": i + 1, "scene": s["scene"], "narration": s["narration"]} for i, s in enumerate(shots)]
        plan = json.loads(ask("camera", shots=request))["shots"]
        assert [p["sequence"] for p in plan] == [r["sequence"] for r in request]
        moves = [p["movement"] for p in plan]
        assert all(m in MOVEMENTS for m in moves)
        assert all(a != b for a, b in zip(moves, moves[1:]))
        assert len(set(moves)) >= 3
        for p in plan:
            params = p["params"]
            assert params["speed"] == 1.0 and params["easing"] == "ease_in_out"
            assert 0.12 <= params["intensity"] <= 0.25 and (params["start"], params["end"]) == (0.0, 1.0)


def test_camera_reads_the_scene_words():
    shots = [{"sequence": 1, "scene": "Wide shot: the town", "narration": "A town."},
             {"sequence": 2, "scene": "Tall mountains under the sky", "narration": "The peaks rose."},
             {"sequence": 3, "scene": "Close-up: her eyes", "narration": "She noticed a secret."},
             {"sequence": 4, "scene": "结尾：告别", "narration": "最后，他们告别了。"}]
    moves = [p["movement"] for p in json.loads(ask("camera", shots=shots))["shots"]]
    assert moves[1] == "tilt_up"
    assert moves[2] in ("zoom_in", "dolly_in")
    assert moves[3] in ("zoom_out", "dolly_out")
    same = [{"sequence": i, "scene": "Road", "narration": "The road went on."} for i in range(1, 7)]
    moves = [p["movement"] for p in json.loads(ask("camera", shots=same))["shots"]]
    assert all(a != b for a, b in zip(moves, moves[1:]))


# ----------------------------------------------------------------------------------- painter
def paint(tmp_path, prompt, name, **kw):
    out = tmp_path / f"{name}.png"
    request = ImageRequest(prompt=prompt, width=kw.pop("width", 216), height=kw.pop("height", 384), **kw)
    asyncio.run(Painter().generate(request, out))
    return out


def test_painter_is_deterministic_and_sized(tmp_path):
    a = paint(tmp_path, "a fox by the sea at night, moon, stars", "a", seed=3)
    b = paint(tmp_path, "a fox by the sea at night, moon, stars", "b", seed=3)
    assert a.read_bytes() == b.read_bytes()
    with Image.open(a) as im:
        assert im.format == "PNG" and im.size == (216, 384) and im.mode == "RGB"
    c = paint(tmp_path, "a fox by the sea at night, moon, stars", "c", seed=4)
    assert c.read_bytes() != a.read_bytes()


def test_painter_images_differ_by_prompt(tmp_path):
    prompts = ["a boat on the sea at night under the moon", "a fox in a green forest at sunset",
               "snowy mountains and a castle", "a quiet atmospheric scene"]
    pixels = [np.asarray(Image.open(paint(tmp_path, p, str(i))), np.float32) for i, p in enumerate(prompts)]
    for i in range(len(pixels)):
        assert pixels[i].std() > 8  # not flat
        for j in range(i + 1, len(pixels)):
            assert np.abs(pixels[i] - pixels[j]).mean() > 15


def test_painter_palette_follows_words(tmp_path):
    night = np.asarray(Image.open(paint(tmp_path, "night, moon over the town", "n")), np.float32)
    sunset = np.asarray(Image.open(paint(tmp_path, "sunset over the town", "s")), np.float32)
    assert night[..., 2].mean() > night[..., 0].mean()  # blue
    assert sunset[..., 0].mean() > sunset[..., 2].mean()  # orange


def test_painter_caption_changes_only_the_corner(tmp_path):
    plain = np.asarray(Image.open(paint(tmp_path, "the sea", "p", width=540, height=960)), np.int16)
    for caption in ("Wide shot: the harbour", "远景：海边的小镇"):
        labelled = np.asarray(Image.open(paint(tmp_path, "the sea", "l", width=540, height=960,
                                               caption=caption)), np.int16)
        diff = np.abs(plain - labelled).sum(axis=-1)
        if shutil.which("fc-list"):
            assert diff[:120, :].sum() > 0  # drawn (a font with the glyphs is installed here)
        assert diff[200:, :].sum() == 0


def test_painter_full_size_is_fast(tmp_path):
    import time
    started = time.perf_counter()
    paint(tmp_path, "a girl with a lantern in the snowy village at night", "big", width=1080, height=1920,
          caption="Medium shot")
    assert time.perf_counter() - started < 3.0  # ~0.6 s here; generous for slow machines


# ---------------------------------------------------------------------------------- narrator
def wav_seconds(path):
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        return w.getnframes() / w.getframerate()


@pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng is not installed")
@pytest.mark.parametrize("language,text", [("en", "The boats came home at dusk."), ("zh", "月亮升起来了，村子很安静。")])
def test_narrator_speaks_with_espeak(tmp_path, language, text):
    narrator = LocalNarrator()
    assert narrator.available() and narrator.model == "espeak-ng"
    out = tmp_path / "n.wav"
    seconds = asyncio.run(narrator.speak(SpeechRequest(text=text, language=language), out))
    assert seconds > 0.5 and abs(seconds - wav_seconds(out)) < 1e-6
    assert narrator.last_info["engine"] == "espeak-ng"
    with wave.open(str(out), "rb") as w:
        assert any(w.readframes(w.getnframes()))  # not silence
    faster = asyncio.run(narrator.speak(SpeechRequest(text=text, language=language, speed=1.5), tmp_path / "f.wav"))
    assert faster < seconds


def test_narrator_without_espeak_writes_labelled_silence(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    narrator = LocalNarrator()
    assert not narrator.available() and narrator.silent
    assert "silent" in narrator.model
    out = tmp_path / "s.wav"
    seconds = asyncio.run(narrator.speak(SpeechRequest(text="The boats came home at dusk, one by one."), out))
    assert seconds == pytest.approx(wav_seconds(out)) and 2 < seconds < 6
    assert narrator.last_info["engine"] == "silent" and "espeak-ng" in narrator.last_info["reason"]
    zh = asyncio.run(narrator.speak(SpeechRequest(text="月亮升起来了，村子很安静。", language="zh"), out))
    assert zh == pytest.approx(wav_seconds(out)) and zh > 1


def test_narrator_gives_silence_for_no_words(tmp_path):
    narrator = LocalNarrator()
    seconds = asyncio.run(narrator.speak(SpeechRequest(text="……"), tmp_path / "e.wav"))
    assert seconds == pytest.approx(wav_seconds(tmp_path / "e.wav")) and seconds >= 0.5
    assert narrator.last_info["engine"] == "silent"
