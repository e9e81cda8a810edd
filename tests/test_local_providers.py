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
from storynb.providers.offline import (MOVEMENTS, DraftWriter, LocalNarrator, Painter, offline_providers,
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


LONG_TOPICS = [
    "A lighthouse keeper who befriends a lost whale during the longest storm of the year",
    "An old fisherman wants to catch the moon's reflection before the tide turns at midnight",
    "A young girl who dreams of flying builds wings out of old umbrellas in her grandfather's attic",
    "The night the stars fell into the sea and a girl in a paper boat went to collect them before morning",
    "A shy girl befriends a dragon and saves the kingdom from an endless winter that nobody else could stop",
    "A grandmother teaches her grandson to bake bread on the last day of summer in a village by the sea",
    "During the longest storm of the year, a lighthouse keeper befriends a lost whale",
]
DANGLING = r"\b(a|an|the|of|to|in|at|for|with|from|and|or|during|when|while|before|his|her|their)[.!?]"


@pytest.mark.parametrize("topic", LONG_TOPICS)
def test_long_topics_are_never_cut_mid_phrase(topic):
    for length in ("short", "long"):
        text = story(topic, length=length)
        assert not re.search(DANGLING, text, re.I), text
        assert "of the." not in text and "storm of the year" not in text.replace("longest storm of the year", "")
    if "whale" in topic:  # cut before "during", and the circumstance is still told
        text = story(topic)
        assert "befriend a lost whale." in text and "during the longest storm of the year" in text.lower()
    if "fisherman" in topic:
        assert "to catch the moon's reflection." in story(topic)
    if "umbrellas" in topic:  # the wish, then the action clause up to a preposition
        text = story(topic)
        assert "to fly." in text and "build wings out of old umbrellas." in text


def test_every_clause_of_a_topic_is_used():
    text = story("A kitten who wants to see the sea sneaks aboard a fishing boat", length="short")
    assert "to see the sea." in text and "sneak aboard a fishing boat." in text
    assert "see the sea sneaks" not in text
    text = story("A lonely robot finds a seed and decides to grow a forest")
    assert "to grow a forest." in text and "to find a seed." in text
    assert "But the road was long." in story("A fox wants to see the sea, but the road is long")
    for length in ("short", "medium", "long"):
        zh = story("一只想看海的小猫，偷偷跟着渔船出发了", language="zh", length=length)
        assert "看海" in zh and "偷偷跟着渔船出发了。" in zh and "小猫" in zh
    zh = story("在一年中最漫长的暴风雨里，守灯人和一头迷路的鲸鱼成了朋友", language="zh")
    assert "在一年中最漫长的暴风雨里，" in zh and "守灯人" in zh and "关于在" not in zh
    zh = story("小男孩想要一只风筝，于是他自己动手做了一只", language="zh")
    assert "拥有一只风筝" in zh and "自己动手做了一只。" in zh
    zh = story("一只小狐狸想去看海，可是路太远了", language="zh")
    assert "可是路太远了。" in zh


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


def test_painter_paints_no_prompt_text_unless_debugging(tmp_path):
    w, h = 360, 640
    plain = np.asarray(Image.open(paint(tmp_path, "the sea", "p", width=w, height=h)), np.int16)
    labelled = np.asarray(Image.open(paint(tmp_path, "the sea", "l", width=w, height=h,
                                           caption="Establishing wide shot: the harbour")), np.int16)
    assert not np.abs(plain - labelled).any()  # the prompt is never painted into the picture


def test_painter_caption_sits_in_the_safe_area(tmp_path, monkeypatch):
    monkeypatch.setenv("STORYNB_DEBUG_IMAGE_TEXT", "1")  # the debug option
    w, h = 540, 960
    plain = np.asarray(Image.open(paint(tmp_path, "the sea", "p", width=w, height=h)), np.int16)
    for caption in ("Wide shot: the harbour", "远景：海边的小镇",
                    "Establishing wide shot: It was home to a lighthouse keeper named Wren, who"):
        labelled = np.asarray(Image.open(paint(tmp_path, "the sea", "l", width=w, height=h,
                                               caption=caption)), np.int16)
        diff = np.abs(plain - labelled).sum(axis=-1)
        rows, cols = np.nonzero(diff)
        if shutil.which("fc-list"):
            assert len(rows) > 0  # drawn (a font with the glyphs is installed here)
        if len(rows):  # at least 14% in from every edge, so camera moves do not crop it
            assert rows.min() >= 0.14 * h and rows.max() < 0.3 * h
            assert cols.min() >= 0.14 * w and cols.max() < 0.86 * w


def test_captions_are_shortened_at_word_boundaries():
    from storynb.providers.offline.painter import _shorten
    fits = lambda s: len(s) <= 40  # noqa: E731
    text = "Establishing wide shot: It was home to a lighthouse keeper"
    short = _shorten(text, fits)
    assert short == "Establishing wide shot: It was home…"  # not "…home to a…", not "…lighth…"
    assert _shorten("Close-up: Wren smiled", fits) == "Close-up: Wren smiled"
    zh = _shorten("远景：一只想看海的小猫偷偷跟着渔船出发了", lambda s: len(s) <= 12)
    assert zh == "远景：一只想看海的小猫…" or (len(zh) <= 12 and zh.endswith("…") and not zh.endswith("的…"))


def subjects_only(tmp_path, monkeypatch, prompt, width, height):
    """The pixels the subjects change: the picture with and without them (nothing else differs)."""
    from storynb.providers.offline import painter as local
    with_them = np.asarray(local.paint(prompt, width, height, seed=2), np.int16)
    for step in ("_paint_water_subjects", "_paint_buildings", "_paint_figures", "_paint_trees"):
        monkeypatch.setattr(local, step, lambda c, draw: None)
    without = np.asarray(local.paint(prompt, width, height, seed=2), np.int16)
    monkeypatch.undo()
    return np.abs(with_them - without).sum(axis=-1) > 24


@pytest.mark.parametrize("width,height", [(270, 480), (480, 270), (360, 360)])
@pytest.mark.parametrize("prompt", ["medium shot, a whale, a lone figure, a lighthouse, the sea, soft daylight",
                                    "wide shot, a cat, a boat, a harbour, the sea, soft dawn light",
                                    "close-up shot, a small fox, a tree, open fields, soft daylight",
                                    "wide shot, a young girl, a small robot, a cosy house, sunset glow"])
def test_painter_keeps_subjects_in_the_middle_band(tmp_path, monkeypatch, prompt, width, height):
    mask = subjects_only(tmp_path, monkeypatch, prompt, width, height)
    rows, cols = np.nonzero(mask)
    assert len(rows) > 0.02 * width * height  # large enough to read
    assert np.percentile(rows, 1) >= 0.28 * height and np.percentile(rows, 99.5) <= 0.72 * height
    assert cols.min() >= 0.14 * width and cols.max() <= 0.86 * width
    if "whale" in prompt and width < height:  # a whale in a portrait picture is a few hundred px at 1080
        whale_rows = mask[int(0.45 * height):int(0.65 * height)]
        assert np.ptp(np.nonzero(whale_rows.any(axis=0))[0]) > 0.4 * width


def test_painter_paints_full_size(tmp_path):
    # (it took ~0.6 s; the suite asserts behaviour, not speed, on a shared machine)
    out = paint(tmp_path, "a girl with a lantern in the snowy village at night", "big", width=1080, height=1920,
                caption="Medium shot")
    with Image.open(out) as im:
        assert im.size == (1080, 1920)
        assert np.asarray(im.convert("L"), np.float32).std() > 10  # a picture, not a flat fill


# ---------------------------------------------------------------------------------- narrator
def wav_seconds(path):
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        return w.getnframes() / w.getframerate()


@pytest.mark.parametrize("language,text,engine", [
    ("en", "The boats came home at dusk. Then the storm began!", "piper"),
    ("zh", "月亮升起来了，村子很安静。小猫看见了大海。", "espeak")])
def test_narrator_speaks_from_wheels_without_system_espeak(tmp_path, monkeypatch, language, text, engine):
    """Piper (English) and eSpeak NG (Chinese) from the `voice` extra's wheels: no program on
    PATH is used (Debian's espeak-ng hidden, and any subprocess would fail the test)."""
    import subprocess

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    def no_programs(*args, **kwargs):
        raise AssertionError(f"the narrator ran a program: {args[0]!r}")

    monkeypatch.setattr(subprocess, "run", no_programs)
    monkeypatch.setattr(subprocess, "Popen", no_programs)
    narrator = LocalNarrator()
    assert narrator.available() and not narrator.missing(language)
    out = tmp_path / "n.wav"
    spoken = asyncio.run(narrator.speak(SpeechRequest(text=text, language=language), out))
    assert spoken.engine == engine and spoken > 1.0 and abs(spoken - wav_seconds(out)) < 1e-3
    with wave.open(str(out), "rb") as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
    assert 20 * np.log10(np.sqrt(np.mean(pcm ** 2))) > -35  # audible speech, not silence
    words = spoken.words
    assert "".join(w["text"] for w in words).replace(" ", "") == text.replace(" ", "")
    from storynb.providers.offline.narrator import read_info

    assert read_info(out)["words"] == words  # the timings travel inside the WAV (any executor)
    starts = [w["start"] for w in words]
    assert starts == sorted(starts) and 0 <= starts[0] < 1.0 and words[-1]["end"] <= spoken + 1e-6
    assert all(w["end"] >= w["start"] for w in words)
    # the speech really is where the word timings say: loud inside the words, the gap between
    # the two sentences quieter
    first = next(i for i, w in enumerate(words) if w["text"][-1] in ".。")
    sr = round(len(pcm) / spoken)
    inside = pcm[int(words[0]["start"] * sr):int(words[first]["end"] * sr)]
    assert np.sqrt(np.mean(inside ** 2)) > 0.02


def test_narrator_without_the_voices_says_so(tmp_path, monkeypatch):
    from storynb.providers.offline import narrator as module

    monkeypatch.setattr(module, "installed", lambda engine: "piper is not installed: install storynb[voice]")
    narrator = LocalNarrator()
    assert not narrator.available() and narrator.silent and "silent" in narrator.model
    assert "storynb[voice]" in narrator.missing("en")
    out = tmp_path / "s.wav"
    spoken = asyncio.run(narrator.speak(SpeechRequest(text="The boats came home at dusk, one by one."), out))
    assert spoken.engine == "silent" and "storynb[voice]" in spoken.reason
    assert spoken == pytest.approx(wav_seconds(out)) and 2 < spoken < 6
    assert narrator.voice_identity("en")["voice_ready"] is False  # part of the narration key


def test_narrator_gives_silence_for_no_words(tmp_path):
    narrator = LocalNarrator()
    seconds = asyncio.run(narrator.speak(SpeechRequest(text="……"), tmp_path / "e.wav"))
    assert seconds == pytest.approx(wav_seconds(tmp_path / "e.wav")) and seconds >= 0.5
    assert narrator.last_info["engine"] == "silent"


def test_painter_draws_what_the_prompt_names(tmp_path):
    """A storm has dark clouds and rain and no sun; a stranger at a door is a person and a house;
    a road and a car are there (measured against the same scene without them)."""
    from storynb.providers.offline.painter import _Canvas, _palette, _plan  # the layout the painter follows
    import random

    def planned(prompt):
        rng = random.Random(1)
        name, pal = _palette(prompt, rng)
        c = _Canvas(prompt, rng, 200, 356, name, pal)
        _plan(c)
        return name, set(c.spots)

    assert planned("a stranger in a blue coat knocked on the door")[1] >= {"person", "house"}
    assert "vehicle" in planned("a red car on the road")[1]
    assert planned("at dusk, during the longest storm of the year")[0] == "storm"
    w, h = 180, 320
    calm = np.asarray(Image.open(paint(tmp_path, "the village at dusk", "a", width=w, height=h)), np.float32)
    storm = np.asarray(Image.open(paint(tmp_path, "the village at dusk during a storm", "b", width=w, height=h)),
                       np.float32)
    sky = slice(0, h // 3)
    assert storm[sky].mean() < calm[sky].mean() - 20  # dark storm clouds
    streaks = np.abs(np.diff(storm[h // 2:, :, :].mean(axis=-1), axis=1)).mean()
    assert streaks > np.abs(np.diff(calm[h // 2:, :, :].mean(axis=-1), axis=1)).mean()  # rain
