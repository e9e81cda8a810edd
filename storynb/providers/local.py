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
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from . import local_text as T
from .base import ImageRequest, LLMRequest, LLMResult, ProviderError

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
_DANGLING_EN = {"a", "an", "the", "of", "to", "in", "on", "at", "for", "with", "and", "or", "but", "by",
                "from", "into", "onto", "who", "that", "which", "whose", "during", "when", "while", "as",
                "his", "her", "their", "its", "my", "our", "your", "is", "are", "was", "were", "very", "so",
                "than", "then", "through", "over", "under", "after", "before", "until", "because", "about",
                "across", "along", "around", "behind", "beyond", "near", "toward", "towards", "upon", "without",
                "where", "if", "amid", "amidst", "throughout", "since", "though", "although", "nor", "every",
                "one", "some", "this", "these", "those", "no", "not", "just", "only", "also", "him"}
_DANGLING_ZH = "的和与跟同及或在把被对向从给让将"


def _trim_dangling(text: str) -> str:
    """Text without trailing spaces, punctuation and dangling small words ("a", "of", "during", "的")."""
    t = text
    while True:
        t = t.rstrip(" \t,;:—–-·、，：；(（“\"'‘…")
        m = re.search(r"(?:^|\s)([A-Za-z']+)$", t)
        if m and m.start(1) > 0 and m.group(1).lower() in _DANGLING_EN:
            t = t[:m.start(1)]
        elif len(t) > 1 and t[-1] in _DANGLING_ZH and _is_cjk(t[-2]):
            t = t[:-1]
        else:
            return t


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
    """The topic's first sentence without "write a story about"; never cut (see `_fit_words`)."""
    t = " ".join(topic.split()).strip("\"'“”‘’ ")
    first = re.split(r"(?<=[.!?])\s+", t)[0].strip().rstrip(".!?;:,")
    first = re.sub(r"^(please\s+)?((write|tell|create|make|give)\s+(me\s+|us\s+)?)?((a|an|the)\s+)?"
                   r"((short|little|bedtime|long)\s+)?(story|tale)\s+(about|of)\s+", "", first,
                   flags=re.I).strip()
    words = first.split()
    if words and _common_word(words[0]):
        words[0] = words[0].lower()
    return " ".join(words) or t


def _bare(word: str) -> str:
    return re.sub(r"[^a-z'-]", "", word.lower())


# Words that open a clause or a circumstance ("during the storm", "when the tide turns", "but ...").
_STRONG_BREAKS = {"during", "throughout", "amid", "amidst", "when", "while", "whilst", "until", "till", "before",
                  "after", "because", "since", "although", "though", "unless", "once", "whenever", "but", "yet"}
# Prepositions and the like, where a long phrase may be shortened ("... umbrellas | in her attic").
_WEAK_BREAKS = {"in", "on", "at", "with", "from", "into", "onto", "across", "through", "under", "over", "near",
                "beside", "behind", "beyond", "along", "around", "inside", "outside", "without", "for", "and",
                "or", "who", "that", "which", "where", "so", "as", "by", "against", "toward", "towards"}
_JOINS = {"and", "or", "who", "that", "which", "where", "so", "as"}  # preferred over prepositions
_CIRCUMSTANCE = {"during", "throughout", "amid", "amidst"}
_LEADING_CIRCUMSTANCE = _CIRCUMSTANCE | {"in", "on", "at", "one", "after", "before", "long", "once"}


def _fit_words(words: list[str], limit: int, hard: int = 16) -> list[str]:
    """`words`, or a start of them no longer than `limit`, cut at a natural boundary (a comma, a
    clause word like "during" or "when", else a preposition), never mid-phrase and never after
    a dangling "the", "of" or "to". With no boundary the phrase is kept whole up to `hard` words."""
    low = [_bare(w) for w in words]
    if len(words) > limit:
        for breaks in (_STRONG_BREAKS, _JOINS, _WEAK_BREAKS):
            cuts = [k for k in range(2, min(limit, len(words) - 1) + 1)
                    if low[k] in breaks or (breaks is _STRONG_BREAKS and words[k - 1][-1:] in ",;:")]
            cuts = [k for k in cuts if _trim_dangling(" ".join(words[:k])).count(" ") >= 2]
            if cuts:
                words = words[:max(cuts)]
                break
        else:
            words = words[:hard]
    return _trim_dangling(" ".join(words)).split()


def _verb_base(word: str) -> str | None:
    """The base form when `word` is a known verb in the third person ("sneaks" -> "sneak")."""
    w = _bare(word)
    if len(w) < 4 or not w.endswith("s") or w.endswith("ss"):
        return None
    base = _infinitive(w)
    return base if base in T.EN_VERBS else None


def _gerund_base(word: str) -> str | None:
    w = _bare(word)
    if not w.endswith("ing") or len(w) < 5:
        return None
    stem = w[:-3]
    for guess in (stem, stem + "e", stem[:-1] if len(stem) > 2 and stem[-1] == stem[-2] else "", stem[:-1] + "ie"):
        if guess in T.EN_VERBS:
            return guess
    return None


def _predicate_clauses(words: list[str]) -> tuple[list[list[str]], list[str]]:
    """Split what follows the hero into verb clauses ("wants to see the sea" | "sneaks aboard a
    boat", "finds a seed" | "and decides to grow a forest") and a tail that starts with a clause
    word or follows a comma ("during the longest storm of the year", "but the road is long")."""
    low = [_bare(w) for w in words]
    clauses: list[list[str]] = [[]]
    k = 0
    while k < len(words):
        cur = clauses[-1]
        w, lw = words[k], low[k]
        after_comma = k > 0 and words[k - 1][-1:] in ",;:"
        if cur and lw in _STRONG_BREAKS:
            return clauses, words[k:]
        if cur and lw in ("and", "then") and k + 1 < len(words) and _verb_base(words[k + 1]) and k + 2 < len(words):
            clauses.append([])
            k += 1
            continue
        if len(cur) >= 2 and _verb_base(w) and k + 1 < len(words) and \
                low[k - 1] not in _DETERMINERS | _WEAK_BREAKS | {"of", "to"}:
            clauses.append([w])
            k += 1
            continue
        if after_comma:
            return clauses, words[k:]
        cur.append(w)
        k += 1
    return clauses, []


def _clause_phrase(clause: list[str]) -> tuple[str, list[str]] | None:
    """("want" or "do", an infinitive phrase) for a verb clause, or None for a clause no one wishes."""
    low = [_bare(w) for w in clause]
    if not low:
        return None
    verb = low[0]
    if verb in _WANT_VERBS:
        k = 1 + (len(low) > 1 and low[1] == "out")
        if k + 1 < len(low) and low[k] == "to":
            return "want", clause[k + 1:]
        if verb.startswith("dream") and k + 1 < len(low) and low[k] in ("of", "about"):
            base = _gerund_base(clause[k + 1])
            if base:
                return "want", [base] + clause[k + 2:]
    if verb in _BAD_GOAL_VERBS or not (verb.endswith("s") and not verb.endswith("ss") and len(verb) > 3):
        return None
    return "do", [_infinitive(verb)] + clause[1:]


def _past_simple(words: list[str]) -> list[str] | None:
    """A short clause with only be/have/can verbs, in the past ("the road is long" -> "was")."""
    table = {"is": "was", "are": "were", "has": "had", "have": "had", "can": "could", "will": "would",
             "isn't": "wasn't", "aren't": "weren't", "can't": "couldn't", "won't": "wouldn't",
             "doesn't": "didn't", "don't": "didn't"}
    out, changed = [], False
    for w in words:
        b = _bare(w)
        if b in table:
            out.append(table[b])
            changed = True
        elif _verb_base(w) or b in ("was", "were", "had"):
            return None
        else:
            out.append(w)
    return out if changed else None


def _read_topic_en(subject: str) -> dict[str, Any]:
    """Hero phrase, gender, goal, and the other parts of the topic a story can use."""
    out: dict[str, Any] = {"hero": None, "gender": None, "goal": None, "action": None, "when": None, "but": None,
                           "trait": None}
    words = subject.split()
    low = [_bare(w) for w in words]
    if len(words) > 3 and low[0] in _LEADING_CIRCUMSTANCE:  # "During the storm, a keeper ..."
        comma = next((k for k, w in enumerate(words[:12]) if w[-1:] in ",;:"), None)
        if comma is not None and comma + 1 < len(words) and not any(_verb_base(w) for w in words[:comma + 1]):
            when = _fit_words(words[:comma + 1], 9)
            out["when"] = " ".join([when[0].lower() if _common_word(when[0]) or _bare(when[0]) in
                                    _LEADING_CIRCUMSTANCE else when[0]] + when[1:])
            words, low = words[comma + 1:], low[comma + 1:]
    out["rest"] = " ".join(words)
    if re.search(r"\bher\b", subject, re.I):
        out["gender"] = "she"
    elif re.search(r"\b(his|him)\b", subject, re.I):
        out["gender"] = "he"
    for i, w in enumerate(low[:6]):
        if w not in T.EN_CHARACTERS:
            continue
        j = i
        while j > 0 and i - j < 2 and low[j - 1].isalpha() and low[j - 1] not in _DETERMINERS \
                and words[j - 1].islower():
            j -= 1
        rest = words[i + 1:]
        relative = bool(rest) and _bare(rest[0]) in ("who", "that")
        rest = rest[relative:]
        clauses, tail = _predicate_clauses(rest)
        phrases = [p for p in (_clause_phrase(c) for c in clauses) if p]
        if not phrases or any(len(p[1]) == 0 for p in phrases):
            return out
        first = _clause_phrase(clauses[0])
        if relative and len(clauses) > 1 and first and first[0] == "do" and len(phrases) > 1:
            out["trait"] = " ".join(_fit_words(first[1], 7))  # "a boy who collects stamps finds ..."
            phrases.remove(first)
        wants = [p for p in phrases if p[0] == "want"]
        goal = wants[0] if wants else phrases[-1]
        out["hero"] = " ".join(t.strip(",") for t in words[j:i + 1]).lower()
        out["gender"] = T.EN_CHARACTERS[w] or out["gender"]
        out["goal"] = " ".join(_fit_words(goal[1], 8))
        others = [p for p in phrases if p is not goal]
        if others:
            out["action"] = " ".join(_fit_words(others[0][1], 8))
        tail_low = [_bare(t) for t in tail]
        if tail and tail_low[0] in _CIRCUMSTANCE and not out["when"]:
            stop = next((k for k, t in enumerate(tail) if t[-1:] in ",;:"), len(tail) - 1) + 1
            if not any(_verb_base(t) for t in tail[:stop]):
                out["when"] = " ".join(_fit_words(tail[:stop], 9))
        elif tail and tail_low[0] in ("but", "yet") and len(tail) <= 10:
            past = _past_simple(tail[1:])
            if past:
                out["but"] = _trim_dangling(" ".join(past))
        return out
    m = re.search(r"\b(?:wants?|hopes?|longs?|wish(?:es)?|dreams?) to ([^,.;:!?]+)", " ".join(words), re.I)
    if m:
        out["goal"] = " ".join(_fit_words(m.group(1).split(), 8))
    return out


def _about_en(subject: str) -> str:
    """The topic as something to think about: a noun phrase as it is, a clause as "how ..."."""
    subject = " ".join(_fit_words(subject.split(), 12))
    low = [_bare(w) for w in subject.split()]
    for k in range(1, len(low)):
        if low[k] in ("who", "that", "which", "where", "when", "whose", "whom", "with", "of"):
            return subject  # a noun phrase with a relative clause
        if low[k] in _CLAUSE_VERBS and low[k - 1] not in _DETERMINERS | {"and", "or", "of", "with", "very"}:
            if any(w in _DETERMINERS for w in low[1:k]):
                return subject  # "the night the stars fell": a noun phrase
            return "how " + subject
    return subject


def _pronouns(p: str) -> dict[str, str]:
    forms = {"she": ("she", "her", "her"), "he": ("he", "him", "his")}[p]
    return {"they": forms[0], "They": _cap(forms[0]), "them": forms[1], "their": forms[2],
            "Their": _cap(forms[2])}


def _cast_en(topic: str, style: str, rng: random.Random) -> dict[str, str]:
    subject = _subject_en(topic)
    read = _read_topic_en(subject)
    phrase, gender, goal = read["hero"], read["gender"], read["goal"]
    if phrase:
        desc = phrase
    else:
        desc, role_gender = rng.choice([r for r in T.EN_ROLES if gender is None or r[1] in (None, gender)])
        gender = gender or role_gender
    name, pron = rng.choice([n for n in T.EN_NAMES if gender is None or n[1] == gender])
    article = "an" if desc[0] in "aeiou" else "a"
    place, the_place = rng.choice(T.EN_PLACES[style])
    obj, the_obj = rng.choice(T.EN_OBJECTS)
    about = _about_en(read.get("rest") or subject)
    achieved = f"finally got to {goal}" if goal else f"finally understood the truth about {about}"
    when = read["when"] or ""
    return {"hero": name, "Hero": name, "hero_desc": f"{article} {desc} named {name}",
            "place": place, "Place": _cap(place), "the_place": the_place, "object": obj, "the_object": the_obj,
            "companion": rng.choice(T.EN_COMPANIONS), "about": about, "goal": goal or "",
            "achieved": achieved, "when": when, "When": _cap(when), "action": read["action"] or "",
            "but": read["but"] or "", "trait": read["trait"] or "", **_pronouns(pron)}


_ZH_PUNCT = "，。！？、；：,.!?;:…—～~·\"'“”‘’「」『』《》()（） "
_ZH_NOT_A_VERB = ("的", "和", "与", "跟", "同", "及", "或", "之", "们", "在", "，", "、")
_ZH_BAD_GOAL = ("丢", "失去", "死", "忘", "哭", "病", "迷路", "害怕", "被", "是", "有")


def _subject_zh(topic: str) -> str:
    """The topic's first sentence without "写一个……的故事"; never cut (see `_read_topic_zh`)."""
    t = "".join(topic.split())
    parts = [p for p in re.split(r"[。！？!?；;]", t) if p.strip(_ZH_PUNCT)]
    s = parts[0] if parts else t
    s = re.sub(r"^(请)?(帮我)?(写|讲|编|创作|说)?(一个|一篇|个|篇|一段)?(关于)?", "", s)
    s = re.sub(r"(的)?(小故事|故事|童话|传说)$", "", s).strip(_ZH_PUNCT)
    return s or t.strip(_ZH_PUNCT)


_ZH_LEADS = r"^(于是|然后|后来|结果|接着|最后|终于|竟然|居然|就|便|又|还|也)+"
_ZH_BUT = r"^(可是|但是|不过|然而|但|却)"
_ZH_WHEN_CLAUSE = re.compile(r"^(在|当|每当|就在).{1,16}(里|中|时|时候|上|下|前|后|期间|那天|那晚|之夜|夜里)$")
_ZH_MEASURES = "只个条把本张件台辆艘头匹位朵棵颗盏支枚双片座间"


def _read_topic_zh(subject: str) -> dict[str, Any]:
    """Character, wish, and the topic's other clauses: a circumstance ("在……里"), an action
    ("偷偷跟着渔船出发了") or a "可是" clause."""
    out: dict[str, Any] = {"found": None, "goal": None, "when": None, "action": None, "but": None,
                           "but_word": None, "about": subject}
    clauses = [c.strip(_ZH_PUNCT) for c in re.split(r"[，、,；;：:]", subject) if c.strip(_ZH_PUNCT)]
    if len(clauses) > 1 and _ZH_WHEN_CLAUSE.match(clauses[0]):
        out["when"] = clauses.pop(0)
    if not clauses:
        return out
    text = "，".join(clauses)
    m = re.search(r"(想要|渴望|梦想着|梦想|希望|想)(.{2,12}?)(?=的|，|。|、|$)", text)
    found = None
    for noun, measure, pron in T.ZH_CHARACTERS:
        pos = text.find(noun)
        while pos >= 0 and m and m.start() <= pos < m.end():  # "想当宇航员的女孩": the girl
            pos = text.find(noun, pos + 1)
        if pos >= 0 and (found is None or pos < found[0] or (pos == found[0] and len(noun) > len(found[1]))):
            found = (pos, noun, measure, pron)
    goal, main = None, 0
    if m:
        goal, main = m.group(2), text[:m.start()].count("，")
        if goal[0] == "一" and len(goal) > 2 and goal[1] in _ZH_MEASURES:
            goal = "拥有" + goal  # 想要一只风筝 -> 拥有一只风筝
    elif found and found[0] == 0 and len(clauses[0]) - len(found[1]) >= 2:
        rest = clauses[0][len(found[1]):]
        friend = re.match(r"^(和|与|跟)(.{1,12}?)(成了|成为了|成为|变成了|交上了|做了)(好)?朋友$", rest)
        if friend:
            goal = f"和{friend.group(2)}成为朋友"
        elif not rest.startswith(_ZH_NOT_A_VERB + _ZH_BAD_GOAL) and "了" not in rest and len(rest) <= 12:
            goal = rest
    out["found"], out["goal"] = found, goal
    out["about"] = text if len(text) <= 24 else clauses[main]
    if goal:
        for k in [k for k in range(len(clauses)) if k > main] + [k for k in range(main) if k < main]:
            c = clauses[k]
            but = re.match(_ZH_BUT, c)
            if but:
                rest = c[but.end():].lstrip("是")
                if 2 <= len(rest) <= 16:
                    out["but"], out["but_word"] = rest, but.group(1) if but.group(1) != "却" else "可是"
                continue
            c = re.sub(_ZH_LEADS, "", c)
            if found:
                c = re.sub(rf"^(一[{_ZH_MEASURES}])?{re.escape(found[1])}", "", c)
            c = re.sub(r"^(它们|他们|她们|它|他|她)", "", c)
            c = re.sub(_ZH_LEADS, "", c)
            if 2 <= len(c) <= 16 and not re.search(r"想|梦想|希望|渴望|因为|所以", c) and _cjk_count(c) == len(c):
                out["action"] = c
                break
    return out


def _cast_zh(topic: str, style: str, rng: random.Random) -> dict[str, str]:
    subject = _subject_zh(topic)
    read = _read_topic_zh(subject)
    found, goal = read["found"], read["goal"]
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
    about = read["about"]
    achieved = f"终于实现了{goal}的心愿" if goal else f"终于弄明白了关于{about}的真相"
    return {"hero": name, "hero_desc": hero_desc, "ta": pron or name_pron,
            "place": place, "the_place": the_place, "object": obj, "the_object": the_obj,
            "companion": rng.choice(T.ZH_COMPANIONS), "about": about, "goal": goal or "",
            "achieved": achieved, "when": read["when"] or "", "action": read["action"] or "",
            "but": read["but"] or "", "but_word": read["but_word"] or ""}


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
    zh = lang == "zh"
    # The topic's other clauses: (slot, cast key, templates, replace the slot's sentence?)
    extras = [("hero_intro", "trait", None if zh else T.EN_TRAIT, False),
              ("obstacle", "but", T.ZH_BUT if zh else T.EN_BUT, True),
              ("obstacle", "when", T.ZH_WHEN if zh else T.EN_WHEN, False),
              ("turn", "action", (T.ZH_ACTION if "了" in cast.get("action", "") else T.ZH_ACTION_PLAN)
               if zh else T.EN_ACTION, False)]
    paragraphs: list[list[str]] = []
    for beat in ("setting", "want", "obstacle", "turn", "resolution"):
        sentences = []
        for slot, slot_level, options in beats[beat]:
            if slot_level > level:
                continue
            if isinstance(options, dict):
                options = options["goal" if cast["goal"] else "about"] if slot == "want" else options[style]
            sentences.append(_cap(rng.choice(options).format(**cast)))
            for extra_slot, key, templates, replace in extras:
                if extra_slot == slot and templates and cast.get(key):
                    line = _cap(rng.choice(templates).format(**cast))
                    sentences[-1:] = [line] if replace else [sentences[-1], line]
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
        return clause if len(clause) <= 18 else _trim_dangling(clause[:17]) + "…"
    text = re.sub(_CONNECTIVES_EN, "", text, flags=re.I)
    parts = [p.strip() for p in re.split(r"[,;:—.!?\"“”]", text) if p.strip()]
    clause = parts[0] if parts else text
    if len(clause.split()) < 3 and len(parts) > 1:
        clause += ", " + parts[1]
    words = clause.split()
    clause = " ".join(words) if len(words) <= 10 else _trim_dangling(" ".join(words[:10])) + "…"
    return _cap(clause)


def make_storyboard(variables: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The `storyboard` task: 4..12 shots covering the story's sentences in order. Given
    `narrations` (one part of a long story, see storynb.longform), one shot per narration, as
    given; `places` (the story's places so far) carries the setting over."""
    story = str(variables.get("story") or "").strip()
    if not story:
        raise ProviderError("the draft writer needs the story text (variable 'story' is empty)")
    zh = _looks_chinese(story) or (_cjk_count(story) > 0 and _language(variables.get("language"), story) == "zh")
    lang = "zh" if zh else "en"
    try:
        fps = int(variables.get("fps") or 0) or None
    except (TypeError, ValueError):
        fps = None
    fixed = variables.get("narrations")
    pieces: list[tuple[str, int]] = []
    for p_index, para in enumerate([] if fixed else re.split(r"\n\s*\n", story)):
        para = re.sub(r"\s*\n\s*", "", para.strip()) if zh else " ".join(para.split())
        pieces += [(s, p_index) for s in _split_sentences(para, zh)]
    total = sum(_weight(s, zh) for s, _ in pieces)
    wanted = variables.get("shots")
    try:
        n = int(wanted) if wanted not in (None, "") else math.ceil(total / (32 if zh else 20))
    except (TypeError, ValueError):
        n = math.ceil(total / (32 if zh else 20))
    n = max(4, min(12, n))
    while len(pieces) < n and not fixed:  # too few sentences: split the longest one that can be split
        for idx in sorted(range(len(pieces)), key=lambda k: -_weight(pieces[k][0], zh)):
            halves = _split_piece(pieces[idx][0], zh)
            if halves:
                pieces[idx:idx + 1] = [(halves[0], pieces[idx][1]), (halves[1], pieces[idx][1])]
                break
        else:
            break
    if fixed:
        narrations = [str(line).strip() for line in fixed if str(line).strip()]
    else:
        groups = _group([_weight(s, zh) for s, _ in pieces], [p for _, p in pieces], min(n, len(pieces)))
        narrations = [("" if zh else " ").join(s for s, _ in pieces[i:j]) for i, j in groups]
    # (a story of fewer than four words or characters gives fewer than four shots)

    hero_term, hero_name = _hero_visual(story, zh)
    style_words = _mood_style(story)
    labels = T.SHOT_LABELS[lang]
    shots, last_place = [], next(iter(variables.get("places") or []), None)
    for k, narration in enumerate(narrations):
        found = sorted(_visuals(narration, zh), key=lambda f: f[2])
        close = any(w in narration.lower() for w in (T.CLOSE_WORDS_ZH if zh else T.CLOSE_WORDS_EN))
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
        if request.task == "rewrite" and request.variables.get("source"):  # adapt a long text
            from ..longform import condense

            values = request.variables
            text = await asyncio.to_thread(condense, str(values["source"]),
                                           int(values.get("target_length") or 10 ** 6),
                                           values.get("language"))
        elif request.task == "rewrite":
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


_STORM = ("storm", "thunder", "gale", "tempest", "lightning", "风暴", "暴风", "雷")
_ROAD = ("road", "path", "street", "lane", "track", "路", "街")
_VEHICLE = ("car", "truck", "bus", "van", "cart", "wagon", "carriage", "tractor", "taxi",
            "汽车", "卡车", "马车", "车")


def _palette(text: str, rng: random.Random) -> tuple[str, dict[str, np.ndarray]]:
    name = next((n for n, words in T.PALETTE_WORDS if _has(text, *words)), None)
    if _has(text, *_STORM):  # a storm darkens any time of day
        name = "storm"
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


# Composition, as fractions of the picture: the video engine burns the subtitle into a box over
# about 73%..86% of the height, and the camera zooms up to 1.25x and pans up to a quarter of the
# width. So subjects stand on a ground line near 68% and reach up into the band from 35%, the
# foreground below the ground line stays calm, and key subjects keep out of the outer 18% at the
# sides. The caption label keeps at least 14% in from every edge: centred, its top at 21% of the
# height (a full tilt at intensity 0.25 shows 80% of the height, from 20% down).
_BAND_TOP, _GROUND, _SIDE, _CAPTION_SAFE, _CAPTION_TOP = 0.35, 0.68, 0.18, 0.14, 0.21


@dataclass
class _Canvas:
    """The low-resolution working picture, what the prompt asked for and where things go."""

    text: str
    rng: random.Random
    lw: int
    lh: int
    pal_name: str
    pal: dict[str, np.ndarray]
    horizon: float = 0.0
    img: np.ndarray = field(init=False)
    yy: np.ndarray = field(init=False)
    xx: np.ndarray = field(init=False)
    ground: np.ndarray = field(init=False)  # y of the nearest ground per x
    ridges: list = field(default_factory=list)
    spots: dict = field(default_factory=dict)  # subject -> (centre x, size, width), from `_plan`

    def __post_init__(self) -> None:
        rng = self.rng
        self.yy, self.xx = np.mgrid[0:self.lh, 0:self.lw].astype(np.float32)
        self.night = self.pal_name == "night"
        self.haze = self.pal["horizon"] * 0.55 + self.pal["land"] * 0.45
        self.ink = _rgb(self.pal["ink"])
        self.lit = self.night or self.pal_name in ("sunset", "storm", "fire") or \
            self.has("lantern", "light", "window", "灯")
        self.water = self.has("sea", "ocean", "lake", "harbour", "harbor", "boat", "ship", "whale", "river",
                              "beach", "海", "湖", "港", "船", "河")
        self.horizon = self.lh * (rng.uniform(0.44, 0.5) if self.water else rng.uniform(0.47, 0.53))
        self.ground_y = self.lh * rng.uniform(_GROUND - 0.015, _GROUND + 0.01)
        self.unit = min(self.lw, 1.15 * self.lh)  # the size of a large subject (about a whale's length)
        self.zoom = 1.25 if "close-up" in self.text else 1.1 if "medium shot" in self.text else 1.0
        self.band = self.ground_y - _BAND_TOP * self.lh  # height from the ground line up to the band top
        self.shore = False

    def has(self, *words: str) -> bool:
        return _has(self.text, *words)

    def ground_at(self, x: float, lift: float = 0.0) -> float:
        return float(min(self.ground[int(np.clip(x, 0, self.lw - 1))], self.lh - 4 - lift)) + 3


_GLOW = (255, 214, 130)


def _rgb(color: np.ndarray) -> tuple[int, int, int]:
    return tuple(int(c) for c in color)  # type: ignore[return-value]


def _plan(c: _Canvas) -> None:
    """Choose the subjects, their sizes and their places across the middle of the picture.

    Each subject has a main size (a height or a length) and a width; they are laid out side by
    side, without overlapping, inside the central 66% of the width (shrunk together if needed).
    """
    rng, u, band, z = c.rng, c.unit, c.band, c.zoom
    items: list[tuple[str, float, float]] = []  # (subject, size, width / size)
    if c.has("lighthouse", "灯塔"):
        items.append(("lighthouse", (c.ground_y - c.lh * rng.uniform(0.28, 0.34)) / 1.15, 0.24))  # + lamp
    elif c.has("house", "home", "farmhouse", "cottage", "bakery", "door", "cabin", "hut", "shop",
               "屋", "家", "农舍", "门"):
        items.append(("house", min(u * rng.uniform(0.22, 0.28), band * 0.85), 1.2))
    if c.has("tower", "塔", "钟楼") and not c.has("lighthouse", "灯塔"):
        items.append(("tower", (c.ground_y - c.lh * rng.uniform(0.29, 0.35)) / 1.2, 0.24))  # + roof
    building = len(items)
    top = c.lh * (_BAND_TOP - 0.04)  # nothing reaches higher than this
    c.boat_y = c.horizon + (c.ground_y - c.horizon) * rng.uniform(0.35, 0.55)  # waterlines
    c.whale_y = c.horizon + (c.ground_y - c.horizon) * rng.uniform(0.55, 0.72)
    if c.water and c.has("boat", "ship", "sail", "ferry", "船"):
        items.append(("boat", min(u * rng.uniform(0.3, 0.38) * z, c.boat_y - top), 1.0))
    if c.water and c.has("whale", "鲸"):
        items.append(("whale", min(u * rng.uniform(0.44, 0.52) * z, (c.whale_y - top) / 0.36), 1.05))
    figure = min(band * rng.uniform(0.62, 0.78) * z, c.ground_y - top)
    if c.has("robot", "机器人"):
        items.append(("robot", figure * 0.85, 0.5))
    elif c.has("fox", "cat", "dog", "rabbit", "wolf", "狐", "猫", "狗", "兔", "狼"):
        items.append(("animal", u * rng.uniform(0.085, 0.1) * z, 3.1))
    if c.has("girl", "boy", "man", "woman", "child", "figure", "keeper", "traveller", "traveler", "knight",
               "sailor", "person", "stranger", "visitor", "friend", "mother", "father", "grandmother",
               "grandfather", "neighbour", "neighbor", "farmer", "baker", "king", "queen", "princess",
               "prince", "人", "女孩", "男孩", "孩子", "陌生人", "妈妈", "爸爸", "奶奶", "爷爷"):
        items.append(("person", figure, 0.62 if c.has("lantern", "灯笼") else 0.42))
    if c.has(*_VEHICLE) and not c.has("train", "火车"):
        items.append(("vehicle", band * rng.uniform(0.3, 0.38) * z, 2.3))
    if c.has("tree", "树") and not c.has("forest", "woods", "森林"):
        items.append(("tree", band * rng.uniform(0.6, 0.8), 0.8))
    c.shore = c.water and (any(k not in ("boat", "whale") for k, _, _ in items) or
                           c.has("girl", "boy", "figure", "man", "woman", "child", "fox", "cat", "dog", "house",
                                 "tree", "town", "村", "镇", "人", "狐"))
    if not items:
        return
    rest = items[building:]
    rng.shuffle(rest)
    items = items[:building] + rest
    if rng.random() < 0.5:
        items.reverse()  # the building (if any) on the left or on the right
    left, span = c.lw * _SIDE, c.lw * (1 - 2 * _SIDE)
    total = sum(size * ratio for _, size, ratio in items)
    shrink = min(1.0, span * 0.94 / total)
    total *= shrink
    if len(items) == 1:
        name, size, ratio = items[0]
        w = size * ratio * shrink
        x = np.clip(c.lw * (0.5 + rng.uniform(-0.12, 0.12)), left + w / 2, left + span - w / 2)
        c.spots[name] = (float(x), size * shrink, w)
        return
    gaps = [rng.uniform(0.2, 0.6)] + [rng.uniform(0.8, 1.6) for _ in items[1:]] + [rng.uniform(0.2, 0.6)]
    gaps = [g * (span - total) / sum(gaps) for g in gaps]
    x = left + gaps[0]
    for (name, size, ratio), gap in zip(items, gaps[1:]):
        w = size * ratio * shrink
        c.spots[name] = (x + w / 2, size * shrink, w)
        x += w + gap


def _clear_of_subjects(c: _Canvas, x: float, pad: float) -> bool:
    """True when x is not in front of (or behind) a planned subject."""
    return all(abs(x - sx) > w / 2 + pad for sx, _size, w in c.spots.values())


def _paint_sky(c: _Canvas) -> None:
    """Three-stop gradient, a glowing sun or moon (a crescent sometimes), stars, clouds."""
    rng, pal = c.rng, c.pal
    ys = np.arange(c.lh, dtype=np.float32) / max(c.horizon, 1)
    sky = np.stack([np.interp(ys, [0, 0.55, 1.0], [pal["top"][k], pal["mid"][k], pal["horizon"][k]])
                    for k in range(3)], axis=-1)
    c.img = np.repeat(sky[:, None, :], c.lw, axis=1).astype(np.float32)
    c.storm = c.has(*_STORM)
    c.has_disc = not c.storm and (c.night or c.pal_name in ("sunset", "dawn", "fire", "desert") or
                                  c.has("sun", "moon", "太阳", "月") or (c.pal_name != "storm" and rng.random() < 0.4))
    c.is_moon = c.night or c.has("moon", "月")
    c.dx = c.lw * rng.uniform(0.25, 0.75)
    c.dy = c.horizon * (rng.uniform(0.38, 0.62) if c.is_moon else rng.uniform(0.55, 0.85))
    c.dr = c.unit * rng.uniform(0.06, 0.1)
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
        for _ in range(rng.randint(9, 13) if c.storm else rng.randint(3, 7)):  # flat ellipses, blurred
            cx, cy, cw = rng.uniform(-0.1, 1.1) * c.lw, rng.uniform(0.08, 0.8) * c.horizon, rng.uniform(0.18, 0.45) * c.lw
            for _ in range(rng.randint(3, 6)):
                ox, oy, r = rng.uniform(-cw / 2, cw / 2), rng.uniform(-cw / 10, cw / 14), rng.uniform(cw / 7, cw / 3.5)
                d.ellipse([cx + ox - r, cy + oy - r * 0.6, cx + ox + r, cy + oy + r * 0.6], fill=rng.randint(110, 200))
        mask = np.asarray(layer.filter(ImageFilter.GaussianBlur(c.lw * 0.02)), np.float32)[..., None] / 255
        if c.night:
            tone = pal["mid"] * 1.3
        elif c.storm:  # heavy, dark storm clouds
            tone = pal["top"] * 0.55
        elif c.pal_name == "storm":
            tone = _lerp(pal["mid"], pal["horizon"], 0.5)
        else:
            tone = _lerp(pal["horizon"], np.full(3, 255.0), 0.45)
        c.img += (tone - c.img) * mask * (0.9 if c.storm else 0.75)
    if c.storm and rng.random() < 0.6:  # a lightning bolt out of the clouds, away from the subjects
        x, y = c.lw * rng.choice((rng.uniform(0.08, 0.2), rng.uniform(0.8, 0.92))), c.horizon * 0.15
        pts = [(x, y)]
        while y < c.horizon * 0.75:
            x, y = x + rng.uniform(-0.04, 0.04) * c.lw, y + rng.uniform(0.06, 0.12) * c.horizon
            pts.append((x, y))
        bolt = Image.new("L", (c.lw, c.lh), 0)
        ImageDraw.Draw(bolt).line(pts, fill=255, width=max(1, c.lw // 200))
        glow = np.asarray(bolt.filter(ImageFilter.GaussianBlur(c.lw * 0.006)), np.float32)[..., None] / 255
        sharp = np.asarray(bolt, np.float32)[..., None] / 255
        c.img += (np.array([235, 240, 255], np.float32) - c.img) * np.clip(sharp + glow * 1.5, 0, 1)


def _paint_land(c: _Canvas) -> None:
    """Hazy hills or mountains on the horizon, then water with reflections, or a plain; a calm
    near ground (or shore) at the ground line, darkening gently towards the bottom."""
    rng, pal, lh, lw = c.rng, c.pal, c.lh, c.lw
    mountains = c.has("mountain", "peak", "cliff", "fortress", "山", "峰")
    layers = 3 if mountains else 2
    for k in range(layers):
        base = c.horizon - (lh * rng.uniform(0.08, 0.15) if mountains and k == 0 else lh * 0.03 * (1 - k))
        ridge = _ridge(rng, lw, base, lh * (0.05 if mountains else 0.02), mountains and k < 2)
        _fill_below(c.img, ridge, _lerp(c.haze, pal["land"], (k + 1) / (layers + 1) * (0.6 if c.water else 1.0)))
        c.ridges.append(ridge)
    if c.water:
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
    if not c.water or c.shore:  # the near ground, or a shore for someone to stand on
        c.ground = _ridge(rng, lw, c.ground_y, lh * 0.012, False)
        _fill_below(c.img, c.ground, pal["land"] * (1.0 if c.water else 0.85))
    if c.has(*_ROAD) and not c.water:  # a road winding from the viewer to the horizon
        far_x = lw * rng.uniform(0.35, 0.65)
        rows = np.arange(int(c.horizon), lh, dtype=np.float32)
        t = np.clip((rows - c.horizon) / max(1.0, lh - c.horizon), 0, 1)  # 0 at the horizon, 1 at the bottom
        centre = far_x + (lw * 0.5 - far_x) * t + lw * 0.05 * np.sin(t * 5 + rng.uniform(0, 6))
        half = lw * (0.004 + 0.22 * t ** 1.3)
        mask = np.clip(half[:, None] - np.abs(c.xx[int(c.horizon):] - centre[:, None]) + 0.5, 0, 1)[..., None]
        tone = _lerp(c.haze, np.full(3, 200.0), 0.25) if c.has("snow", "winter", "雪", "冬") else \
            _lerp(pal["land"], c.haze, 0.55)
        c.img[int(c.horizon):] += (tone - c.img[int(c.horizon):]) * mask * 0.85
    below = np.clip((c.yy - c.ground_y) / max(1.0, lh - c.ground_y), 0, 1)[..., None]
    c.img *= 1 - 0.2 * below  # a calm foreground, darker towards the bottom


def _paint_settlement(c: _Canvas, draw: ImageDraw.ImageDraw) -> None:
    """A city skyline or a row of village roofs on the horizon, windows lit after dark."""
    rng, u = c.rng, c.unit
    city = c.has("city", "skyline", "城市")
    if not (city or c.has("town", "village", "street", "镇", "村", "街")):
        return
    x = c.lw * rng.uniform(0.02, 0.2)
    end = c.lw * (0.98 if city else rng.uniform(0.6, 0.85))
    far = _rgb(_lerp(c.haze, c.pal["land"], 0.5))
    step = max(2.5, u * 0.012)
    while x < end:
        bw = u * rng.uniform(0.05, 0.09)
        bh = u * (rng.uniform(0.08, 0.22) if city else rng.uniform(0.035, 0.065))
        y0 = c.horizon - bh
        draw.rectangle([x, y0, x + bw, c.horizon + 4], fill=far)
        if not city:
            draw.polygon([(x - 1, y0), (x + bw / 2, y0 - bh * 0.6), (x + bw + 1, y0)], fill=far)
        if c.lit:
            for wy in np.arange(y0 + step * 0.6, c.horizon - 1, step * 1.2):
                for wx in np.arange(x + step * 0.6, x + bw - 1, step):
                    if rng.random() < 0.35:
                        draw.rectangle([wx, wy, wx + step * 0.35, wy + step * 0.45], fill=_GLOW)
        x += bw + u * rng.uniform(0.0, 0.03)


def _paint_castle(c: _Canvas, draw: ImageDraw.ImageDraw) -> None:
    """A castle on the far ridge, near the middle, hazy with distance."""
    if not c.has("castle", "fortress", "kingdom", "城堡", "要塞", "王国"):
        return
    rng, lw, u = c.rng, c.lw, c.unit
    cx, cw = lw * rng.uniform(0.38, 0.62), u * rng.uniform(0.3, 0.38)
    base = float(c.ridges[-1][int(np.clip(cx, 0, lw - 1))]) + 2
    col = _rgb(_lerp(c.haze, c.pal["ink"], 0.45))
    draw.rectangle([cx - cw / 2, base - cw * 0.28, cx + cw / 2, base], fill=col)
    for tx in (cx - cw / 2, cx - cw / 12, cx + cw / 2 - cw / 6):
        th = cw * rng.uniform(0.42, 0.62)
        draw.rectangle([tx, base - th, tx + cw / 6, base], fill=col)
        draw.polygon([(tx - 2, base - th), (tx + cw / 12, base - th - cw * 0.16), (tx + cw / 6 + 2, base - th)], fill=col)
        if c.lit:
            draw.rectangle([tx + cw / 18, base - th * 0.7, tx + cw / 9, base - th * 0.6], fill=_GLOW)


def _paint_water_subjects(c: _Canvas, draw: ImageDraw.ImageDraw) -> None:
    """A sailing boat and a whale on the water, between the horizon and the shore, with reflections."""
    rng, pal = c.rng, c.pal
    reflect = _rgb(_lerp(pal["water"] * 0.6, pal["ink"], 0.45))
    if "boat" in c.spots:
        bx, bs, _ = c.spots["boat"]
        by = c.boat_y
        ink, d = c.ink, rng.choice((1, -1))
        for k in range(4):  # the reflection: broken dark streaks under the hull
            y = by + bs * (0.1 + 0.06 * k)
            half = bs * (0.42 - 0.07 * k)
            draw.line([(bx - half, y), (bx + half, y)], fill=reflect, width=max(1, int(bs * 0.025)))
        draw.polygon([(bx - d * bs / 2, by - bs * 0.1), (bx + d * bs / 2, by - bs * 0.13),
                      (bx + d * bs * 0.38, by + bs * 0.07), (bx - d * bs * 0.36, by + bs * 0.07)], fill=ink)
        mx = bx - d * bs * 0.04
        draw.line([(mx, by - bs * 0.1), (mx, by - bs * 1.0)], fill=ink, width=max(1, int(bs * 0.03)))
        sail = _rgb(_lerp(pal["disc"], pal["horizon"], 0.3) * 0.95)
        draw.polygon([(mx + d * bs * 0.03, by - bs * 0.95), (mx + d * bs * 0.42, by - bs * 0.2),
                      (mx + d * bs * 0.03, by - bs * 0.2)], fill=sail)
        draw.polygon([(mx - d * bs * 0.03, by - bs * 0.82), (mx - d * bs * 0.3, by - bs * 0.2),
                      (mx - d * bs * 0.03, by - bs * 0.2)], fill=_rgb(_lerp(pal["disc"], pal["ink"], 0.35)))
        if c.lit:  # a lamp at the stern
            lx = bx - d * bs * 0.33
            draw.ellipse([lx - bs * 0.025, by - bs * 0.2, lx + bs * 0.025, by - bs * 0.15], fill=_GLOW)
    if "whale" in c.spots:
        wx, ws, _ = c.spots["whale"]
        wy = c.whale_y
        col = _rgb(_lerp(pal["ink"], pal["water"] * 0.7, 0.18))
        d = rng.choice((1, -1))  # the head's side
        for k in range(3):
            y, half = wy + ws * (0.03 + 0.035 * k), ws * (0.45 - 0.1 * k)
            draw.line([(wx - half, y), (wx + half, y)], fill=reflect, width=max(1, int(ws * 0.015)))
        body = [wx - ws * 0.5 + (ws * 0.25 if d < 0 else 0), wy - ws * 0.13,
                wx + ws * 0.5 - (ws * 0.25 if d > 0 else 0), wy + ws * 0.13]
        draw.chord(body, 180, 360, fill=col)  # the long back
        hx = wx + d * ws * 0.28  # the head: a higher, rounder hump
        draw.chord([hx - ws * 0.22, wy - ws * 0.2, hx + ws * 0.22, wy + ws * 0.2], 180, 360, fill=col)
        tx = wx - d * ws * 0.43  # the tail: a stalk rising from the water, then the flukes
        top = wy - ws * 0.26
        draw.polygon([(tx - ws * 0.05, wy), (tx + ws * 0.05, wy), (tx + ws * 0.025, top), (tx - ws * 0.025, top)],
                      fill=col)
        for side in (-1, 1):
            draw.polygon([(tx, top + ws * 0.02), (tx + side * ws * 0.15, top - ws * 0.08),
                          (tx + side * ws * 0.13, top - ws * 0.01)], fill=col)
        light = _rgb(_lerp(pal["disc"], np.full(3, 255.0), 0.3))
        ex = hx + d * ws * 0.1
        draw.ellipse([ex - ws * 0.012, wy - ws * 0.07, ex + ws * 0.012, wy - ws * 0.046], fill=light)  # the eye
        sx, sy = hx - d * ws * 0.05, wy - ws * 0.19  # the spout: a fan of spray from the blowhole
        for k in range(5):
            a = math.pi * (0.3 + 0.4 * k / 4)
            r = ws * (0.13 if k in (1, 3) else 0.1)
            px, py = sx + math.cos(a) * r * 0.8, sy - math.sin(a) * r
            draw.line([(sx, sy), (px, py)], fill=light, width=max(1, int(ws * 0.01)))
            draw.ellipse([px - ws * 0.012, py - ws * 0.012, px + ws * 0.012, py + ws * 0.012], fill=light)
        foam = _rgb(_lerp(pal["water"], np.full(3, 255.0), 0.45))
        draw.line([(wx - ws * 0.5, wy), (wx + ws * 0.5, wy)], fill=foam, width=max(1, int(ws * 0.01)))


def _paint_buildings(c: _Canvas, draw: ImageDraw.ImageDraw) -> None:
    """A lighthouse (its beam when lit), a house or a tower, standing on the ground line."""
    lw, lh, ink = c.lw, c.lh, c.ink
    if "lighthouse" in c.spots:
        lx, th, _ = c.spots["lighthouse"]
        base, bw = c.ground_at(lx), th * 0.1
        draw.polygon([(lx - bw, base), (lx - bw * 0.62, base - th), (lx + bw * 0.62, base - th), (lx + bw, base)], fill=ink)
        for k in range(1, 4):  # red bands
            y, half = base - th * k / 4, bw * (1 - 0.38 * k / 4)
            draw.rectangle([lx - half, y - th * 0.045, lx + half, y], fill=(180, 40, 40))
        draw.rectangle([lx - bw * 0.75, base - th - bw * 0.15, lx + bw * 0.75, base - th], fill=ink)  # gallery
        draw.rectangle([lx - bw * 0.45, base - th - bw * 0.9, lx + bw * 0.45, base - th - bw * 0.15],
                       fill=_GLOW if c.lit else ink)
        draw.polygon([(lx - bw * 0.6, base - th - bw * 0.9), (lx, base - th - bw * 1.5),
                      (lx + bw * 0.6, base - th - bw * 0.9)], fill=ink)
        if c.lit:  # the beam
            beam = Image.new("L", (lw, lh), 0)
            side = 1 if lx < lw / 2 else -1
            y = base - th - bw * 0.5
            ImageDraw.Draw(beam).polygon([(lx, y), (lx + side * lw, y - lh * 0.1), (lx + side * lw, y + lh * 0.05)],
                                         fill=70)
            c.pic.paste(Image.new("RGB", (lw, lh), _GLOW), (0, 0), beam.filter(ImageFilter.GaussianBlur(3)))
    if "house" in c.spots:
        cx, hw, _ = c.spots["house"]
        hx = cx - hw / 2
        base, hh = c.ground_at(cx), hw * 0.6
        draw.rectangle([hx, base - hh, hx + hw, base], fill=ink)
        draw.polygon([(hx - hw * 0.1, base - hh), (hx + hw / 2, base - hh - hw * 0.45), (hx + hw * 1.1, base - hh)], fill=ink)
        draw.rectangle([hx + hw * 0.7, base - hh - hw * 0.4, hx + hw * 0.82, base - hh - hw * 0.1], fill=ink)  # chimney
        window = _GLOW if c.lit else _rgb(c.haze)
        draw.rectangle([hx + hw * 0.58, base - hh * 0.72, hx + hw * 0.82, base - hh * 0.4], fill=window)
        draw.rectangle([hx + hw * 0.18, base - hh * 0.62, hx + hw * 0.36, base], fill=_rgb(_lerp(c.pal["ink"], c.haze, 0.3)))
    if "vehicle" in c.spots:  # a car, a cart or a bus: a body, a cabin, two wheels
        vx, vs, vw = c.spots["vehicle"]
        base = c.ground_at(vx)
        wheel = vs * 0.22
        body_top = base - wheel - vs * 0.32
        cart = c.has("cart", "wagon", "carriage", "马车")
        draw.rounded_rectangle([vx - vw / 2, body_top, vx + vw / 2, base - wheel * 0.8], radius=max(1, vs * 0.08), fill=ink)
        if not cart:
            draw.polygon([(vx - vw * 0.3, body_top), (vx - vw * 0.18, body_top - vs * 0.3),
                          (vx + vw * 0.2, body_top - vs * 0.3), (vx + vw * 0.34, body_top)], fill=ink)
            win = _GLOW if c.lit else _rgb(c.haze)
            draw.polygon([(vx - vw * 0.24, body_top - 1), (vx - vw * 0.15, body_top - vs * 0.24),
                          (vx - vw * 0.02, body_top - vs * 0.24), (vx - vw * 0.02, body_top - 1)], fill=win)
            draw.polygon([(vx + vw * 0.02, body_top - 1), (vx + vw * 0.02, body_top - vs * 0.24),
                          (vx + vw * 0.17, body_top - vs * 0.24), (vx + vw * 0.27, body_top - 1)], fill=win)
            if c.lit:
                _glow(c, vx + vw / 2, body_top + vs * 0.12, vs * 0.25)
        for wx in (vx - vw * 0.3, vx + vw * 0.3):
            draw.ellipse([wx - wheel, base - 2 * wheel, wx + wheel, base], fill=ink)
            draw.ellipse([wx - wheel * 0.4, base - wheel * 1.4, wx + wheel * 0.4, base - wheel * 0.6],
                         fill=_rgb(_lerp(c.pal["ink"], c.haze, 0.4)))
    if "tower" in c.spots:
        tx, th, _ = c.spots["tower"]
        base, bw = c.ground_at(tx), th * 0.09
        draw.rectangle([tx - bw, base - th, tx + bw, base], fill=ink)
        draw.polygon([(tx - bw * 1.3, base - th), (tx, base - th - th * 0.2), (tx + bw * 1.3, base - th)], fill=ink)
        draw.rectangle([tx - bw * 0.35, base - th * 0.85, tx + bw * 0.35, base - th * 0.76], fill=_GLOW if c.lit else ink)


def _pine(draw: ImageDraw.ImageDraw, x: float, base: float, th: float, col: tuple[int, int, int]) -> None:
    for k in range(3):  # three stacked triangles on a short trunk
        w2, y1 = th * (0.34 - k * 0.08), base - th * (0.3 + k * 0.22)
        draw.polygon([(x - w2, y1 + th * 0.2), (x, y1 - th * 0.3), (x + w2, y1 + th * 0.2)], fill=col)
    draw.rectangle([x - th * 0.03, base - th * 0.2, x + th * 0.03, base], fill=col)


def _paint_trees(c: _Canvas, draw: ImageDraw.ImageDraw) -> None:
    """A forest: a hazy far row and a near row that leaves a clearing around the subjects; or one tree."""
    rng = c.rng
    if c.has("forest", "woods", "森林"):
        far = _rgb(_lerp(c.haze, c.pal["ink"], 0.45))
        for _ in range(rng.randint(16, 28)):
            tx = rng.uniform(0, c.lw)
            _pine(draw, tx, float(c.ridges[-1][int(np.clip(tx, 0, c.lw - 1))]) + 4, c.band * rng.uniform(0.2, 0.35), far)
        for _ in range(rng.randint(8, 16)):
            tx = rng.uniform(0, c.lw)
            th = c.band * rng.uniform(0.45, 0.8)
            if _clear_of_subjects(c, tx, th * 0.35):
                _pine(draw, tx, c.ground_at(tx) + 2, th, c.ink)
    if "tree" in c.spots:  # a broad tree: trunk and a cloud of leaves
        tx, th, _ = c.spots["tree"]
        base = c.ground_at(tx)
        draw.polygon([(tx - th * 0.06, base), (tx - th * 0.035, base - th * 0.65), (tx + th * 0.035, base - th * 0.65),
                      (tx + th * 0.06, base)], fill=c.ink)
        for _ in range(9):
            ox, oy, r = rng.uniform(-0.25, 0.25) * th, rng.uniform(-0.85, -0.6) * th, rng.uniform(0.14, 0.22) * th
            draw.ellipse([tx + ox - r, base + oy - r, tx + ox + r, base + oy + r], fill=c.ink)


def _glow(c: _Canvas, x: float, y: float, r: float) -> None:
    layer = Image.new("L", (c.lw, c.lh), 0)
    ImageDraw.Draw(layer).ellipse([x - r, y - r, x + r, y + r], fill=90)
    c.pic.paste(Image.new("RGB", (c.lw, c.lh), _GLOW), (0, 0), layer.filter(ImageFilter.GaussianBlur(r * 0.5)))


def _paint_figures(c: _Canvas, draw: ImageDraw.ImageDraw) -> None:
    """A robot, an animal or a person standing on the ground line; birds in the sky."""
    rng, ink = c.rng, c.ink
    if "robot" in c.spots:
        fx, s, _ = c.spots["robot"]
        fb = c.ground_at(fx) - 1
        draw.rectangle([fx - s * 0.22, fb - s * 0.7, fx + s * 0.22, fb - s * 0.25], fill=ink)
        draw.rectangle([fx - s * 0.15, fb - s, fx + s * 0.15, fb - s * 0.75], fill=ink)
        draw.rectangle([fx - s * 0.15, fb - s * 0.25, fx - s * 0.05, fb], fill=ink)
        draw.rectangle([fx + s * 0.05, fb - s * 0.25, fx + s * 0.15, fb], fill=ink)
        draw.rectangle([fx - s * 0.3, fb - s * 0.66, fx - s * 0.24, fb - s * 0.36], fill=ink)  # arms
        draw.rectangle([fx + s * 0.24, fb - s * 0.66, fx + s * 0.3, fb - s * 0.36], fill=ink)
        for ex in (-0.07, 0.07):  # eyes
            draw.ellipse([fx + s * (ex - 0.03), fb - s * 0.9, fx + s * (ex + 0.03), fb - s * 0.84], fill=_GLOW)
        draw.line([(fx, fb - s), (fx, fb - s * 1.12)], fill=ink, width=max(1, int(s * 0.02)))
        draw.ellipse([fx - s * 0.03, fb - s * 1.16, fx + s * 0.03, fb - s * 1.1], fill=_GLOW)
    if "animal" in c.spots:
        cx, s, _ = c.spots["animal"]
        d = rng.choice((1, -1))  # facing right or left
        fx = cx + d * s * 0.35  # the spot is the middle of tail, body and head together
        fb = c.ground_at(fx) - 1

        def box(x0: float, y0: float, x1: float, y1: float) -> list[float]:
            xa, xb = sorted((fx + d * x0, fx + d * x1))
            return [xa, y0, xb, y1]

        draw.ellipse(box(-s, fb - s * 0.9, s * 0.7, fb - s * 0.25), fill=ink)  # body
        for lx in (-s * 0.7, -s * 0.45, s * 0.25, s * 0.45):
            draw.rectangle(box(lx, fb - s * 0.5, lx + s * 0.12, fb), fill=ink)
        draw.ellipse(box(s * 0.4, fb - s * 1.35, s * 1.05, fb - s * 0.75), fill=ink)  # head
        if c.has("fox", "dog", "wolf", "狐", "狗", "狼"):
            draw.polygon([(fx + d * s * 0.95, fb - s * 1.15), (fx + d * s * 1.3, fb - s * 0.95),
                          (fx + d * s * 0.9, fb - s * 0.85)], fill=ink)  # snout
        ear = s * (0.45 if c.has("rabbit", "兔") else 0.3)
        for ex in (s * 0.5, s * 0.78):
            draw.polygon([(fx + d * ex, fb - s * 1.2), (fx + d * (ex + s * 0.1), fb - s * 1.3 - ear),
                          (fx + d * (ex + s * 0.22), fb - s * 1.2)], fill=ink)
        if c.has("cat", "猫"):  # a thin tail curling up
            tail = [(-0.85, 0.65), (-1.2, 0.75), (-1.4, 1.0), (-1.38, 1.3), (-1.2, 1.45)]
            draw.line([(fx + d * s * tx, fb - s * ty) for tx, ty in tail], fill=ink, width=max(1, int(s * 0.14)),
                      joint="curve")
        else:
            draw.ellipse(box(-s * 1.9, fb - s * 1.0, -s * 0.7, fb - s * 0.55), fill=ink)  # a bushy tail
        draw.ellipse(box(s * 0.78, fb - s * 1.12, s * 0.86, fb - s * 1.04), fill=_rgb(c.haze))  # eye
    if "person" in c.spots:
        fx, s, _ = c.spots["person"]
        fb = c.ground_at(fx) - 1
        d = rng.choice((1, -1))
        hem = s * (0.22 if c.has("girl", "woman", "女孩") else 0.16)
        draw.ellipse([fx - s * 0.07, fb - s, fx + s * 0.07, fb - s * 0.86], fill=ink)  # head
        draw.rectangle([fx - s * 0.03, fb - s * 0.88, fx + s * 0.03, fb - s * 0.8], fill=ink)  # neck
        draw.ellipse([fx - s * 0.12, fb - s * 0.83, fx + s * 0.12, fb - s * 0.74], fill=ink)  # shoulders
        draw.polygon([(fx - s * 0.12, fb - s * 0.78), (fx + s * 0.12, fb - s * 0.78), (fx + hem, fb - s * 0.3),
                      (fx - hem, fb - s * 0.3)], fill=ink)  # coat
        draw.rectangle([fx - s * 0.085, fb - s * 0.32, fx - s * 0.03, fb], fill=ink)  # legs
        draw.rectangle([fx + s * 0.03, fb - s * 0.32, fx + s * 0.085, fb], fill=ink)
        w = max(1, int(s * 0.05))
        draw.line([(fx - d * s * 0.11, fb - s * 0.78), (fx - d * s * 0.19, fb - s * 0.44)], fill=ink, width=w)
        if c.has("scarf", "围巾"):
            draw.polygon([(fx - s * 0.09, fb - s * 0.82), (fx + s * 0.09, fb - s * 0.82), (fx + d * s * 0.2, fb - s * 0.66),
                          (fx + d * s * 0.12, fb - s * 0.62)], fill=(170, 36, 40))
        if c.has("lantern", "灯笼"):  # an arm held out with a glowing lantern
            hx, hy = fx + d * s * 0.26, fb - s * 0.52
            draw.line([(fx + d * s * 0.1, fb - s * 0.78), (hx, hy)], fill=ink, width=w)
            draw.line([(hx, hy), (hx, hy + s * 0.05)], fill=ink, width=1)
            _glow(c, hx, hy + s * 0.1, s * 0.18)
            draw.ellipse([hx - s * 0.055, hy + s * 0.05, hx + s * 0.055, hy + s * 0.17], fill=_GLOW)
        else:
            draw.line([(fx + d * s * 0.11, fb - s * 0.78), (fx + d * s * 0.19, fb - s * 0.44)], fill=ink, width=w)
    if c.has("bird", "birds", "gull", "crow", "鸟"):
        for _ in range(rng.randint(3, 7)):
            bx, by = rng.uniform(0.18, 0.82) * c.lw, rng.uniform(0.45, 0.85) * c.horizon
            bs = c.unit * rng.uniform(0.012, 0.025)
            draw.line([(bx - bs, by - bs * 0.4), (bx, by), (bx + bs, by - bs * 0.4)], fill=ink,
                      width=max(1, int(bs * 0.25)))


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
    if c.has("rain", "storm", "雨", "暴风", "风暴"):
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
    The subjects stand in the middle band of the picture (see `_BAND_TOP`), clear of the subtitle
    box and of the edges that camera moves crop.
    """
    text = prompt.lower()
    for term, _category, _en, zh_words in T.VISUALS:  # Chinese prompts: add the English words
        if any(w in prompt for w in zh_words):
            text += " " + term
    rng = random.Random(_seed("paint", seed, prompt, width, height))
    scale = max(1, round(max(width, height) / 640))
    lw, lh = max(16, width // scale), max(16, height // scale)
    pal_name, pal = _palette(text, rng)
    c = _Canvas(text, rng, lw, lh, pal_name, pal)
    _plan(c)
    _paint_sky(c)
    _paint_land(c)
    pic = c.pic = Image.fromarray(np.clip(c.img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(pic)
    for step in (_paint_settlement, _paint_castle, _paint_water_subjects, _paint_trees, _paint_buildings,
                 _paint_figures):
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


_CUT_CHUNK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\s\u3400-\u9fff\uf900-\ufaff]+")


def _shorten(text: str, fits: Any, ellipsis: str = "…", force: bool = False) -> str:
    """`text` if it fits (and `force` is false), else its longest start that fits with an ellipsis,
    cut after a whole word or a CJK character, never after a dangling word ("a", "of", "的" ...)."""
    if not force and fits(text):
        return text
    for m in reversed(list(_CUT_CHUNK.finditer(text))):
        head = _trim_dangling(text[:m.end()])
        if head and fits(head + ellipsis):
            return head + ellipsis
    return ""


def _draw_caption(pic: Image.Image, caption: str) -> None:
    """A small label in the safe area: centred, at least 14% in from every edge (so camera moves
    do not crop it), shortened at a word boundary to fit; only when a font has every glyph."""
    caption = " ".join(caption.split())
    if len(caption) == 60 and re.search(r"[A-Za-z0-9][A-Za-z0-9]$", caption) and " " in caption:
        caption = caption.rsplit(" ", 1)[0] + "…"  # cut at 60 characters upstream, maybe mid-word
    ellipsis, found = "…", _font_for(caption + "…")
    if found is None:
        ellipsis, found = "...", _font_for(caption.replace("…", "") + "...")
        caption = caption.replace("…", "...")
    if found is None:
        return
    size = max(12, round(min(pic.size) * 0.028))
    try:
        font = ImageFont.truetype(found[0], size, index=found[1])
    except OSError:
        return
    draw = ImageDraw.Draw(pic, "RGBA")
    pad = round(size * 0.45)
    safe_x = math.ceil(pic.width * _CAPTION_SAFE)
    room = pic.width - 2 * (safe_x + pad) - 2
    fits = lambda s: draw.textlength(s, font=font) <= room  # noqa: E731
    if caption.endswith(ellipsis):  # already shortened: shorten the words before the ellipsis
        caption = _shorten(caption[:-len(ellipsis)], fits, ellipsis, force=True)
    else:
        caption = _shorten(caption, fits, ellipsis)
    if not caption:
        return
    box = draw.textbbox((0, 0), caption, font=font)
    left = max(safe_x + pad, (pic.width - (box[2] - box[0])) / 2) - box[0]
    top = math.ceil(pic.height * max(_CAPTION_TOP, _CAPTION_SAFE)) + pad - box[1]
    box = (box[0] + left, box[1] + top, box[2] + left, box[3] + top)
    draw.rounded_rectangle([box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad], radius=pad,
                           fill=(0, 0, 0, 120))
    draw.text((left, top), caption, font=font, fill=(255, 255, 255, 235))


class Painter:
    """A procedural Pillow painter: palette and composition follow the prompt's words."""

    name = "local-painter"
    kind = "text2image"
    # The version is part of every image key: bump it when the same prompt paints differently.
    # v2: no prompt text painted into the picture (set STORYNB_DEBUG_IMAGE_TEXT=1 to see it),
    # storms bring dark clouds, rain and lightning; roads, vehicles, strangers and doors are drawn.
    model = "local-painter/2 (procedural Pillow drawing, offline)"

    def identity(self) -> dict:
        """What goes into an image key: the painter and its version, and, only when the debug
        option paints the prompt into the picture, that option and the font it draws with (a
        font installed later would change the pixels)."""
        found = {"provider": self.name, "model": self.model, "provider_params": {}}
        if os.environ.get("STORYNB_DEBUG_IMAGE_TEXT") == "1":
            font = _font_for("Aa你")
            found["debug_text_font"] = Path(font[0]).name if font else None
        return found

    async def generate(self, request: ImageRequest, out_path: Path) -> None:
        if request.width < 16 or request.height < 16:
            raise ProviderError(f"image size {request.width}x{request.height} is too small (minimum 16x16)")

        def work() -> None:
            from ..characters import draw_characters, painter_prompt  # the shot's characters

            caption = request.caption if os.environ.get("STORYNB_DEBUG_IMAGE_TEXT") == "1" else ""
            prompt = painter_prompt(request.prompt, request.characters) if request.characters else request.prompt
            pic = paint(prompt, request.width, request.height, request.seed, caption)
            draw_characters(pic, request.characters, request.seed)  # the same in every shot
            pic.save(Path(out_path), format="PNG", compress_level=3)  # level 6 triples the time for 5%

        await asyncio.to_thread(work)


# ================================================================================= narrator
from .narrator import LocalNarrator  # noqa: E402  (Piper / eSpeak NG from wheels; see narrator.py)


def offline_providers() -> dict[str, object]:
    """One instance of each offline provider, by name."""
    return {"draft-writer": DraftWriter(), "local-painter": Painter(), "local-narrator": LocalNarrator()}
