"""What the app's page needs from the browser side, as one small invisible widget.

Releasing the kernel when the page closes: Voila's page sends its shutdown request
(`POST voila/api/shutdown/<kernel>`, a `sendBeacon` on `beforeunload`) with the `_xsrf` value it
reads from the page's cookie, but Voila's page handler never sets that cookie, so the request
is refused (403, "'_xsrf' argument missing from POST") and the kernel stays until it is culled.
The server compares the form value with the cookie (a double-submit token: another site can
neither read nor set this origin's cookie), so the page makes a random token and sets the
cookie itself when there is none. A cookie the server did set is left as it is.
"""
from __future__ import annotations

import anywidget
import traitlets

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
