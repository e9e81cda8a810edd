"""Assembling the final video: subtitles (.srt), the narration track, joining clips, probing media.

Only the ffmpeg binary shipped by imageio-ffmpeg is used (no ffprobe, no system ffmpeg).
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from typing import Any
from pathlib import Path

import numpy as np

from ..files import atomic_path, write_text
from ..files import ffmpeg_exe as ffmpeg_exe  # (the renderer's callers find ffmpeg here too)


def _run(cmd: list[str], what: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed to {what} (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc.stderr


# --- subtitles --------------------------------------------------------------------------------

@dataclass
class Cue:
    start: float
    end: float
    text: str
    words: list | None = None  # [{"text", "start", "end"}] in seconds from the video's start (for \\k)


def cues_for(durations: list[float], texts: list[str]) -> list[Cue]:
    """One cue per shot, back to back: shot i's text shows for the shot's duration."""
    if len(durations) != len(texts):
        raise ValueError(f"cues_for needs one text per duration, got {len(durations)} durations "
                         f"and {len(texts)} texts")
    cues, t = [], 0.0
    for d, text in zip(durations, texts):
        cues.append(Cue(t, t + d, text))
        t += d
    return cues


def cues_from_pages(durations: list[float], pages: list[list[dict]]) -> list[Cue]:
    """One cue per caption page (see subtitles.paginate), pages timed from their shot's start;
    a page's lines are kept as the cue's lines."""
    cues, t = [], 0.0
    for d, shot_pages in zip(durations, pages):
        for p in shot_pages:
            words = [{**w, "start": t + w["start"], "end": t + w["end"]} for w in p["words"]]
            cues.append(Cue(t + p["start"], t + min(p["end"], d), "\n".join(p["lines"]), words))
        t += d
    return cues


def write_ass(cues: list[Cue], path, width: int, height: int, font_path: str | None) -> Path:
    """Word-timed subtitles (Advanced SubStation, karaoke \\k per word) with the burned-in
    captions' look: white bold text, dark outline, translucent box, bottom centre at the same
    height; the sung (spoken) part turns to the highlight colour."""
    import pysubs2

    from .subtitles import CAPTION_WIDTH, HIGHLIGHT, _faces, caption_margin, face_index

    subs = pysubs2.SSAFile()
    subs.info.update({"PlayResX": str(width), "PlayResY": str(height), "WrapStyle": "0",
                      "ScaledBorderAndShadow": "yes"})
    family = "Sans"
    if font_path:
        try:
            family = _faces(font_path)[face_index(font_path, "".join(c.text for c in cues))] or family
        except Exception:  # a font without a readable name table: the player's default sans
            pass
    size = max(10, round(width / 18))
    # ASS sizes a font by its ascent + descent, Pillow (the burned captions) by its em: scale so
    # the letters come out the same size.
    size = round(size * _ass_scale(font_path)) if font_path else size
    subs.styles["Default"] = pysubs2.SSAStyle(
        fontname=family, fontsize=size, bold=True,
        primarycolor=pysubs2.Color(*HIGHLIGHT[:3], 0), secondarycolor=pysubs2.Color(255, 255, 255, 0),
        # Text with a dark outline on one translucent box (43 % black) around the whole caption:
        # BorderStyle 4 (libass >= 0.17; other players fall back to the outline alone).
        outlinecolor=pysubs2.Color(0, 0, 0, 25), backcolor=pysubs2.Color(0, 0, 0, 145),
        borderstyle=4, outline=max(1, round(size / 14)), shadow=round(size * 0.35),
        alignment=pysubs2.Alignment.BOTTOM_CENTER,
        marginv=caption_margin(width, height) + round(size * 0.35),
        marginl=round(width * (1 - CAPTION_WIDTH) / 2), marginr=round(width * (1 - CAPTION_WIDTH) / 2))
    for cue in cues:
        text = "\\N".join(line.strip() for line in cue.text.splitlines())
        if cue.words:
            parts: list[str] = []
            t = cue.start
            line_breaks = {len(line) for line in cue.text.splitlines()[:1]}
            pos = 0
            for w in cue.words:
                dur = max(0, round((w["end"] - t) * 100))
                at = cue.text.find(w["text"], pos)
                lead = "\\N" if at >= 0 and "\n" in cue.text[pos:at] else ""
                sep = "" if not parts or lead or _cjk_join(parts[-1], w["text"]) else " "
                parts.append(f"{lead}{sep}{{\\k{dur}}}{_ass_escape(w['text'])}")
                pos = at + len(w["text"]) if at >= 0 else pos
                t = max(t, w["end"])
            del line_breaks
            text = "".join(parts)
        subs.append(pysubs2.SSAEvent(start=round(cue.start * 1000), end=round(cue.end * 1000), text=text))
    with atomic_path(path) as tmp:
        subs.save(str(tmp), format_="ass", encoding="utf-8")
    return Path(path)


def _ass_scale(font_path: str) -> float:
    try:
        from fontTools.ttLib import TTCollection, TTFont

        font = (TTCollection(font_path, lazy=True).fonts[0] if font_path.lower().endswith((".ttc", ".otc"))
                else TTFont(font_path, lazy=True))
        hhea, head = font["hhea"], font["head"]
        return (hhea.ascent - hhea.descent) / head.unitsPerEm
    except Exception:  # an unreadable font: no scaling
        return 1.0


def _cjk_join(prev: str, word: str) -> bool:
    from .subtitles import _CJK

    last = prev.rsplit("}", 1)[-1][-1:]
    return bool(last and (_CJK.match(last) or _CJK.match(word[:1])))


def _ass_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("{", "(").replace("}", ")")


def _stamp(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def write_srt(cues: list[Cue], path) -> Path:
    """Write SubRip subtitles (1-based, HH:MM:SS,mmm, UTF-8); cues with empty text are left out."""
    blocks: list[str] = []
    for cue in cues:
        text = "\n".join(ln.strip() for ln in cue.text.strip().splitlines() if ln.strip())
        if text:
            blocks.append(f"{len(blocks) + 1}\n{_stamp(cue.start)} --> {_stamp(cue.end)}\n{text}\n")
    return write_text(path, "\n".join(blocks))


# --- audio ------------------------------------------------------------------------------------

def read_wav(path, sample_rate: int) -> np.ndarray:
    """Mono float32 samples in -1..1 at `sample_rate` from any WAV (ffmpeg decodes what `wave` can't)."""
    try:
        with wave.open(str(path), "rb") as w:
            rate, ch, width, frames = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.readframes(w.getnframes())
        if width == 1:
            data = (np.frombuffer(frames, np.uint8).astype(np.float32) - 128) / 128
        elif width == 2:
            data = np.frombuffer(frames, "<i2").astype(np.float32) / 32768
        elif width == 3:
            b = np.frombuffer(frames, np.uint8).reshape(-1, 3).astype(np.int32)
            data = ((b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8).astype(np.float32) / 8388608
        elif width == 4:
            data = np.frombuffer(frames, "<i4").astype(np.float32) / 2147483648
        else:
            raise wave.Error(f"{width}-byte samples")
        data = data.reshape(-1, ch).mean(axis=1)
    except (wave.Error, EOFError):  # float WAV, WAVE_FORMAT_EXTENSIBLE odd cases, ...
        out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1",
                              "-ar", str(sample_rate), "-"], capture_output=True)
        if out.returncode != 0:
            raise ValueError(f"cannot read the audio file {path}: {out.stderr.decode(errors='replace')[-500:]}") \
                from None
        return np.frombuffer(out.stdout, "<f4").copy()
    if rate != sample_rate and len(data):
        n = max(1, round(len(data) * sample_rate / rate))
        data = np.interp(np.arange(n) * (rate / sample_rate), np.arange(len(data)), data).astype(np.float32)
    return data


def narration_track(wavs: list, durations: list[float], out_path, sample_rate: int = 44100) -> Path:
    """One mono 16-bit WAV where shot i's narration starts when the shot starts, padded with silence
    or cut (with a 30 ms fade) to the shot's duration. A None entry is a silent shot."""
    if len(wavs) != len(durations):
        raise ValueError(f"narration_track needs one wav (or None) per duration, got {len(wavs)} "
                         f"and {len(durations)}")
    bounds = np.rint(np.concatenate([[0], np.cumsum(durations)]) * sample_rate).astype(np.int64)
    fade = int(0.03 * sample_rate)
    # written shot by shot: memory holds one shot, not the track
    with atomic_path(out_path) as tmp, wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        for wav, a, b in zip(wavs, bounds[:-1], bounds[1:]):
            n = int(max(0, b - a))
            segment = np.zeros(n, np.float32)
            if wav is not None and n:
                data = read_wav(wav, sample_rate)
                if len(data) > n:
                    data = data[:n].copy()
                    k = min(fade, n)
                    data[n - k:] *= np.linspace(1, 0, k, dtype=np.float32)
                segment[:len(data)] = data
            w.writeframes((np.clip(segment, -1, 1) * 32767).astype("<i2").tobytes())
    return Path(out_path)


# --- video ------------------------------------------------------------------------------------

def probe(path, *, count_frames: bool = False) -> dict:
    """What `ffmpeg -i` says about a media file: video_codec, width, height, fps, pix_fmt, duration,
    audio_codec, sample_rate, channels (None when absent); `frames` too when count_frames (a fast
    stream copy to the null muxer)."""
    path = str(path)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path]
    if count_frames:  # one framecrc line per packet: every ffmpeg (7.0 prints no frame= for a copy)
        cmd += ["-map", "0:v:0?", "-c", "copy", "-f", "framecrc", "-"]
    done = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    err = done.stderr
    info: dict[str, Any] = {"video_codec": None, "width": None, "height": None, "fps": None, "pix_fmt": None,
            "duration": None, "audio_codec": None, "sample_rate": None, "channels": None}
    if m := re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", err):
        info["duration"] = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    if m := re.search(r"Stream #\S+: Video: (\w+)[^\n]*", err):
        line = m[0]
        info["video_codec"] = m[1]
        if s := re.search(r", (\d{2,5})x(\d{2,5})", line):
            info["width"], info["height"] = int(s[1]), int(s[2])
        if s := re.search(r"Video: \w+(?: \([^)]*\))*(?: \([^)]*\))?, (\w+)", line):
            info["pix_fmt"] = s[1]
        if s := re.search(r"([\d.]+)(k?) fps", line):
            info["fps"] = float(s[1]) * (1000 if s[2] else 1)
        elif s := re.search(r"([\d.]+)(k?) tbr", line):
            info["fps"] = float(s[1]) * (1000 if s[2] else 1)
    if m := re.search(r"Stream #\S+: Audio: (\w+)[^\n]*", err):
        info["audio_codec"] = m[1]
        if s := re.search(r"(\d+) Hz, ([^,]+)", m[0]):
            info["sample_rate"] = int(s[1])
            info["channels"] = {"mono": 1, "stereo": 2}.get(s[2].strip(), s[2].strip())
    if info["video_codec"] is None and info["audio_codec"] is None:
        raise ValueError(f"ffmpeg found no audio or video stream in {path}: {err.strip()[-500:]}")
    if count_frames:
        info["frames"] = sum(1 for line in done.stdout.splitlines() if line and not line.startswith("#"))
    return info


def concat_video(clips: list, audio_wav=None, out_path=None) -> Path:
    """Join the clips in order (stream copy, so they must share codec, size, fps and pix_fmt) and
    add the audio as AAC (a silent track when `audio_wav` is None, so every player gets audio).
    The result lasts exactly as long as the clips together; audio is padded or cut to fit."""
    if not clips:
        raise ValueError("concat_video needs at least one clip")
    if out_path is None:
        raise ValueError("concat_video needs an out_path")
    infos = [probe(c, count_frames=True) for c in clips]
    keys = ("video_codec", "width", "height", "fps", "pix_fmt")
    first = {k: infos[0][k] for k in keys}
    for clip, info in zip(clips, infos):
        if {k: info[k] for k in keys} != first:
            raise ValueError(f"clip {clip} is {dict((k, info[k]) for k in keys)} but the first clip is "
                             f"{first}: render all clips with the same size, fps and codec")
    fps = first["fps"]
    total = sum(i["frames"] for i in infos) / fps
    with tempfile.NamedTemporaryFile("w", suffix=".ffconcat", delete=False, encoding="utf-8") as lst:
        lst.write("ffconcat version 1.0\n")
        for c in clips:
            lst.write("file '" + str(Path(c).resolve()).replace("'", "'\\''") + "'\n")
    audio_in = (["-i", str(audio_wav)] if audio_wav is not None else
                ["-f", "lavfi", "-i", "anullsrc=channel_layout=stereo:sample_rate=44100"])
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
           "-f", "concat", "-safe", "0", "-i", lst.name, *audio_in,
           "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy",
           "-c:a", "aac", "-b:a", "160k", "-af", f"apad=whole_dur={total:.6f}",
           "-t", f"{total:.6f}", "-movflags", "+faststart", "-f", "mp4"]
    try:
        with atomic_path(out_path) as tmp:
            _run([*cmd, str(tmp)], "join the clips")
    finally:
        os.unlink(lst.name)
    return Path(out_path)
