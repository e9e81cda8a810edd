"""The guided flow in a real browser, as a non-coder uses it, in English at 1440 px and in
简体中文 at a phone's 390 px: type a topic, press Make the video, watch the steps, the video
plays right there, download it; change one shot's picture, see what is out of date, press the
one Update button. No other tab, no outside host, nothing wider than the screen.
Screenshots of every step at both sizes: tests/browser/screenshots/flow-<lang>-<step>-<width>.png."""
import time
from pathlib import Path

import pytest

from test_app_phone import OVERFLOW  # (tests/browser is on the path, as for every test here)

SHOTS = Path(__file__).resolve().parent / "screenshots"

SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
WORDS = {
    "en": {"make": "▶ Make the video", "update": "⟳ Update the video", "up_to_date": "✓ Video up to date",
           "pictures": "Pictures", "make_tab": "Make", "edit": "Edit", "save": "Save only",
           "stale": "1 picture, 1 clip and the video need updating", "done": "last run: done",
           "draft": "Draft (small, fastest)", "language": "English",
           "topic": "A lantern maker's daughter follows a paper crane to the sea"},
    "zh": {"make": "▶ 生成视频", "update": "⟳ 更新视频", "up_to_date": "✓ 视频已是最新",
           "pictures": "画面", "make_tab": "生成", "edit": "修改", "save": "只保存",
           "stale": "1 张画面、1 个片段和成片需要更新", "done": "上次运行：完成",
           "draft": "草稿（小尺寸，最快）", "language": "简体中文",
           "topic": "灯笼匠的女儿跟着一只纸鹤走到了海边"},
}


def snap(page, name: str) -> list[Path]:
    """The page as it is, at both sizes (the whole app's height), back to the size it had."""
    size = page.viewport_size
    paths = []
    for label, want in (("1440", SIZES["desktop"]), ("390", SIZES["phone"])):
        page.set_viewport_size(want)
        time.sleep(0.4)
        height = page.evaluate("() => document.querySelector('.storynb-app').scrollHeight")
        page.set_viewport_size({"width": want["width"], "height": max(want["height"], height + 80)})
        time.sleep(0.2)
        path = SHOTS / f"{name}-{label}.png"
        page.screenshot(path=str(path))
        paths.append(path)
    page.set_viewport_size(size)
    time.sleep(0.3)
    return paths


def fits(page) -> None:
    found = page.evaluate(OVERFLOW)
    assert found["page"] <= found["width"] and not found["wide"], found


def go_to(page, phone: bool, label: str) -> None:
    """A section of the app: a tab on a desktop, the section select on a phone."""
    if phone:
        page.locator(".storynb-section select").select_option(label=label)
    else:
        page.get_by_role("tab", name=label, exact=True).click()


@pytest.mark.parametrize("lang, size", [("en", "desktop"), ("zh", "phone")])
def test_topic_to_a_playing_video_and_one_update(browser, voila_url, lang, size):
    SHOTS.mkdir(exist_ok=True)
    words, phone = WORDS[lang], size == "phone"
    context = browser.new_context(viewport=SIZES[size], accept_downloads=True, is_mobile=phone,
                                  has_touch=phone, device_scale_factor=2 if phone else 1)
    page = context.new_page()
    blocked, errors = [], []
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(voila_url)
               else (blocked.append(r.request.url), r.abort()))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(voila_url, wait_until="domcontentloaded", timeout=120_000)  # a busy machine
    page.locator(".storynb-flow-topic textarea").wait_for(state="visible", timeout=90_000)
    if lang != "en":  # the switch: every label redrawn in the other language
        page.locator(".storynb-language select").select_option(label=words["language"])
    make = page.get_by_role("button", name=words["make"], exact=True)
    make.wait_for(state="visible", timeout=30_000)
    name = f"flow-{lang}"
    snap(page, f"{name}-1-topic")
    fits(page)

    # the topic, one button --------------------------------------------------------------------
    page.locator(".storynb-flow-topic textarea").fill(words["topic"])
    page.locator(".storynb-flow-quality select").select_option(label=words["draft"])
    page.locator(".storynb-flow-shots select").select_option(label="4")
    make.click()
    page.locator(".storynb-runbar-project", has_text=words["topic"][:12]).wait_for(timeout=30_000)
    page.locator(".storynb-step-running").first.wait_for(timeout=60_000)  # the steps move
    snap(page, f"{name}-2-progress")
    fits(page)

    # the video plays right here, with its download -------------------------------------------
    video = page.locator("video.storynb-flow-video")
    video.wait_for(state="visible", timeout=180_000)
    page.locator(".storynb-runbar-stage", has_text=words["done"]).wait_for(timeout=60_000)
    page.wait_for_function("() => document.querySelector('video.storynb-flow-video').readyState >= 2",
                           timeout=30_000)
    page.evaluate("async () => { const v = document.querySelector('video.storynb-flow-video');"
                  " v.muted = true; await v.play(); }")
    time.sleep(1.5)
    assert video.evaluate("v => v.currentTime") > 0.5
    assert video.evaluate("v => v.videoWidth") == 144
    assert page.locator(".storynb-step-done").count() == 6
    assert page.get_by_role("button", name=words["up_to_date"]).is_disabled()
    snap(page, f"{name}-3-video")
    fits(page)
    with page.expect_download() as download:
        page.locator(".storynb-flow-download button").click()
    saved = Path(download.value.path())
    assert download.value.suggested_filename.endswith(".mp4") and saved.stat().st_size > 10_000
    assert saved.read_bytes()[4:8] == b"ftyp"  # an MP4

    # one shot's picture changed: the steps say what is out of date, one button updates -------
    go_to(page, phone, words["pictures"])
    page.locator(".storynb-shot-2").get_by_role("button", name=words["edit"], exact=True).click()
    prompt = page.locator(".storynb-image-prompt textarea")
    page.wait_for_function("() => document.querySelector('.storynb-image-prompt textarea').value.length > 0")
    prompt.fill("a paper crane over a night harbour, lanterns on the water")
    page.get_by_role("button", name=words["save"], exact=True).click()
    page.locator(".storynb-images .storynb-msg .ok").wait_for()
    snap(page, f"{name}-4-pictures-edited")
    fits(page)
    go_to(page, phone, words["make_tab"])
    page.locator(".storynb-stale", has_text=words["stale"]).wait_for(timeout=30_000)
    assert page.locator(".storynb-step-stale").count() >= 3  # pictures, clips, video
    snap(page, f"{name}-5-out-of-date")
    fits(page)
    page.get_by_role("button", name=words["update"], exact=True).click()
    page.get_by_role("button", name=words["up_to_date"]).wait_for(timeout=180_000)
    assert page.locator(".storynb-stale").inner_text().strip() == ""
    page.wait_for_function("() => document.querySelector('video.storynb-flow-video').readyState >= 2",
                           timeout=30_000)
    snap(page, f"{name}-6-updated")
    fits(page)
    assert len(context.pages) == 1  # no other tab was needed
    assert not blocked, blocked
    assert not errors, errors
    context.close()
