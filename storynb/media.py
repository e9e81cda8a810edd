"""Content-addressed media files: `media/<hash[:2]>/<hash>.<ext>`, written atomically."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import TypeGuard

from PIL import Image

from .errors import InvalidInput
from .files import atomic_path

THUMB_WIDTH = 240

# The extensions stored files have: png images, jpg thumbnails, mp4 clips and videos, wav
# narration, srt subtitles, and what storynb.intake accepts from users (images, audio). A stage
# that stores a new kind of file adds its extension here.
EXTENSIONS = frozenset({"png", "jpg", "webp", "mp4", "wav", "mp3", "m4a", "ogg", "flac", "srt",
                        "ass"})
NAME = re.compile(r"[0-9a-f]{64}\.([a-z0-9]{1,5})")

# Which columns of which tables hold media names (the rows that keep a file alive for `gc`,
# what a bundle carries). A table or column that starts holding media names is added here.
MEDIA_COLUMNS = {"images": ("media", "thumb"), "clips": ("media",), "narrations": ("media",),
                 "exports": ("video", "subtitles", "ass"),
                 "projects": ("music",)}  # music may also be "builtin" or "none" (no file)
NO_FILE = ("", "builtin", "none")  # values a media column may hold that name no file


def is_media_name(name: object) -> TypeGuard[str]:
    """True for exactly `<64 hex sha256>.<known extension>`; nothing else ever becomes a path."""
    if not isinstance(name, str):
        return False
    match = NAME.fullmatch(name)
    return match is not None and match[1] in EXTENSIONS


def check_media_name(name) -> str:
    """The name itself, or InvalidInput saying why it is not a stored media name."""
    if not is_media_name(name):
        shown = repr(name) if len(repr(name)) <= 120 else repr(name)[:117] + "..."
        raise InvalidInput(f"{shown} is not a stored media name (a media name is the file's "
                           f"sha256 in 64 lowercase hex digits, a dot and one of "
                           f"{', '.join(sorted(EXTENSIONS))}); media files are only ever read "
                           "from the studio's media store, by such a name")
    return name


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class MediaStore:
    """Immutable files named by the hash of their content; identical work is stored once."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp = self.root / "tmp"
        self.tmp.mkdir(exist_ok=True)

    def path(self, name: str) -> Path:
        """The file for a stored name (`<hash>.<ext>`). Any other name (a path, `..`, an unknown
        extension) is refused with InvalidInput: a name never leads outside the store."""
        check_media_name(name)
        return self.root / name[:2] / name

    def exists(self, name: str | None) -> bool:
        """Whether a stored file has this name (False for anything that is not a media name)."""
        return is_media_name(name) and self.path(name).is_file()

    def scratch(self, suffix: str) -> Path:
        """A fresh temporary path inside the store (same filesystem, so `add` can rename it)."""
        if suffix and not re.fullmatch(r"\.[A-Za-z0-9]{1,8}", suffix):
            raise InvalidInput(f"a scratch file suffix is a dot and 1-8 letters or digits, not {suffix!r}")
        fd, tmp = tempfile.mkstemp(suffix=suffix, dir=self.tmp)
        os.close(fd)
        return Path(tmp)

    def add(self, src: Path, ext: str | None = None) -> str:
        """Move a finished file into the store and return its name. The source is consumed."""
        src = Path(src)
        ext = (ext or src.suffix.lstrip(".")).lower()
        if ext not in EXTENSIONS:
            raise InvalidInput(f"cannot store a .{ext} file: the media store keeps "
                               f"{', '.join(sorted(EXTENSIONS))} (storynb.media.EXTENSIONS)")
        name = f"{file_hash(src)}.{ext}"
        dest = self.path(name)
        if dest.is_file():
            src.unlink(missing_ok=True)
            return name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.parent.resolve() == self.tmp.resolve():
            os.replace(src, dest)
        else:
            tmp = self.scratch("." + ext)
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
            src.unlink(missing_ok=True)
        return name

    def thumbnail(self, name: str, width: int = THUMB_WIDTH) -> str:
        """A JPEG thumbnail of a stored image, itself stored."""
        with Image.open(self.path(name)) as image:
            image = image.convert("RGB")
            height = max(1, round(image.height * width / image.width))
            small = image.resize((width, height), Image.Resampling.LANCZOS)
        tmp = self.scratch(".jpg")
        small.save(tmp, "JPEG", quality=85)
        return self.add(tmp, "jpg")

    def size(self, names) -> int:
        return sum(self.path(n).stat().st_size for n in set(names) if self.exists(n))

    def all_names(self) -> set[str]:
        """Every stored file (files with other names in the store's folders are not media)."""
        return {p.name for p in self.root.glob("??/*")
                if is_media_name(p.name) and p.parent.name == p.name[:2] and p.is_file()}

    def inside(self, name: str) -> Path:
        """The stored file for `name`, checked to be a regular file (not a link) inside the store:
        what is copied out of the studio (bundles) goes through here."""
        path = self.path(name)
        if path.is_symlink() or not path.is_file():
            raise InvalidInput(f"media {name} is not a regular file in the media store {self.root}")
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise InvalidInput(f"media {name} resolves outside the media store {self.root}")
        return path

    def remove_unreferenced(self, referenced: set[str], grace_s: float = 3600) -> tuple[int, int]:
        """Delete stored files nothing refers to, and temp files, older than `grace_s` seconds.
        Returns (files, bytes)."""
        count = freed = 0
        cutoff = time.time() - grace_s
        candidates = [self.path(n) for n in self.all_names() - referenced] + list(self.tmp.iterdir())
        for path in candidates:
            try:
                stat = path.stat()
                if stat.st_mtime > cutoff:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            freed += stat.st_size
            count += 1
        return count, freed


def place(source, target) -> Path:
    """Put a stored file at a readable path: a hard link (a copy across file systems), replaced
    atomically, and left alone when it is already that file."""
    import shutil

    source, target = Path(source), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and target.stat().st_ino == source.stat().st_ino:
        return target
    with atomic_path(target) as temp:
        temp.unlink()  # a hard link needs the name free
        try:
            os.link(source, temp)
        except OSError:
            shutil.copyfile(source, temp)
    return target
