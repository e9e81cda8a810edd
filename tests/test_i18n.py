"""The UI's string catalogue: every text in both languages, placeholders that match, and a
Chinese UI that leaves no English label behind."""
import re
import string

import pytest

from storynb.widgets import i18n


def _fields(text: str) -> set:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_text_exists_in_english_and_chinese_with_the_same_placeholders():
    for key, texts in i18n.catalogue().items():
        assert set(texts) == set(i18n.LANGUAGES), f"{key}: languages {sorted(texts)}"
        assert all(texts.values()), f"{key}: an empty text"
        if key.startswith("engine."):  # a pattern for an engine text: a translation may leave a part out
            assert _fields(texts["zh"]) <= _fields(texts["en"]), f"{key}: placeholders differ"
        else:
            assert _fields(texts["en"]) == _fields(texts["zh"]), f"{key}: placeholders differ"


def test_the_chinese_ui_leaves_no_english_label():
    # Latin letters may remain only inside placeholders and for names kept as they are
    keep = re.compile(r"\{[^}]*\}|MP4|SRT|ASS|JSON|ZIP|URL|API|LLM|AI|OK|ffmpeg|storynb|Voila|Celery|Redis|Jinja|LUFS|dBTP|HTTP|Pillow|piper|eSpeak|NG|espeakng")
    for key, texts in i18n.catalogue().items():
        leftover = keep.sub("", texts["zh"])
        assert not re.search(r"[A-Za-z]{2,}", leftover), f"{key}: English left in {texts['zh']!r}"


@pytest.mark.parametrize("header, expected", [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("en-US,en;q=0.9", "en"), ("fr-FR,zh;q=0.5,en;q=0.7", "en"),
    ("", "en"), (None, "en"), ("zh-TW", "zh"), ("de", "en")])
def test_the_language_follows_the_browser(header, expected):
    assert i18n.pick_language(header) == expected


def test_lookup_and_switch():
    try:
        assert i18n.t("common.language") == "Language"
        i18n.set_language("zh-CN")
        assert i18n.t("common.language") == "语言"
        with pytest.raises(KeyError, match="strings/nowhere.json"):
            i18n.t("nowhere.thing")
    finally:
        i18n.set_language("en")
