"""Stage 6 — export (导出): the clips joined in order with the final sound (narration placed
where each shot's line starts, background music ducked under it, loudness normalised), an .srt
(one cue per caption page) and a word-timed .ass (karaoke \\k) beside the video, then a check of
the result (storynb.check). The narration itself is made in the clips stage (stages.narration)."""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..db import now
from ..errors import StageFailed
from ..media import place
from ..runner import Job, job_key
from ..timeline import write_handoff
from .clips import clip_settings, current_key, timed_shot
from .common import produce, take
from .narration import LEAD_S

MIX_VERSION = 4  # bump when the same inputs would sound different


@dataclass(frozen=True)
class ExportRequest:
    clips: tuple[Path, ...]
    narrations: tuple[Path | None, ...]
    durations: tuple[float, ...]
    texts: tuple[str, ...]
    loudness: float = -16.0
    music: Path | None = None  # a user's file; None with music_builtin for the generated pad
    music_builtin: bool = False
    music_level_db: float = -18.0
    seed: int = 0
    sound: dict = field(default_factory=dict, compare=False)  # filled in: what the mix measured


class Compositor:
    """Joins clips and the final sound locally; recorded in the call log like any other work."""

    name = "local-compositor"
    kind = "export"
    model = "ffmpeg"
    concurrency = 1

    async def compose(self, request: ExportRequest, out_path: Path) -> dict:
        from ..render.compose import concat_video

        def work():
            mixed = out_path.with_suffix(".mix.wav")
            try:
                sound = mix_sound(request, mixed)
                concat_video(list(request.clips), mixed, out_path)
                return sound
            finally:
                mixed.unlink(missing_ok=True)

        return await asyncio.to_thread(work)


COMPOSITOR = Compositor()


def mix_sound(request: ExportRequest, out_path: Path) -> dict:
    """The final sound track: narration at each shot's start + LEAD_S, the music ducked under it,
    normalised to the loudness target in two passes."""
    import numpy as np

    from .. import audio
    from ..render.compose import read_wav

    sr = audio.SAMPLE_RATE
    bounds = np.rint(np.concatenate([[0], np.cumsum(request.durations)]) * sr).astype(np.int64)
    voice = np.zeros(int(bounds[-1]), np.float32)
    for wav, a, b in zip(request.narrations, bounds[:-1], bounds[1:]):
        if wav is None:
            continue
        data = read_wav(wav, sr)
        start = int(a + LEAD_S * sr)
        n = max(0, int(b) - start)
        voice[start:start + min(n, len(data))] = data[:n]
    track = voice
    if request.music is not None or request.music_builtin:
        seconds = len(voice) / sr
        music = (audio.fit_music(audio.decode(request.music, sr), seconds, sr) if request.music
                 else audio.pad(seconds, sr, request.seed))
        track = voice + audio.duck(voice, music[:len(voice)], request.music_level_db, sr)
    raw = out_path.with_suffix(".raw.wav")
    try:
        audio.write_wav(raw, track / max(1.0, float(np.abs(track).max(initial=0))), sr)
        measured = audio.loudnorm(raw, out_path, request.loudness)
    finally:
        raw.unlink(missing_ok=True)
    return {"measured_input_lufs": float(measured["input_i"])}


def sound_settings(project) -> dict:
    row = project.row
    music = row.get("music") or ""
    return {"loudness": float(row.get("loudness_lufs") or -16.0),
            "music": music if music not in ("", "builtin", "none") else None,
            "music_builtin": music == "builtin",
            "music_level_db": float(row["music_level_db"]) if row.get("music_level_db") is not None else -18.0}


def finished_shots(project, shots, settings) -> tuple[list, list, list, list, list]:
    """Per shot: its finished clip, its narration (None: silent), its length, its caption pages
    and what the narrator said about it; ValueError names a shot without a finished clip."""
    clips, narrations, lengths, pages, spokens = [], [], [], [], []
    for shot in shots:
        key, _ = current_key(project, shot, settings)
        clip = list(project.db["clips"].rows_where("key = ? and status = 'done'", [key], limit=1))
        if not key or not clip:
            raise StageFailed(f"shot {shot['seq']} has no finished clip: run the clips stage first")
        clips.append(clip[0]["media"])
        spoken = (settings.spoken or {}).get(shot["id"])
        spokens.append(spoken)
        narrations.append(spoken["media"] if spoken and spoken["engine"] != "silent" else None)
        length, shot_pages = timed_shot(shot, spoken, settings.fps)
        lengths.append(length)
        pages.append(shot_pages)
    return clips, narrations, lengths, pages, spokens


def plan_video(project) -> list[Job]:
    db, media, row = project.db, project.studio.media, project.row
    shots = project.shots()
    settings = clip_settings(project, shots)
    clips, narrations, lengths, pages, spokens = finished_shots(project, shots, settings)
    warnings = [f"shot {shot['seq']}: no narration voice (the line is silent)"
                for shot, spoken in zip(shots, spokens)
                if (shot["narration"] or "").strip() and (not spoken or spoken["engine"] == "silent")]
    if any(w.endswith("(the line is silent)") for w in warnings):
        from ..providers.offline.narrator import LocalNarrator

        why = LocalNarrator.missing(row["language"])
        warnings = [f"the video is NOT narrated: {why or 'the voice produced silence'}"] + warnings
    missing = _missing_glyphs(settings, shots)
    if missing:
        warnings.append(f"left out of the burned-in subtitles (no installed font has them; kept in "
                        f"the .srt and .ass): {missing}")
    sound = sound_settings(project)
    texts = [s["narration"] for s in shots]
    key = job_key("export", clips=clips, narrations=narrations, durations=lengths, texts=texts,
                  pages=[[(p["text"], round(p["start"], 3)) for p in ps] for ps in pages],
                  sound=sound, mix=MIX_VERSION, take=take(project, "export"))
    destination = Path(project.studio.exports_dir) / f"{file_slug(row['name'])}-{project.id}.mp4"
    handoff = lambda: write_handoff(project, destination, clips=clips, narrations=narrations,  # noqa: E731
                                    durations=lengths, subtitles=destination.with_suffix(".srt"),
                                    music=sound["music"], voice_offset=LEAD_S, export_key=key)

    def done() -> bool:
        found = list(db["exports"].rows_where("project_id = ? and key = ? and status = 'done'",
                                              [project.id, key], order_by="id desc", limit=1))
        if not found or not media.exists(found[0]["video"]):
            return False
        publish(media, found[0]["video"], found[0]["subtitles"], destination, found[0].get("ass"))
        db["exports"].update(found[0]["id"], {"published": now(), "path": str(destination),
                                              "srt_path": str(destination.with_suffix(".srt")),
                                              "ass_path": str(destination.with_suffix(".ass"))})
        handoff()  # the editors' timeline (.otio, FCP XML, EDL, stems) beside the video
        return True

    async def run() -> None:
        from ..check import check_export
        from ..render.compose import cues_from_pages, write_ass, write_srt

        request = ExportRequest(tuple(media.path(c) for c in clips),
                                tuple(media.path(n) if n else None for n in narrations),
                                tuple(lengths), tuple(texts), sound["loudness"],
                                media.path(sound["music"]) if sound["music"] else None,
                                sound["music_builtin"], sound["music_level_db"], int(row["seed"] or 0))
        if request.music is not None and not request.music.exists():
            raise StageFailed("the project's music file is missing from the media store: "
                             "set the music again (or turn it off)")
        _, call_id, video = await produce(project, COMPOSITOR, "compose", request, stage="export",
                                          key=key, ext="mp4",
                                          describe={"clips": clips, "narrations": narrations})
        cues = cues_from_pages(lengths, pages)
        srt, ass = media.scratch(".srt"), media.scratch(".ass")
        write_srt(cues, srt)
        write_ass(cues, ass, row["width"], row["height"], settings.font)
        subtitles, ass_name = media.add(srt, "srt"), media.add(ass, "ass")
        publish(media, video, subtitles, destination, ass_name)
        export_id = db["exports"].insert({
            "project_id": project.id, "key": key, "video": video, "subtitles": subtitles,
            "ass": ass_name, "path": str(destination), "srt_path": str(destination.with_suffix(".srt")),
            "ass_path": str(destination.with_suffix(".ass")), "duration_s": sum(lengths),
            "warnings": json.dumps(warnings, ensure_ascii=False),
            "narrated": int(not any("NOT narrated" in w for w in warnings)),
            "status": "done", "created": now(), "published": now()}).last_pk
        await asyncio.to_thread(check_export, project, export_id)
        handoff()  # the editors' timeline (.otio, FCP XML, EDL, stems) beside the video

    return [Job("export", key, "final video", run, done, limit=COMPOSITOR.name, cap=1)]


def _missing_glyphs(settings, shots) -> str:
    if not settings.burn:
        return ""
    from ..render.subtitles import describe_missing

    return describe_missing("".join(s["narration"] or "" for s in shots), settings.font)


def publish(media, video: str, subtitles: str, destination: Path, ass: str | None = None) -> None:
    """Place the video, its .srt and .ass under a readable name (hard links into the media store)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    for name, target in ((video, destination), (subtitles, destination.with_suffix(".srt")),
                         (ass, destination.with_suffix(".ass"))):
        if not name:
            continue
        place(media.path(name), target)


def file_slug(name: str) -> str:
    slug = re.sub(r"[^\w\u4e00-\u9fff]+", "-", name).strip("-").lower()
    return slug[:40] or "story"
