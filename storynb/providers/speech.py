"""`openai_tts`: OpenAI-style text to speech (POST /audio/speech; also served by some local
servers). The offline narrator stays the default; this is for projects that choose a real voice.

The answer is raw audio. WAV is asked for; anything else (mp3 …) is converted with ffmpeg.
OpenAI streams its WAV, so the RIFF and data chunk sizes in the header are placeholders
(0xFFFFFFFF): the length is taken from the bytes that arrived (the header is rewritten), never
from the header. Narration longer than the service's limit (param `max_chars`, 4096) is spoken
in pieces and joined. Params: voice, speed, instructions (models that take them, see the
capabilities table), response_format, max_chars.
"""
from __future__ import annotations

import asyncio
import os
import re
import struct
import subprocess
import wave
from pathlib import Path

from . import capabilities
from .base import SpeechRequest, Transient
from .http import CALL, HTTPAdapter


class OpenAISpeech(HTTPAdapter):
    kind = "tts"
    type = "openai_tts"
    default_url = "https://api.openai.com/v1"
    default_concurrency = 4
    default_params = {"voice": "alloy", "response_format": "wav", "max_chars": 4096}
    key_required = False

    async def speak(self, request: SpeechRequest, out_path: Path) -> float:
        pieces = split_text(request.text, int(self.params.get("max_chars", 4096)))
        context = CALL.get()
        caps = capabilities.for_model(self.type, self.model or "tts-1", self.params.get("capabilities"))
        capabilities.note_warning(context, caps.get("warning"))
        parts: list[Path] = []
        try:
            for number, piece in enumerate(pieces):
                body = {"model": self.model or "tts-1", "input": piece,
                        "voice": request.voice or self.params.get("voice", "alloy"),
                        "response_format": self.params.get("response_format", "wav"),
                        "speed": float(self.params.get("speed", request.speed or 1.0))}
                if self.params.get("instructions"):
                    if caps.get("instructions", True):
                        body["instructions"] = self.params["instructions"]
                    elif number == 0:
                        capabilities.note_change(context, "instructions", self.params["instructions"],
                                                 None, f"{body['model']} does not take instructions")
                audio = await self.request("POST", "/audio/speech", json_body=body, expect="bytes")
                if context is not None:  # billed per piece, even if a later piece fails
                    context.billed = True
                    context.units["characters"] = int(context.units.get("characters") or 0) + len(piece)
                part = Path(f"{out_path}.part{number}.wav")
                await asyncio.to_thread(to_wav, audio, part)
                parts.append(part)
            await asyncio.to_thread(join_wavs, parts, Path(out_path))
        finally:
            for part in parts:
                part.unlink(missing_ok=True)
        with wave.open(str(out_path)) as wav:
            return wav.getnframes() / float(wav.getframerate())

    async def check(self) -> dict:
        data = await self.request("GET", "/models", timeout=min(self.timeout, 20))
        caps = capabilities.for_model(self.type, self.model or "tts-1", self.params.get("capabilities"))
        return {"models": len((data or {}).get("data") or []), "capabilities": capabilities.summary(caps)}


def split_text(text: str, limit: int) -> list[str]:
    text = text.strip()
    if len(text) <= limit:
        return [text]
    pieces, current = [], ""
    for sentence in re.split(r"(?<=[.!?。！？])\s*", text):
        while len(sentence) > limit:
            pieces.append(sentence[:limit])
            sentence = sentence[limit:]
        if len(current) + len(sentence) + 1 > limit and current:
            pieces.append(current)
            current = ""
        current = f"{current} {sentence}".strip() if current else sentence
    if current:
        pieces.append(current)
    return pieces


def pcm_wav(audio: bytes) -> tuple[tuple[int, int, int], bytes] | None:
    """((channels, sample width, rate), PCM frames) of a RIFF/WAVE answer, reading the chunks
    ourselves: a streamed WAV's chunk sizes are 0xFFFFFFFF (or 0), so the data chunk runs to
    the end of what arrived. None when it is not integer PCM (then ffmpeg converts it)."""
    if len(audio) < 12 or audio[:4] != b"RIFF" or audio[8:12] != b"WAVE":
        return None
    fmt = None
    position = 12
    while position + 8 <= len(audio):
        chunk, size = audio[position:position + 4], struct.unpack("<I", audio[position + 4:position + 8])[0]
        body_start = position + 8
        if chunk == b"fmt " and size >= 16:
            tag, channels, rate, _, align, bits = struct.unpack("<HHIIHH", audio[body_start:body_start + 16])
            if tag == 0xFFFE and size >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag leads the GUID
                tag = struct.unpack("<H", audio[body_start + 24:body_start + 26])[0]
            if tag != 1 or bits not in (8, 16, 24, 32) or not channels or not rate:
                return None
            fmt = (channels, bits // 8, rate, align or channels * bits // 8)
        elif chunk == b"data":
            if fmt is None:
                return None
            available = len(audio) - body_start
            if size in (0, 0xFFFFFFFF) or size > available:  # a placeholder: stream to the end
                size = available
            size -= size % fmt[3]
            return (fmt[0], fmt[1], fmt[2]), audio[body_start:body_start + size]
        if size in (0xFFFFFFFF,) or body_start + size > len(audio):
            return None
        position = body_start + size + (size & 1)
    return None


def to_wav(audio: bytes, out: Path) -> None:
    """Write the service's audio as a WAV with true sizes in its header."""
    parsed = pcm_wav(audio)
    if parsed is not None:
        (channels, width, rate), frames = parsed
        with wave.open(str(out), "wb") as wav:
            wav.setnchannels(channels)
            wav.setsampwidth(width)
            wav.setframerate(rate)
            wav.writeframes(frames)
        return
    from ..files import ffmpeg_exe

    source = Path(str(out) + ".src")
    source.write_bytes(audio)
    try:
        done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                               "-i", str(source), "-ac", "1", "-ar", "24000", "-c:a", "pcm_s16le",
                               str(out)], capture_output=True, text=True, errors="replace")
        if done.returncode != 0:
            raise Transient(f"the speech service sent audio ffmpeg cannot read: "
                            f"{done.stderr.strip()[-200:]}")
    finally:
        source.unlink(missing_ok=True)


def join_wavs(parts: list[Path], out: Path) -> None:
    if len(parts) == 1:
        os.replace(parts[0], out)
        return
    with wave.open(str(parts[0])) as first:
        params = first.getparams()
    with wave.open(str(out), "wb") as target:
        target.setparams(params)
        for part in parts:
            with wave.open(str(part)) as wav:
                if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != \
                        (params.framerate, params.nchannels, params.sampwidth):
                    raise Transient("the speech service answered pieces in different formats")
                target.writeframes(wav.readframes(wav.getnframes()))
