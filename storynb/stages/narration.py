"""Narration (旁白配音): each shot's spoken line, made before the clips are rendered.

It is the first phase of the clips stage because the clips need it: a shot lasts at least as
long as its spoken line (see `shot_length`), and the burned-in captions follow the real speech
timing (the word timings the narrator gives, see storynb.providers.offline.narrator).

Rule for shot lengths: the storyboard's `duration_s` is a minimum. A shot lasts
max(duration_s, LEAD_S + speech + TAIL_S), rounded up to whole frames, where speech is the
length of the narration's WAV: the line starts LEAD_S into its shot and is followed by a pause of
at least TAIL_S before the next shot, so no line is cut off or runs into the next shot.
"""
from __future__ import annotations

import json
import math

from ..db import now
from ..providers.base import SpeechRequest
from ..routing import served_by
from ..errors import StageFailed
from ..runner import Job, job_key
from .common import produce, provider_identity, take

LEAD_S = 0.3  # the line starts this long after its shot starts
TAIL_S = 0.5  # and leaves at least this pause before the next shot


def plan(project) -> list[Job]:
    shots = project.shots()
    if not shots:
        raise StageFailed("the project has no shots: run the storyboard stage or add shots by hand")
    provider = project.provider("tts")
    return [_job(project, provider, shot) for shot in shots]


def voice_identity(project, provider) -> dict:
    """The voice that will speak (part of the key): the offline narrator names the voice and
    whether it is installed, so installing the voices later redoes the silent narrations."""
    members = getattr(provider, "members", None)
    single = members[0].provider if members and len(members) == 1 else provider
    identity = getattr(single, "voice_identity", None)
    return identity(project.row["language"]) if callable(identity) else {}


def narration_key(project, provider, shot, voice: dict | None = None) -> tuple[str, SpeechRequest]:
    request = SpeechRequest(text=shot["narration"], language=project.row["language"])
    voice = voice_identity(project, provider) if voice is None else voice
    return job_key("narration", **request.__dict__, **provider_identity(provider), **voice,
                   take=take(project, "clips")), request


def _job(project, provider, shot) -> Job:
    db, media = project.db, project.studio.media
    key, request = narration_key(project, provider, shot)

    def done() -> bool:
        found = list(db["narrations"].rows_where("key = ? and status = 'done'", [key],
                                                 order_by=f"shot_id = {int(shot['id'])} desc", limit=1))
        if not found or not media.exists(found[0]["media"]):
            return False
        if found[0]["shot_id"] != shot["id"]:  # made for another shot or project: link a copy
            copy = {k: v for k, v in found[0].items() if k != "id"}
            db["narrations"].insert({**copy, "project_id": project.id, "shot_id": shot["id"],
                                     "created": now()})
        return True

    async def run() -> None:
        from ..providers.offline.narrator import read_info

        seconds, call_id, name = await produce(project, provider, "speak", request,
                                               stage="clips", key=key, ext="wav")
        # The offline narrator writes its word timings into the WAV (so they survive any
        # executor); a service that gives none gets them shared out by characters.
        info = read_info(media.path(name))
        words = info.get("words") or getattr(seconds, "words", None) or \
            estimate_words(shot["narration"], float(seconds))
        db["narrations"].insert({
            "project_id": project.id, "shot_id": shot["id"], "key": key, "media": name,
            "duration_s": float(seconds), "provider": served_by(project.db, call_id),
            "words": json.dumps(words, ensure_ascii=False),
            "engine": info.get("engine") or getattr(seconds, "engine", "") or "service",
            "voice": info.get("voice") or getattr(seconds, "voice", ""),
            "status": "done", "retries": 0, "created": now()})

    return Job("clips", key, f"shot {shot['seq']} narration", run, done, shot_id=shot["id"],
               limit=provider.name, cap=provider.concurrency)


def estimate_words(text: str, seconds: float) -> list[dict]:
    """Word timings for a service that gives none: the time shared out by characters (CJK
    characters one by one, other words whole), leaving a short margin at both ends."""
    from ..render.subtitles import tokens_of

    tokens, pos = [], 0
    for tok in tokens_of(text):
        start = text.find(tok, pos)
        pos = start + len(tok)
        if not tok.isspace():
            tokens.append((tok, start))
    if not tokens:
        return []
    lo, hi = min(0.1, seconds * 0.05), max(0.0, seconds - min(0.2, seconds * 0.05))
    total = sum(len(t) for t, _ in tokens)
    out: list[dict] = []
    acc = 0.0
    for tok, char in tokens:
        begins = lo + (hi - lo) * acc / total
        acc += len(tok)
        out.append({"text": tok, "start": begins, "end": lo + (hi - lo) * acc / total, "char": char})
    return out


def spoken(project, shots, provider=None) -> list[dict | None]:
    """Each shot's finished narration row (None when it is not made yet), words parsed."""
    provider = provider or project.provider("tts")
    voice = voice_identity(project, provider)
    out: list[dict | None] = []
    for shot in shots:
        key, _ = narration_key(project, provider, shot, voice)
        rows = list(project.db["narrations"].rows_where("key = ? and status = 'done'", [key],
                                                       order_by="id desc", limit=1))
        if rows:
            row = dict(rows[0])
            row["words"] = json.loads(row.get("words") or "[]")
            out.append(row)
        else:
            out.append(None)
    return out


def shot_length(duration_s: float, speech_s: float | None, fps: int) -> float:
    """How long a shot lasts: its storyboard duration, or longer so its line fits (module doc)."""
    wanted = max(float(duration_s or 0), (LEAD_S + speech_s + TAIL_S) if speech_s else 0.0, 1.0 / fps)
    return math.ceil(round(wanted * fps, 6)) / fps
