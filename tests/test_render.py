"""The render package: camera motion, captions, subtitles, narration, joining and probing."""
from __future__ import annotations

import math
import shutil
import subprocess
import wave

import numpy as np
import pytest
from PIL import Image, ImageFilter

from storynb.render.compose import (Cue, concat_video, cues_for, ffmpeg_exe, narration_track, probe,
                                    write_srt)
from storynb.render.motion import (EASINGS, MOVEMENTS, CameraMove, fit_source, measure_shift,
                                   plan_boxes, render_clip, source_scale, yuv_frames)
from storynb.render.subtitles import MissingGlyphsError, caption_pages, find_font, render_caption

W, H, FPS = 180, 320, 12
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@pytest.fixture(scope="module")
def texture(tmp_path_factory):
    """Fine random texture, so that phase correlation has detail at every scale."""
    rng = np.random.default_rng(7)
    img = Image.fromarray(rng.integers(0, 256, (640, 400, 3), dtype=np.uint8)).filter(ImageFilter.GaussianBlur(1.0))
    path = tmp_path_factory.mktemp("img") / "texture.png"
    img.save(path)
    return path


def gray_frames(path, w=W, h=H) -> np.ndarray:
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w)


def planned_shifts(move, n, image, w=W, h=H):
    img = Image.open(image).convert("RGB")
    src = fit_source(img, w, h, source_scale(move))
    boxes = plan_boxes(move, n, src.width, src.height, w, h)
    out = []
    for (x0, y0, x1, _), (x2, y2, _, _) in zip(boxes, boxes[1:]):
        s = w / (x1 - x0)
        out.append((-(x2 - x0) * s, -(y2 - y0) * s))
    return out


# --- CameraMove ---------------------------------------------------------------------------------

def test_params_round_trip():
    move = CameraMove.from_params("pan_left", {"speed": 2, "intensity": 0.1, "easing": "linear", "start": 0.2, "end": 0.9})
    assert move.to_params() == {"speed": 2.0, "intensity": 0.1, "easing": "linear", "start": 0.2, "end": 0.9}
    assert CameraMove.from_params(move.movement, move.to_params()) == move
    assert CameraMove.from_params("static", {}) == CameraMove("static")


@pytest.mark.parametrize("movement, params, field", [
    ("wobble", {}, "movement"),
    ("zoom_in", {"intensity": 1.5}, "intensity"),
    ("zoom_in", {"intensity": -0.1}, "intensity"),
    ("zoom_in", {"start": 0.6, "end": 0.4}, "start"),
    ("zoom_in", {"start": -0.1}, "start"),
    ("zoom_in", {"end": 1.2}, "end"),
    ("zoom_in", {"speed": 0}, "speed"),
    ("zoom_in", {"speed": "fast"}, "speed"),
    ("zoom_in", {"easing": "bounce"}, "easing"),
    ("zoom_in", {"zoom": 2}, "zoom"),
])
def test_validation_names_the_field(movement, params, field):
    with pytest.raises(ValueError, match=field) as err:
        CameraMove.from_params(movement, params)
    message = str(err.value)
    if field == "movement":
        assert "pan_left" in message  # lists what is allowed
    if field == "easing":
        assert "ease_in_out" in message


@pytest.mark.parametrize("movement", MOVEMENTS)
@pytest.mark.parametrize("src", [(400, 640), (1000, 300), (181, 323)])
def test_plan_boxes_inside_source_with_output_aspect(movement, src):
    for speed in (0.5, 1, 3, 50):
        boxes = plan_boxes(CameraMove(movement, speed=speed, intensity=0.3), 30, *src, W, H)
        assert len(boxes) == 30
        for x0, y0, x1, y1 in boxes:
            assert -1e-9 <= x0 < x1 <= src[0] + 1e-9 and -1e-9 <= y0 < y1 <= src[1] + 1e-9
            assert math.isclose((x1 - x0) / (y1 - y0), W / H, rel_tol=1e-9)


def test_slow_pan_is_smooth_and_sub_pixel():
    boxes = plan_boxes(CameraMove("pan_right", intensity=0.05, easing="linear"), 120, 1134, 2016, 1080, 1920)
    dx = np.diff([b[0] for b in boxes])
    assert np.all(dx > 0)  # monotonic
    assert np.allclose(dx, dx[0])  # linear easing: constant speed, no integer snapping
    assert 0.3 < dx[0] < 0.6 and abs(dx[0] - round(dx[0])) > 0.1
    assert len({b[1] for b in boxes}) == 1  # a pan does not drift vertically
    eased = np.diff([b[0] for b in plan_boxes(CameraMove("pan_right", intensity=0.05), 120, 1134, 2016, 1080, 1920)])
    assert np.all(eased > 0) and eased[0] < eased[60] > eased[-1]  # ease_in_out: slow, fast, slow


def test_start_end_hold_still_outside_the_window():
    boxes = plan_boxes(CameraMove("zoom_in", start=0.25, end=0.75), 41, 400, 640, W, H)
    assert boxes[0] == boxes[10] and boxes[30] == boxes[40] and boxes[10] != boxes[20] != boxes[30]


def test_directions_and_dolly_differs_from_zoom():
    def centre(m, i):
        x0, y0, x1, y1 = plan_boxes(CameraMove(m), 11, 400, 640, W, H)[i]
        return (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0

    assert centre("pan_left", -1)[0] < centre("pan_left", 0)[0]
    assert centre("pan_right", -1)[0] > centre("pan_right", 0)[0]
    assert centre("tilt_up", -1)[1] < centre("tilt_up", 0)[1]
    assert centre("tilt_down", -1)[1] > centre("tilt_down", 0)[1]
    assert centre("zoom_in", -1)[2] < centre("zoom_in", 0)[2] and centre("zoom_out", -1)[2] > centre("zoom_out", 0)[2]
    assert centre("zoom_in", -1)[:2] == pytest.approx((200, 320))  # a zoom keeps its centre
    assert centre("dolly_in", -1)[1] > 320 + 5  # a dolly heads for the lower middle
    assert centre("dolly_in", -1)[2] == pytest.approx(centre("zoom_in", -1)[2])  # same amount
    assert centre("dolly_in", 5)[2] != pytest.approx(centre("zoom_in", 5)[2])  # different path


@pytest.mark.parametrize("easing", EASINGS)
def test_easings_run_from_start_to_end(easing):
    boxes = plan_boxes(CameraMove("pan_left", easing=easing), 20, 400, 640, W, H)
    xs = [b[0] for b in boxes]
    assert all(a >= b for a, b in zip(xs, xs[1:])) and xs[0] > xs[-1]


# --- render_clip ------------------------------------------------------------------------------

def test_clip_has_exact_frames_size_codec(tmp_path, texture):
    out = render_clip(texture, CameraMove("zoom_in"), 1.25, W, H, FPS, tmp_path / "clip.mp4")
    info = probe(out, count_frames=True)
    assert info["frames"] == 15
    assert (info["video_codec"], info["width"], info["height"], info["pix_fmt"]) == ("h264", W, H, "yuv420p")
    assert info["fps"] == FPS and info["audio_codec"] is None
    assert info["duration"] == pytest.approx(1.25, abs=1 / FPS)
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]  # no temp file left behind
    if shutil.which("ffprobe"):  # an independent opinion
        out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                              "stream=codec_name,pix_fmt,width,height,nb_read_frames", "-of", "csv=p=0", str(out)],
                             capture_output=True, text=True, check=True).stdout.strip()
        assert out == f"h264,{W},{H},yuv420p,15"


@pytest.mark.parametrize("movement", MOVEMENTS)
def test_every_movement_renders(tmp_path, texture, movement):
    out = render_clip(texture, CameraMove(movement, intensity=0.2), 0.5, W, H, FPS, tmp_path / f"{movement}.mp4")
    frames = gray_frames(out)
    assert len(frames) == 6
    moved = np.abs(frames[0].astype(int) - frames[-1]).mean()
    assert (moved < 1) if movement == "static" else (moved > 5)


def test_any_input_size_and_mode(tmp_path):
    tiny = Image.new("RGBA", (50, 40), (200, 30, 30, 255))  # landscape, smaller than the output, with alpha
    tiny.save(tmp_path / "tiny.png")
    Image.new("P", (2000, 100)).save(tmp_path / "strip.png")
    for name in ("tiny.png", "strip.png"):
        out = render_clip(tmp_path / name, CameraMove("pan_right"), 0.25, W, H, FPS, tmp_path / f"{name}.mp4")
        assert probe(out, count_frames=True)["frames"] == 3


def test_colours_survive_the_round_trip(tmp_path, warp):
    Image.new("RGB", (90, 160), (200, 60, 30)).save(tmp_path / "flat.png")
    out = render_clip(tmp_path / "flat.png", CameraMove("static"), 0.25, W, H, FPS, tmp_path / "flat.mp4")
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(out), "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    rgb = np.frombuffer(raw, np.uint8).reshape(H, W, 3).reshape(-1, 3).mean(axis=0)
    assert np.allclose(rgb, (200, 60, 30), atol=6), rgb


@pytest.fixture(params=["opencv", "pillow"])
def warp(request, monkeypatch):
    """Run a test with each resampler (OpenCV when installed, Pillow otherwise)."""
    if request.param == "opencv":
        pytest.importorskip("cv2")
    monkeypatch.setenv("STORYNB_WARP", request.param)
    return request.param


def test_renderer_frames_are_sub_pixel_accurate(texture, warp):
    """The renderer's own frames move exactly along the planned path (to well under 0.1 px)."""
    move = CameraMove("pan_left", intensity=0.1, easing="ease_in_out")
    n = 16
    frames = [np.frombuffer(f[0], np.uint8).reshape(H, W) for f in yuv_frames(texture, move, n, W, H)]
    for (a, b), (ex, ey) in zip(zip(frames, frames[1:]), planned_shifts(move, n, texture)):
        dx, dy = measure_shift(a, b)
        assert math.hypot(dx - ex, dy - ey) < 0.1, (dx, dy, ex, ey)


def test_decoded_slow_tilt_follows_the_plan(tmp_path, texture, warp):
    """After H.264 (quarter-pel motion vectors, quantised residuals) the motion still follows the
    plan to a tenth of a pixel on average, with no frame off by a whole pixel (no integer snapping)."""
    move = CameraMove("tilt_down", intensity=0.05, easing="linear")
    n = 24
    out = render_clip(texture, move, n / FPS, W, H, FPS, tmp_path / "tilt.mp4")
    frames = gray_frames(out)
    errors = [math.hypot(dx - ex, dy - ey) for (dx, dy), (ex, ey) in
              zip((measure_shift(a, b) for a, b in zip(frames, frames[1:])), planned_shifts(move, n, texture))]
    assert np.mean(errors) < 0.1 and max(errors) < 0.35, errors


def test_measure_shift_finds_known_sub_pixel_shifts(texture):
    img = Image.open(texture).convert("L")
    a = np.asarray(img.resize((128, 128), Image.BILINEAR, box=(40, 40, 168, 168)))
    for sx, sy in ((0.3, 0.0), (-0.77, 0.25), (1.4, -2.1)):
        b = np.asarray(img.resize((128, 128), Image.BILINEAR, box=(40 + sx, 40 + sy, 168 + sx, 168 + sy)))
        dx, dy = measure_shift(a, b)
        assert (dx, dy) == pytest.approx((-sx, -sy), abs=0.05)


# --- captions ---------------------------------------------------------------------------------

def test_find_font_covers_chinese():
    from fontTools.ttLib import TTFont

    from storynb.render.subtitles import face_index

    path = find_font("你好世界")
    cmap = TTFont(path, fontNumber=face_index(path, "你好世界"), lazy=True).getBestCmap()
    assert all(ord(c) in cmap for c in "你好世界")
    assert find_font("你好世界") == path  # cached, stable


def test_find_font_latin_prefers_a_latin_sans():
    path = find_font("Hello, world!")
    assert "cjk" not in path.lower() and "serif" not in path.lower().replace("sans", "")


def test_missing_glyphs_error_lists_characters_and_fix():
    with pytest.raises(MissingGlyphsError) as err:
        find_font("你好 world", DEJAVU)
    message = str(err.value)
    assert "你" in message and "好" in message and "w" not in message.split("glyphs for")[1].split(":")[0]
    assert "fonts-noto-cjk" in message
    assert isinstance(err.value, ValueError)
    assert find_font("plain text", DEJAVU).endswith("DejaVuSans.ttf")


def test_unknown_font_family_is_a_clear_error():
    with pytest.raises(ValueError, match="no installed font family"):
        find_font("hello", "No Such Font Family 123")


def test_chinese_caption_is_drawn_and_wrapped():
    img = render_caption("在很久很久以前，有一座高高的山，山上住着一位老人，他每天都会去看日出。", 1080,
                         find_font("在很久很久以前，有一座高高的山"))
    alpha = np.asarray(img)[..., 3]
    assert img.mode == "RGBA" and img.width == 1080 and img.height % 2 == 0
    assert (alpha > 0).mean() > 0.05  # not blank
    white = (np.asarray(img)[..., :3] > 240).all(axis=-1) & (alpha == 255)
    assert white.sum() > 1000  # white glyphs
    rows = np.flatnonzero(white.any(axis=1))
    assert rows[-1] - rows[0] > 2 * 60  # wrapped onto several lines


def test_wrap_keeps_cjk_punctuation_off_line_starts():
    from PIL import ImageFont

    from storynb.render.subtitles import wrap

    text = "我们走了很远，很远。终于看见了大海！大家都很开心，笑了起来。"
    font = ImageFont.truetype(find_font(text), 20)
    for width in range(60, 300, 7):
        lines = wrap(text, font, width)
        assert "".join(lines) == text
        assert not any(line[0] in "，。！？、" for line in lines), lines
    latin = wrap("the quick brown fox jumps over the lazy dog", ImageFont.truetype(DEJAVU, 20), 150)
    assert " ".join(latin) == "the quick brown fox jumps over the lazy dog" and len(latin) > 1


def test_caption_is_burned_into_the_lower_part(tmp_path, texture, warp):
    plain = gray_frames(render_clip(texture, CameraMove("static"), 0.25, W, H, FPS, tmp_path / "a.mp4"))
    subbed = gray_frames(render_clip(texture, CameraMove("static"), 0.25, W, H, FPS, tmp_path / "b.mp4",
                                     subtitle="你好，世界 Hello"))
    diff = np.abs(plain[0].astype(int) - subbed[0]).mean(axis=1)
    assert diff[: H // 2].max() < 2 and diff[H // 2:].max() > 20


LONG_EN = ("It was home to a lighthouse keeper named Wren, who noticed things other people missed. "
           "More than anything, Wren wanted to befriend a lost whale during the longest storm of the year.")
LONG_ZH = ("那里住着一只名叫小禾的小猫，总能注意到别人忽略的小事。小禾只有一个愿望，从来没有变过：看海。"
           "那天夜里，小禾偷偷跟着渔船出发了，海风吹得它睁不开眼睛，可它一点也不害怕。")


@pytest.mark.parametrize("text", [LONG_EN, LONG_ZH])
def test_long_narration_is_paged_not_cut(text):
    font = find_font(text)
    pages = caption_pages(text, 1080, font)
    assert len(pages) > 1
    assert "".join(pages).replace(" ", "") == text.replace(" ", "")  # nothing dropped
    for page in pages:  # each page fits at the normal size: no ellipsis
        assert "…" not in page
    short = "A short line."
    assert caption_pages(short, 1080, find_font(short)) == [short]


def test_pages_follow_each_other_in_the_clip(tmp_path, texture):
    clip = render_clip(texture, CameraMove("static"), 2.0, W, H, FPS, tmp_path / "p.mp4", subtitle=LONG_EN)
    frames = gray_frames(clip)
    first, last = frames[0].astype(int), frames[-1].astype(int)
    assert np.abs(first - last)[H // 2:].mean() > 1  # a different page is shown at the end
    assert np.abs(first - last)[: H // 3].mean() < 1  # the picture itself did not change


def test_characters_the_font_lacks_come_from_fallbacks_or_are_left_out(tmp_path, texture):
    from storynb.render.subtitles import covered, describe_missing, drawable, font_chain, unavailable

    text = "Hello 你好 world 🌙"
    chain = font_chain(text, DEJAVU)
    assert chain[0] == DEJAVU
    if not unavailable("你"):  # a CJK font is installed: it draws the Chinese (per character)
        assert len(chain) > 1 and covered("你", chain)
        assert "你好" in drawable(text, DEJAVU, chain)
    assert drawable("Hello 你好 world", DEJAVU) == "Hello world"  # with no fallback: left out
    if unavailable("🌙"):  # no emoji font here: left out of the picture and named
        assert "🌙" not in drawable(text, DEJAVU, chain)
        assert "'🌙' (U+1F319)" in describe_missing(text, DEJAVU)
        assert "'H'" not in describe_missing(text, DEJAVU)  # only what is really missing
    out = render_clip(texture, CameraMove("static"), 0.25, W, H, FPS, tmp_path / "x.mp4",
                      subtitle=text, font_path=DEJAVU)
    assert out.exists()  # never a failed clip


# --- compose ----------------------------------------------------------------------------------

def test_srt_format(tmp_path):
    cues = cues_for([2.5, 3.0, 3601.25], ["你好，世界", "", "two\nlines"])
    assert cues[1] == Cue(2.5, 5.5, "")
    path = write_srt(cues, tmp_path / "s.srt")
    assert path.read_bytes().decode("utf-8") == (
        "1\n00:00:00,000 --> 00:00:02,500\n你好，世界\n\n"
        "2\n00:00:05,500 --> 01:00:06,750\ntwo\nlines\n")


def _tone(path, seconds, rate=22050, channels=1, freq=440.0):
    t = np.arange(int(seconds * rate)) / rate
    data = (0.5 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(data, channels).tobytes())
    return path


def test_narration_track_places_and_trims(tmp_path):
    short = _tone(tmp_path / "short.wav", 0.5)
    long = _tone(tmp_path / "long.wav", 3.0, rate=48000, channels=2)
    out = narration_track([short, None, long], [1.0, 0.75, 1.5], tmp_path / "n.wav", sample_rate=16000)
    with wave.open(str(out)) as w:
        assert (w.getframerate(), w.getnchannels()) == (16000, 1)
        data = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(float) / 32767
    assert len(data) == round(3.25 * 16000)
    rms = lambda a, b: np.sqrt(np.mean(data[int(a * 16000):int(b * 16000)] ** 2))  # noqa: E731
    assert rms(0.05, 0.45) > 0.3 and rms(0.55, 1.0) < 1e-3  # shot 1: tone then silence
    assert rms(1.0, 1.75) < 1e-3  # shot 2: silent
    assert rms(1.8, 3.1) > 0.3 and abs(data[-1]) < 0.02  # shot 3: cut with a fade


def test_concat_video_duration_and_streams(tmp_path, texture):
    clips = [render_clip(texture, CameraMove(m), d, W, H, FPS, tmp_path / f"{i}.mp4")
             for i, (m, d) in enumerate([("zoom_in", 1.0), ("pan_left", 0.5), ("static", 0.75)])]
    voice = narration_track([_tone(tmp_path / "v.wav", 0.6), None, None], [1.0, 0.5, 0.75], tmp_path / "n.wav")
    for audio in (voice, None):
        out = concat_video(clips, audio, tmp_path / "final.mp4")
        info = probe(out, count_frames=True)
        assert info["frames"] == 27 and (info["video_codec"], info["audio_codec"]) == ("h264", "aac")
        assert info["duration"] == pytest.approx(2.25, abs=1 / FPS)
        if shutil.which("ffprobe"):
            durs = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=duration", "-of", "csv=p=0",
                                   str(out)], capture_output=True, text=True, check=True).stdout.split()
            assert all(abs(float(d) - 2.25) <= 1 / FPS for d in durs), durs


def test_concat_rejects_mismatched_clips(tmp_path, texture):
    a = render_clip(texture, CameraMove("static"), 0.25, W, H, FPS, tmp_path / "a.mp4")
    b = render_clip(texture, CameraMove("static"), 0.25, 2 * W, 2 * H, FPS, tmp_path / "b.mp4")
    with pytest.raises(ValueError, match="same size"):
        concat_video([a, b], None, tmp_path / "x.mp4")
