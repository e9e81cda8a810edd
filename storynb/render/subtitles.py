"""Caption fonts and caption images.

`find_font` picks a font file that really has a glyph for every character of a caption (checked in
the font's cmap with fontTools, never assumed); `render_caption` draws the caption as an RGBA band
the motion renderer burns into each frame.
"""
from __future__ import annotations

import functools
import os
import re
import subprocess
import unicodedata
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ..errors import InvalidInput

# Ideographs, kana, hangul and CJK/full-width punctuation: wrapped per character, not per word.
_CJK = re.compile(
    "[\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31ff"
    "\u3200-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff]")
# Closing punctuation that must not start a line (kinsoku), and opening marks that must not end one.
_NO_LINE_START = set("，。！？、；：）》」』】〉”’…—,.!?;:)]}%·～")
_NO_LINE_END = set("（《「『【〈“‘([{")
_INSTALL_HINT = ("install a font that covers them (for Chinese, Japanese or Korean: "
                 "`apt install fonts-noto-cjk`) or pass another font (a file path or a fontconfig "
                 "family name)")


class MissingGlyphsError(InvalidInput):
    """The chosen font has no glyph for some characters of the text."""


def _needed(text: str) -> frozenset[str]:
    return frozenset(c for c in text if not c.isspace() and unicodedata.category(c)[0] != "C")


def _describe(chars) -> str:
    chars = sorted(chars)
    shown = ", ".join(f"'{c}' (U+{ord(c):04X})" for c in chars[:20])
    return shown + (f" and {len(chars) - 20} more" if len(chars) > 20 else "")


@functools.lru_cache(maxsize=64)
def _cmap(path: str, index: int = 0) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    try:
        font = TTFont(path, fontNumber=index, lazy=True)
        return frozenset(font.getBestCmap() or {})
    except Exception as exc:  # fontTools raises many kinds for a damaged or foreign file
        raise InvalidInput(f"cannot read the font file {path!r}: {exc}") from None


@functools.lru_cache(maxsize=64)
def _faces(path: str) -> tuple[str, ...]:
    """Family names of the faces in a font file (several for a .ttc collection)."""
    from fontTools.ttLib import TTCollection, TTFont

    if path.lower().endswith((".ttc", ".otc")):
        coll = TTCollection(path, lazy=True)
        return tuple(f["name"].getDebugName(1) or "" for f in coll.fonts)
    return (TTFont(path, lazy=True)["name"].getDebugName(1) or "",)


def _script(text: str) -> str:
    """'ja' if the text has kana, 'ko' if hangul, else 'zh' (the collection face for Han text)."""
    if re.search("[\u3040-\u30ff]", text):
        return "ja"
    if re.search("[\uac00-\ud7af\u3130-\u318f]", text):
        return "ko"
    return "zh"


def face_index(path: str, text: str = "") -> int:
    """Which face of a font collection suits the text: SC for Chinese, JP for kana, KR for hangul."""
    faces = _faces(str(path))
    if len(faces) == 1:
        return 0
    want = {"ja": "JP", "ko": "KR", "zh": "SC"}[_script(text)]
    for i, name in enumerate(faces):
        if name.endswith(" " + want) and "Mono" not in name:
            return i
    return 0


def _fc(*args: str) -> str:
    try:
        out = subprocess.run(["fc-list" if args[0] == "list" else "fc-match", *args[1:]],
                             capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise InvalidInput("fontconfig is not installed (fc-list/fc-match not found): install it "
                         "(`apt install fontconfig fonts-noto-cjk`) or pass a font file path") from None
    return out.stdout


def _missing(path: str, chars: frozenset[str], text: str) -> set[str]:
    cmap = _cmap(path, face_index(path, text))
    return {c for c in chars if ord(c) not in cmap}


def resolve_font(preferred: str) -> str:
    if os.path.sep in preferred or Path(preferred).suffix.lower() in (".ttf", ".otf", ".ttc", ".otc"):
        if not Path(preferred).is_file():
            raise InvalidInput(f"font file {preferred!r} does not exist: pass an existing .ttf/.otf/.ttc "
                             "file or a fontconfig family name (see `fc-list : family`)")
        return str(Path(preferred).resolve())
    line = _fc("match", "-f", "%{file}\t%{family}", preferred).strip()
    path, _, families = line.partition("\t")
    if not path or preferred.lower() not in families.lower():
        raise InvalidInput(f"no installed font family is named {preferred!r} (fontconfig offered "
                         f"{families or 'nothing'}): pass a family listed by `fc-list : family` "
                         "or a font file path")
    return path


def _rank(line: str, cjk: bool) -> tuple:
    path, _index, family, style, weight = (line.split("\t") + [""] * 5)[:5]
    family, style = family.lower(), style.lower()
    try:
        w = float(weight)
    except ValueError:
        w = 80.0
    return ("serif" in family and "sans" not in family, "mono" in family,
            cjk and "cjk" not in family, not cjk and "cjk" in family,
            "italic" in style or "oblique" in style, "condensed" in style,
            abs(w - 200) / 100,  # fontconfig's 200 is bold
            path)


@functools.lru_cache(maxsize=256)
def _find(chars: frozenset[str], preferred: str | None, text: str) -> str:
    # `text` is only a script sample for face_index, so the cache is keyed on the character set.
    if preferred:
        path = resolve_font(preferred)
        missing = _missing(path, chars, text)
        if missing:
            raise MissingGlyphsError(f"font {path!r} has no glyphs for {_describe(missing)}: "
                                     f"{_INSTALL_HINT}")
        return path
    query = ":charset=" + " ".join(f"{ord(c):x}" for c in sorted(chars)) if chars else ":"
    lines = {ln for ln in _fc("list", "-f", "%{file}\t%{index}\t%{family[0]}\t%{style[0]}\t%{weight}\n",
                              query).splitlines() if ln.strip()}
    cjk = any(_CJK.match(c) for c in chars)
    for line in sorted(lines, key=lambda ln: _rank(ln, cjk)):
        path = line.split("\t")[0]
        if path.lower().endswith((".ttf", ".otf", ".ttc", ".otc")) and not _missing(path, chars, text):
            return path
    # No one font has them all: the font that has the most of them (characters no font has, such
    # as an emoji with no emoji font installed, are left out of the burned-in text; see drawable).
    every = {ln for ln in _fc("list", "-f", "%{file}\t%{index}\t%{family[0]}\t%{style[0]}\t%{weight}\n",
                              ":").splitlines() if ln.strip()}
    best, best_n = None, -1
    for line in sorted(every, key=lambda ln: _rank(ln, cjk)):
        path = line.split("\t")[0]
        if not path.lower().endswith((".ttf", ".otf", ".ttc", ".otc")):
            continue
        try:
            n = len(chars) - len(_missing(path, chars, text))
        except ValueError:
            continue
        if n > best_n:
            best, best_n = path, n
    if best is None or best_n <= 0:
        raise MissingGlyphsError(f"no installed font has glyphs for any of {_describe(chars)}: {_INSTALL_HINT}")
    return best


def unavailable(text: str) -> set[str]:
    """The characters of `text` that no installed font has (fontconfig's charset, then the cmap)."""
    return {c for c in _needed(text) if _font_with(c) is None}


@functools.lru_cache(maxsize=4096)
def _font_with(c: str) -> str | None:
    """An installed outline font that has a glyph for `c` (fontconfig, checked in the cmap), or
    None. Bitmap-only colour fonts Pillow cannot scale are passed over."""
    lines = _fc("list", "-f", "%{file}\t%{family[0]}\t%{style[0]}\t%{weight}\t%{scalable}\n",
                f":charset={ord(c):x}").splitlines()
    cjk = bool(_CJK.match(c))
    rows = sorted((ln.split("\t")[0] + "\t0\t" + "\t".join(ln.split("\t")[1:4])
                   for ln in lines if ln.strip() and ln.rstrip().endswith("True")),
                  key=lambda ln: _rank(ln, cjk))
    for line in rows[:12]:
        path = line.split("\t")[0]
        if not path.lower().endswith((".ttf", ".otf", ".ttc", ".otc")):
            continue
        try:
            if ord(c) in _cmap(path, face_index(path, c)) and _scalable(path):
                return path
        except ValueError:
            continue
    return None


@functools.lru_cache(maxsize=64)
def _scalable(path: str) -> bool:
    try:
        ImageFont.truetype(path, 23)
        return True
    except OSError:  # e.g. a colour bitmap font with fixed sizes
        return False


def font_chain(text: str, primary: str) -> tuple[str, ...]:
    """The caption font, then for each character it lacks an installed font that has it
    (per character, through fontconfig: symbol and emoji fonts where installed)."""
    cmap = _cmap(primary, face_index(primary, text))
    chain = [primary]
    for c in sorted(_needed(text)):
        if ord(c) in cmap or any(ord(c) in _cmap(f, face_index(f, c)) for f in chain[1:]):
            continue
        found = _font_with(c)
        if found and found not in chain:
            chain.append(found)
    return tuple(chain)


def covered(c: str, chain) -> bool:
    return any(ord(c) in _cmap(f, face_index(f, c)) for f in chain)


def drawable(text: str, font_path: str, chain=None) -> str:
    """`text` without the characters no font of the chain can draw (they stay in the .srt/.ass)."""
    chain = chain or (font_path,)
    kept = "".join(c for c in text if c.isspace() or unicodedata.category(c)[0] == "C"
                   or covered(c, chain))
    if kept == text:
        return text
    return re.sub(r"\s+([.,!?;:。，！？、；：])", r"\1", " ".join(kept.split()))


def describe_missing(text: str, font_path: str | None) -> str:
    """'' when every character is drawn (by the caption font or a fallback), else which
    characters are left out of the burned-in captions because no installed font has them."""
    if not font_path:
        return ""
    chain = font_chain(text, font_path)
    lost = {c for c in _needed(text) if not covered(c, chain)}
    if not lost:
        return ""
    hint = "; install fonts-noto-color-emoji for emoji" if any(ord(c) > 0x1F000 for c in lost) else ""
    return f"{_describe(lost)} (no installed font has them{hint})"


def find_font(text: str, preferred: str | None = None) -> str:
    """A font file with a glyph for every non-space character of `text`.

    `preferred` (a path or a fontconfig family name) is used when given, but raises
    `MissingGlyphsError` if it lacks glyphs. Otherwise fontconfig is asked for fonts covering the
    text, preferring a CJK sans for CJK text and a bold sans otherwise; the winner's cmap is checked.
    """
    chars = _needed(text)
    sample = {"ja": "\u3042", "ko": "\uac00", "zh": ""}[_script(text)]  # picks the collection face
    return _find(chars, preferred or None, sample)


# --- caption layout ------------------------------------------------------------------------------

def tokens_of(text: str) -> list[str]:
    """Words for Latin text, single characters for CJK, spaces kept as their own tokens."""
    return re.findall(r"\s+|" + _CJK.pattern + r"|[^\s" + _CJK.pattern[1:-1] + r"]+", text)


# Where burned-in captions go, for every renderer (the clip renderer, the .ass file, the video
# adapters' overlay): centred, at most CAPTION_WIDTH of the frame wide (inside the 90 % title-safe
# width with the box's padding), their bottom caption_margin() above the frame's bottom.
CAPTION_WIDTH = 0.78


def caption_margin(width: int, height: int) -> int:
    """Pixels from the frame's bottom to the captions': 14 % of a portrait frame (clear of the
    apps' own buttons), 7 % of a wide or square one."""
    return round(height * (0.14 if height > width else 0.07))


def caption_top(width: int, height: int, caption_height: int) -> int:
    """The (even) row where a caption image `caption_height` pixels tall starts."""
    return max(0, (height - caption_margin(width, height) - caption_height) // 2 * 2)


def wrap(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    lines: list[str] = []
    line = ""
    for tok in tokens_of(" ".join(text.split())):
        trial = line + tok
        if not line or font.getlength(trial.rstrip()) <= max_width or tok.isspace():
            line = trial
            continue
        if tok[0] in _NO_LINE_START:
            # Kinsoku: closing punctuation stays on the line it closes; carry the last character
            # down with it when that line is CJK, else let the punctuation overhang slightly.
            if _CJK.match(line[-1]) and len(line) > 1 and line[-2] not in _NO_LINE_END:
                lines.append(line[:-1].rstrip())
                line = line[-1] + tok
            else:
                line = trial
            continue
        if line[-1] in _NO_LINE_END and len(line) > 1:
            lines.append(line[:-1].rstrip())
            line = line[-1] + tok
            continue
        lines.append(line.rstrip())
        line = tok.lstrip()
        while font.getlength(line) > max_width and len(line) > 1:  # a single word wider than the line
            cut = max(1, int(len(line) * max_width / font.getlength(line)))
            while cut > 1 and font.getlength(line[:cut]) > max_width:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip():
        lines.append(line.strip())
    return lines


def _truncate(line: str, font: ImageFont.FreeTypeFont, max_width: float) -> str:
    while line and font.getlength(line + "…") > max_width:
        line = line[:-1]
    return line.rstrip() + "…"


_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;…])\s*")
_CLAUSE_END = re.compile(r"(?<=[,，、:：])\s*")


def caption_pages(text: str, width: int, font_path: str, *, max_lines: int = 3) -> list[str]:
    """Split narration too long for one caption into pages that each fit `max_lines` lines,
    breaking between sentences, else between clauses, else between lines (the pages are shown
    one after another)."""
    text = " ".join(text.split())
    if not text:
        return []
    size = max(10, round(width / 18 * 0.85))  # render_caption may shrink to fit; pages allow a little
    font = ImageFont.truetype(font_path, size, index=face_index(font_path, text))
    max_w = width * CAPTION_WIDTH
    fits = lambda t: len(wrap(t, font, max_w)) <= max_lines
    if fits(text):
        return [text]
    pages: list[str] = []
    whole = False  # whether the last page holds whole sentences (then another may join it)
    for sentence in (s for s in _SENTENCE_END.split(text) if s.strip()):
        if fits(sentence):
            if whole and fits(_join([pages[-1], sentence])):
                pages[-1] = _join([pages[-1], sentence])
            else:
                pages.append(sentence)
            whole = True
            continue
        parts: list[str] = []  # a long sentence: its clauses (or lines), packed among themselves
        for clause in (c for c in _CLAUSE_END.split(sentence) if c.strip()):
            lines = wrap(clause, font, max_w)
            for piece in (_join(lines[i:i + max_lines]) for i in range(0, len(lines), max_lines)):
                if parts and fits(_join([parts[-1], piece])):
                    parts[-1] = _join([parts[-1], piece])
                else:
                    parts.append(piece)
        pages += parts
        whole = False
    return pages


def _join(lines: list[str]) -> str:
    out = ""
    for line in lines:
        out += ("" if not out or _CJK.match(out[-1]) or _CJK.match(line[0]) else " ") + line
    return out


HIGHLIGHT = (255, 214, 64, 255)  # the spoken word, when burned captions highlight it


def _chain_length(line: str, font, size: int, text: str, chain) -> float:
    if not chain or len(chain) == 1:
        return font.getlength(line)
    fonts = [font] + [ImageFont.truetype(f, size, index=face_index(f, text)) for f in chain[1:]]
    cmaps = [_cmap(f, face_index(f, text)) for f in chain]
    return sum(fonts[0 if ch.isspace() else next((i for i, cm in enumerate(cmaps) if ord(ch) in cm), 0)]
               .getlength(ch) for ch in line)


def render_caption(text: str, width: int, font_path: str, *, max_lines: int = 3,
                   highlight: tuple[int, int] | None = None, chain=None) -> Image.Image:
    """The caption as an RGBA image `width` pixels wide: centred white text, dark outline, on a
    translucent rounded box, wrapped to at most `max_lines` lines (the font shrinks down to 75 %
    before the last line is cut with an ellipsis). Its height is even (yuv420 chroma rows)."""
    text = " ".join(text.split())
    if not text:
        return Image.new("RGBA", (width, 2), (0, 0, 0, 0))
    index = face_index(font_path, text)
    base = max(10, round(width / 18))
    max_w = width * CAPTION_WIDTH
    for size in range(base, max(9, round(base * 0.75)) - 1, -max(1, base // 20)):
        font = ImageFont.truetype(font_path, size, index=index)
        lines = wrap(text, font, max_w)
        if len(lines) <= max_lines:
            break
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + [_truncate(lines[max_lines - 1], font, max_w)]

    stroke = max(1, round(size / 14))
    line_h = round(size * 1.3)
    pad_y = round(size * 0.35)
    pad_x = round(size * 0.6)
    height = len(lines) * line_h + 2 * pad_y
    height += height % 2
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    text_w = max(_chain_length(ln, font, size, text, chain) for ln in lines)
    box_w = min(width, text_w + 2 * pad_x + 2 * stroke)
    x0 = (width - box_w) / 2
    draw.rounded_rectangle((x0, 0, x0 + box_w - 1, height - 1), radius=round(size * 0.4),
                           fill=(0, 0, 0, 110))
    fonts = [font] + [ImageFont.truetype(f, size, index=face_index(f, text)) for f in (chain or ())[1:]]
    cmaps = [_cmap(f, face_index(f, text)) for f in (chain or (font_path,))]

    def runs(piece: str) -> list[tuple[ImageFont.FreeTypeFont, str]]:
        out: list[list] = []
        for ch in piece:
            k = 0 if ch.isspace() or len(fonts) == 1 else \
                next((i for i, cm in enumerate(cmaps) if ord(ch) in cm), 0)
            if out and out[-1][0] is fonts[k]:
                out[-1][1] += ch
            else:
                out.append([fonts[k], ch])
        return [(f, t) for f, t in out]

    def length(piece: str) -> float:
        return float(sum(f.getlength(t) for f, t in runs(piece)))

    baseline = font.getmetrics()[0] - (font.getmetrics()[0] + font.getmetrics()[1]) / 2  # centre → baseline
    pos = 0
    for i, ln in enumerate(lines):
        y = pad_y + line_h * (i + 0.5) + baseline
        at = text.find(ln, pos)
        pos = at + len(ln) if at >= 0 else pos
        a, b = ((max(0, highlight[0] - at), min(len(ln), highlight[1] - at))
                if highlight and at >= 0 else (0, 0))
        if b <= a:
            a = b = 0
        x = width / 2 - length(ln) / 2
        for piece, fill in ((ln[:a], (255, 255, 255, 255)), (ln[a:b], HIGHLIGHT), (ln[b:], (255, 255, 255, 255))):
            for f, t in runs(piece):
                draw.text((x, y), t, font=f, anchor="ls", fill=fill, stroke_width=stroke,
                          stroke_fill=(0, 0, 0, 230))
                x += f.getlength(t)
    return img


# --- timed caption pages ------------------------------------------------------------------------

LINE_LATIN, LINE_CJK, PAGE_LINES = 42, 16, 2  # a caption page: at most 2 lines of ~42 / 16 chars


def _width(text: str) -> float:
    """Line length in 'Latin characters': a CJK character counts 42/16."""
    return sum(LINE_LATIN / LINE_CJK if _CJK.match(c) else 1 for c in text)


def _glue(a: str, b: str) -> str:
    if not a:
        return b
    return a + ("" if _CJK.match(a[-1]) or _CJK.match(b[0]) else " ") + b


def split_lines(text: str, lines: int = PAGE_LINES) -> list[str]:
    """A page's text as at most `lines` balanced lines (broken between words, or between CJK
    characters, never before closing punctuation)."""
    if lines < 2 or _width(text) <= LINE_LATIN:
        return [text]
    toks = [t for t in tokens_of(text) if not t.isspace()]
    best, best_cost = [text], float("inf")
    for i in range(1, len(toks)):
        if toks[i][0] in _NO_LINE_START or toks[i - 1][-1] in _NO_LINE_END:
            continue
        a, b = "", ""
        for t in toks[:i]:
            a = _glue(a, t)
        for t in toks[i:]:
            b = _glue(b, t)
        cost = max(_width(a), _width(b)) - (14 if _SENTENCE_END.search(a[-1] + " ") else
                                            4 if _CLAUSE_END.search(a[-1] + " ") else 0)
        if cost < best_cost:
            best, best_cost = [a, b], cost
    return best


def paginate(words: list[dict], *, limit: float = LINE_LATIN * PAGE_LINES) -> list[dict]:
    """Timed words (`text`, `start`, `end`) grouped into caption pages of at most two lines:
    a page ends at a sentence end, else at a clause end once it is half full, else when full.
    Each page: `text`, `lines`, `start` (its first word), `end` (the next page's first word, or its
    last word plus a short hold), `words` (times relative to the same origin as the input)."""
    pages: list[list[dict]] = [[]]
    for w in words:
        page = pages[-1]
        text = ""
        for x in page + [w]:
            text = _glue(text, x["text"])
        if page and _width(text) > limit:
            pages.append([w])
            continue
        page.append(w)
        full = _width(text) / limit
        if _SENTENCE_END.search(w["text"][-1:] + " ") and full > 0.35:
            pages.append([])
        elif _CLAUSE_END.search(w["text"][-1:] + " ") and full > 0.6:
            pages.append([])
    pages = [p for p in pages if p]
    out = []
    for i, page in enumerate(pages):
        text = ""
        for x in page:
            text = _glue(text, x["text"])
        end = pages[i + 1][0]["start"] if i + 1 < len(pages) else page[-1]["end"] + 0.4
        out.append({"text": text, "lines": split_lines(text), "start": page[0]["start"],
                    "end": max(end, page[-1]["end"]), "words": page})
    return out
