"""Stage 6 — export (导出): narration per shot, then the clips joined in order with the
narration track and an .srt beside the video (one cue per shot)."""
from __future__ import annotations

import asyncio
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..db import now
from ..providers.base import SpeechRequest
from ..runner import Job, job_key
from .clips import clip_settings, current_key
from .common import produce, provider_identity, take


@dataclass(frozen=True)
class ExportRequest:
    clips: tuple[Path, ...]
    narrations: tuple[Path | None, ...]
    durations: tuple[float, ...]
    texts: tuple[str, ...]


class Compositor:
    """Joins clips and narration locally; recorded in the call log like any other work."""

    name = "local-compositor"
    kind = "export"
    model = "ffmpeg"
    concurrency = 1

    async def compose(self, request: ExportRequest, out_path: Path) -> None:
        from ..render.compose import concat_video, narration_track

        def work():
            track = out_path.with_suffix(".narration.wav")
            try:
                narration_track(list(request.narrations), list(request.durations), track)
                concat_video(list(request.clips), track, out_path)
            finally:
                track.unlink(missing_ok=True)

        await asyncio.to_thread(work)


COMPOSITOR = Compositor()


def plan_narration(project) -> list[Job]:
    shots = project.shots()
    if not shots:
        raise ValueError("the project has no shots: run the storyboard stage or add shots by hand")
    provider = project.provider("tts")
    return [_narration_job(project, provider, shot) for shot in shots]


def narration_key(project, provider, shot) -> tuple[str, SpeechRequest]:
    request = SpeechRequest(text=shot["narration"], language=project.row["language"])
    return job_key("narration", **request.__dict__, **provider_identity(provider),
                   take=take(project, "export")), request


def _narration_job(project, provider, shot) -> Job:
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
        seconds, call_id, name = await produce(project, provider, "speak", request,
                                               stage="export", key=key, ext="wav")
        db["narrations"].insert({"project_id": project.id, "shot_id": shot["id"], "key": key,
                                 "media": name, "duration_s": seconds,
                                 "provider": project.studio.served_by(call_id),
                                 "status": "done", "retries": 0, "created": now()})

    return Job("export", key, f"shot {shot['seq']} narration", run, done, shot_id=shot["id"],
               limit=provider.name, cap=provider.concurrency)


def plan_video(project) -> list[Job]:
    db, media, row = project.db, project.studio.media, project.row
    shots = project.shots()
    settings, tts = clip_settings(project, shots), project.provider("tts")
    clips, narrations = [], []
    for shot in shots:
        key, _ = current_key(project, shot, settings)
        clip = list(db["clips"].rows_where("key = ? and status = 'done'", [key], limit=1))
        if not key or not clip:
            raise ValueError(f"shot {shot['seq']} has no finished clip: run the clips stage first")
        clips.append(clip[0]["media"])
        voice_key, _ = narration_key(project, tts, shot)
        voice = list(db["narrations"].rows_where("key = ? and status = 'done'", [voice_key], limit=1))
        narrations.append(voice[0]["media"] if voice else None)
    durations = [s["duration_s"] for s in shots]
    texts = [s["narration"] for s in shots]
    key = job_key("export", clips=clips, narrations=narrations, durations=durations, texts=texts,
                  take=take(project, "export"))
    destination = Path(project.studio.exports_dir) / f"{_slug(row['name'])}-{project.id}.mp4"

    def done() -> bool:
        found = list(db["exports"].rows_where("project_id = ? and key = ? and status = 'done'",
                                              [project.id, key], order_by="id desc", limit=1))
        if not found or not media.exists(found[0]["video"]):
            return False
        _publish(media, found[0]["video"], found[0]["subtitles"], destination)
        db["exports"].update(found[0]["id"], {"published": now(), "path": str(destination),
                                              "srt_path": str(destination.with_suffix(".srt"))})
        return True

    async def run() -> None:
        from ..render.compose import cues_for, write_srt

        request = ExportRequest(tuple(media.path(c) for c in clips),
                                tuple(media.path(n) if n else None for n in narrations),
                                tuple(durations), tuple(texts))
        _, call_id, video = await produce(project, COMPOSITOR, "compose", request, stage="export",
                                          key=key, ext="mp4",
                                          describe={"clips": clips, "narrations": narrations})
        srt = media.scratch(".srt")
        write_srt(cues_for(durations, texts), srt)
        subtitles = media.add(srt, "srt")
        _publish(media, video, subtitles, destination)
        db["exports"].insert({"project_id": project.id, "key": key, "video": video,
                              "subtitles": subtitles, "path": str(destination),
                              "srt_path": str(destination.with_suffix(".srt")),
                              "duration_s": sum(durations), "status": "done", "created": now(),
                              "published": now()})

    return [Job("export", key, "final video", run, done, limit=COMPOSITOR.name, cap=1)]


def _publish(media, video: str, subtitles: str, destination: Path) -> None:
    """Place the video and its .srt under a readable name (hard links into the media store)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    for name, target in ((video, destination), (subtitles, destination.with_suffix(".srt"))):
        source = media.path(name)
        if target.exists() and target.stat().st_ino == source.stat().st_ino:
            continue
        temp = target.with_name(f".{target.name}.tmp")
        temp.unlink(missing_ok=True)
        try:
            os.link(source, temp)
        except OSError:
            shutil.copyfile(source, temp)
        os.replace(temp, target)


def _slug(name: str) -> str:
    slug = re.sub(r"[^\w\u4e00-\u9fff]+", "-", name).strip("-").lower()
    return slug[:40] or "story"
