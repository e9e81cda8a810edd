"""`openai_tts`: OpenAI-style text to speech (POST /audio/speech; also served by some local
servers). The offline narrator stays the default; this is for projects that choose a real voice.

The answer is raw audio. WAV is asked for; anything else (mp3 …) is converted with ffmpeg.
Narration longer than the service's limit (param `max_chars`, 4096) is spoken in pieces and joined.
Params: voice, speed, instructions, response_format, max_chars.
"""
from __future__ import annotations

import asyncio
import os
import re
import subprocess
import wave
from pathlib import Path

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
        parts: list[Path] = []
        try:
            for number, piece in enumerate(pieces):
                body = {"model": self.model or "tts-1", "input": piece,
                        "voice": request.voice or self.params.get("voice", "alloy"),
                        "response_format": self.params.get("response_format", "wav"),
                        "speed": float(self.params.get("speed", request.speed or 1.0))}
                if self.params.get("instructions"):
                    body["instructions"] = self.params["instructions"]
                audio = await self.request("POST", "/audio/speech", json_body=body, expect="bytes")
                part = Path(f"{out_path}.part{number}.wav")
                await asyncio.to_thread(to_wav, audio, part)
                parts.append(part)
            await asyncio.to_thread(join_wavs, parts, Path(out_path))
        finally:
            for part in parts:
                part.unlink(missing_ok=True)
        context = CALL.get()
        if context is not None:
            context.units["characters"] = len(request.text)
        with wave.open(str(out_path)) as wav:
            return wav.getnframes() / float(wav.getframerate())

    async def check(self) -> dict:
        data = await self.request("GET", "/models", timeout=min(self.timeout, 20))
        return {"models": len((data or {}).get("data") or [])}


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


def to_wav(audio: bytes, out: Path) -> None:
    if audio[:4] == b"RIFF" and audio[8:12] == b"WAVE":
        out.write_bytes(audio)
        try:
            with wave.open(str(out)) as wav:
                wav.getnframes()
            return
        except (wave.Error, EOFError):
            pass  # streamed WAVs with placeholder sizes: let ffmpeg rewrite them
    from ..render.compose import ffmpeg_exe

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
