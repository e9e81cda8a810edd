"""Hostile zip files for the import tests, written byte by byte (zipfile would refuse to lie).

`deflated_zeros(n)` is a valid raw deflate stream of n MiB of zero bytes made without compressing
n MiB: one flushed 1 MiB block repeated (a full flush makes each block independent), so a 5 GiB
bomb costs ~5 MB and well under a second to write."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

MiB = 1 << 20


def deflated_zeros(mib: int) -> tuple[bytes, int]:
    """(raw deflate data, crc32) of `mib` MiB of zeros."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(b"\0" * MiB) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    crc = 0
    zeros = b"\0" * MiB
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    return block * mib + end, crc


def write_zip(path: Path, members: list[tuple[str, bytes, int, int, int]]) -> Path:
    """A zip of (name, stored data, method, crc32, declared uncompressed size) members; the
    declared size is written as given, true or not."""
    local, central = bytearray(), bytearray()
    for name, data, method, crc, size in members:
        raw = name.encode()
        offset = len(local)
        local += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc,
                             len(data), size, len(raw), 0) + raw + data
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21,
                               crc, len(data), size, len(raw), 0, 0, 0, 0, 0, offset) + raw
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members),
                      len(central), len(local), 0)
    Path(path).write_bytes(bytes(local + central + end))
    return Path(path)
