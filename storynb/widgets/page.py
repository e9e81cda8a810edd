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
from urllib.parse import parse_qs

import anywidget
import traitlets

from .i18n import DEFAULT, LANGUAGES, pick_language, set_language

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
    before any page asks for it. `start.app()` (the last cell): a preheated kernel waits there
    for its page's request (`_wait_for_request`), then shows the app in the page's language (the
    app's own language switch, where the page asks for another); any other kernel (a page past
    the preheated pool, JupyterLab) builds the app in the page's language at once."""

    def __init__(self, *, open_latest: bool = True, studio=None):
        self.open_latest = open_latest
        self.studio = studio
        self.ready = None
        if os.environ.get("VOILA_PREHEAT") == "True":
            self.ready = self._build(DEFAULT)
            # in the Voila server's log: the kernel is ready for a page
            print(f"storynb: app preheated in {DEFAULT} (kernel pid {os.getpid()})",
                  file=sys.__stderr__, flush=True)

    def _build(self, code: str):
        from .app import App

        set_language(code)
        return App(self.studio, open_latest=self.open_latest)

    def app(self):
        _wait_for_request()
        code = request_language(os.environ)
        if self.ready is None:
            return self._build(code)
        app, self.ready = self.ready, None
        app.language.value = code
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
    under another kernel manager Voila's own helper waits for them on its websocket."""
    if os.environ.get("VOILA_PREHEAT") != "True":
        return
    folder = os.environ.get("STORYNB_REQUEST_DIR")
    if not folder:
        from voila.utils import wait_for_request

        wait_for_request()
        return
    import json
    import time

    path = os.path.join(folder, f"{os.environ.get('VOILA_KERNEL_ID', '')}.json")
    while not os.path.exists(path):
        time.sleep(0.02)
    with open(path, encoding="utf-8") as file:
        found = json.load(file)
    os.remove(path)
    os.environ.update(found)
