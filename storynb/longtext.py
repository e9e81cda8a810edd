"""A long text's pieces: its sentences in order, each knowing its paragraph and chapter (headings
such as 第X章 / Chapter N, scene breaks), chunks of them, and the offline writer's condensed
version. Plain text work (it imports only storynb.text): storynb.longform plans jobs over it."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .text import detect_language, split_sentences, text_weight

_ZH_NUM = "0-9０-９零〇一二三四五六七八九十百千两"
HEADING_ZH = re.compile(rf"^\s*(第[{_ZH_NUM}]+[章回节卷集部篇幕]|序章|序幕|楔子|引子|尾声|后记|番外)"
                        r"[^。！？]{0,30}$")
HEADING_EN = re.compile(r"^\s*(chapter|book|part|act)\s+([0-9]+|[ivxlcdm]+|one|two|three|four|five|six|"
                        r"seven|eight|nine|ten|eleven|twelve|[a-z]+-?[a-z]*)\b[^\n]{0,70}$|"
                        r"^\s*(prologue|epilogue|interlude)\b[^\n]{0,60}$", re.I)
SCENE_BREAK = re.compile(r"^\s*([*#~=·•◇◆○●☆★—–\-_]\s*){1,12}$")


@dataclass
class Piece:
    text: str
    para: int
    heading: bool = False
    chapter: str = ""
    weight: float = 0.0


@dataclass
class Chunk:
    index: int
    pieces: list[Piece]
    chapter: str
    narrations: list[str] = field(default_factory=list)

    zh: bool = False

    @property
    def text(self) -> str:
        """The chunk's sentences, paragraphs separated by blank lines."""
        paragraphs: list[list[str]] = []
        for k, piece in enumerate(self.pieces):
            if k == 0 or piece.para != self.pieces[k - 1].para:
                paragraphs.append([])
            paragraphs[-1].append(piece.text)
        return "\n\n".join(joined(p, self.zh) for p in paragraphs)

    @property
    def weight(self) -> float:
        return sum(p.weight for p in self.pieces)


def is_zh(text: str) -> bool:
    return detect_language(text[:20000]) == "zh"


weight = text_weight  # how much there is to say (storynb.text)


def joined(parts: list[str], zh: bool) -> str:
    return ("" if zh else " ").join(p for p in parts if p)


def is_heading(line: str, zh: bool | None = None) -> bool:
    line = line.strip()
    if not line or len(line) > 80:
        return False
    return bool(HEADING_ZH.match(line) or HEADING_EN.match(line))


def pieces_of(text: str, zh: bool) -> list[Piece]:
    """The story's sentences in order, each knowing its paragraph and chapter; a chapter heading is
    a piece of its own. Paragraphs are separated by blank lines (or by line breaks in a text with
    no blank lines); scene breaks (***, ——) end a paragraph and are not narrated."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blank_mode = any(not line.strip() for line in lines[1:-1])
    out: list[Piece] = []
    para, chapter = 0, ""
    buffer: list[str] = []

    def flush() -> None:
        nonlocal para, buffer
        if buffer:
            paragraph = "".join(s.strip() for s in buffer) if zh else " ".join(" ".join(buffer).split())
            for sentence in split_sentences(paragraph, zh):
                out.append(Piece(sentence, para, chapter=chapter, weight=weight(sentence, zh)))
            para += 1
        buffer = []

    for line in lines:
        stripped = line.strip()
        if not stripped:
            flush()
        elif SCENE_BREAK.match(stripped):
            flush()
            para += 1  # a scene break is a deeper cut than a paragraph end
        elif is_heading(stripped):
            flush()
            chapter = " ".join(stripped.split())
            out.append(Piece(chapter, para, heading=True, chapter=chapter, weight=weight(chapter, zh)))
            para += 1
        else:
            buffer.append(line)
            if not blank_mode:
                flush()
    flush()
    return out


def condense(source: str, target: int, language: str | None = None) -> str:
    """The offline draft writer's adaptation (not an AI): the text's own sentences, a share of
    them picked evenly so the result is about `target` characters (zh) or words (en); chapter
    headings are kept. A text already short enough comes back whole."""
    zh = language == "zh" if language in ("zh", "en") else is_zh(source)
    pieces = pieces_of(source, zh)
    total = sum(p.weight for p in pieces if not p.heading) or 1.0
    ratio = min(1.0, max(0.01, float(target) / total))
    paragraphs: dict[int, list[str]] = {}
    seen = kept = 0.0
    for piece in pieces:
        if piece.heading:
            paragraphs.setdefault(piece.para, []).append(piece.text)
            continue
        seen += piece.weight
        if ratio >= 1.0 or kept + piece.weight / 2 <= ratio * seen:
            paragraphs.setdefault(piece.para, []).append(piece.text)
            kept += piece.weight
    return "\n\n".join(joined(parts, zh) for _, parts in sorted(paragraphs.items()))
