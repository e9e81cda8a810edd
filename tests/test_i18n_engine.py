"""The Chinese app shows the engine's own texts in Chinese too: job labels, the export's check,
camera presets, prompt version notes, the offline models, styles, template variables and the
common errors (storynb/widgets/strings/engine.json, through i18n.translate)."""
import html
import re

import ipywidgets as W
import pytest

from storynb import Studio
from storynb.widgets import i18n
from storynb.widgets.app import App
from storynb.widgets.page import widget_tree

SMALL = {"size": (144, 256), "fps": 12, "shots": 4, "seed": 7}

# names kept as they are: units, formats and product names, and the CSV column `topic`
KEEP = re.compile(r"\{[^}]*\}|MP4|SRT|ASS|JSON|ZIP|URL|API|LLM|AI|OK|LUFS|dBTP|HTTP|ffmpeg|storynb|"
                  r"English|topic|Jinja|Pillow|piper|eSpeak NG")
# identifiers (provider, model, set and file names: draft-writer, default-zh, ken-burns/3 …)
IDENTIFIER = re.compile(r"[A-Za-z0-9]+(?:[-_./:][A-Za-z0-9]+)+")


@pytest.fixture(scope="module")
def zh_app(tmp_path_factory):
    studio = Studio(tmp_path_factory.mktemp("zh") / "studio.db")
    project = studio.create_project("灯塔看守人和迷路的鲸鱼成了朋友", **SMALL)
    assert project.run().status == "done"
    app = App(studio, language="zh")
    for index in range(len(app.TABS)):
        app.tabs.selected_index = index  # every panel made and drawn
    app.show("Make")
    assert app.panels["Make"].steps.activity.value  # the step details opened: each job's line
    yield app, project
    app.close()
    i18n.set_language("en")


def _shown_texts(app) -> list[str]:
    """What a visitor reads: labels, descriptions, option labels, HTML text (not the values of
    fields a person typed or edits, and not the storyboard grid's data)."""
    texts = []
    for widget in widget_tree(app):
        if isinstance(widget, (W.Text, W.Textarea, W.Combobox)):
            texts.append(widget.description)
            continue
        state = widget.get_state()
        for key in ("description", "_options_labels", "titles"):
            value = state.get(key)
            texts += [value] if isinstance(value, str) else [v for v in value or () if isinstance(v, str)]
        if isinstance(widget, (W.HTML, W.Label)) and "<style" not in widget.value:
            texts.append(html.unescape(re.sub(r"<[^>]+>", " ", widget.value)))
    return texts


def test_the_chinese_app_shows_no_english_engine_text(zh_app):
    app, _project = zh_app
    sent = i18n.t("images.sent", prompt="")
    leftovers = set()
    for text in _shown_texts(app):
        if sent in text:  # what is sent to the painting model stays as written
            text = text[:text.index(sent)]
        text = IDENTIFIER.sub("", KEEP.sub("", text))
        leftovers |= set(re.findall(r"[A-Za-z]{3,}(?: [A-Za-z]{2,})*", text))
    assert not leftovers, sorted(leftovers)


def test_engine_texts_seen_in_the_app_are_chinese(zh_app):
    app, _project = zh_app
    shown = "\n".join(_shown_texts(app))
    for expected in ("镜头 1 的画面", "运镜", "成片", "时长: 视频", "响度: 整体响度", "向左缓移", "出厂默认", "温馨",
                     "草稿写作器（离线，不是 AI）"):
        assert expected in shown, expected
    fields = {f.name: f.widget.description for f in app.panels["Prompts"].fields} \
        if hasattr(app.panels["Prompts"], "fields") else {}
    assert fields.get("topic", "主题") == "主题"


@pytest.mark.parametrize("english, chinese", [
    ("the topic is empty: give a sentence or a paragraph to tell a story about", "主题是空的"),
    ("deepseek: HTTP 401 invalid_api_key: Incorrect API key provided", "deepseek：密钥被拒绝（HTTP 401 invalid_api_key"),
    ("deepseek: HTTP 503: overloaded", "deepseek：服务返回错误 HTTP 503: overloaded"),
    ("my-llm: no API key is set: `storynb providers edit my-llm --key-stdin`", "my-llm：还没有设置 API 密钥"),
    ("shot 3 has no image yet: run the images stage first", "镜头 3 还没有画面"),
    ("something nobody wrote a pattern for", "something nobody wrote a pattern for"),
])
def test_engine_errors_are_shown_in_chinese(english, chinese):
    try:
        i18n.set_language("zh")
        assert i18n.translate(english).startswith(chinese)
    finally:
        i18n.set_language("en")
    assert i18n.translate(english) == english  # the English UI shows the engine's text as it is


def test_a_style_is_shown_and_stored_by_its_name():
    try:
        i18n.set_language("zh")
        assert i18n.style_name("suspenseful") == "悬疑" and "温馨" in i18n.style_names()
        assert i18n.style_key("悬疑") == "suspenseful" and i18n.style_key("赛博朋克") == "赛博朋克"
    finally:
        i18n.set_language("en")
    assert i18n.style_key("warm") == "warm" and i18n.style_name("warm") == "warm"
