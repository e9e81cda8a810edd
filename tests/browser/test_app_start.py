"""The app's start in a real Chromium (issue 10): pages are served by preheated kernels, ask no
host but the app's own, and a zh-CN browser gets the Chinese UI; the Prompts panel renders the
editor's unsaved text, saves an edit of a built-in set into a copy and restores a version."""
import statistics
import time

import pytest

from conftest import SHOTS

READY = "storynb: app preheated"  # what a preheated kernel prints when its app is built


@pytest.fixture(scope="module")
def server(voila_server):
    return voila_server  # this module's own server (module scope), as the other browser tests get it


def wait_preheated(server, count: int, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.log().count(READY) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} preheated kernels:\n{server.log()[-3000:]}")


def open_page(browser, server, locale: str = "en-US", width: int = 1280):
    SHOTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": 900}, locale=locale)
    page = context.new_page()
    page.foreign = []

    def route(r):
        if r.request.url.startswith(server.url):
            r.continue_()
        else:
            page.foreign.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return context, page


def test_preheated_pages_are_usable_at_once_and_ask_no_other_host(browser, server):
    wait_preheated(server, 2)
    times, foreign = [], []
    for number in range(5):
        context, page = open_page(browser, server)
        started = time.monotonic()
        page.goto(server.url, wait_until="commit")
        page.locator(".storynb-app button").first.wait_for(state="visible", timeout=120_000)
        times.append(time.monotonic() - started)
        foreign += page.foreign
        if number == 0:
            page.screenshot(path=str(SHOTS / "start-01-preheated-page.png"))
        page.close(run_before_unload=True)
        context.close()
        wait_preheated(server, 2 + number + 1)  # the pool is warm again before the next page
    log = server.log()
    assert log.count("Using pre-heated kernel") >= 5, log[-3000:]
    assert not foreign, foreign  # no CDN, no fonts from elsewhere: nothing but the app's host
    print(f"\ntime to usable widgets, 5 preheated pages: median {statistics.median(times):.1f} s, "
          f"all {[round(t, 1) for t in times]}")


def _prompts_panel(page):
    """The Prompts panel, shown (its tab clicked where the app has tabs)."""
    panel = page.locator(".storynb-prompts")
    if not panel.is_visible():
        tab = page.locator(".lm-TabBar-tab", has_text="提示词").or_(
            page.locator(".lm-TabBar-tab", has_text="Prompts")).first
        if tab.is_visible():
            tab.click()
        else:  # a phone: the sections are a select instead of tabs
            select = page.locator(".storynb-section select")
            label = next(o for o in select.locator("option").all_inner_texts() if o in ("提示词", "Prompts"))
            select.select_option(label=label)
    panel.wait_for(state="visible")
    return panel


def test_a_chinese_browser_gets_the_chinese_ui_and_the_prompts_panel_works(browser, server,
                                                                          browser_studio):
    wait_preheated(server, 2)
    context, page = open_page(browser, server, locale="zh-CN")
    try:
        page.goto(server.url, wait_until="commit")
        page.locator(".storynb-app button").first.wait_for(state="visible", timeout=120_000)
        panel = _prompts_panel(page)
        # the panel's words are Chinese (the page's language came from the browser)
        panel.get_by_role("button", name="另存为新版本").wait_for()
        assert panel.get_by_role("button", name="试渲染").is_visible()
        # choose the built-in default-zh set and the story step
        panel.locator(".widget-dropdown select").first.select_option(
            label="default-zh (简体中文, 默认, 内置)")
        panel.locator(".storynb-builtin-hint", has_text="内置集").wait_for()
        panel.locator(".storynb-prompt-stage button", has_text="故事").click()
        # test render uses the editor's text, unsaved, with the form's values
        editor = panel.locator(".storynb-template-body textarea")
        editor.fill("为{{ audience or '所有人' }}讲一个关于{{ topic }}的{{ style }}故事。")
        panel.locator(".storynb-var-style input").fill("温暖")
        panel.get_by_role("button", name="试渲染").click()
        panel.locator(".storynb-rendered", has_text="为所有人讲一个关于").wait_for()
        assert "的温暖故事。" in panel.locator(".storynb-rendered").inner_text()
        page.screenshot(path=str(SHOTS / "start-02-zh-prompts-test-render.png"), full_page=True)
        # saving an edit of the built-in set makes a copy; the built-in set stays as shipped
        panel.get_by_role("button", name="另存为新版本").click()
        panel.locator(".storynb-msg", has_text="保持出厂内容").wait_for(timeout=30_000)
        copy = browser_studio.prompts.get_set("default-zh（我的副本）")
        assert browser_studio.prompts.template(copy["id"], "rewrite")["body"].startswith("为{{ audience")
        assert [v["version"] for v in browser_studio.prompts.versions("default-zh", "rewrite")] == [1]
        # restore v1 of the copy: it becomes v3
        panel.locator(".storynb-prompt-version select").select_option(index=0)
        panel.get_by_role("button", name="恢复此版本").click()
        panel.locator(".storynb-msg", has_text="已恢复 v1").wait_for(timeout=30_000)
        versions = browser_studio.prompts.versions(copy["id"], "rewrite")
        assert [v["version"] for v in versions] == [1, 2, 3] and versions[2]["body"] == versions[0]["body"]
        page.screenshot(path=str(SHOTS / "start-03-zh-prompts-restored.png"), full_page=True)
        assert not page.foreign, page.foreign
    finally:
        page.close(run_before_unload=True)
        context.close()


def test_the_language_follows_the_query(browser, server):
    """?lang=zh chooses Chinese whatever the browser's language."""
    wait_preheated(server, 2)
    context, page = open_page(browser, server, locale="en-US", width=390)
    try:
        page.goto(server.url + "?lang=zh", wait_until="commit")
        page.locator(".storynb-app button").first.wait_for(state="visible", timeout=120_000)
        _prompts_panel(page).get_by_role("button", name="另存为新版本").wait_for()
    finally:
        page.close(run_before_unload=True)
        context.close()
