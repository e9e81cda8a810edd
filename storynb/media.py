"""Content-addressed media files: `media/<hash[:2]>/<hash>.<ext>`, written atomically."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from PIL import Image

THUMB_WIDTH = 240


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
        """The file for a stored name (`<hash>.<ext>`)."""
        return self.root / name[:2] / name

    def exists(self, name: str | None) -> bool:
        return bool(name) and self.path(name).is_file()

    def scratch(self, suffix: str) -> Path:
        """A fresh temporary path inside the store (same filesystem, so `add` can rename it)."""
        fd, tmp = tempfile.mkstemp(suffix=suffix, dir=self.tmp)
        os.close(fd)
        return Path(tmp)

    def add(self, src: Path, ext: str | None = None) -> str:
        """Move a finished file into the store and return its name. The source is consumed."""
        src = Path(src)
        ext = (ext or src.suffix.lstrip(".")).lower()
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
            small = image.resize((width, height), Image.LANCZOS)
        tmp = self.scratch(".jpg")
        small.save(tmp, "JPEG", quality=85)
        return self.add(tmp, "jpg")

    def size(self, names) -> int:
        return sum(self.path(n).stat().st_size for n in set(names) if self.exists(n))

    def all_names(self) -> set[str]:
        return {p.name for p in self.root.glob("??/*") if p.is_file()}

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
