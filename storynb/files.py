"""Writing files so that a reader never sees half of one, and finding the ffmpeg binary.

A low-level module (it imports nothing of storynb).

    with atomic_path(out) as tmp:      # a temporary file beside `out`
        ffmpeg(..., str(tmp))          # on success it replaces `out` in one step;
                                       # on an error it is removed and `out` is left as it was
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(target: str | os.PathLike, *, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path in `target`'s folder (created empty, mode 0600) to write the file to.
    When the block ends without an error the file replaces `target` atomically (os.replace);
    with an error (or an interrupt) the temporary file is removed. `suffix` is for writers that
    choose a format by the file's ending."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `target` atomically."""
    with atomic_path(target) as temp:
        temp.write_bytes(data)
    return Path(target)


def write_text(target: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `target` atomically."""
    with atomic_path(target) as temp:
        temp.write_text(text, encoding="utf-8")
    return Path(target)


def ffmpeg_exe() -> str:
    """The ffmpeg binary that imageio-ffmpeg ships in its wheel (nothing is downloaded)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()
