"""The app's words in English and 简体中文: one catalogue, one lookup.

The catalogue is the JSON files in `strings/`, one per panel (`strings/<area>.json`), each
mapping a key to its text per language: {"make": {"en": "Make the video", "zh": "生成视频"}}.
A key is used as "<area>.<key>": t("flow.make"). Texts may hold {placeholders}.
"""
from __future__ import annotations

import json
from functools import cache
from importlib.resources import files

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
