"""The check of an export, measured as a viewer would (ffmpeg filters on the finished file):

- duration: the video lasts the sum of its shots ± 1 frame;
- black: no black stretch longer than 0.2 s (blackdetect);
- frozen: no frozen stretch longer than 1 s inside a shot whose camera moves (freezedetect);
- narration: no silence over 1.5 s inside a subtitle cue (silencedetect, 10 dB under the target);
- loudness: integrated loudness within ±1 LU of the target, true peak ≤ -1.5 dBTP (ebur128);
- safe area: every burned caption box inside the title-safe area (5 % margins);
- glyphs: every subtitle character drawn (characters no installed font has are a warning).

`check_export(project, export_id)` stores the result as a row of `export_checks` and returns it;
`storynb check ID` prints it and exits 1 when a check fails.
"""
from __future__ import annotations

import json
from typing import Any
import re
import subprocess

from .db import now
from .errors import NotFound

BLACK_MAX_S = 0.2
FROZEN_MAX_S = 1.0
SILENCE_MAX_S = 1.5
LOUDNESS_TOLERANCE = 1.0
TRUE_PEAK_MAX = -1.5
SAFE_MARGIN = 0.05


def _ffmpeg_filters(path: str, video: str | None, audio: str | None) -> str:
    from .render.compose import ffmpeg_exe

    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-i", path]
    if video:
        cmd += ["-map", "0:v:0", "-vf", video]
    if audio:
        cmd += ["-map", "0:a:0", "-af", audio]
    cmd += ["-f", "null", "-"]
    return subprocess.run(cmd, capture_output=True, text=True, errors="replace").stderr


def _spans(log: str, kind: str) -> list[tuple[float, float]]:
    """(start, end) pairs from blackdetect / freezedetect / silencedetect output."""
    out = []
    if kind == "black":
        for m in re.finditer(r"black_start:([\d.]+) black_end:([\d.]+)", log):
            out.append((float(m[1]), float(m[2])))
        return out
    starts = [float(x) for x in re.findall(rf"{kind}_start: ?(-?[\d.]+)", log)]
    ends = [float(x) for x in re.findall(rf"{kind}_end: ?([\d.]+)", log)]
    for i, s in enumerate(starts):
        out.append((max(0.0, s), ends[i] if i < len(ends) else float("inf")))
    return out


def measure(path: str, *, target: float, cues: list, shots: list[tuple[float, float, bool]],
            expected_s: float, fps: float, caption_boxes: list, missing_glyphs: str = "",
            lost_letters: bool = False) -> list[dict]:
    """Every check of one video file; each result: name, status (ok, warn, fail), value, message."""
    from .render.compose import probe

    results = []

    def add(name, ok, value, message, warn=False):
        results.append({"name": name, "status": "ok" if ok else ("warn" if warn else "fail"),
                        "value": value, "message": message})

    info = probe(path, count_frames=True)
    duration = info["frames"] / fps if info.get("frames") else info["duration"] or 0.0
    add("duration", abs(duration - expected_s) <= 1.0 / fps + 1e-6, round(duration, 3),
        f"{duration:.3f} s for shots totalling {expected_s:.3f} s (± 1 frame)")

    vlog = _ffmpeg_filters(path, f"blackdetect=d={BLACK_MAX_S}:pix_th=0.10,"
                                 f"freezedetect=n=-60dB:d={FROZEN_MAX_S}", None)
    black = [s for s in _spans(vlog, "black") if s[1] - s[0] > BLACK_MAX_S]
    add("black frames", not black, len(black),
        "none" if not black else "black from " + ", ".join(f"{a:.2f}-{b:.2f} s" for a, b in black[:5]))
    frozen = []
    for a, b in _spans(vlog, "freeze"):
        b = min(b, duration)
        for s0, s1, moving in shots:
            if moving and min(b, s1) - max(a, s0) > FROZEN_MAX_S:
                frozen.append((max(a, s0), min(b, s1)))
    add("frozen frames", not frozen, len(frozen),
        "none where the camera moves" if not frozen else
        "frozen at " + ", ".join(f"{a:.2f}-{b:.2f} s" for a, b in frozen[:5]))

    alog = _ffmpeg_filters(path, None, f"silencedetect=n={target - 10:.1f}dB:d={SILENCE_MAX_S},"
                                       "ebur128=peak=true")
    silent = []
    for a, b in _spans(alog, "silence"):
        b = min(b, duration)
        for cue in cues:
            overlap = min(b, cue.end) - max(a, cue.start)
            if overlap > SILENCE_MAX_S:
                silent.append((max(a, cue.start), min(b, cue.end), cue.text.replace("\n", " ")[:40]))
    add("narration", not silent, len(silent),
        "speech inside every subtitle cue" if not silent else
        "silent inside cues: " + "; ".join(f"{a:.1f}-{b:.1f} s ({t}…)" for a, b, t in silent[:4]))
    summary = alog[alog.rfind("Summary:"):] if "Summary:" in alog else ""
    i = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    peak = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    lufs = float(i[1]) if i and i[1] != "-inf" else -120.0
    tp = float(peak[1]) if peak and peak[1] != "-inf" else -120.0
    add("loudness", abs(lufs - target) <= LOUDNESS_TOLERANCE, lufs,
        f"{lufs:.1f} LUFS integrated (target {target:g} ± {LOUDNESS_TOLERANCE:g})")
    add("true peak", tp <= TRUE_PEAK_MAX, tp, f"{tp:.1f} dBTP (at most {TRUE_PEAK_MAX})")

    width, height = info["width"] or 1, info["height"] or 1
    outside = [b for b in caption_boxes
               if b[0] < width * SAFE_MARGIN - 1 or b[2] > width * (1 - SAFE_MARGIN) + 1
               or b[1] < height * SAFE_MARGIN - 1 or b[3] > height * (1 - SAFE_MARGIN) + 1]
    add("subtitle safe area", not outside, len(outside),
        f"{len(caption_boxes)} caption boxes inside the title-safe area" if not outside else
        f"{len(outside)} caption boxes reach outside the title-safe area: {outside[:2]}")
    add("glyphs", not missing_glyphs, missing_glyphs or "all drawn",
        "every subtitle character is drawn" if not missing_glyphs else
        f"left out of the burned-in captions: {missing_glyphs}", warn=not lost_letters)
    return results


def caption_boxes(pages: list[list[dict]], width: int, height: int, font: str | None) -> list:
    """Where each burned caption box lies in the frame (the layout the renderer uses)."""
    from PIL import Image

    from .render.subtitles import drawable, font_chain, render_caption

    boxes: list[Any] = []
    if not font:
        return boxes
    chain = font_chain("".join(p["text"] for ps in pages for p in ps), font)
    for shot_pages in pages:
        for page in shot_pages:
            img = render_caption(drawable(page["text"], font, chain), width, font, chain=chain)
            bbox = img.getchannel("A").getbbox() if isinstance(img, Image.Image) else None
            if not bbox:
                continue
            bottom = height - round(height * (0.14 if height > width else 0.07))
            top = max(0, (bottom - img.height) // 2 * 2)
            boxes.append((bbox[0], top + bbox[1], bbox[2], top + bbox[3]))
    return boxes


def check_export(project, export_id: int | None = None) -> dict:
    """Check the project's export (the latest, or `export_id`), store the result as a row of
    `export_checks`, and return it: {"passed", "results", "video", "export_id", "warnings"}."""
    from .render.compose import cues_from_pages
    from .stages.clips import clip_settings, timed_shot
    from .stages.export import sound_settings

    db = project.db
    if export_id is None:
        export = project.latest_export()
        if not export:
            raise NotFound(f"project {project.id} has no export yet: run it first (storynb run)")
    else:
        export = db["exports"].get(export_id)
    shots = project.shots()
    settings = clip_settings(project, shots)
    lengths, pages, spans, t = [], [], [], 0.0
    movement = {r["shot_id"]: r["movement"] for r in db["camera"].rows_where("project_id = ?", [project.id])}
    for shot in shots:
        length, shot_pages = timed_shot(shot, (settings.spoken or {}).get(shot["id"]), settings.fps)
        lengths.append(length)
        pages.append(shot_pages)
        moving = not settings.still and movement.get(shot["id"], "static") != "static"
        spans.append((t, t + length, moving))
        t += length
    cues = cues_from_pages(lengths, pages)
    path = str(project.studio.media.path(export["video"]))
    missing, letters = "", False
    if settings.burn and settings.font:
        from .render.subtitles import covered, describe_missing, font_chain

        text = "".join(s["narration"] or "" for s in shots)
        missing = describe_missing(text, settings.font)
        chain = font_chain(text, settings.font)
        letters = any(c.isalpha() and not covered(c, chain) for c in text)
    results = measure(path, target=sound_settings(project)["loudness"], cues=cues, shots=spans,
                      expected_s=sum(lengths), fps=settings.fps,
                      caption_boxes=caption_boxes(pages, settings.width, settings.height,
                                                  settings.font) if settings.burn else [],
                      missing_glyphs=missing, lost_letters=letters)
    passed = all(r["status"] != "fail" for r in results)
    row = {"project_id": project.id, "export_id": export["id"], "video": export["video"],
           "passed": int(passed), "results": json.dumps(results, ensure_ascii=False), "created": now()}
    row_id = db["export_checks"].insert(row).last_pk
    return {"id": row_id, "passed": passed, "results": results, "video": export.get("path") or path,
            "export_id": export["id"], "warnings": json.loads(export.get("warnings") or "[]")}


def latest_check(project) -> dict | None:
    rows = list(project.db["export_checks"].rows_where("project_id = ?", [project.id],
                                                        order_by="id desc", limit=1))
    if not rows:
        return None
    row = dict(rows[0])
    row["results"] = json.loads(row["results"] or "[]")
    return row


def report(check: dict) -> str:
    """The check as lines of text (what `storynb check` prints)."""
    marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}
    lines = [f"{marks[r['status']]}  {r['name']}: {r['message']}" for r in check["results"]]
    for warning in check.get("warnings") or []:
        lines.append(f"WARN  export: {warning}")
    lines.append("passed" if check["passed"] else "FAILED")
    return "\n".join(lines)
