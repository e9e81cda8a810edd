"""What the app's page needs: its start in a Voila kernel (`Start`: preheated, in the page's
language) and, from the browser side, one small invisible widget (`PageSupport`).

Releasing the kernel when the page closes: Voila's page sends its shutdown request
(`POST voila/api/shutdown/<kernel>`, a `sendBeacon` on `beforeunload`) with the `_xsrf` value it
reads from the page's cookie, but Voila's page handler never sets that cookie, so the request
is refused (403, "'_xsrf' argument missing from POST") and the kernel stays until it is culled.
The server compares the form value with the cookie (a double-submit token: another site can
neither read nor set this origin's cookie), so the page makes a random token and sets the
cookie itself when there is none. A cookie the server did set is left as it is.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import anywidget
import traitlets

from .i18n import LANGUAGES, pick_language, set_language

_ESM = """
export default {
  render({ model, el }) {
    el.style.display = "none";
    const has = document.cookie.split(";").some((c) => c.trim().startsWith("_xsrf="));
    if (!has) {
      const bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      const token = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      document.cookie = `_xsrf=${token}; path=/; SameSite=Strict`;
    }
    model.set("ready", true);
    model.save_changes();
  },
};
"""


class PageSupport(anywidget.AnyWidget):
    """An invisible widget the app shows once; `ready` turns True when the page has run it."""

    _esm = _ESM
    ready = traitlets.Bool(False).tag(sync=True)


# ------------------------------------------------------------------------------ the app's start
def request_language(env: Mapping[str, str]) -> str:
    """The UI language for the page's request: `?lang=zh` if given, else the best match for the
    browser's Accept-Language header (Voila passes it as $HTTP_ACCEPT_LANGUAGE, app/voila.py)."""
    asked = parse_qs(env.get("QUERY_STRING", "")).get("lang", [""])[0]
    if asked in LANGUAGES:
        return asked
    return pick_language(env.get("HTTP_ACCEPT_LANGUAGE"))


class Start:
    """How notebooks/app.ipynb starts the app, in two cells.

    `Start()` (the second cell): in a kernel Voila preheats (app/voila.py), the app is built now,
    once per UI language, before any page asks for it. `start.app()` (the last cell): a
    preheated kernel waits there for its page's request (`_wait_for_request`), then
    shows the app in the page's language (the other stops reading the studio); any other kernel (a page past the
    preheated pool, JupyterLab) builds the app in the page's language at once."""

    def __init__(self, *, open_latest: bool = True, studio=None):
        self.open_latest = open_latest
        self.studio = studio
        self.ready: dict[str, Any] = {}
        if os.environ.get("VOILA_PREHEAT") == "True":
            for code in LANGUAGES:
                self.ready[code] = self._build(code)
            # in the Voila server's log: the kernel is ready for a page
            print(f"storynb: app preheated in {', '.join(self.ready)} (kernel pid {os.getpid()})",
                  file=sys.__stderr__, flush=True)

    def _build(self, code: str):
        from .app import App

        set_language(code)
        return App(self.studio, open_latest=self.open_latest)

    def app(self):
        _wait_for_request()
        code = set_language(request_language(os.environ))
        app = self.ready.pop(code, None) or self._build(code)
        kept = set(map(id, widget_tree(app)))
        for other in self.ready.values():
            # the other language's app: it stops reading the studio and every widget of it is
            # closed (the page loads the state of every open widget; one left open that refers
            # to a closed one would keep the page at "Loading widget...")
            other.session.close()
            for widget in reversed(widget_tree(other)):
                if id(widget) not in kept:
                    widget.close()
        self.ready.clear()
        return app


def widget_tree(root) -> list:
    """A widget and every widget its traits refer to (children, layout, style …), parents first."""
    import ipywidgets as W

    found, seen, stack = [], set(), [root]
    while stack:
        widget = stack.pop()
        if id(widget) in seen:
            continue
        seen.add(id(widget))
        found.append(widget)
        for name in widget.keys:
            value = getattr(widget, name, None)
            for item in value if isinstance(value, (list, tuple)) else (value,):
                if isinstance(item, W.Widget):
                    stack.append(item)
    return found


def _wait_for_request() -> None:
    """In a preheated Voila kernel: wait until a page's request has taken this kernel, then put
    the request's details (its Accept-Language header …) into os.environ; elsewhere return at
    once. The app's kernel manager writes them to a file for this kernel (widgets/kernels.py);
    under another kernel manager they come through Voila's websocket."""
    if os.environ.get("VOILA_PREHEAT") != "True":
        return
    import json
    import time

    folder = os.environ.get("STORYNB_REQUEST_DIR")
    if not folder:
        found = _request_from_voila()
    else:
        path = os.path.join(folder, f"{os.environ.get('VOILA_KERNEL_ID', '')}.json")
        while not os.path.exists(path):
            time.sleep(0.02)
        with open(path, encoding="utf-8") as file:
            found = file.read()
        os.remove(path)
    for key, value in json.loads(found).items() if found else ():
        os.environ[key] = value


def _request_from_voila() -> str:
    """The request's details from Voila's websocket (`voila/query/<kernel id>`). Voila's own
    `wait_for_request` holds one connection open until the request comes; a kernel that waited
    a minute or more in the pool lost that connection and never heard of its page. This one
    connects again every 20 s (the server keeps a request's details for a kernel that is not
    connected at that moment)."""
    import asyncio
    import threading

    import websockets

    base = os.environ.get("VOILA_WS_BASE_URL") or os.environ.get("VOILA_SERVER_URL") or "/"
    url = (f"{os.environ.get('VOILA_WS_PROTOCOL', 'ws')}://{os.environ.get('VOILA_APP_IP', '127.0.0.1')}"
           f":{os.environ.get('VOILA_APP_PORT', '8866')}{base}voila/query/"
           f"{os.environ.get('VOILA_KERNEL_ID', '')}")
    found: list[str] = []

    async def listen() -> None:
        while True:
            try:
                async with websockets.connect(url, open_timeout=10, ping_interval=None) as ws:
                    message = await asyncio.wait_for(ws.recv(), timeout=20)
                    found.append(message if isinstance(message, str) else message.decode())
                    return
            except (asyncio.TimeoutError, OSError, websockets.WebSocketException):
                await asyncio.sleep(0.2)  # the server is busy, or gone: ask again

    thread = threading.Thread(target=lambda: asyncio.run(listen()), daemon=True)
    thread.start()
    thread.join()
    return found[0] if found else ""
