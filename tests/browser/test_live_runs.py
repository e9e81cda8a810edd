"""Runs followed from the studio in a real browser (issue 7): a reloaded page and a second tab
show a run that another kernel started, moving, and end at "done" without a click; the run
buttons follow the stored state after each of ten finished or failed runs; a page closed
mid-run leaves a run that still completes (the studio's local worker carries it out), and the
page's kernel is released (its shutdown request is not refused).

Runs go through the local worker process, as they do for a user. Failures are real: an
image service (a fake on 127.0.0.1) answers one request with a 422."""
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes import SDWebUIFake  # noqa: E402

SIZE = {"size": (180, 320), "fps": 12, "seed": 5}
UP_TO_DATE = "✓ Video up to date"  # the make button of a finished, unchanged video (disabled)


def open_page(browser, url, blocked):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.page_errors = []

    def route(r):
        if r.request.url.startswith(url):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda exc: page.page_errors.append(str(exc)))
    page.goto(url, wait_until="domcontentloaded", timeout=120_000)
    try:
        page.locator(".storynb-runbar").wait_for(state="visible", timeout=90_000)
    except Exception:
        page.screenshot(path=str(Path(__file__).parent / "screenshots" / "live-failed-open.png"))
        raise
    return page


def runbar(page) -> dict:
    """What the run bar shows: its texts, its bar, and which buttons can be pressed."""
    return page.evaluate("""() => {
      const bar = document.querySelector('.storynb-runbar');
      const buttons = {};
      for (const name of ['make', 'pause', 'resume']) {
        const b = bar.querySelector('.storynb-' + name);
        buttons[name] = !b.disabled;
        buttons[name + '_text'] = b.innerText.trim();
      }
      return {label: bar.querySelector('.storynb-runbar-project').innerText,
              stage: bar.querySelector('.storynb-runbar-stage').innerText,
              width: parseFloat(bar.querySelector('.storynb-overall-progress .progress-bar')
                                .style.width || '0'),
              buttons};
    }""")


def wait_runbar(page, predicate, timeout=90, what=""):
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = runbar(page)
        if predicate(state):
            return state
        time.sleep(0.1)
    raise AssertionError(f"the run bar never showed {what}: {state}")


def idle_buttons(state) -> bool:
    """Pause off, make on (or off because the video is up to date, and saying so), and resume on
    only after a run that stopped before its end."""
    b = state["buttons"]
    stopped = any(f"last run: {s}" in state["stage"] for s in ("failed", "paused", "interrupted"))
    return (b["make"] or b["make_text"] == UP_TO_DATE) and b["resume"] == stopped and not b["pause"]


def busy_buttons(state) -> bool:
    b = state["buttons"]
    return not b["make"] and not b["resume"] and b["pause"]


def project_page(browser, voila_url, blocked, studio, server, provider, topic, *, name, shots):
    """A project painted by the fake image service `server`, and a page showing it in the run bar."""
    studio.providers.add(provider, "text2image", "sdwebui", url=server.url)
    project = studio.create_project(topic, name=name, shots=shots,
                                    providers={"text2image": provider}, **SIZE)
    page = open_page(browser, voila_url, blocked)
    page.locator(".storynb-runbar-project", has_text=name).wait_for()
    return project, page


def wait_studio(project, predicate, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = project.progress()
        if predicate(progress):
            return progress
        time.sleep(0.1)
    raise AssertionError(f"project {project.id} never got there: {project.progress()}")


def latest(studio):
    return studio.project(int(studio.projects()["id"].max()))


class GatedImages(SDWebUIFake):
    """An image service that holds every request until the test opens the gate, so a run is
    surely still going on while pages load (page loads take seconds on a busy machine)."""

    def setup(self):
        self.gate = threading.Event()
        super().setup()

    def txt2img(self, request):
        self.gate.wait(100)
        return super().txt2img(request)


def test_reload_and_a_second_tab_follow_the_run(browser, voila_url, browser_studio, screenshot):
    studio = browser_studio
    blocked: list[str] = []
    server = GatedImages().__enter__()
    try:
        project, first = project_page(browser, voila_url, blocked, studio, server, "sd-gated",
                                      "A fox who keeps the lighthouse lamp lit through winter",
                                      name="Reload", shots=6)
        assert idle_buttons(runbar(first))
        first.locator(".storynb-runbar .storynb-make").click()
        # the run is in the worker, waiting for pictures: reload the page that started it
        wait_studio(project, lambda p: any(s["stage"] == "images" and s["running"]
                                           for s in p["stages"]))
        first.reload(wait_until="domcontentloaded")
        first.locator(".storynb-runbar").wait_for(state="visible", timeout=90_000)
        second = open_page(browser, voila_url, blocked)  # another tab: another kernel
        for name, page in (("reloaded", first), ("second", second)):
            wait_runbar(page, lambda s: "running" in s["label"] and busy_buttons(s),
                        what="the run going on")
            screenshot(page, f"live-01-{name}-tab-mid-run")
        assert project.progress()["status"] == "running"
    finally:
        server.gate.set()  # the pictures come: the run moves on to the end
    seen = {"first": [], "second": []}
    while True:
        states = {"first": runbar(first), "second": runbar(second)}
        for name, state in states.items():
            seen[name].append(state)
            if "running" in state["label"]:
                assert busy_buttons(state), state
        if all("last run: done" in s["stage"] for s in states.values()):
            break
        assert len(seen["first"]) < 1200, (states, project.progress())
        time.sleep(0.1)
    # both pages saw the run moving (not only its end), and ended at done without a click
    for name, states in seen.items():
        running = [s for s in states if "running" in s["label"]]
        assert running, (name, states[:3])
        widths = sorted({s["width"] for s in running})
        assert len(widths) >= 2 and widths[0] < 100, (name, widths)
        end = states[-1]
        assert "done" in end["label"] and end["width"] == 100, end
    for page in (first, second):  # a draw reaches the page as one message per widget: let it land
        wait_runbar(page, idle_buttons, timeout=10, what="the idle buttons after the run")
    assert project.progress()["status"] == "done"
    second.get_by_text("Each step: run one, skip one, redo one").click()
    for stage in ("rewrite", "storyboard", "images", "camera", "clips", "export"):
        assert "done" in second.locator(f".storynb-stage-{stage}").inner_text()
    assert "the video is ready" in second.locator(".storynb-run-state").inner_text()
    assert second.locator("video.storynb-flow-video").is_visible()  # it plays where the run was
    screenshot(first, "live-02-reloaded-tab-done")
    screenshot(second, "live-03-second-tab-done")
    assert not blocked, blocked
    assert not first.page_errors and not second.page_errors, (first.page_errors, second.page_errors)
    first.context.close()
    second.context.close()
    server.__exit__(None, None, None)


def test_buttons_follow_ten_finished_or_failed_runs(browser, voila_url, browser_studio, screenshot):
    studio = browser_studio
    blocked: list[str] = []
    with SDWebUIFake() as server:
        project, page = project_page(browser, voila_url, blocked, studio, server, "sd-browser",
                                     "A paper boat sails across a rainy city", name="Ten runs", shots=4)
        outcomes = []
        for number in range(10):
            fail = number % 2 == 0
            if fail:  # the image service refuses the next request: the images stage fails
                project.rollback("images")
                server.fail("txt2img", {"status": 422, "json": {"detail": [
                    {"loc": ["body", "prompt"], "msg": "prompt rejected by the service"}]}})
            before = project.progress()["run"]
            # (after a rollback made here, the page sees the video out of date: make is on again)
            wait_runbar(page, lambda s: idle_buttons(s) and s["buttons"]["make"],
                        what="idle buttons and something to make before the run")
            page.locator(".storynb-runbar .storynb-make").click()
            stored = wait_studio(project, lambda p, before=before: p["run"] and (
                not before or p["run"]["id"] != before["id"]) and p["run"]["state"] in ("done", "failed"))
            ended = time.monotonic()
            expected = "failed" if fail else "done"
            assert stored["run"]["state"] == expected, stored
            wait_runbar(page, lambda s, expected=expected: f"last run: {expected}" in s["stage"] and idle_buttons(s),
                        timeout=10, what=f"'last run: {expected}' with idle buttons")
            outcomes.append((expected, round(time.monotonic() - ended, 2)))
            if number < 2:
                screenshot(page, f"live-04-after-run-{number + 1}-{expected}")
        assert [o for o, _ in outcomes] == ["failed", "done"] * 5
        print(f"\nseconds from the stored end of each run to idle buttons on the page: {outcomes}")
        assert len(server.hits("txt2img")) >= 5
    page.get_by_text("Each step: run one, skip one, redo one").click()
    assert "done" in page.locator(".storynb-stage-images").inner_text()
    assert not blocked and not page.page_errors, (blocked, page.page_errors)
    page.context.close()


def test_a_page_closed_mid_run_leaves_a_run_that_completes(browser, voila_server, browser_studio):
    studio = browser_studio
    project = studio.create_project("Two owls run the night post office", name="Closed page",
                                    shots=6, **SIZE)
    voila_url = voila_server.url
    blocked: list[str] = []
    page = open_page(browser, voila_url, blocked)
    page.locator(".storynb-runbar-project", has_text="Closed page").wait_for()
    page.wait_for_function("() => document.cookie.includes('_xsrf=')")
    shutdowns_before = voila_server.log().count("Kernel shutdown")
    page.locator(".storynb-runbar .storynb-make").click()
    wait_studio(project, lambda p: p["status"] == "running")
    page.close(run_before_unload=True)  # the page goes away mid-run (its kernel is shut down)
    progress = wait_studio(project, lambda p: p["status"] in ("done", "failed", "interrupted"),
                           timeout=120)
    assert progress["status"] == "done" and progress["run"]["executor"] == "local", progress
    assert project.video_path() is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = voila_server.log()
        if text.count("Kernel shutdown") > shutdowns_before:
            break
        time.sleep(0.2)
    text = voila_server.log()
    assert "403 POST /voila/api/shutdown" not in text, text[-2000:]
    assert text.count("Kernel shutdown") > shutdowns_before, text[-2000:]
    assert not blocked
    page.context.close()

