"""storynb.intake: incoming files are capped while they stream, typed by their content (never by
their name), verified by decoding, and kept by hash; ComfyUI workflows are checked and capped."""
import io
import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from PIL import Image

from storynb import InvalidInput, intake
from storynb.providers.images import DEFAULT_WORKFLOW


def png_bytes(size=(32, 24), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "white").save(out, "PNG")
    return out.getvalue()


def wav_bytes(seconds=0.5, rate=16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x10" * int(seconds * rate))
    return out.getvalue()


def test_store_keeps_a_file_by_hash_and_sniffed_type(studio, tmp_path):
    media = studio.media
    data = png_bytes()
    name = intake.store(media, memoryview(data), name="../../etc/passwd.mp3", accept=intake.IMAGE,
                        max_bytes=1 << 20)
    assert name.endswith(".png") and media.path(name).read_bytes() == data
    assert not (tmp_path / "etc").exists()
    # a local path and a file object work the same; identical content is stored once
    source = tmp_path / "picture.bin"
    source.write_bytes(data)
    assert intake.store(media, source, name="picture.bin", accept=intake.IMAGE, max_bytes=1 << 20) == name
    assert intake.store(media, io.BytesIO(data), name="x", accept=intake.IMAGE, max_bytes=1 << 20) == name
    with pytest.raises(InvalidInput, match="expected the file's bytes, not str"):
        intake.store(media, str(source), name="picture.bin", accept=intake.IMAGE, max_bytes=1 << 20)
    sound = intake.store(media, wav_bytes(), name="voice.png", accept=intake.AUDIO, max_bytes=1 << 20)
    assert sound.endswith(".wav") and media.exists(sound)
    assert list(media.tmp.iterdir()) == []


@pytest.mark.parametrize("data, accept, message", [
    (b"hello, I am text" * 4, intake.IMAGE, "not a file type storynb knows.*accepts jpg, png, webp"),
    (wav_bytes(), intake.IMAGE, "is a wav file .judged by its content"),
    (png_bytes(), intake.AUDIO, "is a png file"),
    (b"", intake.IMAGE, "is empty"),
    (png_bytes()[:60] + b"\0" * 200, intake.IMAGE, "not a readable image"),
    (b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunkjunk" * 3, intake.AUDIO, "not playable audio"),
])
def test_store_refuses_what_it_should(studio, data, accept, message):
    with pytest.raises(InvalidInput, match=message) as caught:
        intake.store(studio.media, data, name="upload.bin", accept=accept, max_bytes=1 << 20)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400
    assert list(studio.media.tmp.iterdir()) == [] and studio.media.all_names() == set()


def test_caps(studio, tmp_path):
    big = png_bytes((400, 400), "RGB") + b"\0" * 5000
    with pytest.raises(InvalidInput, match="larger than 4096 bytes"):
        intake.receive(studio.media, big, name="big.png", accept=intake.IMAGE, max_bytes=4096)
    # a decompression bomb: tiny file, 100 megapixels
    bomb = png_bytes((10000, 10000), "1")
    assert len(bomb) < 100_000
    with pytest.raises(InvalidInput, match="larger than 64 megapixels.*10000x10000"):
        intake.store(studio.media, bomb, name="bomb.png", accept=intake.IMAGE, max_bytes=1 << 20)
    assert list(studio.media.tmp.iterdir()) == [] and studio.media.all_names() == set()

    text = tmp_path / "t.txt"
    text.write_bytes(b"x" * 100)
    assert intake.read_text(text, name="t.txt", max_bytes=100) == "x" * 100
    with pytest.raises(InvalidInput, match="larger than 99 bytes"):
        intake.read_text(text, name="t.txt", max_bytes=99)
    with pytest.raises(InvalidInput, match="not UTF-8"):
        intake.read_text(b"caf\xe9", name="t.txt", max_bytes=99)
    with pytest.raises(InvalidInput, match="NUL"):
        intake.read_text(b"a\0b", name="t.txt", max_bytes=99)
    with pytest.raises(InvalidInput, match="nested too deeply"):
        intake.parse_json("[" * 100_000 + "]" * 100_000, name="deep.json")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        intake.parse_json('{"a": NaN}', name="nan.json")


def test_sniff():
    assert intake.sniff(png_bytes()) == "png"
    assert intake.sniff(b"\xff\xd8\xff\xe0" + b"\0" * 12) == "jpg"
    assert intake.sniff(b"ID3\x04" + b"\0" * 12) == "mp3"
    assert intake.sniff(b"\xff\xfb\x90\x00" + b"\0" * 12) == "mp3"
    assert intake.sniff(b"\0\0\0\x20ftypisom" + b"\0" * 8) == "mp4"
    assert intake.sniff(b"\0\0\0\x20ftypM4A " + b"\0" * 8) == "m4a"
    assert intake.sniff(b"OggS" + b"\0" * 12) == "ogg" and intake.sniff(b"fLaC" + b"\0" * 12) == "flac"
    assert intake.sniff(b"PK\x03\x04" + b"\0" * 12) == "zip"
    assert intake.sniff(b"#!/bin/sh\nrm -rf /") is None


def test_providers_add_checks_a_workflow_file(studio, tmp_path):
    def cli(*args):
        done = subprocess.run([sys.executable, "-m", "storynb.cli", "--studio", str(studio.path),
                               "providers", *args], capture_output=True, text=True, timeout=120,
                              cwd=Path(__file__).parent.parent, env=os.environ)
        return done.returncode, done.stderr.strip()

    ui = tmp_path / "ui.json"
    ui.write_text(json.dumps({"nodes": [], "links": [], "version": 0.4}))
    code, err = cli("add", "comfy", "--kind", "text2image", "--type", "comfyui",
                    "--param", f"workflow=@{ui}")
    assert code == 2 and len(err.splitlines()) == 1 and "Save (API Format)" in err
    huge = tmp_path / "huge.json"
    huge.write_bytes(b" " * (3 << 20))
    code, err = cli("add", "comfy", "--kind", "text2image", "--type", "comfyui",
                    "--param", f"workflow=@{huge}")
    assert code == 2 and "larger than 2.0 MB" in err and "Traceback" not in err
    good = tmp_path / "flow.json"
    good.write_text(json.dumps(DEFAULT_WORKFLOW))
    code, err = cli("add", "comfy", "--kind", "text2image", "--type", "comfyui",
                    "--param", f"workflow=@{good}")
    assert code == 0, err
    assert studio.providers.get("comfy")["params"]["workflow"] == DEFAULT_WORKFLOW
    with pytest.raises(InvalidInput, match="no {{prompt}} placeholder"):
        studio.providers.edit("comfy", params={"workflow": {"1": {"class_type": "X", "inputs": {}}}})
