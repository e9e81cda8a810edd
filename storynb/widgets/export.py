"""Export panel: the final video, its subtitles, and downloads of the video, the .srt and a
project bundle (rows + media, as a zip)."""
from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as W

from ..errors import InvalidInput
from .base import Panel, read_media
from .download import DownloadButton
from .i18n import t, translate


def _check_html(project, export: dict) -> str:
    """The export's warnings and its check, one line per measurement."""
    import json

    from ..check import latest_check

    lines = [f"<div class='storynb-error'>⚠ {html.escape(w)}</div>"
             for w in json.loads(export.get("warnings") or "[]")]
    found = latest_check(project)
    if found and found["export_id"] == export["id"]:
        mark = {"ok": "✓", "warn": "⚠", "fail": "✗"}
        lines.append(f"<b>{html.escape(t('export.check_passed' if found['passed'] else 'export.check_failed'))}</b>")
        lines += [f"<div>{mark[r['status']]} {html.escape(translate(r['name']))}: "
                  f"{html.escape(translate(str(r['message'])))}</div>"
                  for r in found["results"]]
    return "<div class='storynb-check'>" + "".join(lines) + "</div>" if lines else ""


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


class ExportPanel(Panel):
    name = "export"
    title = "Export"

    def __init__(self, source=None, **kwargs):
        super().__init__(source, **kwargs)
        self.make_b = self.button(t("export.make"), self.make, style="success",
                                  tooltip=t("export.make_tip"))
        self.burn = W.Checkbox(description=t("export.burn"), indent=False)
        self.on_value(self.burn, self._burn_changed)
        self.player = W.Video(value=b"", format="mp4", autoplay=False, loop=False, controls=True,
                              layout=W.Layout(max_width="420px", max_height="520px"))
        self.player.add_class("storynb-final-video")
        self.about = W.HTML()
        self.video_dl = DownloadButton(t("export.download_video"))
        self.srt_dl = DownloadButton(t("flow.download_srt"))
        self.bundle_dl = DownloadButton(t("export.download_bundle"))
        self.subtitles = W.HTML()
        self.check = W.HTML()  # the export's check (storynb.check) and its warnings
        self.body.children = [
            W.HBox([self.make_b, self.burn], layout=W.Layout(align_items="center")),
            self.about, self.player,
            W.HBox([self.video_dl, self.srt_dl, self.bundle_dl], layout=W.Layout()),
            self.check, self.subtitles]
        self.redraw()

    def refresh(self) -> None:
        project = self.session.project
        with self.quiet():
            self.burn.value = bool(project.row["burn_subtitles"]) if project else True
        export = project.latest_export() if project is not None else None
        if project is None or export is None:
            self.player.value = b""
            self.player.layout.display = "none"
            self.about.value = ("<span class='storynb-help'>"
                                + html.escape(t("export.no_video" if project is not None else "export.no_project"))
                                + "</span>")
            for button in (self.video_dl, self.srt_dl):
                button.set_source(None)
            self.bundle_dl.set_source(self._bundle if project else None,
                                      f"storynb-project-{project.id}.zip" if project else "")
            self.subtitles.value = ""
            self.check.value = ""
            return
        data = read_media(self.session.studio, export["video"])
        self.player.value = data
        self.player.layout.display = ""
        video, srt = Path(export["path"]), Path(export["srt_path"])
        self.about.value = (f"<b>{html.escape(video.name)}</b> <span class='storynb-caption'>· "
                            + html.escape(t("export.facts", seconds=f"{export['duration_s']:.1f}",
                                            size=_size(len(data)),
                                            made=export['created'][:19].replace('T', ' ')))
                            + "</span>")
        media = self.session.studio.media
        self.video_dl.set_source(lambda name=export["video"]: media.path(name), video.name)
        self.srt_dl.set_source(lambda name=export["subtitles"]: media.path(name), srt.name)
        self.bundle_dl.set_source(self._bundle, video.with_suffix(".bundle.zip").name)
        self.check.value = _check_html(project, export)
        srt_text = read_media(self.session.studio, export["subtitles"]).decode("utf-8", "replace")
        self.subtitles.value = (f"<details><summary>{html.escape(t('export.subtitles'))}</summary>"
                                "<div class='storynb-pre'>"
                                + html.escape(srt_text[:20000]) + "</div></details>")

    def _bundle(self) -> Path:
        return self.session.require().export_bundle()

    def _burn_changed(self) -> None:
        project = self.session.require()
        if self.session.running():
            raise InvalidInput(t("export.running"))
        value = self.burn.value
        if not isinstance(value, bool):
            raise InvalidInput(t("export.on_or_off"))
        project.update(burn_subtitles=value)
        self.ok(t("export.burn_on" if value else "export.burn_off"))

    def make(self) -> None:
        self.start(note=t("export.making"))
