"""App start benchmark: seconds from opening the app's page to usable widgets (its first button
visible) in headless Debian Chromium, for the app as served (preheated kernels, app/voila.py)
and with preheating off (each page starts its kernel and runs the notebook), side by side in one
run: the two servers' pages alternate, each in a fresh browser context (nothing cached).

    python bench/bench_app_start.py [pages]

Prints the medians and their ratio; needs /usr/bin/chromium and Playwright.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from conftest import CHROMIUM, CHROMIUM_ARGS, VoilaServer  # noqa: E402

from storynb import Studio  # noqa: E402

READY = "storynb: app preheated"


def main(pages: int = 5) -> None:
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="storynb-bench-start-"))
    studio = Studio(folder / "studio.db")
    project = studio.create_project("A lighthouse keeper befriends a lost whale", size=(144, 256), fps=12,
                                    shots=4, seed=3)
    project.run()
    preheated = VoilaServer(studio.path)
    cold = VoilaServer(studio.path, "--VoilaConfiguration.preheat_kernel=False")
    times: dict[str, list[float]] = {"preheated": [], "cold": []}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            for number in range(pages):
                for name, server in (("preheated", preheated), ("cold", cold)):
                    if name == "preheated":
                        _wait_log(server, READY, 2 + number)  # the pool is warm again
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    page = context.new_page()
                    started = time.monotonic()
                    page.goto(server.url, wait_until="commit")
                    page.locator(".storynb-app button").first.wait_for(state="visible", timeout=180_000)
                    times[name].append(time.monotonic() - started)
                    page.close(run_before_unload=True)
                    context.close()
            browser.close()
    finally:
        preheated.stop()
        cold.stop()
    hot, slow = statistics.median(times["preheated"]), statistics.median(times["cold"])
    print(f"time to usable widgets, median of {pages} pages: preheated {hot:.2f} s "
          f"{[round(t, 2) for t in times['preheated']]}, cold {slow:.2f} s "
          f"{[round(t, 2) for t in times['cold']]}; cold / preheated = {slow / hot:.2f}")


def _wait_log(server: VoilaServer, text: str, count: int, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while server.log().count(text) < count and time.monotonic() < deadline:
        time.sleep(0.2)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
