"""A download button that works in Voila as in JupyterLab.

The file never sits in widget state: the button asks the kernel when it is pressed, the kernel
reads the file the panel chose (a callable on the Python side, never a path the browser
names) and sends its bytes once as a binary message; the page turns them into a download.
"""
from __future__ import annotations

import logging
import mimetypes
from pathlib import Path
from typing import Callable

import anywidget
import traitlets

log = logging.getLogger("storynb.widgets")
MAX_BYTES = 1 << 30

_ESM = """
export default {
  render({ model, el }) {
    const button = document.createElement("button");
    button.className = "lm-Widget jupyter-widgets jupyter-button widget-button storynb-download";
    button.style.width = "auto";
    const draw = () => {
      button.textContent = model.get("label");
      button.disabled = !model.get("available");
      button.title = model.get("filename");
    };
    let waiting = null;
    button.addEventListener("click", () => {
      waiting = Math.random().toString(36).slice(2);
      button.textContent = model.get("preparing");
      button.disabled = true;
      model.send({ event: "download", request: waiting });
    });
    model.on("msg:custom", (msg, buffers) => {
      if (!msg || msg.request !== waiting) return;  // another view asked
      waiting = null;
      draw();
      if (msg.error) { button.textContent = msg.error; return; }
      const blob = new Blob(buffers.map((b) => b.buffer ? b.buffer : b), { type: msg.mime });
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = msg.filename;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    });
    model.on("change:label", draw);
    model.on("change:available", draw);
    model.on("change:filename", draw);
    draw();
    el.appendChild(button);
  },
};
"""


class DownloadButton(anywidget.AnyWidget):
    """`DownloadButton("Download the video", source=lambda: path)`; `source` may build the file."""

    _esm = _ESM
    label = traitlets.Unicode("Download").tag(sync=True)
    filename = traitlets.Unicode("").tag(sync=True)
    available = traitlets.Bool(False).tag(sync=True)
    preparing = traitlets.Unicode("Preparing…").tag(sync=True)

    def __init__(self, label: str = "Download", source: Callable[[], Path | None] | None = None,
                 **kwargs):
        from .i18n import t

        super().__init__(label=label, preparing=t("download.preparing"), **kwargs)
        self._source = source
        self.on_msg(self._handle)

    def set_source(self, source: Callable[[], Path | None] | None, filename: str = "") -> None:
        self._source = source
        self.filename = filename
        self.available = source is not None

    def _handle(self, _widget, content, _buffers) -> None:
        if not isinstance(content, dict) or content.get("event") != "download":
            return
        request = str(content.get("request", ""))[:64]
        reply = {"event": "file", "request": request}
        from .i18n import t

        try:
            path = self._source() if self._source else None
            if path is None or not Path(path).is_file():
                raise FileNotFoundError(t("download.nothing_yet"))
            path = Path(path)
            size = path.stat().st_size
            if size > MAX_BYTES:
                raise ValueError(t("download.too_large"))
            data = path.read_bytes()
        except Exception as exc:  # shown on the button; the panel's own checks come first
            log.warning("storynb download failed: %s", exc)
            self.send({**reply, "error": t("download.not_available", error=exc)[:120]})
            return
        name = self.filename or path.name
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        self.send({**reply, "filename": name, "mime": mime}, buffers=[data])
