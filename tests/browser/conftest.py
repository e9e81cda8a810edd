"""One Voila server and one headless Debian Chromium for the browser test module (module
scope: Playwright's sync API holds an event loop on the main thread while it is open, which
must be closed before the rest of the suite runs).

Playwright drives /usr/bin/chromium (never a downloaded browser); every request to a host
other than the Voila server is aborted and recorded. Screenshots go to tests/browser/screenshots/
(git-ignored)."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser_studio(tmp_path_factory):
    """The studio the app serves (outside the served folder), with a 300-shot project in it."""
    from storynb import Studio

    path = tmp_path_factory.mktemp("browser-studio") / "studio.db"
    studio = Studio(path)
    big = studio.create_project("A very long voyage told in three hundred shots", name="Long voyage",
                                size=(144, 256), fps=12, shots=4, seed=3)
    big.replace_shots([{"scene": f"The ship at dawn, day {i}", "narration": f"Day {i} of the voyage.",
                        "image_prompt": f"a tall ship on a calm sea, day {i}", "duration_s": 3.0}
                       for i in range(1, 301)])
    return studio


class VoilaServer:
    """The app served by Voila with its own settings (app/voila.py), as `make app` serves it;
    `extra` flags override them."""

    def __init__(self, studio_path: Path, *extra: str):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = Path(studio_path).parent / f"voila-{self.port}.log"
        env = {**os.environ, "STORYNB_STUDIO": str(studio_path), "JUPYTER_PATH": str(ROOT / "app")}
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "voila", str(ROOT / "notebooks" / "app.ipynb"), "--no-browser",
             f"--port={self.port}", "--Voila.ip=127.0.0.1",
             f"--Voila.config_file_paths={ROOT / 'app'}", *extra],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("voila exited: " + self.log_path.read_text()) from None
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("voila did not start within 90 s")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kernels(self) -> list[int]:
        """The pids of the kernel processes this server runs."""
        out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(self.proc.pid)],
                             capture_output=True, text=True).stdout
        return [int(line.split()[0]) for line in out.splitlines() if "ipykernel" in line]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


@pytest.fixture(scope="module")
def voila_server(browser_studio):
    pytest.importorskip("voila")
    server = VoilaServer(browser_studio.path)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def voila_url(voila_server):
    return voila_server.url


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser, voila_url):
    """One page (one app kernel) for the whole click-through."""
    SHOTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.blocked = []
    page.page_errors = []

    def route(r):
        if r.request.url.startswith(voila_url):
            r.continue_()
        else:
            page.blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda exc: page.page_errors.append(str(exc)))
    page.goto(voila_url, wait_until="domcontentloaded", timeout=180_000)  # a cold pool: the app is built first
    yield page
    context.close()


@pytest.fixture(scope="module")
def screenshot():
    def take(page, name: str) -> Path:
        path = SHOTS / f"{name}.png"
        # Voila scrolls inside the page, so grow the window to the app's height for the picture
        height = page.evaluate("() => document.querySelector('.storynb-app').scrollHeight")
        size = page.viewport_size
        page.set_viewport_size({"width": size["width"], "height": max(size["height"], height + 160)})
        try:
            page.screenshot(path=str(path))
        finally:
            page.set_viewport_size(size)
        return path
    return take
