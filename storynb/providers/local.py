"""The offline providers: a draft writer, a painter and a narrator that need no key and no network.

They are deterministic (same input, same output) and are what the pipeline uses by default and in
tests. The draft writer is a template-based writer, not an AI, and says so in every result.
The phrase banks and word lists live in `local_text`.
"""
from __future__ import annotations

import asyncio
import colorsys
import functools
import hashlib
import json
import math
import random
import re
import shutil
import subprocess
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from . import local_text as T
from .base import ImageRequest, LLMRequest, LLMResult, ProviderError, SpeechRequest

__all__ = ["DraftWriter", "Painter", "LocalNarrator", "offline_providers", "write_story",
           "make_storyboard", "plan_camera", "paint", "shot_duration", "MOVEMENTS"]

MOVEMENTS = ("static", "zoom_in", "zoom_out", "pan_left", "pan_right", "tilt_up", "tilt_down",
             "dolly_in", "dolly_out")


# ------------------------------------------------------------------------------ small helpers
def _seed(*parts: Any) -> int:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def _cjk_count(text: str) -> int:
    return sum(1 for ch in text if _is_cjk(ch))


def _looks_chinese(text: str) -> bool:
    letters = sum(1 for ch in text if ch.isalpha())
    return letters > 0 and _cjk_count(text) / letters > 0.3


def _approx_tokens(text: str) -> int:
    cjk = _cjk_count(text)
    return cjk + (len(text) - cjk) // 4


def _language(value: Any, text: str) -> str:
    v = str(value or "").strip().lower()
    if v.startswith(("zh", "cmn", "chinese")) or v in ("中文", "汉语", "普通话", "cn"):
        return "zh"
    if v.startswith(("en", "english")) or v == "英文":
        return "en"
    return "zh" if _looks_chinese(text) else "en"


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def _word_count(text: str) -> int:
    return len(re.findall(r"[A-Za-z0-9'’-]+", text))


# ================================================================================== rewrite
_DETERMINERS = {"a", "an", "the", "my", "our", "your", "his", "her", "their", "its", "one",
                "some", "this", "that", "these", "those", "every", "no", "two", "three"}
_WANT_VERBS = {"wants", "hopes", "longs", "wishes", "needs", "tries", "decides", "plans",
               "dreams", "sets", "yearns", "wanted", "hoped", "longed", "wished", "tried", "decided"}
_BAD_GOAL_VERBS = {"loses", "forgets", "dies", "fails", "breaks", "falls", "misses", "fears",
                   "hates", "cries", "disappears", "vanishes", "suffers", "hurts", "is", "has",
                   "was", "does", "gets", "sleeps", "kills", "steals", "versus", "across", "always",
                   "perhaps", "sometimes", "this", "thus", "plus", "unless", "whereas", "towards",
                   "besides", "afterwards", "his", "its", "yes"}
_CLAUSE_VERBS = set("""is are was were has have had can could will would did does falls fell
learns learned finds found loses lost becomes became meets met wakes woke disappears disappeared
returns returned comes came goes went stops stopped begins began decides decided tries tried
wants wanted runs ran flies flew sings sang dies died lives lived forgets forgot sees saw
breaks broke turns turned fall fly learn find meet become go come run sing dance live dream try
want travel build save search lose wake return begin stop""".split())


def _infinitive(verb: str) -> str:
    if verb.endswith("ies") and len(verb) > 4:
        return verb[:-3] + "y"
    if verb.endswith(("ches", "shes", "sses", "xes", "zes", "oes")):
        return verb[:-2]
    return verb[:-1] if verb.endswith("s") else verb


@functools.lru_cache(maxsize=1)
def _known_words() -> frozenset[str]:
    words = set(_DETERMINERS) | set(T.EN_CHARACTERS) | _CLAUSE_VERBS
    for _term, _category, en_words, _zh in T.VISUALS:
        words.update(en_words)
    return frozenset(words)


def _common_word(word: str) -> bool:
    """A first word that is a common noun or determiner (lower-case it), not a name like Paris."""
    w = word.lower()
    return w in _known_words() or w.rstrip("s") in _known_words() or w[:-2] in _known_words()


def _subject_en(topic: str) -> str:
    t = " ".join(topic.split()).strip("\"'“”‘’ ")
    first = re.split(r"(?<=[.!?])\s+", t)[0].strip().rstrip(".!?;:,")
    first = re.sub(r"^(please\s+)?((write|tell|create|make|give)\s+(me\s+|us\s+)?)?((a|an|the)\s+)?"
                   r"((short|little|bedtime|long)\s+)?(story|tale)\s+(about|of)\s+", "", first,
                   flags=re.I).strip()
    words = first.split()
    if len(words) > 14:
        head = " ".join(words[:14])
        cut = re.split(r"[,;:]| - | — ", head)[0].split()
        words = cut if len(cut) >= 3 else words[:12]
    if words and _common_word(words[0]):
        words[0] = words[0].lower()
    return " ".join(words).rstrip(",;:") or t


def _parse_hero_en(subject: str) -> tuple[str | None, str | None, str | None]:
    """(hero phrase, gender, goal) when the topic names a character who wants or does something."""
    tokens = subject.split()
    low = [re.sub(r"[^a-z'-]", "", w.lower()) for w in tokens]
    for i, w in enumerate(low[:6]):
        if w not in T.EN_CHARACTERS:
            continue
        j = i
        while j > 0 and i - j < 2 and low[j - 1].isalpha() and low[j - 1] not in _DETERMINERS \
                and tokens[j - 1].islower():
            j -= 1
        phrase = " ".join(t.strip(",") for t in tokens[j:i + 1]).lower()
        rest = low[i + 1:]
        raw = tokens[i + 1:]
        if rest and rest[0] in ("who", "that"):
            rest, raw = rest[1:], raw[1:]
        goal = None
        if len(rest) >= 2:
            verb = rest[0]
            if verb in _WANT_VERBS:
                k = 1 + (rest[1] == "out")
                if k < len(rest) and rest[k] in ("to", "of"):
                    goal = raw[k + 1:] if rest[k] == "to" else None
            elif verb.endswith("s") and not verb.endswith("ss") and len(verb) > 3 \
                    and verb not in _BAD_GOAL_VERBS:
                goal = [_infinitive(verb)] + raw[1:]
        if goal:
            text = re.split(r"[,.;:!?]", " ".join(goal))[0].split()[:10]
            goal_text = " ".join(text).strip()
            if goal_text:
                return phrase, T.EN_CHARACTERS[w], goal_text
        return None, None, None
    m = re.search(r"\b(?:wants?|hopes?|longs?|wish(?:es)?|dreams?) to ([^,.;:!?]+)", subject, re.I)
    if m:
        return None, None, " ".join(m.group(1).split()[:10])
    return None, None, None


def _about_en(subject: str) -> str:
    """The topic as something to think about: a noun phrase as it is, a clause as "how ..."."""
    low = [re.sub(r"[^a-z'-]", "", w) for w in subject.lower().split()]
    for k in range(1, len(low)):
        if low[k] in ("who", "that", "which", "where", "when", "whose", "whom", "with", "of"):
            return subject  # a noun phrase with a relative clause
        if low[k] in _CLAUSE_VERBS and low[k - 1] not in _DETERMINERS | {"and", "or", "of", "with", "very"}:
            return "how " + subject
    return subject


def _pronouns(p: str) -> dict[str, str]:
    forms = {"she": ("she", "her", "her"), "he": ("he", "him", "his")}[p]
    return {"they": forms[0], "They": _cap(forms[0]), "them": forms[1], "their": forms[2],
            "Their": _cap(forms[2])}


def _cast_en(topic: str, style: str, rng: random.Random) -> dict[str, str]:
    subject = _subject_en(topic)
    phrase, gender, goal = _parse_hero_en(subject)
    if goal and re.search(r"\bher\b", goal):
        gender = "she"
    elif goal and re.search(r"\bhis\b", goal):
        gender = "he"
    if phrase:
        desc = phrase
    else:
        desc, role_gender = rng.choice([r for r in T.EN_ROLES if gender is None or r[1] in (None, gender)])
        gender = gender or role_gender
    name, pron = rng.choice([n for n in T.EN_NAMES if gender is None or n[1] == gender])
    article = "an" if desc[0] in "aeiou" else "a"
    place, the_place = rng.choice(T.EN_PLACES[style])
    obj, the_obj = rng.choice(T.EN_OBJECTS)
    about = _about_en(subject)
    achieved = f"finally got to {goal}" if goal else f"finally understood the truth about {about}"
    return {"hero": name, "Hero": name, "hero_desc": f"{article} {desc} named {name}",
            "place": place, "Place": _cap(place), "the_place": the_place, "object": obj, "the_object": the_obj,
            "companion": rng.choice(T.EN_COMPANIONS), "about": about, "goal": goal or "",
            "achieved": achieved, **_pronouns(pron)}


_ZH_PUNCT = "，。！？、；：,.!?;:…—～~·\"'“”‘’「」『』《》()（） "
_ZH_NOT_A_VERB = ("的", "和", "与", "跟", "同", "及", "或", "之", "们", "在", "，", "、")
_ZH_BAD_GOAL = ("丢", "失去", "死", "忘", "哭", "病", "迷路", "害怕", "被", "是", "有")


def _subject_zh(topic: str) -> str:
    t = "".join(topic.split())
    parts = [p for p in re.split(r"[。！？!?；;]", t) if p.strip(_ZH_PUNCT)]
    s = parts[0] if parts else t
    s = re.sub(r"^(请)?(帮我)?(写|讲|编|创作|说)?(一个|一篇|个|篇|一段)?(关于)?", "", s)
    s = re.sub(r"(的)?(小故事|故事|童话|传说)$", "", s).strip(_ZH_PUNCT)
    if len(s) > 24:
        head = re.split(r"[，、,]", s)[0]
        s = head if len(head) >= 4 else s[:24]
    return s or t.strip(_ZH_PUNCT)


def _cast_zh(topic: str, style: str, rng: random.Random) -> dict[str, str]:
    subject = _subject_zh(topic)
    found = None
    for noun, measure, pron in T.ZH_CHARACTERS:
        pos = subject.find(noun)
        if pos >= 0 and (found is None or pos < found[0] or (pos == found[0] and len(noun) > len(found[1]))):
            found = (pos, noun, measure, pron)
    goal = None
    m = re.search(r"(想要|渴望|梦想着|梦想|希望|想)(.{2,12}?)(?=的|，|。|、|$)", subject)
    if m:
        goal = m.group(2)
    elif found and found[0] == 0 and len(subject) - len(found[1]) >= 2:
        rest = subject[len(found[1]):]
        if not rest.startswith(_ZH_NOT_A_VERB + _ZH_BAD_GOAL) and "了" not in rest and len(rest) <= 12:
            goal = rest
    pron = found[3] if found and goal else None
    names = [n for n in T.ZH_NAMES if pron in (None, "它") or n[1] == pron]
    name, name_pron = rng.choice(names)
    if found and goal:
        hero_desc = f"一{found[2]}名叫{name}的{found[1]}"
    else:
        measure, role = rng.choice(T.ZH_ROLES)
        hero_desc = f"一{measure}名叫{name}的{role}"
    obj, the_obj = rng.choice(T.ZH_OBJECTS)
    place, the_place = rng.choice(T.ZH_PLACES[style])
    achieved = f"终于实现了{goal}的心愿" if goal else f"终于弄明白了关于{subject}的真相"
    return {"hero": name, "hero_desc": hero_desc, "ta": pron or name_pron,
            "place": place, "the_place": the_place, "object": obj, "the_object": the_obj,
            "companion": rng.choice(T.ZH_COMPANIONS), "about": subject, "goal": goal or "",
            "achieved": achieved}


def _style(value: Any) -> str:
    v = str(value or "").strip().lower()
    if v in T.STYLES:
        return v
    for style, words in T.STYLE_ALIASES.items():
        if any(w in v for w in words):
            return style
    return "warm"


def _length_level(value: Any) -> int:
    v = str(value or "medium").strip().lower()
    if v in ("short", "s", "短", "短篇"):
        return 0
    if v in ("long", "l", "长", "长篇"):
        return 2
    if v.isdigit():  # a word count
        return 0 if int(v) < 150 else (1 if int(v) < 350 else 2)
    return 1


def write_story(variables: dict[str, Any]) -> str:
    """The `rewrite` task: a multi-paragraph story around variables['topic']."""
    topic = str(variables.get("topic") or "").strip()
    if not topic:
        raise ProviderError("the draft writer needs a topic to rewrite (variable 'topic' is empty)")
    lang = _language(variables.get("language"), topic)
    style = _style(variables.get("style"))
    level = _length_level(variables.get("length"))
    audience = str(variables.get("audience") or "").lower()
    rng = random.Random(_seed("rewrite", topic, lang, style, level, audience))
    cast = (_cast_zh if lang == "zh" else _cast_en)(topic, style, rng)
    beats = T.ZH_BEATS if lang == "zh" else T.EN_BEATS
    paragraphs: list[list[str]] = []
    for beat in ("setting", "want", "obstacle", "turn", "resolution"):
        sentences = []
        for slot, slot_level, options in beats[beat]:
            if slot_level > level:
                continue
            if isinstance(options, dict):
                options = options["goal" if cast["goal"] else "about"] if slot == "want" else options[style]
            sentences.append(_cap(rng.choice(options).format(**cast)))
        paragraphs.append(sentences)
    if level == 0:  # short: three paragraphs (setting+want, obstacle+turn, resolution)
        paragraphs = [paragraphs[0] + paragraphs[1], paragraphs[2] + paragraphs[3], paragraphs[4]]
    if any(w in audience for w in T.CHILD_AUDIENCE):
        paragraphs[-1].append(rng.choice(T.ZH_CHILD_MORAL if lang == "zh" else T.EN_CHILD_MORAL))
    joiner = "" if lang == "zh" else " "
    return "\n\n".join(joiner.join(p) for p in paragraphs)


# =============================================================================== storyboard
_ZH_END = "。！？!?…"
_CLOSERS = "\"'”’」』）)]"


def _split_sentences(paragraph: str, zh: bool) -> list[str]:
    out, buf, i, n = [], [], 0, len(paragraph)
    while i < n:
        ch = paragraph[i]
        buf.append(ch)
        i += 1
        if ch in (_ZH_END if zh else ".!?…") or (zh and ch in ".!?"):
            while i < n and (paragraph[i] in _ZH_END + ".!?" or paragraph[i] in _CLOSERS):
                buf.append(paragraph[i])
                i += 1
            if zh or i >= n or paragraph[i].isspace():
                piece = "".join(buf).strip()
                if piece:
                    out.append(piece)
                buf = []
    tail = "".join(buf).strip()
    if tail:
        out.append(tail)
    return out


def _weight(text: str, zh: bool) -> float:
    return float(_cjk_count(text) or len(text)) if zh else float(_word_count(text) or 1)


def _split_piece(text: str, zh: bool) -> tuple[str, str] | None:
    """Split one long sentence in two, at the clause mark nearest its middle, else mid-way."""
    marks = [m.end() for m in re.finditer(r"[，；：、,;:—]" if zh else r"[,;:—]\s", text)]
    marks = [k for k in marks if 0 < k < len(text) - 1]
    if not marks:
        if zh:
            if len(text) < 2:
                return None
            marks = [len(text) // 2]
        else:
            spaces = [m.start() for m in re.finditer(r"\s", text)]
            if not spaces:
                return None
            marks = spaces
    mid = len(text) / 2
    k = min(marks, key=lambda x: abs(x - mid))
    a, b = text[:k].strip(), text[k:].strip()
    if not (any(ch.isalnum() for ch in a) and any(ch.isalnum() for ch in b)):
        return None
    return a, b


def _group(weights: list[float], paras: list[int], n: int) -> list[tuple[int, int]]:
    """Split pieces 0..len-1 into n contiguous groups of similar weight (DP on squared error)."""
    m = len(weights)
    target = sum(weights) / n
    pre = [0.0]
    for w in weights:
        pre.append(pre[-1] + w)

    def cost(i: int, j: int) -> float:
        c = (pre[j] - pre[i] - target) ** 2
        return c + (paras[j - 1] - paras[i]) * (0.4 * target) ** 2

    if m > 240:  # long texts: greedy
        bounds, start = [], 0
        for g in range(n - 1):
            j = start + 1
            while j < m - (n - g - 1) and pre[j] - pre[start] < target:
                j += 1
            bounds.append((start, j))
            start = j
        return bounds + [(start, m)]
    inf = float("inf")
    best = [[inf] * (m + 1) for _ in range(n + 1)]
    back = [[0] * (m + 1) for _ in range(n + 1)]
    best[0][0] = 0.0
    for g in range(1, n + 1):
        for j in range(g, m - (n - g) + 1):
            for i in range(g - 1, j):
                if best[g - 1][i] < inf:
                    c = best[g - 1][i] + cost(i, j)
                    if c < best[g][j]:
                        best[g][j], back[g][j] = c, i
    bounds, j = [], m
    for g in range(n, 0, -1):
        i = back[g][j]
        bounds.append((i, j))
        j = i
    return bounds[::-1]


def shot_duration(narration: str, zh: bool, fps: int | None = None) -> float:
    """Seconds for a narration: ~2.6 words/s (en) or 4.5 chars/s (zh) + 0.5 s, in 2..10 s,
    rounded up to a step that is a whole number of frames (0.5 s; 1 s at 25 fps)."""
    amount = (_cjk_count(narration) or len(narration.strip())) / 4.5 if zh \
        else _word_count(narration) / 2.6
    seconds = min(10.0, max(2.0, amount + 0.5))
    step = 0.5 if not fps or float(0.5 * fps).is_integer() else 1.0
    return math.ceil(seconds / step - 1e-9) * step


def _visuals(text: str, zh: bool) -> list[tuple[str, str, int]]:
    """(English term, category, position) for every visual word found in text."""
    found = []
    low = text.lower()
    for term, category, en_words, zh_words in T.VISUALS:
        positions = []
        for w in (zh_words if zh else en_words):
            if zh:
                pos = text.find(w)
            else:
                m = re.search(r"\b" + re.escape(w) + r"(?:s|es)?\b", low)
                pos = m.start() if m else -1
            if pos >= 0:
                positions.append(pos)
        if positions:
            found.append((term, category, min(positions)))
    return found


_CONNECTIVES_EN = r"^(then|but|and|so|however|unfortunately|still|yet|now|meanwhile|at last|in the end)\b[\s,]*"
_CONNECTIVES_ZH = r"^(然后|但是|可是|于是|就在这时|不巧的是|直到|最后|就这样|然而|而且|而)[，,]?"


def _scene_clause(narration: str, zh: bool) -> str:
    text = narration.strip().strip(_CLOSERS + "\"“「")
    if zh:
        text = re.sub(_CONNECTIVES_ZH, "", text)
        parts = [p for p in re.split(r"[，；：、。！？…“”「」]", text) if p]
        clause = parts[0] if parts else text
        if len(clause) < 6 and len(parts) > 1:
            clause += "，" + parts[1]
        return clause if len(clause) <= 18 else clause[:17] + "…"
    text = re.sub(_CONNECTIVES_EN, "", text, flags=re.I)
    parts = [p.strip() for p in re.split(r"[,;:—.!?\"“”]", text) if p.strip()]
    clause = parts[0] if parts else text
    if len(clause.split()) < 3 and len(parts) > 1:
        clause += ", " + parts[1]
    words = clause.split()
    clause = " ".join(words[:10]) + ("…" if len(words) > 10 else "")
    return _cap(clause)


def make_storyboard(variables: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The `storyboard` task: 4..12 shots covering the story's sentences in order."""
    story = str(variables.get("story") or "").strip()
    if not story:
        raise ProviderError("the draft writer needs the story text (variable 'story' is empty)")
    zh = _looks_chinese(story) or (_cjk_count(story) > 0 and _language(variables.get("language"), story) == "zh")
    lang = "zh" if zh else "en"
    try:
        fps = int(variables.get("fps") or 0) or None
    except (TypeError, ValueError):
        fps = None
    pieces: list[tuple[str, int]] = []
    for p_index, para in enumerate(re.split(r"\n\s*\n", story)):
        para = re.sub(r"\s*\n\s*", "", para.strip()) if zh else " ".join(para.split())
        pieces += [(s, p_index) for s in _split_sentences(para, zh)]
    total = sum(_weight(s, zh) for s, _ in pieces)
    wanted = variables.get("shots")
    try:
        n = int(wanted) if wanted not in (None, "") else math.ceil(total / (32 if zh else 20))
    except (TypeError, ValueError):
        n = math.ceil(total / (32 if zh else 20))
    n = max(4, min(12, n))
    while len(pieces) < n:  # too few sentences: split the longest one that can be split
        for idx in sorted(range(len(pieces)), key=lambda k: -_weight(pieces[k][0], zh)):
            halves = _split_piece(pieces[idx][0], zh)
            if halves:
                pieces[idx:idx + 1] = [(halves[0], pieces[idx][1]), (halves[1], pieces[idx][1])]
                break
        else:
            break
    groups = _group([_weight(s, zh) for s, _ in pieces], [p for _, p in pieces], min(n, len(pieces)))
    narrations = [("" if zh else " ").join(s for s, _ in pieces[i:j]) for i, j in groups]
    # (a story of fewer than four words or characters gives fewer than four shots)

    hero_term, hero_name = _hero_visual(story, zh)
    style_words = _mood_style(story)
    labels = T.SHOT_LABELS[lang]
    shots, last_place = [], None
    for k, narration in enumerate(narrations):
        found = sorted(_visuals(narration, zh), key=lambda f: f[2])
        close = any(w in narration.lower() for w in (T.CLOSE_WORDS_ZH if zh else T.CLOSE_WORDS_EN))
        if k == 0:
            label = labels["first"]
        elif k == len(narrations) - 1:
            label = labels["last"]
        elif close:
            label = labels["close"]
        elif any(c == "place" for _, c, _ in found):
            label = labels["wide"]
        else:
            label = labels["mid"][k % 2]
        terms: list[str] = []
        if hero_term and (hero_name and hero_name in narration or k == 0):
            terms.append(hero_term)
        for category in ("character", "object", "place", "weather", "light"):
            picked = [t for t, c, _ in found if c == category][:2 if category != "light" else 1]
            if category == "character" and hero_term:
                picked = [t for t in picked if t != hero_term][:1]
            if category == "place":
                picked = picked or ([last_place] if last_place else [])
                last_place = picked[0] if picked else last_place
            if category == "light":
                picked = picked or [_arc_light(k, len(narrations))]
            terms += [t for t in picked if t not in terms]
        if not terms:
            terms = ["a quiet atmospheric scene"]
        prompt = ", ".join([T.FRAMING[label]] + terms + [style_words,
                           "storybook illustration, cinematic lighting, rich detail, soft film grain"])
        scene = f"{label}：{_scene_clause(narration, zh)}" if zh else f"{label}: {_scene_clause(narration, zh)}"
        shots.append({"scene": scene, "narration": narration, "image_prompt": prompt,
                      "duration_s": shot_duration(narration, zh, fps)})
    return {"shots": shots}


def _arc_light(k: int, n: int) -> str:
    """Light for a shot whose words do not say: the story's arc, from dawn through dusk and night to morning."""
    p = k / max(1, n - 1)
    for until, light in ((0.15, "soft dawn light"), (0.45, "soft daylight"), (0.65, "sunset glow"),
                         (0.85, "night, moonlight")):
        if p <= until:
            return light
    return "soft dawn light"


def _hero_visual(story: str, zh: bool) -> tuple[str | None, str | None]:
    """The main character as an English visual term, and the name the story calls them by."""
    if zh:
        m = re.search(r"名叫(\S{1,3}?)的([^。，；！？]{1,10})", story)
        if not m:
            return None, None
        found = _visuals(m.group(2), True)
        chars = [t for t, c, _ in found if c == "character"]
        return (chars[0] if chars else "a lone figure"), m.group(1)
    m = re.search(r"\b(an?|the)\s+((?:[A-Za-z'-]+\s+){0,3}?[A-Za-z'-]+)\s+named\s+([A-Z][a-z]+)", story)
    if not m:
        return None, None
    found = [t for t, c, _ in _visuals(m.group(2), False) if c == "character"]
    return (found[0] if found else f"{m.group(1).lower()} {m.group(2).lower()}"), m.group(3)


def _mood_style(story: str) -> str:
    low = story.lower()
    scores = [sum(low.count(w) for w in words) for words, _ in T.MOOD_STYLES]
    best = max(range(len(scores)), key=lambda k: (scores[k], -k))
    return T.MOOD_STYLES[best][1] if scores[best] else "soft natural light, gentle colors"


# =================================================================================== camera


def plan_camera(variables: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The `camera` task: one movement per shot, from its words, never the same twice in a row."""
    shots = variables.get("shots") or []
    if isinstance(shots, str):
        try:
            shots = json.loads(shots)
        except json.JSONDecodeError as exc:
            raise ProviderError(f"camera: variable 'shots' is not valid JSON ({exc})") from None
    if isinstance(shots, dict):
        shots = shots.get("shots", [])
    if not isinstance(shots, list) or not shots:
        raise ProviderError("the draft writer needs the shots to plan camera moves (variable 'shots' is empty)")
    out, previous = [], None
    for k, shot in enumerate(shots):
        shot = shot if isinstance(shot, dict) else {"narration": str(shot)}
        scene = str(shot.get("scene") or "").lower()
        narration = str(shot.get("narration") or "").lower()
        jitter = random.Random(_seed("camera", scene, narration, k))
        scores = {m: jitter.random() * 0.5 for m in MOVEMENTS}
        scores["static"] -= 0.3
        for words, weights in T.CAMERA_RULES:
            hits = 2 * sum(w in scene for w in words) + sum(w in narration for w in words)
            for move, weight in weights.items():
                scores[move] += weight * min(hits, 3)
        if k == 0:
            for move, bonus in (("dolly_in", 1.6), ("pan_right", 1.3), ("tilt_down", 1.2)):
                scores[move] += bonus
        if k == len(shots) - 1 and len(shots) > 1:
            scores["zoom_out"] += 2.5
            scores["dolly_out"] += 2.2
        if max(scores.values()) < 1.0:  # no words to go on: a varied default
            scores[T.CAMERA_FALLBACK_ORDER[(k + jitter.randrange(3)) % len(T.CAMERA_FALLBACK_ORDER)]] += 1.0
        scores.pop(previous, None)
        movement = max(scores, key=lambda m: (scores[m], m))
        text = scene + " " + narration
        intensity = 0.17 + 0.05 * any(w in text for w in T.INTENSE_WORDS) - 0.03 * any(w in text for w in T.CALM_WORDS)
        intensity = 0.12 if movement == "static" else intensity + jitter.uniform(-0.02, 0.02)
        out.append({"sequence": int(shot.get("sequence") or k + 1), "movement": movement,
                    "params": {"speed": 1.0, "intensity": round(min(0.25, max(0.12, intensity)), 2),
                               "easing": "ease_in_out", "start": 0.0, "end": 1.0}})
        previous = movement
    return {"shots": out}


class DraftWriter:
    """A deterministic, template-based writer for the `rewrite`, `storyboard` and `camera` tasks.

    It is not an AI: it fills phrase banks around the topic so the pipeline can run with no key.
    """

    name = "draft-writer"
    kind = "llm"
    model = "draft-writer (offline, not an AI)"
    tasks = ("rewrite", "storyboard", "camera")

    async def complete(self, request: LLMRequest) -> LLMResult:
        if request.task == "rewrite":
            text = await asyncio.to_thread(write_story, dict(request.variables))
        elif request.task in ("storyboard", "camera"):
            work = make_storyboard if request.task == "storyboard" else plan_camera
            data = await asyncio.to_thread(work, dict(request.variables))
            text = json.dumps(data, ensure_ascii=False, indent=1)
        else:
            raise ProviderError(f"the offline draft writer cannot do task {request.task!r}: "
                                f"it only writes {', '.join(self.tasks)}")
        return LLMResult(text=text, tokens_in=_approx_tokens((request.system or "") + request.prompt),
                         tokens_out=_approx_tokens(text), model=self.model)


# ================================================================================== painter


def _has(text: str, *words: str) -> bool:
    for w in words:
        if _is_cjk(w[0]):
            if w in text:
                return True
        elif re.search(r"\b" + re.escape(w) + r"(?:s|es)?\b", text):
            return True
    return False


def _palette(text: str, rng: random.Random) -> tuple[str, dict[str, np.ndarray]]:
    name = next((n for n, words in T.PALETTE_WORDS if _has(text, *words)), None)
    if name:
        base = T.PALETTES[name]
    else:  # from a hash of the words
        h = rng.random()
        hsv = lambda dh, s, v: tuple(int(c * 255) for c in colorsys.hsv_to_rgb((h + dh) % 1, s, v))
        base = dict(top=hsv(0, 0.55, 0.42), mid=hsv(0.04, 0.35, 0.75), horizon=hsv(0.09, 0.25, 0.97),
                    disc=hsv(0.12, 0.15, 1.0), land=hsv(0.45, 0.45, 0.3), water=hsv(0.5, 0.5, 0.5),
                    ink=hsv(0.45, 0.5, 0.1))
    shift, gain = rng.uniform(-0.03, 0.03), rng.uniform(0.92, 1.06)
    out = {}
    for key, rgb in base.items():
        hh, ss, vv = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
        r, g, b = colorsys.hsv_to_rgb((hh + shift) % 1, ss, min(1.0, vv * gain))
        out[key] = np.array([r, g, b], dtype=np.float32) * 255
    return name or "hashed", out


def _ridge(rng: random.Random, width: int, base: float, rough: float, jag: bool) -> np.ndarray:
    """A skyline profile (y per x): midpoint displacement for mountains, sines for hills."""
    xs = np.arange(width, dtype=np.float32)
    if not jag:
        y = np.full(width, base, dtype=np.float32)
        for _ in range(3):
            period = rng.uniform(0.5, 1.6) * width
            y += rough * rng.uniform(0.3, 1.0) * np.sin(xs / period * 2 * np.pi + rng.uniform(0, 6.3))
        return y
    n = 1
    pts = np.array([base + rng.uniform(-rough, rough), base + rng.uniform(-rough, rough)])
    amp = rough * 1.6
    while n < width:
        mids = (pts[:-1] + pts[1:]) / 2 + np.array([rng.uniform(-amp, amp) for _ in range(len(pts) - 1)])
        merged = np.empty(len(pts) + len(mids))
        merged[0::2], merged[1::2] = pts, mids
        pts, n, amp = merged, n * 2, amp * 0.55
    return np.interp(xs, np.linspace(0, width - 1, len(pts)), pts).astype(np.float32)


def _fill_below(img: np.ndarray, ridge: np.ndarray, color: np.ndarray, alpha: float = 1.0) -> None:
    h = img.shape[0]
    rows = np.arange(h, dtype=np.float32)[:, None]
    mask = np.clip(rows - ridge[None, :] + 0.5, 0, 1)[..., None] * alpha  # soft 1px edge
    img[:] = img * (1 - mask) + color * mask


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return a + (b - a) * t


@dataclass
class _Canvas:
    """The low-resolution working picture and what the prompt asked for."""

    text: str
    rng: random.Random
    lw: int
    lh: int
    pal_name: str
    pal: dict[str, np.ndarray]
    horizon: float
    img: np.ndarray = field(init=False)
    yy: np.ndarray = field(init=False)
    xx: np.ndarray = field(init=False)
    ground: np.ndarray = field(init=False)  # y of the nearest ground per x
    ridges: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.yy, self.xx = np.mgrid[0:self.lh, 0:self.lw].astype(np.float32)
        self.night = self.pal_name == "night"
        self.haze = self.pal["horizon"] * 0.55 + self.pal["land"] * 0.45
        self.ink = _rgb(self.pal["ink"])
        self.lit = self.night or self.pal_name in ("sunset", "storm", "fire") or \
            self.has("lantern", "light", "window", "灯")
        self.water = self.has("sea", "ocean", "lake", "harbour", "harbor", "boat", "ship", "whale", "river",
                              "beach", "海", "湖", "港", "船", "河")

    def has(self, *words: str) -> bool:
        return _has(self.text, *words)

    def ground_at(self, x: float, lift: float = 0.0) -> float:
        return float(min(self.ground[int(np.clip(x, 0, self.lw - 1))], self.lh - 4 - lift)) + 3


_GLOW = (255, 214, 130)


def _rgb(color: np.ndarray) -> tuple[int, int, int]:
    return tuple(int(c) for c in color)  # type: ignore[return-value]


def _paint_sky(c: _Canvas) -> None:
    """Three-stop gradient, a glowing sun or moon (a crescent sometimes), stars, clouds."""
    rng, pal = c.rng, c.pal
    ys = np.arange(c.lh, dtype=np.float32) / max(c.horizon, 1)
    sky = np.stack([np.interp(ys, [0, 0.55, 1.0], [pal["top"][k], pal["mid"][k], pal["horizon"][k]])
                    for k in range(3)], axis=-1)
    c.img = np.repeat(sky[:, None, :], c.lw, axis=1).astype(np.float32)
    c.has_disc = c.night or c.pal_name in ("sunset", "dawn", "fire", "desert") or \
        c.has("sun", "moon", "太阳", "月") or (c.pal_name != "storm" and rng.random() < 0.4)
    c.is_moon = c.night or c.has("moon", "月")
    c.dx = c.lw * rng.uniform(0.22, 0.78)
    c.dy = c.horizon * (rng.uniform(0.15, 0.45) if c.is_moon else rng.uniform(0.55, 0.85))
    c.dr = c.lw * rng.uniform(0.06, 0.11)
    dist = np.hypot(c.xx - c.dx, c.yy - c.dy)
    if c.has_disc:
        glow = np.exp(-(dist / (c.dr * (3.5 if c.is_moon else 6))) ** 2)[..., None]
        c.img += (pal["disc"] - c.img) * glow * (0.35 if c.is_moon else 0.6)
    if c.night or c.has("stars", "starry", "星"):
        white = np.array([255, 255, 240], np.float32)
        for _ in range(rng.randint(90, 220)):
            sx, sy = rng.randrange(c.lw), rng.uniform(0, c.horizon * 0.9)
            c.img[int(sy), sx] = _lerp(c.img[int(sy), sx], white, rng.uniform(0.35, 1.0) * (1 - sy / c.horizon))
    if c.has_disc:
        disc = np.clip(c.dr - dist + 0.5, 0, 1)
        if c.is_moon and rng.random() < 0.6:  # crescent
            off = np.hypot(c.xx - c.dx - c.dr * 0.45, c.yy - c.dy + c.dr * 0.2)
            disc = disc * (1 - np.clip(c.dr * 0.95 - off + 0.5, 0, 1) * 0.88)
        c.img += (pal["disc"] - c.img) * disc[..., None]
    if c.has("cloud", "storm", "rain", "fog", "mist", "sky", "云", "雾", "雨") or rng.random() < 0.45:
        layer = Image.new("L", (c.lw, c.lh), 0)
        d = ImageDraw.Draw(layer)
        for _ in range(rng.randint(3, 7)):  # a cloud is a cluster of flat ellipses, blurred
            cx, cy, cw = rng.uniform(-0.1, 1.1) * c.lw, rng.uniform(0.08, 0.8) * c.horizon, rng.uniform(0.18, 0.45) * c.lw
            for _ in range(rng.randint(3, 6)):
                ox, oy, r = rng.uniform(-cw / 2, cw / 2), rng.uniform(-cw / 10, cw / 14), rng.uniform(cw / 7, cw / 3.5)
                d.ellipse([cx + ox - r, cy + oy - r * 0.6, cx + ox + r, cy + oy + r * 0.6], fill=rng.randint(110, 200))
        mask = np.asarray(layer.filter(ImageFilter.GaussianBlur(c.lw * 0.02)), np.float32)[..., None] / 255
        if c.night:
            tone = pal["mid"] * 1.3
        elif c.pal_name == "storm":
            tone = _lerp(pal["mid"], pal["horizon"], 0.5)
        else:
            tone = _lerp(pal["horizon"], np.full(3, 255.0), 0.45)
        c.img += (tone - c.img) * mask * 0.75


def _paint_land(c: _Canvas) -> None:
    """Hazy layers of hills or mountains, then water with reflections, or a near hill."""
    rng, pal, lh, lw = c.rng, c.pal, c.lh, c.lw
    mountains = c.has("mountain", "peak", "cliff", "fortress", "山", "峰")
    layers = 3 if mountains else 2
    for k in range(layers):
        base = c.horizon - (lh * rng.uniform(0.10, 0.2) if mountains and k == 0 else lh * 0.03 * (1 - k))
        ridge = _ridge(rng, lw, base, lh * (0.06 if mountains else 0.02), mountains and k < 2)
        _fill_below(c.img, ridge, _lerp(c.haze, pal["land"], (k + 1) / (layers + 1) * (0.6 if c.water else 1.0)))
        c.ridges.append(ridge)
    if not c.water:
        c.ground = _ridge(rng, lw, lh * rng.uniform(0.78, 0.86), lh * 0.025, False)
        _fill_below(c.img, c.ground, pal["land"] * 0.85)
        return
    top = int(c.horizon)
    rows = np.linspace(0, 1, lh - top, dtype=np.float32)[:, None, None]
    c.img[top:] = _lerp(pal["horizon"] * 0.5 + pal["water"] * 0.5, pal["water"] * 0.6, rows)
    if c.has_disc:  # the light's reflection
        band = np.exp(-((c.xx[top:] - c.dx) / (c.dr * 1.2)) ** 2)[..., None]
        c.img[top:] += (pal["disc"] - c.img[top:]) * band * 0.35 * (1 - rows)
    for _ in range(rng.randint(60, 120)):  # ripples, longer near the viewer
        y = rng.uniform(top + 2, lh)
        x, length = rng.uniform(0, lw), rng.uniform(4, 18) * (y - top) / (lh - top) + 2
        seg = c.img[int(y), int(max(0, x - length)):int(min(lw, x + length))]
        seg += (pal["disc"] - seg) * 0.18
    c.ground = np.full(lw, lh + 10.0, np.float32)
    if c.has("girl", "boy", "figure", "man", "woman", "child", "fox", "cat", "dog", "lighthouse", "house",
             "tree", "town", "村", "镇", "人", "狐"):  # a shore in front for someone to stand on
        c.ground = _ridge(rng, lw, lh * rng.uniform(0.82, 0.88), lh * 0.02, False)
        _fill_below(c.img, c.ground, pal["land"])


def _paint_settlement(c: _Canvas, draw: ImageDraw.ImageDraw) -> None:
    """A city skyline or a row of village roofs on the horizon, windows lit after dark."""
    rng = c.rng
    city = c.has("city", "skyline", "城市")
    if not (city or c.has("town", "village", "street", "镇", "村", "街")):
        return
    x = rng.uniform(0, c.lw * 0.2)
    end = c.lw * (1.0 if city else rng.uniform(0.5, 0.8))
    far = _rgb(_lerp(c.haze, c.pal["land"], 0.5))
    while x < end:
        bw = c.lw * rng.uniform(0.04, 0.09)
        bh = c.lh * (rng.uniform(0.05, 0.16) if city else rng.uniform(0.025, 0.05))
        y0 = c.horizon - bh
        draw.rectangle([x, y0, x + bw, c.horizon + 4], fill=far)
        if not city:
            draw.polygon([(x - 1, y0), (x + bw / 2, y0 - bh * 0.6), (x + bw + 1, y0)], fill=far)
        if c.lit:
            for wy in np.arange(y0 + 2, c.horizon - 1, 4):
                for wx in np.arange(x + 2, x + bw - 1, 3.5):
                    if rng.random() < 0.35:
                        draw.point((wx, wy), fill=_GLOW)
        x += bw + c.lw * rng.uniform(0.0, 0.03)


def _paint_buildings(c: _Canvas, draw: ImageDraw.ImageDraw) -> None:
    """A castle on the far ridge; a lighthouse, a house or a tower on the near ground."""
    rng, lw, lh, ink = c.rng, c.lw, c.lh, c.ink
    if c.has("castle", "fortress", "kingdom", "城堡", "要塞", "王国"):
        cx, cw = lw * rng.uniform(0.25, 0.75), lw * rng.uniform(0.22, 0.32)
        base = float(c.ridges[-1][int(np.clip(cx, 0, lw - 1))]) + 2
        col = _rgb(_lerp(c.haze, c.pal["ink"], 0.55))
        draw.rectangle([cx - cw / 2, base - lh * 0.07, cx + cw / 2, base], fill=col)
        for tx in (cx - cw / 2, cx - cw / 10, cx + cw / 2 - cw / 6):
            th = lh * rng.uniform(0.1, 0.16)
            draw.rectangle([tx, base - th, tx + cw / 6, base], fill=col)
            draw.polygon([(tx - 2, base - th), (tx + cw / 12, base - th - lh * 0.04), (tx + cw / 6 + 2, base - th)], fill=col)
    if c.has("lighthouse", "灯塔"):
        lx = lw * rng.choice([rng.uniform(0.12, 0.3), rng.uniform(0.7, 0.88)])
        base = c.ground_at(lx)
        th, bw = lh * rng.uniform(0.2, 0.28), lw * 0.05
        draw.polygon([(lx - bw, base), (lx - bw * 0.6, base - th), (lx + bw * 0.6, base - th), (lx + bw, base)], fill=ink)
        for k in range(1, 4):  # red bands
            y, half = base - th * k / 4, bw * (1 - 0.4 * k / 4)
            draw.rectangle([lx - half, y - th * 0.04, lx + half, y], fill=(180, 40, 40))
        draw.rectangle([lx - bw * 0.45, base - th - lh * 0.03, lx + bw * 0.45, base - th], fill=_GLOW if c.lit else ink)
        if c.lit:  # the beam
            beam = Image.new("L", (lw, lh), 0)
            side = 1 if lx < lw / 2 else -1
            ImageDraw.Draw(beam).polygon([(lx, base - th - lh * 0.015), (lx + side * lw, base - th - lh * 0.12),
                                          (lx + side * lw, base - th + lh * 0.06)], fill=70)
            c.pic.paste(Image.new("RGB", (lw, lh), _GLOW), (0, 0), beam.filter(ImageFilter.GaussianBlur(3)))
    elif c.has("house", "home", "farmhouse", "cottage", "bakery", "屋", "家", "农舍"):
        hx, hw = lw * rng.uniform(0.15, 0.75), lw * rng.uniform(0.16, 0.24)
        base, hh = c.ground_at(hx + hw / 2), hw * 0.6
        draw.rectangle([hx, base - hh, hx + hw, base], fill=ink)
        draw.polygon([(hx - hw * 0.1, base - hh), (hx + hw / 2, base - hh - hw * 0.45), (hx + hw * 1.1, base - hh)], fill=ink)
        draw.rectangle([hx + hw * 0.6, base - hh * 0.7, hx + hw * 0.8, base - hh * 0.4],
                       fill=_GLOW if c.lit else _rgb(c.haze))
    if c.has("tower", "塔", "钟楼") and not c.has("lighthouse", "灯塔"):
        tx = lw * rng.uniform(0.2, 0.8)
        base = c.ground_at(tx)
        th, bw = lh * rng.uniform(0.25, 0.35), lw * 0.045
        draw.rectangle([tx - bw, base - th, tx + bw, base], fill=ink)
        draw.polygon([(tx - bw * 1.3, base - th), (tx, base - th - lh * 0.06), (tx + bw * 1.3, base - th)], fill=ink)
        draw.rectangle([tx - bw * 0.3, base - th * 0.85, tx + bw * 0.3, base - th * 0.78], fill=_GLOW if c.lit else ink)


def _paint_trees(c: _Canvas, draw: ImageDraw.ImageDraw) -> None:
    forest = c.has("forest", "woods", "森林")
    if not (forest or c.has("tree", "树")):
        return
    rng = c.rng
    for _ in range(rng.randint(14, 30) if forest else rng.randint(1, 3)):
        tx = rng.uniform(0, c.lw)
        base = c.ground_at(tx, lift=-10)
        th = c.lh * 0.09 * (rng.uniform(0.6, 1.0) if forest else rng.uniform(1.2, 1.8))
        if forest:  # pines: three stacked triangles
            for k in range(3):
                w2, y1 = th * (0.35 - k * 0.08), base - th * (0.25 + k * 0.25)
                draw.polygon([(tx - w2, y1 + th * 0.3), (tx, y1 - th * 0.3), (tx + w2, y1 + th * 0.3)], fill=c.ink)
            draw.rectangle([tx - 1, base - th * 0.2, tx + 1, base], fill=c.ink)
        else:  # a broad tree: trunk and a cloud of leaves
            draw.rectangle([tx - th * 0.05, base - th * 0.7, tx + th * 0.05, base], fill=c.ink)
            for _ in range(7):
                ox, oy, r = rng.uniform(-0.35, 0.35) * th, rng.uniform(-0.95, -0.6) * th, rng.uniform(0.18, 0.3) * th
                draw.ellipse([tx + ox - r, base + oy - r, tx + ox + r, base + oy + r], fill=c.ink)


def _paint_figures(c: _Canvas, draw: ImageDraw.ImageDraw) -> None:
    """A boat or a whale on the water; a robot, an animal or a person on the ground; birds."""
    rng, lw, lh, ink = c.rng, c.lw, c.lh, c.ink
    if c.water and c.has("boat", "ship", "sail", "ferry", "船"):
        bx, by = lw * rng.uniform(0.2, 0.8), c.horizon + (lh - c.horizon) * rng.uniform(0.15, 0.45)
        bs = lw * rng.uniform(0.1, 0.16)
        draw.polygon([(bx - bs / 2, by), (bx + bs / 2, by), (bx + bs * 0.35, by + bs * 0.18), (bx - bs * 0.35, by + bs * 0.18)], fill=ink)
        draw.line([(bx, by), (bx, by - bs * 0.9)], fill=ink, width=max(1, int(bs * 0.04)))
        draw.polygon([(bx + 2, by - bs * 0.85), (bx + bs * 0.45, by - bs * 0.1), (bx + 2, by - bs * 0.1)],
                     fill=_rgb(_lerp(c.pal["disc"], c.pal["ink"], 0.2)))
    if c.water and c.has("whale", "鲸"):
        wx, wy = lw * rng.uniform(0.25, 0.75), c.horizon + (lh - c.horizon) * rng.uniform(0.3, 0.55)
        ws = lw * rng.uniform(0.3, 0.42)
        draw.chord([wx - ws / 2, wy - ws * 0.22, wx + ws / 2, wy + ws * 0.22], 180, 360, fill=ink)
        draw.polygon([(wx + ws / 2 - 2, wy), (wx + ws * 0.62, wy - ws * 0.16), (wx + ws * 0.52, wy - ws * 0.05),
                      (wx + ws * 0.7, wy - ws * 0.05)], fill=ink)
    fx = lw * rng.choice([rng.uniform(0.3, 0.42), rng.uniform(0.58, 0.7)])
    fb = c.ground_at(fx, lift=lh * 0.04 - 4) - 1
    if c.has("robot", "机器人"):
        s = lh * 0.09
        draw.rectangle([fx - s * 0.22, fb - s * 0.7, fx + s * 0.22, fb - s * 0.25], fill=ink)
        draw.rectangle([fx - s * 0.15, fb - s, fx + s * 0.15, fb - s * 0.75], fill=ink)
        draw.rectangle([fx - s * 0.15, fb - s * 0.25, fx - s * 0.05, fb], fill=ink)
        draw.rectangle([fx + s * 0.05, fb - s * 0.25, fx + s * 0.15, fb], fill=ink)
        draw.line([(fx, fb - s), (fx, fb - s * 1.15)], fill=ink, width=1)
        draw.ellipse([fx - 2, fb - s * 1.2, fx + 2, fb - s * 1.12], fill=_GLOW)
    elif c.has("fox", "cat", "dog", "rabbit", "wolf", "狐", "猫", "狗", "兔", "狼"):
        s, d = lh * 0.045, rng.choice((1, -1))  # d: facing right or left

        def box(x0: float, y0: float, x1: float, y1: float) -> list[float]:
            xa, xb = sorted((fx + d * x0, fx + d * x1))
            return [xa, y0, xb, y1]

        draw.ellipse(box(-s, fb - s * 0.9, s * 0.7, fb - s * 0.25), fill=ink)  # body
        for lx in (-s * 0.7, -s * 0.45, s * 0.25, s * 0.45):
            draw.rectangle(box(lx, fb - s * 0.5, lx + s * 0.12, fb), fill=ink)
        draw.ellipse(box(s * 0.4, fb - s * 1.35, s * 1.05, fb - s * 0.75), fill=ink)  # head
        ear = s * (0.45 if c.has("rabbit", "兔") else 0.3)
        for ex in (s * 0.5, s * 0.78):
            draw.polygon([(fx + d * ex, fb - s * 1.2), (fx + d * (ex + s * 0.1), fb - s * 1.3 - ear),
                          (fx + d * (ex + s * 0.22), fb - s * 1.2)], fill=ink)
        draw.ellipse(box(-s * 1.9, fb - s * 1.0, -s * 0.7, fb - s * 0.55), fill=ink)  # tail
    elif c.has("girl", "boy", "man", "woman", "child", "figure", "keeper", "traveller", "traveler", "knight",
               "sailor", "person", "人", "女孩", "男孩", "孩子"):
        s = lh * rng.uniform(0.09, 0.13)
        draw.ellipse([fx - s * 0.09, fb - s, fx + s * 0.09, fb - s * 0.82], fill=ink)
        draw.polygon([(fx - s * 0.12, fb - s * 0.8), (fx + s * 0.12, fb - s * 0.8), (fx + s * 0.2, fb - s * 0.3),
                      (fx - s * 0.2, fb - s * 0.3)], fill=ink)
        draw.rectangle([fx - s * 0.1, fb - s * 0.32, fx - s * 0.03, fb], fill=ink)
        draw.rectangle([fx + s * 0.03, fb - s * 0.32, fx + s * 0.1, fb], fill=ink)
        if c.has("lantern", "灯笼"):
            draw.line([(fx + s * 0.18, fb - s * 0.55), (fx + s * 0.3, fb - s * 0.45)], fill=ink, width=1)
            draw.ellipse([fx + s * 0.24, fb - s * 0.46, fx + s * 0.38, fb - s * 0.3], fill=_GLOW)
    if c.has("bird", "birds", "gull", "crow", "鸟"):
        for _ in range(rng.randint(3, 7)):
            bx, by, bs = rng.uniform(0.1, 0.9) * lw, rng.uniform(0.15, 0.6) * c.horizon, rng.uniform(3, 7)
            draw.line([(bx - bs, by - bs * 0.4), (bx, by), (bx + bs, by - bs * 0.4)], fill=ink, width=1)


def _paint_weather(c: _Canvas, pic: Image.Image, seed: int, prompt: str) -> tuple[Image.Image, np.random.Generator]:
    """Fog, snow, a vignette, a mottled texture (so motion shows) and rain streaks."""
    rng, lw, lh = c.rng, c.lw, c.lh
    arr = np.asarray(pic, np.float32).copy()
    if c.has("fog", "mist", "雾"):
        band = np.exp(-((c.yy - c.horizon) / (lh * 0.12)) ** 2)[..., None]
        arr += (c.pal["horizon"] * 0.9 + 25 - arr) * band * 0.55
    if c.has("snow", "雪"):
        for _ in range(rng.randint(150, 300)):
            x, y, r = int(rng.uniform(0, lw)), int(rng.uniform(0, lh)), int(rng.uniform(0.5, 1.4))
            arr[y:y + r + 1, x:x + r + 1] = 245
    arr *= (1 - 0.38 * (((c.xx - lw / 2) / (lw / 2)) ** 2 * 0.6 + ((c.yy - lh / 2) / (lh / 2)) ** 2 * 0.4))[..., None]
    noise = np.random.default_rng(_seed("grain", seed, prompt) % (2 ** 63))
    arr += noise.normal(0, 3.0, (lh, lw, 1)).astype(np.float32)
    pic = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if c.has("rain", "雨"):
        layer = Image.new("L", (lw, lh), 0)
        d = ImageDraw.Draw(layer)
        for _ in range(rng.randint(150, 260)):
            x, y, length = rng.uniform(-lw * 0.1, lw), rng.uniform(0, lh), rng.uniform(6, 14)
            d.line([(x, y), (x + length * 0.25, y + length)], fill=rng.randint(50, 110), width=1)
        pic.paste(Image.new("RGB", (lw, lh), (210, 220, 235)), (0, 0), layer)
    return pic, noise


def paint(prompt: str, width: int, height: int, seed: int = 0, caption: str = "") -> Image.Image:
    """A procedural illustration of the prompt: sky, light, land or sea, buildings, a figure.

    Drawn at about 640 px on the long side and scaled up smoothly, with a fine grain at full size.
    """
    text = prompt.lower()
    for term, _category, _en, zh_words in T.VISUALS:  # Chinese prompts: add the English words
        if any(w in prompt for w in zh_words):
            text += " " + term
    rng = random.Random(_seed("paint", seed, prompt, width, height))
    scale = max(1, round(max(width, height) / 640))
    lw, lh = max(16, width // scale), max(16, height // scale)
    pal_name, pal = _palette(text, rng)
    c = _Canvas(text, rng, lw, lh, pal_name, pal, lh * rng.uniform(0.52, 0.68))
    _paint_sky(c)
    _paint_land(c)
    pic = c.pic = Image.fromarray(np.clip(c.img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(pic)
    for step in (_paint_settlement, _paint_buildings, _paint_trees, _paint_figures):
        step(c, draw)
    pic, noise = _paint_weather(c, pic, seed, prompt)
    if (lw, lh) != (width, height):
        pic = pic.resize((width, height), Image.Resampling.BICUBIC)
        fine = noise.integers(-3, 4, (height, width, 1), dtype=np.int16)  # film grain
        pic = Image.fromarray(np.clip(np.asarray(pic, np.int16) + fine, 0, 255).astype(np.uint8))
    if caption.strip():
        _draw_caption(pic, caption.strip())
    return pic


@functools.lru_cache(maxsize=64)
def _font_for(chars: str) -> tuple[str, int] | None:
    """A font file (and face index) that has a glyph for every character, via fontconfig."""
    codes = sorted({ord(c) for c in chars if not c.isspace()})[:200]
    if not codes:
        return None
    if shutil.which("fc-list"):
        query = ":charset=" + " ".join(f"{c:x}" for c in codes)
        try:
            out = subprocess.run(["fc-list", "-f", "%{file}\t%{index}\t%{family}\t%{style}\n", query],
                                 capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        rows = [line.split("\t") for line in out.splitlines() if line.count("\t") == 3]
        rows = [r for r in rows if r[0].lower().endswith((".ttf", ".otf", ".ttc"))]
        if rows:
            cjk = any(_is_cjk(chr(c)) for c in codes)
            rows.sort(key=lambda r: (cjk and " SC" not in r[2] + " ", "Sans" not in r[2], "Regular" not in r[3],
                                     "Bold" in r[3], r[0], r[1]))
            return rows[0][0], int(rows[0][1] or 0)
        return None
    if all(c < 0x250 for c in codes):
        for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/Library/Fonts/Arial.ttf",
                     "C:/Windows/Fonts/arial.ttf"):
            if Path(path).exists():
                return path, 0
    return None


def _draw_caption(pic: Image.Image, caption: str) -> None:
    """A small label in the top-left corner, only when a font has every glyph of the caption."""
    if len(caption) > 60:
        caption = caption[:58].rstrip() + "…"
    found = _font_for(caption)
    if found is None and caption.endswith("…"):
        caption = caption[:-1] + "..."
        found = _font_for(caption)
    if found is None:
        return
    size = max(12, round(min(pic.size) * 0.028))
    try:
        font = ImageFont.truetype(found[0], size, index=found[1])
    except OSError:
        return
    draw = ImageDraw.Draw(pic, "RGBA")
    margin, pad = round(size * 1.2), round(size * 0.45)
    while caption and draw.textlength(caption, font=font) > pic.width - 2 * margin - 2 * pad:
        caption = caption[:-2] + "…" if len(caption) > 2 else ""
    box = draw.textbbox((margin + pad, margin + pad), caption, font=font)
    draw.rounded_rectangle([box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad], radius=pad,
                           fill=(0, 0, 0, 120))
    draw.text((margin + pad, margin + pad), caption, font=font, fill=(255, 255, 255, 235))


class Painter:
    """A procedural Pillow painter: palette and composition follow the prompt's words."""

    name = "local-painter"
    kind = "text2image"
    model = "local-painter (procedural Pillow drawing, offline)"

    async def generate(self, request: ImageRequest, out_path: Path) -> None:
        if request.width < 16 or request.height < 16:
            raise ProviderError(f"image size {request.width}x{request.height} is too small (minimum 16x16)")

        def work() -> None:
            pic = paint(request.prompt, request.width, request.height, request.seed, request.caption)
            pic.save(Path(out_path), format="PNG", compress_level=3)  # level 6 triples the time for 5%

        await asyncio.to_thread(work)


# ================================================================================= narrator
_SAMPLE_RATE = 22050


def _estimate_seconds(text: str, zh: bool, speed: float) -> float:
    amount = _cjk_count(text) / 4.5 if zh else _word_count(text) / 2.6
    return max(0.5, (amount + 0.3) / max(0.25, speed))


def _write_silence(path: Path, seconds: float) -> float:
    frames = round(seconds * _SAMPLE_RATE)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(_SAMPLE_RATE)
        w.writeframes(b"\x00\x00" * frames)
    return frames / _SAMPLE_RATE


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


class LocalNarrator:
    """Speech with espeak-ng when it is installed; otherwise a silent track of the estimated length.

    `available()` tells which one is used; after each call `last_info` says what was written
    (`{"engine": "espeak-ng", "voice": ...}` or `{"engine": "silent", "reason": ...}`).
    """

    name = "local-narrator"
    kind = "tts"
    voices = {"zh": "cmn", "en": "en-us"}

    def __init__(self) -> None:
        self.last_info: dict[str, Any] = {}

    @staticmethod
    def available() -> bool:
        return shutil.which("espeak-ng") is not None

    @property
    def model(self) -> str:
        return "espeak-ng" if self.available() else "silent placeholder (espeak-ng not installed)"

    @property
    def silent(self) -> bool:
        return not self.available()

    async def speak(self, request: SpeechRequest, out_path: Path) -> float:
        return await asyncio.to_thread(self._speak, request, Path(out_path))

    def _speak(self, request: SpeechRequest, out_path: Path) -> float:
        text = " ".join(request.text.split())
        zh = _language(request.language, text) == "zh"
        speed = min(3.0, max(0.3, float(request.speed or 1.0)))
        exe = shutil.which("espeak-ng")
        if exe is None or not any(ch.isalnum() for ch in text):
            reason = "espeak-ng is not installed" if exe is None else "no words to speak"
            seconds = _write_silence(out_path, _estimate_seconds(text, zh, speed))
            self.last_info = {"engine": "silent", "reason": reason, "seconds": seconds}
            return seconds
        default = self.voices["zh" if zh else "en"]
        rate = str(round((300 if zh else 165) * speed))  # cmn at 300 ≈ 4.5 chars/s
        errors = []
        for voice in dict.fromkeys([request.voice or default, default]):
            try:
                done = subprocess.run([exe, "-v", voice, "-s", rate, "-b", "1", "-w", str(out_path), "--stdin"],
                                      input=text.encode("utf-8"), capture_output=True, timeout=300)
            except (OSError, subprocess.SubprocessError) as exc:
                errors.append(f"{voice}: {exc}")
                continue
            if done.returncode == 0 and out_path.exists() and out_path.stat().st_size > 44:
                seconds = _wav_seconds(out_path)
                self.last_info = {"engine": "espeak-ng", "voice": voice, "seconds": seconds}
                return seconds
            errors.append(f"{voice}: {done.stderr.decode('utf-8', 'replace').strip() or done.returncode}")
        raise ProviderError("espeak-ng could not speak the text (" + "; ".join(errors) + ")")


def offline_providers() -> dict[str, object]:
    """One instance of each offline provider, by name."""
    return {"draft-writer": DraftWriter(), "local-painter": Painter(), "local-narrator": LocalNarrator()}
