"""The app's kernels (issue 10): preheated kernels make the page usable at once; closing a page
releases its kernel; past the cap a page says "busy, try again"; requests that went away leave
no more kernels than the cap, and are shut down once no page connected to them (20 s here, 30 s
in app/voila.py). One Voila server with a small cap."""
import statistics
import threading
import time
import urllib.error
import urllib.request

import pytest
from pathlib import Path

from conftest import VoilaServer

CAP = 4
POOL = 2  # app/voila.py


@pytest.fixture(scope="module")
def capped(browser_studio):
    pytest.importorskip("voila")
    server = VoilaServer(browser_studio.path, f"--CappedKernelManager.max_kernels={CAP}",
                         "--CappedKernelManager.connect_timeout=20")
    yield server
    server.stop()


def wait_kernels(server, predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = len(server.kernels())
        if predicate(count):
            return count
        time.sleep(0.2)
    raise AssertionError(f"kernels: {server.kernels()}\n{server.log()[-3000:]}")


def log_tail(server) -> str:
    return "\n".join(line for line in server.log().splitlines()[-40:] if "TCP without" not in line)


def test_preheated_pages_open_and_close_without_leaving_kernels(browser, capped, screenshot):
    wait_kernels(capped, lambda n: n == POOL, timeout=120)  # the pool is warm
    blocked, times = [], []
    for number in range(10):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(capped.url)
                   else (blocked.append(r.request.url), r.abort()))
        started = time.monotonic()
        page.goto(capped.url, wait_until="commit")
        try:
            page.locator(".storynb-app button").first.wait_for(state="visible", timeout=120_000)
        except Exception:
            screenshot(page, f"kernels-failed-page-{number}")
            raise AssertionError(f"page {number} never showed the app:\n{log_tail(capped)}") from None
        times.append(time.monotonic() - started)
        if number == 0:
            screenshot(page, "kernels-01-preheated-page")
        wait_kernels(capped, lambda n: n <= CAP)
        page.close(run_before_unload=True)
        # the page's kernel is released (its shutdown request is a beacon: the browser is kept
        # open meanwhile, as a visitor's is when they close one tab); the pool is filled again
        wait_kernels(capped, lambda n: n <= POOL + 1)
        context.close()
    wait_kernels(capped, lambda n: n == POOL)
    assert capped.log().count("Using pre-heated kernel") >= 10  # every page got a preheated kernel
    assert not blocked, blocked
    assert "403 POST /voila/api/shutdown" not in capped.log()
    print(f"\ntime to usable widgets, 10 preheated pages: median {statistics.median(times):.1f} s, "
          f"all {[round(t, 1) for t in times]}")


def test_past_the_cap_a_page_says_busy(browser, capped):
    wait_kernels(capped, lambda n: n == POOL, timeout=120)
    contexts, statuses = [], []
    for _ in range(CAP + 1):
        context = browser.new_context(viewport={"width": 390, "height": 844})
        contexts.append(context)
        page = context.new_page()
        response = page.goto(capped.url, wait_until="domcontentloaded")
        statuses.append(response.status)
        if response.status == 503:
            break
        page.locator(".storynb-app button").first.wait_for(state="visible", timeout=120_000)
        assert len(capped.kernels()) <= CAP
    assert statuses[-1] == 503 and statuses[:-1] == [200] * (len(statuses) - 1), statuses
    assert len(statuses) <= CAP + 1
    page.locator(".storynb-busy", has_text="The app is busy").wait_for()
    assert "try again" in page.inner_text("body")
    page.screenshot(path=str(Path(__file__).parent / "screenshots" / "kernels-02-busy-390.png"))
    for context in contexts:
        for open_page in context.pages:
            open_page.close(run_before_unload=True)
        context.close()
    wait_kernels(capped, lambda n: n <= POOL)


def test_abandoned_requests_leave_no_more_kernels_than_the_cap(capped):
    wait_kernels(capped, lambda n: n == POOL, timeout=120)
    peak, outcomes = [0], []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], len(capped.kernels()))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()

    def impatient():
        try:
            urllib.request.urlopen(capped.url, timeout=2).read()
            outcomes.append(200)
        except urllib.error.HTTPError as exc:
            outcomes.append(exc.code)
        except (urllib.error.URLError, TimeoutError, OSError):
            outcomes.append("gave up")

    threads = [threading.Thread(target=impatient) for _ in range(200)]
    for thread in threads:
        thread.start()
        time.sleep(0.03)
    for thread in threads:
        thread.join()
    time.sleep(3)
    stop.set()
    watcher.join()
    assert peak[0] <= CAP, (peak, outcomes)
    # the ones past the cap were refused (told "busy", if they were still there to hear it)
    assert f"(the cap is {CAP}): the page is told to try again later" in capped.log(), outcomes
    # nobody connected to the abandoned kernels: they are shut down; the pool fills again
    wait_kernels(capped, lambda n: n == POOL, timeout=120)
    assert "no page connected to kernel" in capped.log()
    print(f"\n200 requests that gave up after 2 s: at most {peak[0]} kernels (cap {CAP}); "
          f"answers: { {str(k): outcomes.count(k) for k in set(outcomes)} }")
