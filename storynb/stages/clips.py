"""Stage 5 — clips (图生视频): each shot's chosen image animated with its camera movement.
With burned-in subtitles on (the default) the shot's narration is drawn into its clip, so the
export only has to join clips, and editing one shot re-renders one clip."""
from __future__ import annotations

import json
from typing import Any
from dataclasses import dataclass
from pathlib import Path

from ..db import now, writing
from ..providers.base import VideoRequest
from ..routing import served_by
from ..errors import StageFailed
from ..runner import Job, job_key
from .common import produce, provider_identity, record_failure, take


def subtitle_font(project, shots) -> str | None:
    """A font with every glyph the subtitles need (or the user's font, checked)."""
    if not project.row["burn_subtitles"]:
        return None
    from ..render.subtitles import MissingGlyphsError, resolve_font, find_font

    text = "".join(s["narration"] for s in shots)
    try:
        return find_font(text, project.row["font"] or None)
    except MissingGlyphsError:  # the user's font lacks some: they are left out, with a warning
        return resolve_font(project.row["font"])


@dataclass(frozen=True)
class ClipSettings:
    """What every shot's clip shares, read once per plan (not once per shot)."""

    provider: Any  # the image2video route
    width: int
    height: int
    fps: int
    burn: bool
    font: str | None
    still: bool  # the camera stage is skipped: every shot holds still
    identity: dict
    take: int
    spoken: dict | None = None  # shot id -> its narration row (words, duration), see stages.narration
    highlight: bool = False
    fonts: tuple = ()  # the caption font and its fallbacks (their names are in the clip keys)


def clip_settings(project, shots) -> ClipSettings:
    from .narration import spoken

    row, provider = project.row, project.provider("image2video")
    font = subtitle_font(project, shots)
    fonts: tuple[str, ...] = ()
    if font:
        from ..render.subtitles import font_chain

        fonts = tuple(Path(f).name for f in font_chain("".join(s["narration"] or "" for s in shots), font))
    return ClipSettings(provider, row["width"], row["height"], row["fps"],
                        bool(row["burn_subtitles"]), font,
                        project.status().get("camera") == "skipped", provider_identity(provider),
                        take(project, "clips"),
                        {s["id"]: n for s, n in zip(shots, spoken(project, shots))},
                        bool(row.get("highlight_words")), fonts)


def timed_shot(shot: dict, narration: dict | None, fps: int) -> tuple[float, list[dict]]:
    """A shot's length (fitted to its spoken line, see stages.narration) and its caption pages,
    timed from the clip's start by the narration's word timings (estimated when it has none)."""
    from ..render.subtitles import paginate
    from .narration import LEAD_S, estimate_words, shot_length

    speech = narration["duration_s"] if narration else None
    length = shot_length(shot["duration_s"], speech, fps)
    words = (narration or {}).get("words") or estimate_words(
        shot["narration"] or "", speech or max(0.5, length - LEAD_S - 0.3))
    words = [{**w, "start": w["start"] + LEAD_S, "end": w["end"] + LEAD_S} for w in words]
    pages = paginate(words)
    for page in pages:
        page["end"] = min(page["end"], length)
    return length, pages


def plan(project) -> list[Job]:
    shots = project.shots()
    if not shots:
        raise StageFailed("the project has no shots: run the storyboard stage or add shots by hand")
    settings = clip_settings(project, shots)
    return [_job(project, settings, shot) for shot in shots]


def current_key(project, shot: dict, settings: ClipSettings) -> tuple[str, VideoRequest | None]:
    """The key of the clip this shot needs now (None if its image is not ready)."""
    db = project.db
    images = list(db["images"].rows_where("shot_id = ? and chosen = 1 and status = 'done'",
                                          [shot["id"]], limit=1))
    if not images:
        return "", None
    camera = [] if settings.still else list(db["camera"].rows_where("shot_id = ?", [shot["id"]], limit=1))
    movement, params = ((camera[0]["movement"], json.loads(camera[0]["params"])) if camera
                        else ("static", {}))
    font = settings.font
    length, pages = timed_shot(shot, (settings.spoken or {}).get(shot["id"]), settings.fps)
    captions = tuple(pages) if settings.burn else ()
    request = VideoRequest(image_path=project.studio.media.path(images[0]["media"]),
                           movement=movement, params=params, duration_s=length,
                           width=settings.width, height=settings.height, fps=settings.fps,
                           subtitle=shot["narration"] if settings.burn else "",
                           font_path=font, prompt=shot["image_prompt"], captions=captions,
                           highlight=settings.highlight and settings.burn)
    key = job_key("clips", image=images[0]["media"], movement=movement, params=params,
                  duration_s=length, width=settings.width, height=settings.height,
                  fps=settings.fps, subtitle=request.subtitle,
                  captions=[(p["text"], round(p["start"], 3), round(p["end"], 3),
                             [round(w["start"], 3) for w in p["words"]] if request.highlight else None)
                            for p in captions],
                  highlight=request.highlight, fonts=list(settings.fonts),
                  font=Path(font).name if font else None, **settings.identity, take=settings.take)
    return key, request


def _job(project, settings: ClipSettings, shot) -> Job:
    db, media = project.db, project.studio.media
    provider = settings.provider
    key, request = current_key(project, shot, settings)
    label = f"shot {shot['seq']} clip"

    def done() -> bool:
        found = list(db["clips"].rows_where("key = ? and status = 'done'", [key],
                                            order_by=f"shot_id = {int(shot['id'])} desc", limit=1))
        return bool(found) and media.exists(found[0]["media"]) and _attach(db, shot, found[0])

    async def run() -> None:
        if request is None:
            raise StageFailed(f"shot {shot['seq']} has no image: run the images stage (or choose one)")
        _, call_id, name = await produce(project, provider, "animate", request, stage="clips",
                                         key=key, ext="mp4")
        image = db["images"].rows_where("shot_id = ? and chosen = 1", [shot["id"]], limit=1)
        with writing(db):
            db["clips"].delete_where("key = ? and status = 'failed'", [key])
            db["clips"].insert({
                "project_id": project.id, "shot_id": shot["id"], "key": key,
                "image_id": (next(iter(image), None) or {}).get("id"), "media": name,
                "movement": request.movement, "params": json.dumps(request.params),
                "duration_s": request.duration_s, "width": request.width, "height": request.height,
                "fps": request.fps, "provider": served_by(project.db, call_id), "status": "done",
                "retries": 0,
                "created": now()})

    def failed(message: str) -> None:
        record_failure(db, "clips", key or None, message, {
            "project_id": project.id, "shot_id": shot["id"], "provider": provider.name})

    return Job("clips", key or f"missing-image-{shot['id']}", label, run, done, shot_id=shot["id"],
               limit=provider.name, cap=provider.concurrency, on_failure=failed)


def _attach(db, shot: dict, clip: dict) -> bool:
    """A finished clip with the right key made for another shot row is reused for this one."""
    if clip["shot_id"] != shot["id"]:
        copy = {k: v for k, v in clip.items() if k != "id"}
        db["clips"].insert({**copy, "project_id": shot["project_id"], "shot_id": shot["id"],
                            "created": now()})
    return True
