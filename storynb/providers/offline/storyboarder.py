"""The offline storyboarder: the `storyboard` task (4..12 shots covering the story in order)."""
from __future__ import annotations

import math
import re
from typing import Any

from . import words as T
from .common import cap, trim_dangling
from ..base import ProviderError
from ...text import (CLOSERS, cjk_count, language_of, looks_chinese, split_piece, split_sentences,  # noqa: F401
                     text_weight, word_count)


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
    amount = (cjk_count(narration) or len(narration.strip())) / 4.5 if zh \
        else word_count(narration) / 2.6
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
    text = narration.strip().strip(CLOSERS + "\"“「")
    if zh:
        text = re.sub(_CONNECTIVES_ZH, "", text)
        parts = [p for p in re.split(r"[，；：、。！？…“”「」]", text) if p]
        clause = parts[0] if parts else text
        if len(clause) < 6 and len(parts) > 1:
            clause += "，" + parts[1]
        return clause if len(clause) <= 18 else trim_dangling(clause[:17]) + "…"
    text = re.sub(_CONNECTIVES_EN, "", text, flags=re.I)
    parts = [p.strip() for p in re.split(r"[,;:—.!?\"“”]", text) if p.strip()]
    clause = parts[0] if parts else text
    if len(clause.split()) < 3 and len(parts) > 1:
        clause += ", " + parts[1]
    words = clause.split()
    clause = " ".join(words) if len(words) <= 10 else trim_dangling(" ".join(words[:10])) + "…"
    return cap(clause)


def make_storyboard(variables: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The `storyboard` task: 4..12 shots covering the story's sentences in order. Given
    `narrations` (one part of a long story, see storynb.longform), one shot per narration, as
    given; `places` (the story's places so far) carries the setting over."""
    story = str(variables.get("story") or "").strip()
    if not story:
        raise ProviderError("the draft writer needs the story text (variable 'story' is empty)")
    zh = looks_chinese(story) or (cjk_count(story) > 0 and language_of(variables.get("language"), story) == "zh")
    lang = "zh" if zh else "en"
    try:
        fps = int(variables.get("fps") or 0) or None
    except (TypeError, ValueError):
        fps = None
    fixed = variables.get("narrations")
    pieces: list[tuple[str, int]] = []
    for p_index, para in enumerate([] if fixed else re.split(r"\n\s*\n", story)):
        para = re.sub(r"\s*\n\s*", "", para.strip()) if zh else " ".join(para.split())
        pieces += [(s, p_index) for s in split_sentences(para, zh)]
    total = sum(text_weight(s, zh) for s, _ in pieces)
    wanted = variables.get("shots")
    try:
        n = int(wanted) if wanted not in (None, "") else math.ceil(total / (32 if zh else 20))
    except (TypeError, ValueError):
        n = math.ceil(total / (32 if zh else 20))
    n = max(4, min(12, n))
    while len(pieces) < n and not fixed:  # too few sentences: split the longest one that can be split
        for idx in sorted(range(len(pieces)), key=lambda k: -text_weight(pieces[k][0], zh)):
            halves = split_piece(pieces[idx][0], zh)
            if halves:
                pieces[idx:idx + 1] = [(halves[0], pieces[idx][1]), (halves[1], pieces[idx][1])]
                break
        else:
            break
    if fixed:
        narrations = [str(line).strip() for line in fixed if str(line).strip()]
    else:
        groups = _group([text_weight(s, zh) for s, _ in pieces], [p for _, p in pieces], min(n, len(pieces)))
        narrations = [("" if zh else " ").join(s for s, _ in pieces[i:j]) for i, j in groups]
    # (a story of fewer than four words or characters gives fewer than four shots)

    hero_term, hero_name = _hero_visual(story, zh)
    style_words = _mood_style(story)
    labels = T.SHOT_LABELS[lang]
    shots, last_place = [], next(iter(variables.get("places") or []), None)
    for k, narration in enumerate(narrations):
        found = sorted(_visuals(narration, zh), key=lambda f: f[2])
        close = any(w in narration.lower() for w in (T.CLOSE_WORDS_ZH if zh else T.CLOSE_WORDS_EN))
        label: str
        if k == 0 and str(variables.get("first_seq") or 1) == "1":  # (a later part: no opening)
            label = labels["first"]
        elif k == len(narrations) - 1 and variables.get("part", 1) == variables.get("parts", 1):
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
    terms = [t for t, c, _ in _visuals(m.group(2), False) if c == "character"]
    return (terms[0] if terms else f"{m.group(1).lower()} {m.group(2).lower()}"), m.group(3)


def _mood_style(story: str) -> str:
    low = story.lower()
    scores = [sum(low.count(w) for w in words) for words, _ in T.MOOD_STYLES]
    best = max(range(len(scores)), key=lambda k: (scores[k], -k))
    return T.MOOD_STYLES[best][1] if scores[best] else "soft natural light, gentle colors"
