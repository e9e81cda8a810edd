"""Text facts every layer needs: is it Chinese, how many words, how long it takes to say.

A low-level module (it imports nothing of storynb): the offline writer and narrator, the
storyboard stage, long stories and projects all count the same way.
"""
from __future__ import annotations

import re
from typing import Any

# CJK Unified Ideographs (with Extension A) and the Compatibility Ideographs.
CJK_CLASS = "\u3400-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{CJK_CLASS}]")
_WORD = re.compile(r"[A-Za-z0-9'’-]+")
_LATIN_WORD = re.compile(r"[A-Za-z]+")

# Speaking speed of the narration: Mandarin characters or English words per second.
ZH_CHARS_PER_SECOND = 4.5
EN_WORDS_PER_SECOND = 2.6


def is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def cjk_count(text: str) -> int:
    return sum(1 for ch in text if is_cjk(ch))


def word_count(text: str) -> int:
    """English words (letters, digits, apostrophes and hyphens)."""
    return len(_WORD.findall(text))


def looks_chinese(text: str) -> bool:
    """More than 30 % of the letters are Chinese characters."""
    letters = sum(1 for ch in text if ch.isalpha())
    return letters > 0 and cjk_count(text) / letters > 0.3


def detect_language(text: str) -> str:
    """"zh" when the text has at least as many Chinese characters as English words, else "en"."""
    cjk = cjk_count(text)
    return "zh" if cjk and cjk >= len(_LATIN_WORD.findall(text)) else "en"


def language_of(value: Any, text: str) -> str:
    """A language setting ("zh-CN", "Chinese", "中文", "en" …) as "zh" or "en"; when it says
    neither, the text's own."""
    v = str(value or "").strip().lower()
    if v.startswith(("zh", "cmn", "chinese")) or v in ("中文", "汉语", "普通话", "cn"):
        return "zh"
    if v.startswith(("en", "english")) or v == "英文":
        return "en"
    return "zh" if looks_chinese(text) else "en"


def name_from(topic: str) -> str:
    """A short name for a story: its first sentence (at most 40 characters)."""
    first = re.split(r"[\n。！？.!?]", topic, maxsplit=1)[0].strip()
    return first[:40] or topic[:40]


def approx_tokens(text: str) -> int:
    """About how many tokens a model counts: one a Chinese character, one per 4 other characters."""
    cjk = cjk_count(text)
    return cjk + (len(text) - cjk) // 4


def spoken_amount(text: str, zh: bool) -> float:
    """What sets the time to say the text: Chinese characters (any character when there are
    none) or English words."""
    if zh:
        return float(cjk_count(text) or len(text.strip()))
    return float(word_count(text))


def speaking_seconds(amount: float, zh: bool) -> float:
    """Seconds to say `amount` (spoken_amount) at the narration's speed."""
    return amount / (ZH_CHARS_PER_SECOND if zh else EN_WORDS_PER_SECOND)


def seconds_to_say(text: str, zh: bool) -> float:
    """Seconds a narrator takes to say the text (no pauses)."""
    return speaking_seconds(spoken_amount(text, zh), zh)


# ------------------------------------------------------------------------------- sentences
ZH_END = "。！？!?…"
CLOSERS = "\"'”’」』）)]"


def split_sentences(paragraph: str, zh: bool) -> list[str]:
    """A paragraph's sentences, each with its end marks and closing quotes."""
    out, buf, i, n = [], [], 0, len(paragraph)
    while i < n:
        ch = paragraph[i]
        buf.append(ch)
        i += 1
        if ch in (ZH_END if zh else ".!?…") or (zh and ch in ".!?"):
            while i < n and (paragraph[i] in ZH_END + ".!?" or paragraph[i] in CLOSERS):
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


def text_weight(text: str, zh: bool) -> float:
    """How much there is to say: Chinese characters (any characters when there are none) or
    English words (at least 1)."""
    return float(cjk_count(text) or len(text.strip())) if zh else float(word_count(text) or 1)


def split_piece(text: str, zh: bool) -> tuple[str, str] | None:
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
