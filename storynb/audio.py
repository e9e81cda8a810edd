"""The final sound: narration placed on the timeline, background music (the user's file or a
built-in pad) ducked under the voice, and two-pass EBU R128 loudness normalisation (ffmpeg
`loudnorm`) to the project's target.

Defaults: -16 LUFS integrated (set per project: -14 for social platforms, -23 for broadcast),
true peak at most -1.5 dBTP, music 18 dB under the narration and 12 dB lower again while the
voice speaks (`music_level_db`, default -18).
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np

from .files import atomic_path, ffmpeg_exe
from .errors import InvalidInput

SAMPLE_RATE = 48000
DEFAULT_LUFS = -16.0
TRUE_PEAK = -1.5
LOUDNESS_RANGE = (-30.0, -10.0)
DEFAULT_MUSIC_DB = -18.0
DUCK_DB = 12.0
MUSIC_MAX_BYTES = 200 * 1024 * 1024


_ffmpeg = ffmpeg_exe


def decode(path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Any audio file as mono float32 at `sample_rate` (ffmpeg decodes it)."""
    out = subprocess.run([_ffmpeg(), "-v", "error", "-nostdin", "-i", str(path), "-vn", "-f", "f32le",
                          "-ac", "1", "-ar", str(sample_rate), "-"], capture_output=True)
    if out.returncode != 0:
        raise InvalidInput(f"cannot read the audio file {Path(path).name}: "
                         f"{out.stderr.decode(errors='replace').strip()[-300:]}")
    return np.frombuffer(out.stdout, "<f4").copy()


def pad(seconds: float, sample_rate: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """A soft synthesised pad (no file, no network): slow chords (I-vi-IV-V), each voice a few
    detuned sines with a gentle swell, a low drone under them."""
    n = max(1, int(seconds * sample_rate))
    t = np.arange(n, dtype=np.float64) / sample_rate
    rng = np.random.default_rng(seed)
    root = 196.0 * 2 ** (int(rng.integers(0, 5)) / 12)  # G3 .. B3
    chords = [(0, 4, 7), (-3, 0, 4), (-7, -3, 0), (-5, -1, 2)]  # I vi IV V in semitones
    bar = 4.0
    out = np.zeros(n)
    for k, chord in enumerate(chords * (int(seconds // (bar * 4)) + 1)):
        a, b = k * bar, (k + 1) * bar + 1.5  # overlapping swells
        if a >= seconds:
            break
        i0, i1 = int(a * sample_rate), min(n, int(b * sample_rate))
        seg = t[i0:i1] - a
        env = np.sin(np.pi * np.clip(seg / (b - a), 0, 1)) ** 2
        for semi in chord:
            f = root * 2 ** (semi / 12)
            for detune in (-0.15, 0.0, 0.17):
                out[i0:i1] += env * np.sin(2 * np.pi * (f + detune) * seg + rng.uniform(0, 6.28)) / 9
            out[i0:i1] += env * 0.25 * np.sin(2 * np.pi * 2 * f * seg) / 9
    out += 0.12 * np.sin(2 * np.pi * root / 2 * t) * (0.8 + 0.2 * np.sin(2 * np.pi * t / 7))
    return _fade(out.astype(np.float32), sample_rate)


def _fade(x: np.ndarray, sr: int, fade_in: float = 1.5, fade_out: float = 2.5) -> np.ndarray:
    x = x.copy()
    k = min(len(x), int(fade_in * sr))
    x[:k] *= np.linspace(0, 1, k, dtype=np.float32)
    k = min(len(x), int(fade_out * sr))
    if k:
        x[-k:] *= np.linspace(1, 0, k, dtype=np.float32)
    return x


def fit_music(music: np.ndarray, seconds: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The user's music looped (2 s crossfades) or cut to `seconds`, faded in and out."""
    n = int(seconds * sr)
    if not len(music):
        raise InvalidInput("the music file has no audio")
    xf = min(int(2 * sr), len(music) // 4)
    out = music[:n].copy()
    while len(out) < n:
        nxt = music.copy()
        if xf:
            ramp = np.linspace(0, 1, xf, dtype=np.float32)
            out[-xf:] = out[-xf:] * (1 - ramp) + nxt[:xf] * ramp
            nxt = nxt[xf:]
        out = np.concatenate([out, nxt])[:n]
    return _fade(out, sr)


def _rms_db(x: np.ndarray) -> float:
    return 20 * np.log10(max(1e-9, float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 1e-9))


def duck(voice: np.ndarray, music: np.ndarray, level_db: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Music set `level_db` under the narration's level (measured where the voice speaks) and
    lowered by a further DUCK_DB while it speaks (50 ms attack, 400 ms release)."""
    hop = sr // 100
    n = len(voice) // hop + 1
    frames = np.zeros(n)
    v = np.pad(voice, (0, n * hop - len(voice)))
    frames = np.sqrt((v.reshape(n, hop).astype(np.float64) ** 2).mean(axis=1))
    speaking = frames > max(1e-4, frames.max() * 0.03)
    voice_db = _rms_db(v.reshape(n, hop)[speaking].ravel()) if speaking.any() else -20.0
    gain_db = voice_db + level_db - _rms_db(music)
    env = np.zeros(n)
    level = 0.0
    for i, on in enumerate(speaking):  # smoothed on/off: fast attack, slow release
        target = 1.0 if on else 0.0
        level += (target - level) * (0.2 if target > level else 0.025)
        env[i] = level
    lookahead = 5  # start ducking 50 ms before the voice
    env = np.maximum(env, np.concatenate([env[lookahead:], np.zeros(lookahead)]))
    per_sample = np.repeat(env, hop)[:len(music)]
    if len(per_sample) < len(music):
        per_sample = np.pad(per_sample, (0, len(music) - len(per_sample)))
    gain = 10 ** ((gain_db - DUCK_DB * per_sample) / 20)
    return (music * gain).astype(np.float32)


def write_wav(path, x: np.ndarray, sr: int = SAMPLE_RATE) -> Path:
    import wave

    data = (np.clip(x, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(data.tobytes())
    return Path(path)


def loudnorm(src, dst, target: float = DEFAULT_LUFS, true_peak: float = TRUE_PEAK) -> dict:
    """Two-pass ffmpeg loudnorm (measure, then apply in linear mode) to `target` LUFS with the
    true peak at most `true_peak` dBTP (a little margin is kept for the AAC encoder). Returns
    the first pass's measurement."""
    tp = true_peak - 1.2  # margin for the AAC encoder's overshoot
    first = subprocess.run([_ffmpeg(), "-hide_banner", "-nostdin", "-i", str(src), "-af",
                            f"loudnorm=I={target}:TP={tp}:LRA=11:print_format=json", "-f", "null", "-"],
                           capture_output=True, text=True, errors="replace")
    found = re.search(r"\{[^{}]*\"input_i\"[^{}]*\}", first.stderr)
    if first.returncode != 0 or not found:
        raise RuntimeError(f"ffmpeg could not measure loudness: {first.stderr.strip()[-500:]}")
    m = json.loads(found[0])
    if float(m["input_i"]) < -70:  # digital silence: nothing to normalise
        subprocess.run([_ffmpeg(), "-v", "error", "-nostdin", "-y", "-i", str(src), "-ar",
                        str(SAMPLE_RATE), str(dst)], check=True)
        return m
    chain = (f"loudnorm=I={target}:TP={tp}:LRA=11:measured_I={m['input_i']}:"
             f"measured_TP={m['input_tp']}:measured_LRA={m['input_lra']}:"
             f"measured_thresh={m['input_thresh']}:offset={m['target_offset']}:linear=true")
    done = subprocess.run([_ffmpeg(), "-v", "error", "-nostdin", "-y", "-i", str(src), "-af", chain,
                           "-ar", str(SAMPLE_RATE), str(dst)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg could not normalise loudness: {done.stderr.strip()[-500:]}")
    # loudnorm falls back to its dynamic mode when a linear gain would break the peak limit,
    # which can land a short programme off target: measure and correct with a plain gain, under
    # a true-peak limiter.
    for _ in range(3):  # the limiter takes a little loudness away: measure again
        integrated, peak = measure_loudness(dst)
        if not (integrated > -70 and (abs(integrated - target) > 0.3 or peak > tp)):
            break
        gain = target - integrated
        limit = f"{10 ** ((tp - 0.3) / 20):.4f}"
        with atomic_path(dst, suffix=".wav") as fixed:
            subprocess.run([_ffmpeg(), "-v", "error", "-nostdin", "-y", "-i", str(dst), "-af",
                            f"volume={gain:.2f}dB,aresample=192000,alimiter=limit={limit}:attack=1:"
                            f"release=60:level=false", "-ar", str(SAMPLE_RATE), str(fixed)], check=True)
    return m


def measure_loudness(path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of a file's audio (ffmpeg ebur128)."""
    log = subprocess.run([_ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-i", str(path), "-vn",
                          "-af", "ebur128=peak=true", "-f", "null", "-"],
                         capture_output=True, text=True, errors="replace").stderr
    summary = log[log.rfind("Summary:"):]
    i = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    p = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    as_float = lambda m: float(m[1]) if m and m[1] != "-inf" else -120.0  # noqa: E731
    return as_float(i), as_float(p)


def check_target(value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"the loudness target must be a number of LUFS (e.g. -16), not {value!r}") from None
    if not LOUDNESS_RANGE[0] <= value <= LOUDNESS_RANGE[1]:
        raise InvalidInput(f"the loudness target {value} LUFS is out of range: use {LOUDNESS_RANGE[0]:g} "
                         f"to {LOUDNESS_RANGE[1]:g} (-16 default, -14 social platforms, -23 broadcast)")
    return value


def check_music_level(value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"the music level must be a number of dB (e.g. -18), not {value!r}") from None
    if not -40 <= value <= 0:
        raise InvalidInput(f"the music level {value} dB is out of range: use -40 to 0 dB under the narration")
    return value


def sound_setting(studio, key: str, value) -> dict:
    """Project columns for one sound setting (see Project.update): loudness_lufs (a target in
    LUFS), music ('builtin' for the generated pad, '' or 'none' for no music, or a path to the
    user's audio file), music_level_db (dB under the narration), highlight_words (bool)."""
    try:
        if key == "loudness_lufs":
            return {key: check_target(value)}
        if key == "music_level_db":
            return {key: check_music_level(value)}
        if key == "highlight_words":
            return {key: int(bool(value))}
        text = str(value or "").strip()
        if text.lower() in ("", "none", "off"):
            return {"music": "", "music_name": ""}
        if text.lower() == "builtin":
            return {"music": "builtin", "music_name": "built-in pad"}
        name, shown = store_music(studio, text)
        return {"music": name, "music_name": shown}
    except ValueError as exc:
        from .errors import InvalidInput

        raise InvalidInput(str(exc)) from None


def store_music(studio, path) -> tuple[str, str]:
    """Check a user's music file (size cap, ffmpeg finds an audio stream) and keep it in the media
    store by its content. Returns (media name, the file's own name). Only the name is kept of
    the user's path. (To move to the shared checker for incoming files once it lands.)"""
    from .render.compose import probe

    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"the music file {path.name!r} does not exist")
    size = path.stat().st_size
    if size > MUSIC_MAX_BYTES:
        raise InvalidInput(f"the music file {path.name!r} is {size / 1e6:.0f} MB; the limit is "
                         f"{MUSIC_MAX_BYTES // (1024 * 1024)} MB")
    try:
        info = probe(path)
    except ValueError:
        info = {}
    if not info.get("audio_codec"):
        raise InvalidInput(f"{path.name!r} has no audio that ffmpeg can read: give an audio file "
                         "(mp3, wav, ogg, m4a, flac)")
    import shutil

    ext = re.sub(r"[^a-z0-9]", "", path.suffix.lower())[:5] or "audio"
    tmp = studio.media.scratch("." + ext)
    shutil.copyfile(path, tmp)  # the store consumes its source: give it a copy
    return studio.media.add(tmp, ext), path.name[:120]
