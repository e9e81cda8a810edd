"""Files that come in from outside (bundles, uploads, workflow files) are checked before use.

Every incoming file gets the same treatment:
- a size cap, enforced while the bytes stream in (a declared size is never trusted);
- its type sniffed from its first bytes, never taken from its name or extension;
- kept by content hash in the media store (`<sha256>.<ext>`): the sender's file name is only
  ever shown in messages, it never becomes a path;
- zip archives: caps on the number of members, their total uncompressed size and each member's
  compression ratio, checked from the central directory before anything is written, and
  enforced again while streaming each member.

    from storynb import intake
    name = intake.store(studio.media, upload_bytes, name="song.mp3", accept=intake.AUDIO,
                        max_bytes=50 * 1024 ** 2)        # -> "<sha256>.mp3", or InvalidInput
    text = intake.read_text(Path("flow.json"), name="flow.json", max_bytes=intake.MAX_WORKFLOW_BYTES)
"""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .errors import InvalidInput

CHUNK = 1 << 20
MiB = 1024 ** 2
GiB = 1024 ** 3

IMAGE = frozenset({"png", "jpg", "webp"})
AUDIO = frozenset({"wav", "mp3", "ogg", "flac", "m4a"})
VIDEO = frozenset({"mp4"})
ZIP = frozenset({"zip"})

MAX_IMAGE_PIXELS = 64_000_000      # an accepted image is at most 64 megapixels
MAX_WORKFLOW_BYTES = 2 * MiB       # a `--param k=@file` (a ComfyUI workflow …), read as text


# --- what a file is --------------------------------------------------------------------------

def sniff(head: bytes) -> str | None:
    """The type of a file from its first bytes (at least 12): png, jpg, webp, wav, mp3, ogg,
    flac, m4a, mp4, zip; None when it is none of these."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and (head[1] & 0xE6) in (0xE2, 0xE4, 0xE6)):
        return "mp3"  # an ID3 tag, or an MPEG audio frame sync with layer III/II/I bits
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"fLaC"):
        return "flac"
    if head[4:8] == b"ftyp":
        return "m4a" if head[8:12] in (b"M4A ", b"M4B ") else "mp4"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    return None


def looks_like_text(head: bytes) -> bool:
    """Plausibly UTF-8 text (subtitles, JSON): no NUL bytes, and it decodes (a character cut at
    the end of the sample is allowed)."""
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3
    return True


def _what(accept: Iterable[str]) -> str:
    return ", ".join(sorted(accept))


def _size(n: int) -> str:
    if n >= GiB:
        return f"{n / GiB:.1f} GB"
    if n >= MiB:
        return f"{n / MiB:.1f} MB"
    return f"{n} bytes"


# --- single files ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Incoming:
    """A received file: a scratch file in the media store (yours to `media.add` or delete),
    its sniffed type, size and sha256."""
    path: Path
    kind: str
    size: int
    sha256: str


def _chunks(source, name: str):
    """Blocks of bytes from bytes / bytearray / memoryview, a binary file object, or a local
    path given as a pathlib.Path (for the CLI: a path someone on the server typed). A str is
    refused: a name that came from outside must never be opened as a path by accident."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source).cast("B")
        for start in range(0, view.nbytes, CHUNK):
            yield view[start:start + CHUNK]
        return
    if isinstance(source, os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise InvalidInput(f"{name}: no such file (give the path of a file)")
        with open(path, "rb") as handle:
            yield from iter(lambda: handle.read(CHUNK), b"")
        return
    if hasattr(source, "read"):
        yield from iter(lambda: source.read(CHUNK), b"")
        return
    raise InvalidInput(f"{name}: expected the file's bytes, not {type(source).__name__}")


def receive(media, source, *, name: str, accept: Iterable[str], max_bytes: int) -> Incoming:
    """Stream an incoming file into a scratch file in the media store. Refused with InvalidInput
    (and nothing left behind) when it is empty, passes `max_bytes`, or its first bytes are not
    one of the `accept`ed types (see `sniff`). `name` is the sender's name, used in messages only."""
    accept = frozenset(accept)
    temp = media.scratch("")
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with open(temp, "wb") as out:
            for block in _chunks(source, name):
                size += len(block)
                if size > max_bytes:
                    raise InvalidInput(f"{name} is larger than {_size(max_bytes)}, the most this "
                                       "accepts: pick a smaller file")
                if len(head) < 64:
                    head += bytes(block[:64 - len(head)])
                digest.update(block)
                out.write(block)
        if size == 0:
            raise InvalidInput(f"{name} is empty")
        kind = sniff(head)
        if kind not in accept:
            found = f"a {kind} file" if kind else "not a file type storynb knows"
            raise InvalidInput(f"{name} is {found} (judged by its content, not its name); "
                               f"this accepts {_what(accept)}")
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return Incoming(temp, kind, size, digest.hexdigest())


def check_image(path: Path, *, name: str, max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[int, int]:
    """Decode an image's header and verify its data; refuse one larger than `max_pixels`
    (a decompression bomb). Returns (width, height)."""
    import warnings

    from PIL import Image

    too_big = (f"{name} is larger than {max_pixels // 1_000_000} megapixels, the most an image "
               "may have here")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the cap is below
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise InvalidInput(f"{too_big} ({width}x{height} pixels)")
                image.verify()
    except InvalidInput:
        raise
    except Image.DecompressionBombError:
        raise InvalidInput(too_big) from None
    except Exception as exc:
        raise InvalidInput(f"{name} is not a readable image ({type(exc).__name__}: "
                           f"{_one_line(str(exc))})") from None
    return width, height


def check_media(path: Path, kind: str, *, name: str) -> dict:
    """Ask ffmpeg what an audio or video file holds; refuse it when ffmpeg finds no stream
    of the kind (audio for audio files, video for mp4). Returns storynb.render.compose.probe's dict."""
    from .render.compose import probe

    what = "video" if kind in VIDEO else "audio"
    try:
        info = probe(path)
    except (ValueError, OSError) as exc:
        detail = _one_line(str(exc).replace(str(path), name))
        raise InvalidInput(f"{name} is not playable {what} (ffmpeg: {detail})") from None
    if not info.get(f"{what}_codec"):
        raise InvalidInput(f"{name} has no {what} stream")
    return info


def _one_line(text: str, limit: int = 200) -> str:
    """The last non-empty line of a (tool's) message, shortened: errors stay one line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[:limit - 3] + "..."


def store(media, source, *, name: str, accept: Iterable[str], max_bytes: int,
          verify: bool = True) -> str:
    """`receive` a file, check it decodes (images with Pillow and a pixel cap, audio and video
    with ffmpeg) unless verify=False, and keep it in the media store. Returns the stored media
    name, `<sha256>.<sniffed type>`."""
    incoming = receive(media, source, name=name, accept=accept, max_bytes=max_bytes)
    try:
        if verify and incoming.kind in IMAGE:
            check_image(incoming.path, name=name)
        elif verify and incoming.kind in AUDIO | VIDEO:
            check_media(incoming.path, incoming.kind, name=name)
        return media.add(incoming.path, incoming.kind)
    finally:
        incoming.path.unlink(missing_ok=True)


def read_text(source, *, name: str, max_bytes: int) -> str:
    """An incoming text file (bytes, a file object or a local path) as a str: capped while read,
    UTF-8 only, no NUL bytes."""
    data = bytearray()
    for block in _chunks(source, name):
        data += block
        if len(data) > max_bytes:
            raise InvalidInput(f"{name} is larger than {_size(max_bytes)}, the most this accepts")
    if b"\x00" in data:
        raise InvalidInput(f"{name} is not a text file (it holds NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name} is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None


def _no_constants(value):
    raise ValueError(f"{value} is not a number JSON allows")


def parse_json(text: str | bytes, *, name: str):
    """JSON with NaN/Infinity and absurd nesting refused, errors as InvalidInput."""
    try:
        return json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise InvalidInput(f"{name} is nested too deeply to be storynb data") from None
    except ValueError as exc:
        raise InvalidInput(f"{name} is not valid JSON: {exc}") from None


def read_json(source, *, name: str, max_bytes: int):
    return parse_json(read_text(source, name=name, max_bytes=max_bytes), name=name)


# --- zip archives ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ZipLimits:
    """Caps for an incoming zip. Checked from the central directory before anything is written,
    then again while each member streams out (a central directory can lie)."""
    max_members: int = 20_000
    max_total_bytes: int = 4 * GiB       # all members, uncompressed
    max_ratio: float = 100.0             # uncompressed / compressed, per member …
    ratio_floor: int = 1 * MiB           # … for members larger than this

    def describe(self) -> str:
        return (f"at most {self.max_members} files, {_size(self.max_total_bytes)} uncompressed "
                f"in all, and no file over {_size(self.ratio_floor)} compressed more than "
                f"{self.max_ratio:g}:1")


def open_zip(path, limits: ZipLimits, *, name: str) -> zipfile.ZipFile:
    """Open a zip after checking its end record: the number of members and the size of its
    central directory are capped before zipfile reads that directory into memory (millions of
    tiny entries would otherwise cost gigabytes before `check_zip` could count them). Raises
    zipfile.BadZipFile / OSError like zipfile.ZipFile for what is not a zip."""
    with open(path, "rb") as handle:
        # zipfile's own end-record reader (handles zip64): private, so typeshed does not list it
        end = zipfile._EndRecData(handle)  # type: ignore[attr-defined]
    if end is None:
        raise zipfile.BadZipFile("File is not a zip file")
    entries, directory = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]  # type: ignore[attr-defined]
    if entries > limits.max_members or directory > limits.max_members * 1024:
        raise InvalidInput(f"{name} holds {entries} files in a {_size(directory)} directory; at "
                           f"most {limits.max_members} are accepted ({limits.describe()})")
    return zipfile.ZipFile(path)


def check_zip(archive: zipfile.ZipFile, limits: ZipLimits, *, name: str) -> list[zipfile.ZipInfo]:
    """The members of an open zip, refused with InvalidInput when the archive passes a cap or a
    member is encrypted, uses another compression than stored/deflate, or repeats a name.
    Nothing is decompressed here."""
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise InvalidInput(f"{name} holds {len(infos)} files; at most {limits.max_members} are "
                           f"accepted ({limits.describe()})")
    seen: set[str] = set()
    total = 0
    for info in infos:
        member = info.filename
        if member in seen:
            raise InvalidInput(f"{name} holds {member!r} twice: it is not a file storynb wrote")
        seen.add(member)
        if info.flag_bits & 0x1:
            raise InvalidInput(f"{name}: {member!r} is encrypted; storynb reads unencrypted zips only")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise InvalidInput(f"{name}: {member!r} uses compression method {info.compress_type}; "
                               "storynb reads stored or deflated members only")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise InvalidInput(f"{name} expands to more than {_size(limits.max_total_bytes)}; "
                               f"refused before anything was written ({limits.describe()})")
        if info.file_size > limits.ratio_floor and \
                info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise InvalidInput(f"{name}: {member!r} expands {info.file_size / max(info.compress_size, 1):.0f}"
                               f" times ({_size(info.compress_size)} to {_size(info.file_size)}), "
                               f"more than {limits.max_ratio:g}:1: a zip bomb or not a storynb file; "
                               "refused before anything was written")
    return infos


def stream_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, out, *, name: str) -> tuple[int, str]:
    """Copy one member into a binary file object in blocks, never past the size its directory
    entry declares (which `check_zip` capped). Returns (bytes, sha256)."""
    digest = hashlib.sha256()
    size = 0
    try:
        with archive.open(info) as member:
            for block in iter(lambda: member.read(CHUNK), b""):
                size += len(block)
                if size > info.file_size:
                    raise InvalidInput(f"{name}: {info.filename!r} is larger than its directory "
                                       "entry says: the zip is forged or damaged")
                digest.update(block)
                out.write(block)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise InvalidInput(f"{name}: {info.filename!r} cannot be read ({exc}): the zip is "
                           "damaged or forged") from None
    if size != info.file_size:
        raise InvalidInput(f"{name}: {info.filename!r} holds {size} bytes, not the "
                           f"{info.file_size} its directory entry says: the zip is damaged")
    return size, digest.hexdigest()


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, name: str, max_bytes: int) -> bytes:
    """A (small) member's bytes, refused when it declares more than `max_bytes`."""
    import io

    if info.file_size > max_bytes:
        raise InvalidInput(f"{name}: {info.filename!r} is {_size(info.file_size)}; at most "
                           f"{_size(max_bytes)} is accepted")
    buffer = io.BytesIO()
    stream_member(archive, info, buffer, name=name)
    return buffer.getvalue()


def free_space_check(folder: Path, needed: int, *, name: str, margin: int = 256 * MiB) -> None:
    """Refuse when `folder`'s disk cannot take `needed` bytes and a margin."""
    import shutil

    free = shutil.disk_usage(folder).free
    if needed + margin > free:
        raise InvalidInput(f"{name} needs {_size(needed)} of disk and {folder} has {_size(free)} "
                           "free: free some space (storynb gc) and try again")
