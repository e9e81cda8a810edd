"""Camera movement on a still image, rendered to an H.264 clip with sub-pixel precision.

Each frame is a float crop box of the source (`plan_boxes`), resampled bilinearly straight into
the Y plane and the half-size U/V planes of a source converted once to BT.709 YCbCr (no per-frame
colour conversion); the raw yuv420p planes are piped to libx264 from a writer thread while the next
frame is computed (resampling releases the GIL; the pipe is enlarged to 1 MiB, which cut its
overhead from 3.1 to 1.0 ms per 1080x1920 frame). Identical consecutive boxes (holds, static) reuse
the previous frame. Nothing snaps to whole pixels, so slow pans do not jitter.

Resamplers, measured at 1080x1920 on 2 cores (CPU per frame, Y+U+V, zoom / pan):
  - OpenCV `warpAffine` (used when opencv-python-headless is installed): 4.5 ms / 0.35 ms; pans
    and tilts are exact 1:1 shifts, done as one `addWeighted` of two slices a pixel apart.
  - Pillow `resize(box=...)` (the fallback, STORYNB_WARP=pillow): 10.5 ms / 5.6 ms; it does two
    passes, one when an axis never changes (pans, tilts), done once up front.
  - an ffmpeg filter graph (`-loop 1 -i still.png`, `perspective=...:eval=frame` with float
    corners, then `scale`): 5.3 s for a 120-frame zoom against 2.1 s for the Pillow pipe, so not
    kept. `zoompan` and integer crops snap to whole pixels and jitter, so never candidates.
bench/bench_render.py (8 shots x 5 s with captions, side by side, on a busy 2-core VM): libx264
alone on the same frames 20.7 CPU-s; this renderer with OpenCV 26.0 CPU-s (x1.26, wall x1.19),
with Pillow 30.4 CPU-s (x1.53); MoviePy 2 84 CPU-s.
"""
from __future__ import annotations

import bisect
import math
import os
import queue
import subprocess
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
from PIL import Image, ImageOps

from ..errors import InvalidInput
from ..files import atomic_path, ffmpeg_exe
from ..settings import EASINGS as EASINGS, MOVEMENTS as MOVEMENTS  # the choice lists live in settings

MAX_AMOUNT = 1.0  # intensity*speed is capped here: at most a 2x zoom / a pan of one frame width
DOLLY_TARGET = (0.5, 0.62)  # where a dolly heads: lower-middle, about where the horizon/subject sits
_PARAMS = ("speed", "intensity", "easing", "start", "end")
Box = tuple[float, float, float, float]


def _num(name: str, value, rule: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInput(f"camera param {name!r} must be a number ({rule}), got {value!r}")
    return float(value)


@dataclass(frozen=True)
class CameraMove:
    """One camera movement over a clip.

    - `intensity` (0..1): how far the camera travels: the zoom amount (0.15 = 15 % closer) or the
      pan/tilt travel as a fraction of the frame.
    - `speed` (>0): multiplies the intensity (capped at MAX_AMOUNT, so the crop window never leaves
      the picture and never zooms past 2x).
    - `start`, `end` (0..1, start < end): the part of the clip during which the camera moves; it
      holds still before and after.
    - `easing`: shape of the progress (`linear`, `ease_in`, `ease_out`, `ease_in_out`).

    zoom_in/zoom_out change the focal length: the picture scales about its centre at a constant
    perceived rate (scale grows geometrically). dolly_in/dolly_out move the camera itself: it
    travels toward a point in the lower middle of the picture (DOLLY_TARGET), so the centre of
    expansion drifts down as it goes; the apparent scale is 1/distance, so the approach speeds up
    as the camera gets closer, and the chosen easing is applied in its stronger form (cubic instead
    of quadratic, smootherstep instead of smoothstep) to give a heavier, physical feel.
    """

    movement: str
    speed: float = 1.0
    intensity: float = 0.15
    easing: str = "ease_in_out"
    start: float = 0.0
    end: float = 1.0

    def __post_init__(self):
        if self.movement not in MOVEMENTS:
            raise InvalidInput(f"unknown camera movement {self.movement!r}: use one of {', '.join(MOVEMENTS)}")
        if self.easing not in EASINGS:
            raise InvalidInput(f"camera param 'easing' is {self.easing!r}: use one of {', '.join(EASINGS)}")
        speed = _num("speed", self.speed, "greater than 0, 1 = normal")
        if speed <= 0:
            raise InvalidInput(f"camera param 'speed' must be greater than 0 (1 = normal), got {self.speed!r}")
        intensity = _num("intensity", self.intensity, "0..1")
        if not 0 <= intensity <= 1:
            raise InvalidInput(f"camera param 'intensity' must be between 0 and 1 (0.15 = 15 % of the "
                             f"frame), got {self.intensity!r}")
        start = _num("start", self.start, "0..1, a fraction of the clip")
        end = _num("end", self.end, "0..1, a fraction of the clip")
        for name, v in (("start", start), ("end", end)):
            if not 0 <= v <= 1:
                raise InvalidInput(f"camera param {name!r} must be between 0 and 1 (a fraction of the "
                                 f"clip's duration), got {v!r}")
        if start >= end:
            raise InvalidInput(f"camera param 'start' ({start}) must be less than 'end' ({end}): the "
                             "camera moves between these fractions of the clip")
        for name, v in (("speed", speed), ("intensity", intensity), ("start", start), ("end", end)):
            object.__setattr__(self, name, v)

    @classmethod
    def from_params(cls, movement: str, params: dict | None = None) -> "CameraMove":
        params = dict(params or {})
        unknown = sorted(set(params) - set(_PARAMS))
        if unknown:
            raise InvalidInput(f"unknown camera param {', '.join(map(repr, unknown))}: the params are "
                             f"{', '.join(_PARAMS)}")
        return cls(movement, **params)

    def to_params(self) -> dict:
        d = asdict(self)
        del d["movement"]
        return d

    @property
    def amount(self) -> float:
        return min(self.intensity * self.speed, MAX_AMOUNT)


def _ease(p: float, easing: str, strong: bool = False) -> float:
    k = 3 if strong else 2
    if easing == "ease_in":
        return p ** k
    if easing == "ease_out":
        return 1 - (1 - p) ** k
    if easing == "ease_in_out":
        return p * p * p * (p * (6 * p - 15) + 10) if strong else p * p * (3 - 2 * p)
    return p


def _progress(move: CameraMove, n_frames: int) -> list[float]:
    strong = move.movement.startswith("dolly")
    out = []
    for i in range(n_frames):
        u = i / (n_frames - 1) if n_frames > 1 else 0.0
        p = min(1.0, max(0.0, (u - move.start) / (move.end - move.start)))
        out.append(_ease(p, move.easing, strong))
    return out


def plan_boxes(move: CameraMove, n_frames: int, src_w: int, src_h: int, out_w: int,
               out_h: int) -> list[Box]:
    """The float source crop (x0, y0, x1, y1) for each frame: inside the source, output aspect.

    The frame at rest is the largest centred window of the source with the output's aspect
    ("cover"); a zoom factor z shows 1/z of it, placed so that a focus point (fx, fy), given as
    fractions, keeps its relative position in the window: x0 = fx * (room left over).
    """
    aspect = out_w / out_h
    base_w, base_h = (src_h * aspect, float(src_h)) if src_w / src_h > aspect else (float(src_w), src_w / aspect)
    ox, oy = (src_w - base_w) / 2, (src_h - base_h) / 2
    a = move.amount
    m = move.movement
    boxes = []
    for e in _progress(move, n_frames):
        fx = fy = 0.5
        if m == "static":
            z = 1.0
        elif m in ("zoom_in", "zoom_out"):
            z = (1 + a) ** (e if m == "zoom_in" else 1 - e)
        elif m in ("dolly_in", "dolly_out"):
            d = e if m == "dolly_in" else 1 - e  # fraction of the way travelled
            z = 1 / (1 - d * a / (1 + a))  # apparent size ~ 1/distance; ends at 1 + a
            fx = 0.5 + (DOLLY_TARGET[0] - 0.5) * d
            fy = 0.5 + (DOLLY_TARGET[1] - 0.5) * d
        else:  # pans and tilts: zoomed in by 1+a, which leaves exactly `a` of a frame to travel
            z = 1 + a
            if out_w <= base_w and abs(base_w / z - out_w) <= 1:
                # Within a pixel of 1:1 (the renderer fits the source so): make it exactly 1:1, so
                # every frame is a pure shift: sharper, and rendered as a 2-tap blend.
                z = base_w / out_w
            along = {"pan_left": 1 - e, "pan_right": e, "tilt_up": 1 - e, "tilt_down": e}[m]
            if m.startswith("pan"):
                fx = along
            else:
                fy = along
        w, h = base_w / z, base_h / z
        x0, y0 = ox + fx * (base_w - w), oy + fy * (base_h - h)
        boxes.append((x0, y0, x0 + w, y0 + h))
    return boxes


def measure_shift(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(dx, dy) in pixels such that b(x, y) ~ a(x - dx, y - dy), to check rendered motion.

    Phase correlation (Hann window; the cross-power spectrum is weighted toward low frequencies,
    where resampling filters and codecs keep the phase intact), then the peak is refined to 0.001 px
    by evaluating the correlation surface on ever finer grids around it (matrix-multiply DFT, as in
    Guizar-Sicairos et al. 2008)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    h, w = a.shape
    win = np.outer(np.hanning(h), np.hanning(w))
    fy, fx = np.fft.fftfreq(h), np.fft.fftfreq(w)
    r = np.fft.fft2((b - b.mean()) * win) * np.conj(np.fft.fft2((a - a.mean()) * win))
    r /= np.maximum(np.abs(r), 1e-12)
    r *= np.exp(-(fy[:, None] ** 2 + fx[None, :] ** 2) / (2 * 0.05 ** 2))
    py, px = np.unravel_index(np.argmax(np.fft.ifft2(r).real), r.shape)
    cy, cx = float(py - h if py > h // 2 else py), float(px - w if px > w // 2 else px)
    for step in (0.1, 0.01, 0.001):
        offs = np.arange(-15, 16) * step
        surf = (np.exp(2j * np.pi * np.outer(cy + offs, fy)) @ r
                @ np.exp(2j * np.pi * np.outer(fx, cx + offs))).real
        iy, ix = np.unravel_index(np.argmax(surf), surf.shape)
        cy, cx = cy + offs[iy], cx + offs[ix]
    return cx, cy


# --- colour -----------------------------------------------------------------------------------

_KR, _KB = 0.2126, 0.0722  # BT.709, the matrix players assume for HD video; tagged in the stream
_KG = 1 - _KR - _KB
# Rows give limited-range ("tv") Y, Cb, Cr from 0..255 RGB; add _OFFSET.
_M = np.array([[_KR, _KG, _KB],
               [-_KR / (2 - 2 * _KB), -_KG / (2 - 2 * _KB), 0.5],
               [0.5, -_KG / (2 - 2 * _KR), -_KB / (2 - 2 * _KR)]], np.float32)
_M *= np.array([[219 / 255], [224 / 255], [224 / 255]], np.float32)
_OFFSET = np.array([16, 128, 128], np.float32)
_PIL_MATRIX = tuple(float(v) for row in np.hstack([_M, _OFFSET[:, None]]) for v in row)


def rgb_to_yuv(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (..., 3) -> float32 limited-range BT.709 (Y, Cb, Cr) (..., 3)."""
    return rgb.astype(np.float32) @ _M.T + _OFFSET


def yuv_planes(img: Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An even-sized RGB image as uint8 Y (full size) and Cb, Cr planes (half size, each sample
    sited at the centre of its 2x2 block: the mean of RGB = the mean of Cb/Cr, the matrix is linear)."""
    y = img.convert("RGB", matrix=_PIL_MATRIX).getchannel(0)
    _, cb, cr = img.reduce(2).convert("RGB", matrix=_PIL_MATRIX).split()
    return np.asarray(y), np.asarray(cb), np.asarray(cr)


def _load_rgb(image_path) -> Image.Image:
    img = ImageOps.exif_transpose(Image.open(image_path))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        bg = Image.new("RGBA", img.size, (0, 0, 0, 255))
        img = Image.alpha_composite(bg, img)
    return img.convert("RGB")


def fit_source(img: Image.Image, out_w: int, out_h: int, scale: float) -> Image.Image:
    """Crop `img` to the output aspect ("cover") and resize it to about (out_w, out_h) * scale
    (even sizes, so the half-size chroma planes cover exactly the same area)."""
    sw, sh = max(2, 2 * round(out_w * scale / 2)), max(2, 2 * round(out_h * scale / 2))
    return ImageOps.fit(img, (sw, sh), Image.Resampling.LANCZOS, centering=(0.5, 0.5))


# --- frames -----------------------------------------------------------------------------------

def _opencv():
    """OpenCV when installed (and not refused with STORYNB_WARP=pillow), else None."""
    if os.environ.get("STORYNB_WARP", "").lower() == "pillow":
        return None
    try:
        import cv2
    except ImportError:
        if os.environ.get("STORYNB_WARP", "").lower() == "opencv":
            raise
        return None
    return cv2


def _whole(c: float) -> bool:
    return abs(c - round(c)) < 1e-9


def _moved(box: Box, offset: float, axis: int) -> Box:
    """A box moved back by `offset` pixels along one axis (0: x, 1: y)."""
    x0, y0, x1, y1 = box
    return (x0 - offset, y0, x1 - offset, y1) if axis == 0 else (x0, y0 - offset, x1, y1 - offset)


class _Plane:
    """One image plane resampled per frame at a float crop box.

    With OpenCV: a bilinear `warpAffine` (SIMD; coordinates kept to 1/32 px), or, when every box is
    the output size (a pan or tilt at 1:1), a shift: `addWeighted` of two slices offset by one pixel
    (0.3 ms instead of 2.6 ms for 1080x1920). Otherwise Pillow's `resize(box=...)`, which does two
    passes; an axis no box ever changes is resampled once here, as Pillow skips a pass when the box
    spans the whole image along that axis at the output size.
    """

    def __init__(self, plane: np.ndarray, size: tuple[int, int], boxes: list[Box], cv2=None):
        self.size, self.cv2, self.boxes = size, cv2, boxes
        self.src: Any = plane  # an array (OpenCV) or a PIL image (Pillow)
        w, h = size
        self.shift = cv2 is not None and all(abs(b[2] - b[0] - w) < 1e-6 and abs(b[3] - b[1] - h) < 1e-6
                                             for b in boxes)
        if self.shift:
            # A sub-pixel offset shared by all frames is applied once, so frames need one blend.
            for axis in (0, 1):
                phases = {b[axis] % 1 for b in boxes}
                if len(phases) == 1 and (f := phases.pop()) > 1e-9:
                    a, b = (self.src[:, :-1], self.src[:, 1:]) if axis == 0 else (self.src[:-1], self.src[1:])
                    self.src = cv2.addWeighted(a, 1 - f, b, f, 0)
                    self.boxes = [_moved(bx, f, axis) for bx in self.boxes]
            self.shift = all(_whole(bx[0]) or _whole(bx[1]) for bx in self.boxes)
        if cv2 is None:
            img = Image.fromarray(plane)
            xs, ys = {(b[0], b[2]) for b in boxes}, {(b[1], b[3]) for b in boxes}
            if len(ys) == 1 and len(xs) > 1:
                (y0, y1), = ys
                img = img.resize((img.width, h), Image.Resampling.BILINEAR, box=(0, y0, img.width, y1))
                self.boxes = [(b[0], 0, b[2], h) for b in boxes]
            elif len(xs) == 1 and len(ys) > 1:
                (x0, x1), = xs
                img = img.resize((w, img.height), Image.Resampling.BILINEAR, box=(x0, 0, x1, img.height))
                self.boxes = [(0, b[1], w, b[3]) for b in boxes]
            self.src = img

    def frame(self, i: int) -> np.ndarray:
        x0, y0, x1, y1 = self.boxes[i]
        w, h = self.size
        if self.cv2 is None:
            return np.asarray(self.src.resize(self.size, Image.Resampling.BILINEAR, box=(x0, y0, x1, y1)))
        if self.shift:
            x0, y0 = (round(c) if _whole(c) else c for c in (x0, y0))
            ix, fx, iy, fy = int(x0), x0 % 1, int(y0), y0 % 1
            if fx > 1e-9:
                return self.cv2.addWeighted(self.src[iy:iy + h, ix:ix + w], 1 - fx,
                                            self.src[iy:iy + h, ix + 1:ix + 1 + w], fx, 0)
            if fy > 1e-9:
                return self.cv2.addWeighted(self.src[iy:iy + h, ix:ix + w], 1 - fy,
                                            self.src[iy + 1:iy + 1 + h, ix:ix + w], fy, 0)
            return np.ascontiguousarray(self.src[iy:iy + h, ix:ix + w])
        sx, sy = (x1 - x0) / w, (y1 - y0) / h
        # OpenCV samples at integer coordinates = pixel centres, Pillow's boxes are pixel edges.
        m = np.array([[sx, 0, x0 + 0.5 * sx - 0.5], [0, sy, y0 + 0.5 * sy - 0.5]])
        return self.cv2.warpAffine(self.src, m, self.size, flags=self.cv2.INTER_LINEAR | self.cv2.WARP_INVERSE_MAP,
                                   borderMode=self.cv2.BORDER_REPLICATE)


def _locate(text: str, words: list[dict], word: dict) -> int:
    """Where `word` starts in the page text (words appear in order)."""
    pos = 0
    for w in words:
        at = text.find(w["text"], pos)
        if at < 0:
            return -1
        if w is word:
            return at
        pos = at + len(w["text"])
    return -1


class _Caption:
    """The caption converted once to Y/U/V planes with premultiplied alpha, blended into the rows
    of each frame it covers (and only those). Narration too long for one caption is shown as
    pages, one after another, each for a share of the clip that follows its length."""

    def __init__(self, text: str, width: int, height: int, font_path: str | None, n_frames: int,
                 captions=(), fps: float = 24, highlight: bool = False):
        from .subtitles import caption_pages, drawable, find_font, font_chain

        # Characters the font lacks are left out of the caption (see subtitles.drawable).
        font = font_path if font_path and Path(font_path).is_file() else find_font(text, font_path)
        self.chain = font_chain(text, font)  # fallback fonts for the characters it lacks
        self.width, self.height = width, height
        self.starts, self.pages = [], []
        if captions:  # timed pages: each from its first word to the next page (or a short hold)
            blank = self._planes("", font)
            self._add(0, blank)
            for page in captions:
                a = max(0, min(n_frames, round(page["start"] * fps)))
                b = max(a, min(n_frames, round(page["end"] * fps)))
                if highlight and page["words"]:
                    for k, word in enumerate(page["words"]):
                        f = a if k == 0 else max(a, min(b, round(word["start"] * fps)))
                        self._add(f, self._planes(page["text"], font, page, word))
                else:
                    self._add(a, self._planes(page["text"], font))
                self._add(b, blank)
            return
        pages = caption_pages(drawable(text, font, self.chain), width, font) or [text]
        weights = [max(1, len(p)) for p in pages]
        total, seen = sum(weights), 0
        for weight in weights:
            self.starts.append(round(n_frames * seen / total))
            seen += weight
        self.pages = [self._planes(page, font) for page in pages]

    def _add(self, frame: int, planes) -> None:
        """Show `planes` from `frame` on (a later entry for the same frame replaces it)."""
        if self.starts and self.starts[-1] >= frame:
            del self.starts[-1], self.pages[-1]
            while self.starts and self.starts[-1] > frame:
                del self.starts[-1], self.pages[-1]
        self.starts.append(frame)
        self.pages.append(planes)

    def _planes(self, text: str, font: str, page: dict | None = None, word: dict | None = None):
        from .subtitles import caption_top, drawable, render_caption

        width, height = self.width, self.height
        text = drawable(text, font, self.chain)  # characters no font has are left out (kept in the .srt)
        if not text:
            rgba = np.zeros((2, width, 4), np.float32)
        else:
            mark = None
            if word is not None and page is not None:
                at = _locate(page["text"], page["words"], word)
                mark = (at, at + len(word["text"])) if at >= 0 else None
            rgba = np.asarray(render_caption(text, width, font, highlight=mark, chain=self.chain),
                              np.float32)
        a = rgba[..., 3:] / 255
        yuv = rgb_to_yuv(rgba[..., :3]) * a  # premultiplied
        h = rgba.shape[0]
        a2 = a.reshape(h // 2, 2, width // 2, 2, 1).mean(axis=(1, 3))
        uv2 = yuv[..., 1:].reshape(h // 2, 2, width // 2, 2, 2).mean(axis=(1, 3))
        top = caption_top(width, height, h)
        rows = min(h, height - top)
        return [(yuv[:rows, :, 0], 1 - a[:rows, :, 0], top),
                (uv2[:rows // 2, :, 0], 1 - a2[:rows // 2, :, 0], top // 2),
                (uv2[:rows // 2, :, 1], 1 - a2[:rows // 2, :, 0], top // 2)]

    def page(self, frame: int) -> int:
        return bisect.bisect_right(self.starts, frame) - 1

    def burn(self, planes: list[np.ndarray], frame: int = 0) -> list:
        """Each plane as pieces to write in order: rows above, the blended band, rows below."""
        out = []
        for plane, (premul, keep, top) in zip(planes, self.pages[self.page(frame)]):
            band = plane[top:top + len(keep)] * keep + premul
            out += [plane[:top], (band + 0.5).astype(np.uint8), plane[top + len(keep):]]
        return out




# Smaller quantisation deadzones keep the small residuals that carry motion finer than H.264's
# quarter-pel vectors; with the defaults, veryfast at crf 20 snaps a slow pan to them now and then
# (bench, 0.45 px/frame pan: max error 0.17 -> 0.09 px; about +50 % bitrate, +5-10 % encode time).
X264_PARAMS = "deadzone-inter=6:deadzone-intra=6"


def encode_cmd(width: int, height: int, fps: float, out: str) -> list[str]:
    return [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", f"{fps}",
            # Tagged on the input: tagging only the output makes ffmpeg insert a converting scaler.
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
            "-color_range", "tv", "-i", "-", "-an", "-c:v", "libx264", "-preset", "veryfast",
            "-crf", "20", "-x264-params", X264_PARAMS, "-movflags", "+faststart", "-f", "mp4", out]


def _pipe(frames, cmd: list[str]) -> None:
    """Write raw frames (each a list of buffers, written in order) to ffmpeg's stdin from a writer
    thread (the pipe write releases the GIL, so frames are computed meanwhile)."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=err)
        try:
            import fcntl

            fcntl.fcntl(proc.stdin.fileno(), 1031, 1 << 20)  # type: ignore[union-attr]  # stdin=PIPE  # F_SETPIPE_SZ: fewer context switches
        except (ImportError, OSError):
            pass
        q: queue.Queue = queue.Queue(maxsize=4)
        failed: list[BaseException] = []

        def writer():
            while (item := q.get()) is not None:
                if failed:
                    continue
                try:
                    for buf in item:
                        proc.stdin.write(buf)
                except BaseException as exc:  # broken pipe: ffmpeg died, its stderr says why
                    failed.append(exc)
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        try:
            for item in frames:
                q.put(item)
                if failed:
                    break
        finally:
            q.put(None)
            t.join()
            rc = proc.wait()
        if rc != 0 or failed:
            err.seek(0)
            msg = err.read().decode("utf-8", "replace").strip()[-2000:]
            raise RuntimeError(f"ffmpeg failed to encode the clip (exit {rc}): {msg or failed}")


def source_scale(move: CameraMove) -> float:
    """How much larger than the output the source is fitted: the closest crop then maps ~1:1 to
    the output (full detail), every other frame is an antialiased downscale."""
    return 1.0 if move.movement == "static" else 1 + move.amount


def yuv_frames(image_path, move: CameraMove, n_frames: int, width: int, height: int, *,
               subtitle: str = "", font_path: str | None = None, captions=(), fps: float = 24,
               highlight: bool = False) -> Iterator[list[np.ndarray]]:
    """The clip's frames, computed lazily, each as uint8 arrays whose bytes in order form one raw
    yuv420p frame (the Y, U, V planes, or pieces of them around a caption band). The set-up
    (loading, fitting, caption) happens now, so errors show before anything is encoded."""
    if n_frames < 1:
        raise ValueError(f"a clip needs at least one frame, got {n_frames}")
    if width < 2 or height < 2 or width % 2 or height % 2:
        raise ValueError(f"width and height must be even and >= 2 (yuv420p), got {width}x{height}")
    if Image.core.get_blocks_max() < 32:
        # Let Pillow reuse freed image memory instead of faulting in fresh pages for every frame.
        Image.core.set_blocks_max(32)
    src = fit_source(_load_rgb(image_path), width, height, source_scale(move))
    boxes = plan_boxes(move, n_frames, src.width, src.height, width, height)
    half_boxes: list[Box] = [(b[0] / 2, b[1] / 2, b[2] / 2, b[3] / 2) for b in boxes]
    cv2 = _opencv()
    y, u, v = yuv_planes(src)
    planes = (_Plane(y, (width, height), boxes, cv2), _Plane(u, (width // 2, height // 2), half_boxes, cv2),
              _Plane(v, (width // 2, height // 2), half_boxes, cv2))
    caption = (_Caption(subtitle, width, height, font_path, n_frames, captions, fps, highlight)
               if subtitle.strip() else None)

    def frames():
        last_state, last = None, None
        for i, box in enumerate(boxes):
            state = (box, caption.page(i) if caption else 0)
            if state != last_state:
                yuv = [p.frame(i) for p in planes]
                last, last_state = (caption.burn(yuv, i) if caption else yuv), state
            yield last

    return frames()


def encode_yuv(frames: Iterable[list], width: int, height: int, fps: float, out_path) -> Path:
    """Encode raw yuv420p frames to an H.264 MP4 (libx264 veryfast, crf 20, +faststart), atomically."""
    with atomic_path(out_path) as tmp:
        _pipe(frames, encode_cmd(width, height, fps, str(tmp)))
    return Path(out_path)


def render_clip(image_path, move: CameraMove, duration_s: float, width: int, height: int,
                fps: float, out_path, *, subtitle: str = "", font_path: str | None = None,
                captions=(), highlight: bool = False) -> Path:
    """Animate `image_path` with `move` into an H.264 yuv420p MP4 of exactly round(duration_s*fps)
    frames (no audio), optionally with `subtitle` burned in. Written atomically."""
    n = round(duration_s * fps)
    if n < 1:
        raise ValueError(f"duration_s*fps must give at least one frame, got {duration_s}*{fps}")
    frames = yuv_frames(image_path, move, n, width, height, subtitle=subtitle, font_path=font_path,
                        captions=captions, fps=fps, highlight=highlight)
    return encode_yuv(frames, width, height, fps, out_path)
