"""The offline draft writer: the `rewrite` task (a story from phrase banks around the topic) and
the DraftWriter provider that also answers `storyboard` and `camera` (see .storyboarder, .camera).
It is a template-based writer, not an AI, and says so in every result."""
from __future__ import annotations

import asyncio
import functools
import json
import random
import re
from typing import Any

from . import words as T
from .camera import plan_camera
from .common import cap, seed_of, trim_dangling
from .storyboarder import make_storyboard
from ..base import LLMRequest, LLMResult, ProviderError
from ...settings import normalize_style
from ...longtext import condense
from ...text import approx_tokens, cjk_count, language_of


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
            cuts = [k for k in cuts if trim_dangling(" ".join(words[:k])).count(" ") >= 2]
            if cuts:
                words = words[:max(cuts)]
                break
        else:
            words = words[:hard]
    return trim_dangling(" ".join(words)).split()


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
                out["but"] = trim_dangling(" ".join(past))
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
    return {"they": forms[0], "They": cap(forms[0]), "them": forms[1], "their": forms[2],
            "Their": cap(forms[2])}


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
            "place": place, "Place": cap(place), "the_place": the_place, "object": obj, "the_object": the_obj,
            "companion": rng.choice(T.EN_COMPANIONS), "about": about, "goal": goal or "",
            "achieved": achieved, "when": when, "When": cap(when), "action": read["action"] or "",
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
            if 2 <= len(c) <= 16 and not re.search(r"想|梦想|希望|渴望|因为|所以", c) and cjk_count(c) == len(c):
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
    v = str(normalize_style(value) or "").strip().lower()
    if v in T.BANK_STYLES:
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
    lang = language_of(variables.get("language"), topic)
    style = _style(variables.get("style"))
    level = _length_level(variables.get("length"))
    audience = str(variables.get("audience") or "").lower()
    rng = random.Random(seed_of("rewrite", topic, lang, style, level, audience))
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
            sentences.append(cap(rng.choice(list(options)).format(**cast)))
            for extra_slot, key, templates, replace in extras:
                if extra_slot == slot and templates and cast.get(key):
                    line = cap(rng.choice(templates).format(**cast))
                    sentences[-1:] = [line] if replace else [sentences[-1], line]
        paragraphs.append(sentences)
    if level == 0:  # short: three paragraphs (setting+want, obstacle+turn, resolution)
        paragraphs = [paragraphs[0] + paragraphs[1], paragraphs[2] + paragraphs[3], paragraphs[4]]
    if any(w in audience for w in T.CHILD_AUDIENCE):
        paragraphs[-1].append(rng.choice(T.ZH_CHILD_MORAL if lang == "zh" else T.EN_CHILD_MORAL))
    joiner = "" if lang == "zh" else " "
    return "\n\n".join(joiner.join(p) for p in paragraphs)


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
        return LLMResult(text=text, tokens_in=approx_tokens((request.system or "") + request.prompt),
                         tokens_out=approx_tokens(text), model=self.model)
