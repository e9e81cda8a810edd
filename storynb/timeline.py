"""Hand-off to video editors: an OpenTimelineIO timeline beside every export.

`write_handoff(project, ...)` writes, next to the published `<name>.mp4`:

- `<name>.otio`     the timeline: a video track with one clip per shot (exact frame counts), a
                    narration track (each shot's narration where the shot starts, gaps between),
                    a music track when the export has background music, and the subtitles as
                    markers on the timeline (one per cue of the published .srt);
- `<name>.fcp.xml`  the same timeline as Final Cut Pro 7 XML (Premiere, Resolve, Final Cut Pro X
                    through its XML import), written by OTIO's `fcp_xml` adapter;
- `<name>.edl`      the video track as a CMX 3600 EDL, written by OTIO's `cmx_3600` adapter
                    (both only at SMPTE timecode rates: 24, 25, 30, 48, 50, 60 fps; otherwise
                    the .otio's metadata says why they are missing);
- `<name>.stems/`   the media they point to: `shot_001.mp4 …` (the clips), `narration_001.wav …`
                    and, when there is one, `music.<ext>`: hard links into the media store.

Everything is built from the studio's rows (shots, clips, narrations, the export row). The export
stage calls it after publishing the video; `handoff_files(project)` lists what was written.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .files import atomic_path
from .errors import StageFailed
from .media import place

ADAPTERS = {"otio": "otio_json", "fcp.xml": "fcp_xml", "edl": "cmx_3600"}
SMPTE_RATES = (24, 25, 30, 48, 50, 60)  # whole-frame rates SMPTE timecode (FCP XML, EDL) counts


@dataclass
class Handoff:
    otio: Path
    fcp_xml: Path
    edl: Path
    stems: Path

    def paths(self) -> dict[str, Path]:
        return {"otio": self.otio, "fcp_xml": self.fcp_xml, "edl": self.edl, "stems": self.stems}


def handoff_paths(video: Path) -> Handoff:
    video = Path(video)
    base = video.with_suffix("")
    return Handoff(Path(f"{base}.otio"), Path(f"{base}.fcp.xml"), Path(f"{base}.edl"),
                   Path(f"{base}.stems"))


def build_timeline(project, *, clips: list[Path], narrations: list[Path | None],
                   frames: list[int], narration_seconds: list[float | None], name: str,
                   cues: Sequence[tuple[float, float, str]] = (), music: Path | None = None,
                   export_key: str = "", voice_offset: float = 0.0):
    """An OTIO timeline: one video clip per shot lasting exactly `frames[i]` frames at the
    project's fps, the narration track and optional music track, subtitle cues as markers."""
    import opentimelineio as otio

    fps = float(project.row["fps"])
    rt = lambda n: otio.opentime.RationalTime(n, fps)
    span = lambda start, n: otio.opentime.TimeRange(rt(start), rt(n))
    timeline = otio.schema.Timeline(name=name, global_start_time=rt(0))
    timeline.metadata["storynb"] = {"project_id": project.id, "export_key": export_key,
                                    "fps": fps}
    video = otio.schema.Track(name="Video", kind=otio.schema.TrackKind.Video)
    voice = otio.schema.Track(name="Narration", kind=otio.schema.TrackKind.Audio)
    shots = project.shots()
    for i, (clip, count) in enumerate(zip(clips, frames)):
        seq = shots[i]["seq"] if i < len(shots) else i + 1
        ref = otio.schema.ExternalReference(target_url=Path(clip).resolve().as_uri(),
                                            available_range=span(0, count))
        video.append(otio.schema.Clip(name=f"shot {seq:03d}", media_reference=ref,
                                      source_range=span(0, count),
                                      metadata={"storynb": {"seq": seq}}))
        wav, seconds = narrations[i], narration_seconds[i]
        lead = min(count, round(voice_offset * fps)) if wav is not None else 0
        used = min(count - lead, round((seconds or 0) * fps)) if wav is not None else 0
        if lead > 0 and used > 0:  # the voice starts a moment after its shot (as in the mix)
            voice.append(otio.schema.Gap(source_range=span(0, lead)))
        else:
            lead = 0
        if used > 0 and wav is not None:
            ref = otio.schema.ExternalReference(target_url=Path(wav).resolve().as_uri(),
                                                available_range=span(0, round((seconds or 0) * fps)))
            voice.append(otio.schema.Clip(name=f"narration {seq:03d}", media_reference=ref,
                                          source_range=span(0, used)))
        if count - lead - used > 0:
            voice.append(otio.schema.Gap(source_range=span(0, count - lead - used)))
    timeline.tracks.append(video)
    timeline.tracks.append(voice)
    total = sum(frames)
    if music is not None:
        ref = otio.schema.ExternalReference(target_url=Path(music).resolve().as_uri())
        track = otio.schema.Track(name="Music", kind=otio.schema.TrackKind.Audio)
        track.append(otio.schema.Clip(name="music", media_reference=ref,
                                      source_range=span(0, total)))
        timeline.tracks.append(track)
    for start, end, text in cues:
        first = min(total, round(start * fps))
        length = max(1, min(total, round(end * fps)) - first)
        timeline.tracks.markers.append(otio.schema.Marker(
            name=text, marked_range=span(first, length), color=otio.schema.MarkerColor.YELLOW,
            metadata={"storynb": {"subtitle": text}}))
    return timeline


def read_srt(path: Path) -> list[tuple[float, float, str]]:
    """The cues of an .srt file as (start, end, text)."""
    stamp = r"(\d+):(\d+):(\d+)[,.](\d+)"
    seconds = lambda m, o: int(m[o]) * 3600 + int(m[o + 1]) * 60 + int(m[o + 2]) + int(m[o + 3]) / 1000
    cues = []
    for block in re.split(r"\n\s*\n", Path(path).read_text(encoding="utf-8-sig").strip()):
        lines = block.strip().splitlines()
        for i, line in enumerate(lines):
            m = re.match(rf"\s*{stamp}\s*-->\s*{stamp}", line)
            if m:
                cues.append((seconds(m, 1), seconds(m, 5), "\n".join(lines[i + 1:]).strip()))
                break
    return cues


def write_handoff(project, video: Path, *, clips: list[str], narrations: list[str | None],
                  durations: list[float] | None = None, subtitles: Path | None = None,
                  music: str | None = None, voice_offset: float = 0.0,
                  export_key: str = "") -> Handoff:
    """Write the .otio, .fcp.xml, .edl and the stems folder beside `video` (media names are the
    studio's; paths are placed in the stems folder as hard links). Skips what is up to date."""
    import opentimelineio as otio

    media = project.studio.media
    out = handoff_paths(video)
    fps = project.row["fps"]
    if export_key and out.otio.exists() and (
            (out.edl.exists() and out.fcp_xml.exists()) or fps not in SMPTE_RATES):
        try:
            old = otio.adapters.read_from_file(str(out.otio))
            if old.metadata.get("storynb", {}).get("export_key") == export_key:
                return out
        except Exception:  # an unreadable old file is simply written again
            pass
    frames: list[int | None] = []
    for name in clips:
        row = project.db.execute("select duration_s, fps from clips where media = ? and "
                                 "status = 'done' order by id desc limit 1", [name]).fetchone()
        frames.append(round(row[0] * row[1]) if row else None)
    if durations is not None:
        frames = [f if f is not None else round(d * fps) for f, d in zip(frames, durations)]
    whole = [f for f in frames if f is not None]
    if len(whole) != len(frames):
        raise StageFailed("a clip of the export is not in the studio: run the clips stage again")
    out.stems.mkdir(parents=True, exist_ok=True)
    clip_paths: list[Path] = []
    voice_paths: list[Path | None] = []
    voice_seconds: list[float | None] = []
    for i, name in enumerate(clips, start=1):
        clip_paths.append(_place(media.path(name), out.stems / f"shot_{i:03d}.mp4"))
    for i, wav_name in enumerate(narrations, start=1):
        if not wav_name:
            voice_paths.append(None)
            voice_seconds.append(None)
            continue
        row = project.db.execute("select duration_s from narrations where media = ? and "
                                 "status = 'done' order by id desc limit 1", [wav_name]).fetchone()
        voice_paths.append(_place(media.path(wav_name), out.stems / f"narration_{i:03d}.wav"))
        voice_seconds.append(row[0] if row and row[0] else _wav_seconds(media.path(wav_name)))
    music_path: Path | None = None
    if music:
        music_path = _place(media.path(music), out.stems / f"music{Path(music).suffix or '.wav'}")
    cues = read_srt(subtitles) if subtitles and Path(subtitles).exists() else []
    timeline = build_timeline(project, clips=clip_paths, narrations=voice_paths, frames=whole,
                              narration_seconds=voice_seconds, name=Path(video).stem, cues=cues,
                              music=music_path, export_key=export_key,
                              voice_offset=voice_offset)
    if otio.opentime.RationalTime.is_valid_timecode_rate(fps):
        _write(timeline, out.fcp_xml, "fcp_xml")
        edl = otio.schema.Timeline(name=timeline.name, global_start_time=timeline.global_start_time)
        edl.tracks.append(timeline.video_tracks()[0].deepcopy())  # CMX 3600: one video track
        _write(edl, out.edl, "cmx_3600")
    else:  # both count SMPTE timecode, which has no such rate: say so instead of rounding
        out.edl.unlink(missing_ok=True)
        out.fcp_xml.unlink(missing_ok=True)
        reason = (f"FCP XML and CMX 3600 EDLs count SMPTE timecode, which has no {fps} fps; make "
                  "the project at 24, 25, 30, 48, 50 or 60 fps for them (the .otio is exact)")
        timeline.metadata["storynb"]["skipped"] = {"fcp_xml": reason, "edl": reason}
    _write(timeline, out.otio, "otio_json")  # last: its export key marks the set as complete
    return out


def _write(timeline, path: Path, adapter: str) -> None:
    import opentimelineio as otio

    with atomic_path(path, suffix=path.suffix) as temp:
        otio.adapters.write_to_file(timeline, str(temp), adapter_name=adapter)


def _place(source: Path, target: Path) -> Path:
    return place(source, target)


def _wav_seconds(path: Path) -> float:
    import wave

    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def remove_handoff(video: Path) -> None:
    """Delete the hand-off files of a published video (the media store keeps its files)."""
    out = handoff_paths(video)
    for path in (out.otio, out.fcp_xml, out.edl):
        path.unlink(missing_ok=True)
    if out.stems.is_dir():
        shutil.rmtree(out.stems, ignore_errors=True)


def handoff_files(project) -> dict[str, Path]:
    """The hand-off files of the project's latest export ({} before the first export)."""
    export = project.latest_export()
    if export is None or not export.get("path"):
        return {}
    return {k: p for k, p in handoff_paths(Path(export["path"])).paths().items() if p.exists()}
