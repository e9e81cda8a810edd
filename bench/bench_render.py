"""Render benchmark: storynb's camera-motion renderer against MoviePy 2 and against libx264 alone.

    python bench/bench_render.py           # 8 shots x 5 s, 1080x1920, 24 fps (about 3 minutes)
    python bench/bench_render.py --quick   # 8 shots x 1 s, a smoke run (per-clip start-up dominates)
    STORYNB_WARP=pillow python bench/bench_render.py   # the Pillow resampler instead of OpenCV

Everything is measured side by side in the same run, on the same images and captions:
- storynb: 8 clips with camera motion and burned-in captions (Chinese and English), then the
  narration track, the .srt and the join with AAC audio;
- MoviePy 2, the way popular tools use it: an ImageClip per shot moved with a per-frame resize or
  position lambda, a TextClip caption, composited, concatenated, write_videofile(libx264 veryfast);
- the floor: plain `ffmpeg -preset veryfast -crf 20` encoding the very frames of each shot from a
  raw file written beforehand (no per-frame computation at all), interleaved shot by shot with
  storynb so both see the same machine; and, for reference, ffmpeg's testsrc2 pattern.
Wall time and CPU time (this process + ffmpeg children) are both printed: on a shared machine
the CPU ratios are the steadier ones. Then the frame-to-frame motion error of the slow pan: shifts
between consecutive frames measured by phase correlation, against the path planned by plan_boxes.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storynb.render.compose import concat_video, cues_for, ffmpeg_exe, narration_track, probe, write_srt  # noqa: E402
from storynb.render.motion import (CameraMove, fit_source, measure_shift, plan_boxes,  # noqa: E402
                                   render_clip, source_scale, yuv_frames, _load_rgb, _opencv)
from storynb.render.subtitles import find_font  # noqa: E402

W, H, FPS = 1080, 1920, 24
SLOW_PAN = 1  # index of the shot whose motion error is measured
SHOTS = [  # movement, params, caption
    ("zoom_in", {"intensity": 0.15}, "很久以前，海边的小镇上住着一只名叫青青的小狐狸。"),
    ("pan_left", {"intensity": 0.05, "easing": "linear"},  # 54 px in 5 s: 0.45 px per frame
     "Every evening she sat by the harbour and watched the boats come home."),
    ("dolly_in", {"intensity": 0.2}, "她只有一个愿望，从来没有变过：去看海。"),
    ("tilt_up", {"intensity": 0.12}, "One morning, before anyone else was awake, she packed a bag."),
    ("zoom_out", {}, "可是路很长，那一年的冬天又来得特别早。"),
    ("pan_right", {"intensity": 0.1}, "A grey cat sat down beside her: you don't have to do this alone."),
    ("dolly_out", {}, "季节更替的时候，青青终于看到了大海。"),
    ("tilt_down", {}, "And from then on, no one in the town ever felt quite so alone."),
]


def make_image(path: Path, seed: int, w: int = 1152, h: int = 2048) -> None:
    """A picture with large shapes and fine texture (like a painted illustration) so that phase
    correlation has detail to lock onto."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([120 + 80 * np.sin(xx / 170 + seed), 110 + 70 * np.cos(yy / 230),
                     60 + 150 * (xx + yy) / (w + h)], -1)
    img = Image.fromarray(base.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(120):
        x, y, r = rng.integers(0, w), rng.integers(0, h), rng.integers(8, w // 6)
        shape = draw.ellipse if rng.random() < 0.6 else draw.rectangle
        shape((x - r, y - r, x + r, y + r * rng.uniform(0.5, 1.5)), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
    grain = Image.fromarray(rng.normal(0, 18, (h, w, 3)).clip(-127, 127).astype(np.int16).astype(np.uint8) + 128)
    arr = np.asarray(img.filter(ImageFilter.GaussianBlur(1.0)), np.int16) + np.asarray(
        grain.filter(ImageFilter.GaussianBlur(0.8)), np.int16) - 128
    Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(path)


def make_wav(path: Path, seconds: float, seed: int, rate: int = 22050) -> None:
    """Speech-like noise bursts (what a TTS engine would give), mono 16-bit."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    env = (np.sin(2 * np.pi * 3 * t) > 0) * np.minimum(1, t * 10)
    sig = env * (0.3 * np.sin(2 * np.pi * (140 + 40 * np.sin(t)) * t) + 0.05 * rng.normal(size=t.size))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes((sig.clip(-1, 1) * 32767).astype("<i2").tobytes())


class Timer:
    """Wall time and CPU time (this process and the ffmpeg children it waited for), added up over
    several `with` blocks. CPU seconds barely depend on what else the machine is doing."""

    def __init__(self):
        self.wall = self.cpu = 0.0

    @staticmethod
    def _cpu() -> float:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    def __enter__(self):
        self._t, self._c = time.perf_counter(), self._cpu()
        return self

    def __exit__(self, *exc):
        self.wall += time.perf_counter() - self._t
        self.cpu += self._cpu() - self._c


def run_storynb_and_floor(images, wavs, duration, work: Path) -> tuple[Timer, Timer, Timer, list[Path]]:
    """storynb's clips and the floor, shot by shot and side by side, so that both see the same
    machine (other work on it slows whichever runs at that moment). The floor is plain
    `ffmpeg -preset veryfast -crf 20` encoding the very frames of the shot from a raw file written
    beforehand (in RAM when /dev/shm exists): libx264 with no per-frame computation at all."""
    clips_t, floor_t, tail_t = Timer(), Timer(), Timer()
    n = round(duration * FPS)
    raw_dir = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else work))
    clips = []
    try:
        for i, (img, (movement, params, caption)) in enumerate(zip(images, SHOTS)):
            move = CameraMove.from_params(movement, params)
            raw = raw_dir / f"shot{i}.yuv"
            with open(raw, "wb") as f:
                for planes in yuv_frames(img, move, n, W, H, subtitle=caption, font_path=find_font(caption)):
                    f.writelines(planes)
            with floor_t:
                subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p",
                                "-s", f"{W}x{H}", "-r", str(FPS), "-i", str(raw), "-c:v", "libx264",
                                "-preset", "veryfast", "-crf", "20", str(work / f"floor{i}.mp4")], check=True)
            raw.unlink()
            with clips_t:
                clips.append(render_clip(img, move, duration, W, H, FPS, work / f"clip{i}.mp4",
                                         subtitle=caption, font_path=find_font(caption)))
    finally:
        shutil.rmtree(raw_dir, ignore_errors=True)
    with tail_t:
        durations = [duration] * len(SHOTS)
        narration_track(wavs, durations, work / "narration.wav")
        write_srt(cues_for(durations, [s[2] for s in SHOTS]), work / "storynb.srt")
        concat_video(clips, work / "narration.wav", work / "storynb.mp4")
    return clips_t, tail_t, floor_t, clips


def run_moviepy(images, wav: Path, duration, out: Path, preset: str | None = "veryfast") -> Timer:
    """preset=None: write_videofile's defaults (libx264 'medium'), as most tools call it."""
    from moviepy import AudioFileClip, CompositeVideoClip, ImageClip, TextClip, concatenate_videoclips

    timer = Timer().__enter__()
    shots = []
    for img, (movement, _params, caption) in zip(images, SHOTS):
        still = ImageClip(str(img)).with_duration(duration).resized(height=H)  # cover the frame
        if movement.startswith(("zoom", "dolly")):
            grow = (lambda t: 1 + 0.04 * t) if movement.endswith("_in") else (lambda t: 1.2 - 0.04 * t)
            moving = still.resized(grow).with_position("center")
        else:  # pans and tilts: an enlarged still sliding across the frame
            big = still.resized(1.15)
            dx, dy = big.w - W, big.h - H
            step = {"pan_left": (lambda t: (-dx + dx * t / duration, -dy / 2)),
                    "pan_right": (lambda t: (-dx * t / duration, -dy / 2)),
                    "tilt_up": (lambda t: (-dx / 2, -dy + dy * t / duration)),
                    "tilt_down": (lambda t: (-dx / 2, -dy * t / duration))}[movement]
            moving = big.with_position(step)
        text = TextClip(font=find_font(caption), text=caption, font_size=60, color="white",
                        stroke_color="black", stroke_width=3, method="caption", size=(940, None),
                        duration=duration).with_position(("center", int(H * 0.74)))
        shots.append(CompositeVideoClip([moving, text], size=(W, H)).with_duration(duration))
    video = concatenate_videoclips(shots).with_audio(AudioFileClip(str(wav)))
    options = {"preset": preset} if preset else {}
    video.write_videofile(str(out / "moviepy.mp4"), fps=FPS, codec="libx264", audio_codec="aac",
                          logger=None, temp_audiofile_path=str(out), **options)
    timer.__exit__()
    return timer


def run_testsrc(n_frames: int, out: Path) -> Timer:
    with Timer() as timer:
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate={FPS}",
                        "-frames:v", str(n_frames), "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                        "-pix_fmt", "yuv420p", str(out / "testsrc2.mp4")], check=True)
    return timer


def motion_error(image: Path, clip: Path, duration: float) -> dict[str, tuple[float, float]]:
    """Max/mean |measured - planned| shift between consecutive frames of the slow pan, in output
    pixels, on the renderer's own frames and on the frames decoded from the H.264 clip."""
    movement, params, _ = SHOTS[SLOW_PAN]
    move = CameraMove.from_params(movement, params)
    n = round(duration * FPS)
    src = fit_source(_load_rgb(image), W, H, source_scale(move))
    boxes = plan_boxes(move, n, src.width, src.height, W, H)
    c, top = 768, 400  # a central square well above the caption
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(clip), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         capture_output=True, check=True).stdout
    decoded = np.frombuffer(raw, np.uint8).reshape(-1, H, W)[:, top:top + c, (W - c) // 2:(W + c) // 2]
    rendered = np.stack([np.frombuffer(f[0], np.uint8).reshape(H, W)[top:top + c, (W - c) // 2:(W + c) // 2]
                         for f in yuv_frames(image, move, n, W, H)])
    out = {}
    for name, frames in (("renderer frames", rendered), ("decoded H.264", decoded)):
        errs = []
        for i in range(n - 1):
            dx, dy = measure_shift(frames[i], frames[i + 1])
            (a0, b0, a1, _), (a2, b2, _, _) = boxes[i], boxes[i + 1]
            scale = W / (a1 - a0)
            errs.append(np.hypot(dx + (a2 - a0) * scale, dy + (b2 - b0) * scale))
        out[name] = (float(np.max(errs)), float(np.mean(errs)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 s shots instead of 5 s (smoke run)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder with the videos")
    args = ap.parse_args()
    duration = 1.0 if args.quick else 5.0
    n_frames = round(duration * FPS) * len(SHOTS)
    work = Path(tempfile.mkdtemp(prefix="storynb-bench-"))
    try:
        images, wavs = [], []
        for i in range(len(SHOTS)):
            images.append(work / f"shot{i}.png")
            make_image(images[-1], seed=i)
            wavs.append(work / f"voice{i}.wav")
            make_wav(wavs[-1], duration * 0.8, seed=i)
        for _, _, caption in SHOTS:
            find_font(caption)  # fontconfig's first scan is not what we measure
        cv2 = _opencv()
        warp = f"OpenCV {cv2.__version__} warpAffine" if cv2 else "Pillow resize(box=...)"
        print(f"{len(SHOTS)} shots x {duration:g} s = {n_frames} frames at {W}x{H}, {FPS} fps; resampler: {warp}\n"
              f"(set STORYNB_WARP=pillow to compare); work dir {work}\n")

        clips_t, tail_t, floor_t, clips = run_storynb_and_floor(images, wavs, duration, work)
        story_t = Timer()
        story_t.wall, story_t.cpu = clips_t.wall + tail_t.wall, clips_t.cpu + tail_t.cpu
        test_t = run_testsrc(n_frames, work)
        mp_t = run_moviepy(images, work / "narration.wav", duration, work)
        mp_default_t = run_moviepy(images, work / "narration.wav", duration, work, preset=None)

        final = probe(work / "storynb.mp4", count_frames=True)
        assert final["frames"] == n_frames and final["audio_codec"] == "aac", final
        rows = [
            ("storynb: 8 clips (motion + captions)", clips_t),
            ("storynb: clips + narration + srt + join", story_t),
            ("MoviePy 2 (resize/position lambdas, TextClip), veryfast", mp_t),
            ("MoviePy 2, write_videofile defaults (preset medium)", mp_default_t),
            ("floor: ffmpeg/libx264 on the same frames, raw file", floor_t),
            ("reference: ffmpeg/libx264 on testsrc2", test_t),
        ]
        width = max(len(r[0]) for r in rows)
        print(f"{'':<{width}}  {'wall':>8}  {'fps':>6}  {'CPU':>8}")
        for name, t in rows:
            print(f"{name:<{width}}  {t.wall:7.2f}s  {n_frames / t.wall:6.1f}  {t.cpu:7.2f}s")
        print()
        print(f"{'ratio':<47} {'wall':>6}  {'CPU':>6}")
        print(f"{'MoviePy veryfast / storynb total (speed-up)':<47} {mp_t.wall / story_t.wall:6.2f}  "
              f"{mp_t.cpu / story_t.cpu:6.2f}")
        print(f"{'MoviePy defaults / storynb total (target >= 8)':<47} "
              f"{mp_default_t.wall / story_t.wall:6.2f}  {mp_default_t.cpu / story_t.cpu:6.2f}")
        print(f"{'storynb clips / floor (target <= 1.3)':<47} {clips_t.wall / floor_t.wall:6.2f}  "
              f"{clips_t.cpu / floor_t.cpu:6.2f}")
        print(f"{'storynb total / floor':<47} {story_t.wall / floor_t.wall:6.2f}  {story_t.cpu / floor_t.cpu:6.2f}")
        print(f"{'floor / testsrc2 encode (same frame count)':<47} {floor_t.wall / test_t.wall:6.2f}  "
              f"{floor_t.cpu / test_t.cpu:6.2f}")
        print()
        for name, (mx, mean) in motion_error(images[SLOW_PAN], clips[SLOW_PAN], duration).items():
            print(f"slow pan motion error, {name:<16} max {mx:.3f} px  mean {mean:.3f} px   (target < 0.1)")
    finally:
        if args.keep:
            print(f"\nkept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
