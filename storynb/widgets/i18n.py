"""The app's words in English and 简体中文: one catalogue, one lookup.

The catalogue is the JSON files in `strings/`, one per panel (`strings/<area>.json`), each
mapping a key to its text per language: {"make": {"en": "Make the video", "zh": "生成视频"}}.
A key is used as "<area>.<key>": t("flow.make"). Texts may hold {placeholders}.

The engine speaks English (the CLI, logs, the studio's rows: job labels, check results, preset
names, version notes, errors). The panels show such a text through `translate(text)`: the
English texts of `strings/engine.json` are patterns ("shot {n} image"), and a text that matches
one is shown in the chosen language ("镜头 {n} 画面"), its placeholders translated in turn.
"""
from __future__ import annotations

import json
import re
import string
from functools import cache
from importlib.resources import files

from ..settings import STYLES

LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT = "en"
_chosen = [DEFAULT]  # one person per kernel (Voila) or notebook: a process-wide choice


@cache
def catalogue() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    folder = files(__package__).joinpath("strings")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            area = entry.name[: -len(".json")]
            for key, texts in json.loads(entry.read_text("utf-8")).items():
                merged[f"{area}.{key}"] = texts
    return merged


def t(key: str, **values) -> str:
    """The text for `key` in the chosen language (English where a text is missing)."""
    texts = catalogue().get(key)
    if texts is None:
        area = key.partition(".")[0]
        raise KeyError(f"no UI text {key!r}: add it to storynb/widgets/strings/{area}.json")
    text = texts.get(_chosen[0]) or texts[DEFAULT]
    return text.format(**values) if values else text


@cache
def _patterns(prefix: str) -> list[tuple[re.Pattern, str]]:
    found = []
    for key, texts in catalogue().items():
        if key.startswith(prefix):
            pattern, literal = "", 0
            for text, name, _spec, _conv in string.Formatter().parse(texts[DEFAULT]):
                pattern += re.escape(text)
                literal += len(text)
                if name:
                    pattern += f"(?P<{name}>.+?)"
            found.append((literal, re.compile(pattern, re.DOTALL), key))
    # the most specific first: "{name}: HTTP 401{rest}" before "{name}: HTTP {status}{rest}"
    return [(pattern, key) for _literal, pattern, key in sorted(found, key=lambda item: -item[0])]


def translate(text: str, prefix: str = "engine.") -> str:
    """An engine text (English) in the chosen language, when a key starting with `prefix` knows
    it; else as it is."""
    if _chosen[0] == DEFAULT or not text:
        return text
    for pattern, key in _patterns(prefix):
        match = pattern.fullmatch(text)
        if match:
            values = {name: translate(value, prefix) for name, value in match.groupdict().items()}
            return t(key, **values)
    return text


def untranslate(text: str, prefix: str = "engine.") -> str:
    """The engine's English for a text shown in the chosen language (a fixed text, such as a
    style's name); a text it does not know comes back as it is."""
    for key, texts in catalogue().items():
        if key.startswith(prefix) and text in texts.values() and "{" not in texts[DEFAULT]:
            return texts[DEFAULT]
    return text


def language() -> str:
    return _chosen[0]


def set_language(code: str) -> str:
    """Choose the UI language ('en', 'zh', or a browser tag such as 'zh-CN'); returns the code used."""
    _chosen[0] = pick_language(code)
    return _chosen[0]


def pick_language(accept: str | None) -> str:
    """The best supported language for an Accept-Language header or a tag ('zh-CN,zh;q=0.9,en;q=0.8')."""
    ranked = []
    for position, part in enumerate((accept or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and weight > 0:
            ranked.append((-weight, position, primary))
    return min(ranked)[2] if ranked else DEFAULT


def style_name(style: str) -> str:
    """A story style (settings.STYLES, or the user's own words) as the UI shows it."""
    return translate(style, "engine.style_")


def style_names() -> list[str]:
    return [style_name(style) for style in STYLES]


def style_key(shown: str) -> str:
    """What the engine stores for a style typed or picked in the UI."""
    return untranslate(shown.strip(), "engine.style_")
