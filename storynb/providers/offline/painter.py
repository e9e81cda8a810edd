"""The offline painter: a procedural Pillow picture whose palette and composition follow the
prompt's words."""
from __future__ import annotations

import asyncio
import colorsys
import functools
import math
import os
import random
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from . import words as T
from .common import seed_of, trim_dangling
from ..base import ImageRequest, ProviderError
from ...text import is_cjk


def _has(text: str, *words: str) -> bool:
    for w in words:
        if is_cjk(w[0]):
            if w in text:
                return True
        elif re.search(r"\b" + re.escape(w) + r"(?:s|es)?\b", text):
            return True
    return False


_STORM = ("storm", "thunder", "gale", "tempest", "lightning", "风暴", "暴风", "雷")
_ROAD = ("road", "path", "street", "lane", "track", "路", "街")
_VEHICLE = ("car", "truck", "bus", "van", "cart", "wagon", "carriage", "tractor", "taxi",
            "汽车", "卡车", "马车", "车")


def _palette(text: str, rng: random.Random) -> tuple[str, dict[str, np.ndarray]]:
    name = next((n for n, words in T.PALETTE_WORDS if _has(text, *words)), None)
    if _has(text, *_STORM):  # a storm darkens any time of day
        name = "storm"
    if name:
        base = T.PALETTES[name]
    else:  # from a hash of the words
        h = rng.random()
        def hsv(dh: float, s: float, v: float) -> tuple[int, int, int]:
            r, g, b = colorsys.hsv_to_rgb((h + dh) % 1, s, v)
            return int(r * 255), int(g * 255), int(b * 255)

        base = dict(top=hsv(0, 0.55, 0.42), mid=hsv(0.04, 0.35, 0.75), horizon=hsv(0.09, 0.25, 0.97),
                    disc=hsv(0.12, 0.15, 1.0), land=hsv(0.45, 0.45, 0.3), water=hsv(0.5, 0.5, 0.5),
                    ink=hsv(0.45, 0.5, 0.1))
    shift, gain = rng.uniform(-0.03, 0.03), rng.uniform(0.92, 1.06)
    out = {}
    for key, rgb in base.items():
        hh, ss, vv = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
        r, g, b = colorsys.hsv_to_rgb((hh + shift) % 1, ss, min(1.0, vv * gain))
        out[key] = np.array([r, g, b], dtype=np.float32) * 255
    return name or "hashed", out


def _ridge(rng: random.Random, width: int, base: float, rough: float, jag: bool) -> np.ndarray:
    """A skyline profile (y per x): midpoint displacement for mountains, sines for hills."""
    xs = np.arange(width, dtype=np.float32)
    if not jag:
        y = np.full(width, base, dtype=np.float32)
        for _ in range(3):
            period = rng.uniform(0.5, 1.6) * width
            y += rough * rng.uniform(0.3, 1.0) * np.sin(xs / period * 2 * np.pi + rng.uniform(0, 6.3))
        return y
    n = 1
    pts = np.array([base + rng.uniform(-rough, rough), base + rng.uniform(-rough, rough)])
    amp = rough * 1.6
    while n < width:
        mids = (pts[:-1] + pts[1:]) / 2 + np.array([rng.uniform(-amp, amp) for _ in range(len(pts) - 1)])
        merged = np.empty(len(pts) + len(mids))
        merged[0::2], merged[1::2] = pts, mids
        pts, n, amp = merged, n * 2, amp * 0.55
    return np.interp(xs, np.linspace(0, width - 1, len(pts)), pts).astype(np.float32)


def _fill_below(img: np.ndarray, ridge: np.ndarray, color: np.ndarray, alpha: float = 1.0) -> None:
    h = img.shape[0]
    rows = np.arange(h, dtype=np.float32)[:, None]
    mask = np.clip(rows - ridge[None, :] + 0.5, 0, 1)[..., None] * alpha  # soft 1px edge
    img[:] = img * (1 - mask) + color * mask


def _lerp(a: np.ndarray, b: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    return a + (b - a) * t


# Composition, as fractions of the picture: the video engine burns the subtitle into a box over
# about 73%..86% of the height, and the camera zooms up to 1.25x and pans up to a quarter of the
# width. So subjects stand on a ground line near 68% and reach up into the band from 35%, the
# foreground below the ground line stays calm, and key subjects keep out of the outer 18% at the
# sides. The caption label keeps at least 14% in from every edge: centred, its top at 21% of the
# height (a full tilt at intensity 0.25 shows 80% of the height, from 20% down).
_BAND_TOP, _GROUND, _SIDE, _CAPTION_SAFE, _CAPTION_TOP = 0.35, 0.68, 0.18, 0.14, 0.21


@dataclass
class _Canvas:
    """The low-resolution working picture, what the prompt asked for and where things go."""

    text: str
    rng: random.Random
    lw: int
    lh: int
    pal_name: str
    pal: dict[str, np.ndarray]
    horizon: float = 0.0
    img: np.ndarray = field(init=False)
    yy: np.ndarray = field(init=False)
    xx: np.ndarray = field(init=False)
    ground: np.ndarray = field(init=False)  # y of the nearest ground per x
    ridges: list = field(default_factory=list)
    spots: dict = field(default_factory=dict)  # subject -> (centre x, size, width), from `_plan`
    # set while painting: where boats and whales float (_plan), the sun or moon (_paint_sky) …
    boat_y: float = field(default=0.0, init=False)
    whale_y: float = field(default=0.0, init=False)
    storm: bool = field(default=False, init=False)
    has_disc: bool = field(default=False, init=False)
    is_moon: bool = field(default=False, init=False)
    dx: float = field(default=0.0, init=False)
    dy: float = field(default=0.0, init=False)
    dr: float = field(default=0.0, init=False)
    pic: Any = field(default=None, init=False)

    def __post_init__(self) -> None:
        rng = self.rng
        self.yy, self.xx = np.mgrid[0:self.lh, 0:self.lw].astype(np.float32)
        self.night = self.pal_name == "night"
        self.haze = self.pal["horizon"] * 0.55 + self.pal["land"] * 0.45
        self.ink = _rgb(self.pal["ink"])
        self.lit = self.night or self.pal_name in ("sunset", "storm", "fire") or \
            self.has("lantern", "light", "window", "灯")
        self.water = self.has("sea", "ocean", "lake", "harbour", "harbor", "boat", "ship", "whale", "river",
                              "beach", "海", "湖", "港", "船", "河")
        self.horizon = self.lh * (rng.uniform(0.44, 0.5) if self.water else rng.uniform(0.47, 0.53))
        self.ground_y = self.lh * rng.uniform(_GROUND - 0.015, _GROUND + 0.01)
        self.unit = min(self.lw, 1.15 * self.lh)  # the size of a large subject (about a whale's length)
        self.zoom = 1.25 if "close-up" in self.text else 1.1 if "medium shot" in self.text else 1.0
        self.band = self.ground_y - _BAND_TOP * self.lh  # height from the ground line up to the band top
        self.shore = False

    def has(self, *words: str) -> bool:
        return _has(self.text, *words)

    def ground_at(self, x: float, lift: float = 0.0) -> float:
        return float(min(self.ground[int(np.clip(x, 0, self.lw - 1))], self.lh - 4 - lift)) + 3


_GLOW = (255, 214, 130)


def _rgb(color: np.ndarray) -> tuple[int, int, int]:
    return tuple(int(c) for c in color)  # type: ignore[return-value]


def _plan(c: _Canvas) -> None:
    """Choose the subjects, their sizes and their places across the middle of the picture.

    Each subject has a main size (a height or a length) and a width; they are laid out side by
    side, without overlapping, inside the central 66% of the width (shrunk together if needed).
    """
    rng, u, band, z = c.rng, c.unit, c.band, c.zoom
    items: list[tuple[str, float, float]] = []  # (subject, size, width / size)
    if c.has("lighthouse", "灯塔"):
        items.append(("lighthouse", (c.ground_y - c.lh * rng.uniform(0.28, 0.34)) / 1.15, 0.24))  # + lamp
    elif c.has("house", "home", "farmhouse", "cottage", "bakery", "door", "cabin", "hut", "shop",
               "屋", "家", "农舍", "门"):
        items.append(("house", min(u * rng.uniform(0.22, 0.28), band * 0.85), 1.2))
    if c.has("tower", "塔", "钟楼") and not c.has("lighthouse", "灯塔"):
        items.append(("tower", (c.ground_y - c.lh * rng.uniform(0.29, 0.35)) / 1.2, 0.24))  # + roof
    building = len(items)
    top = c.lh * (_BAND_TOP - 0.04)  # nothing reaches higher than this
    c.boat_y = c.horizon + (c.ground_y - c.horizon) * rng.uniform(0.35, 0.55)  # waterlines
    c.whale_y = c.horizon + (c.ground_y - c.horizon) * rng.uniform(0.55, 0.72)
    if c.water and c.has("boat", "ship", "sail", "ferry", "船"):
        items.append(("boat", min(u * rng.uniform(0.3, 0.38) * z, c.boat_y - top), 1.0))
    if c.water and c.has("whale", "鲸"):
        items.append(("whale", min(u * rng.uniform(0.44, 0.52) * z, (c.whale_y - top) / 0.36), 1.05))
    figure = min(band * rng.uniform(0.62, 0.78) * z, c.ground_y - top)
    if c.has("robot", "机器人"):
        items.append(("robot", figure * 0.85, 0.5))
    elif c.has("fox", "cat", "dog", "rabbit", "wolf", "狐", "猫", "狗", "兔", "狼"):
        items.append(("animal", u * rng.uniform(0.085, 0.1) * z, 3.1))
    if c.has("girl", "boy", "man", "woman", "child", "figure", "keeper", "traveller", "traveler", "knight",
               "sailor", "person", "stranger", "visitor", "friend", "mother", "father", "grandmother",
               "grandfather", "neighbour", "neighbor", "farmer", "baker", "king", "queen", "princess",
               "prince", "人", "女孩", "男孩", "孩子", "陌生人", "妈妈", "爸爸", "奶奶", "爷爷"):
        items.append(("person", figure, 0.62 if c.has("lantern", "灯笼") else 0.42))
    if c.has(*_VEHICLE) and not c.has("train", "火车"):
        items.append(("vehicle", band * rng.uniform(0.3, 0.38) * z, 2.3))
    if c.has("tree", "树") and not c.has("forest", "woods", "森林"):
        items.append(("tree", band * rng.uniform(0.6, 0.8), 0.8))
    c.shore = c.water and (any(k not in ("boat", "whale") for k, _, _ in items) or
                           c.has("girl", "boy", "figure", "man", "woman", "child", "fox", "cat", "dog", "house",
                                 "tree", "town", "村", "镇", "人", "狐"))
    if not items:
        return
    rest = items[building:]
    rng.shuffle(rest)
    items = items[:building] + rest
    if rng.random() < 0.5:
        items.reverse()  # the building (if any) on the left or on the right
    left, span = c.lw * _SIDE, c.lw * (1 - 2 * _SIDE)
    total = sum(size * ratio for _, size, ratio in items)
    shrink = min(1.0, span * 0.94 / total)
    total *= shrink
    if len(items) == 1:
        name, size, ratio = items[0]
        w = size * ratio * shrink
        x = np.clip(c.lw * (0.5 + rng.uniform(-0.12, 0.12)), left + w / 2, left + span - w / 2)
        c.spots[name] = (float(x), size * shrink, w)
        return
    gaps = [rng.uniform(0.2, 0.6)] + [rng.uniform(0.8, 1.6) for _ in items[1:]] + [rng.uniform(0.2, 0.6)]
    gaps = [g * (span - total) / sum(gaps) for g in gaps]
    x = left + gaps[0]
    for (name, size, ratio), gap in zip(items, gaps[1:]):
        w = size * ratio * shrink
        c.spots[name] = (x + w / 2, size * shrink, w)
        x += w + gap


def _clear_of_subjects(c: _Canvas, x: float, pad: float) -> bool:
    """True when x is not in front of (or behind) a planned subject."""
    return all(abs(x - sx) > w / 2 + pad for sx, _size, w in c.spots.values())


def _paint_sky(c: _Canvas) -> None:
    """Three-stop gradient, a glowing sun or moon (a crescent sometimes), stars, clouds."""
    rng, pal = c.rng, c.pal
    ys = np.arange(c.lh, dtype=np.float32) / max(c.horizon, 1)
    sky = np.stack([np.interp(ys, [0, 0.55, 1.0], [pal["top"][k], pal["mid"][k], pal["horizon"][k]])
                    for k in range(3)], axis=-1)
    c.img = np.repeat(sky[:, None, :], c.lw, axis=1).astype(np.float32)
    c.storm = c.has(*_STORM)
    c.has_disc = not c.storm and (c.night or c.pal_name in ("sunset", "dawn", "fire", "desert") or
                                  c.has("sun", "moon", "太阳", "月") or (c.pal_name != "storm" and rng.random() < 0.4))
    c.is_moon = c.night or c.has("moon", "月")
    c.dx = c.lw * rng.uniform(0.25, 0.75)
    c.dy = c.horizon * (rng.uniform(0.38, 0.62) if c.is_moon else rng.uniform(0.55, 0.85))
    c.dr = c.unit * rng.uniform(0.06, 0.1)
    dist = np.hypot(c.xx - c.dx, c.yy - c.dy)
    if c.has_disc:
        glow = np.exp(-(dist / (c.dr * (3.5 if c.is_moon else 6))) ** 2)[..., None]
        c.img += (pal["disc"] - c.img) * glow * (0.35 if c.is_moon else 0.6)
    if c.night or c.has("stars", "starry", "星"):
        white = np.array([255, 255, 240], np.float32)
        for _ in range(rng.randint(90, 220)):
            sx, sy = rng.randrange(c.lw), rng.uniform(0, c.horizon * 0.9)
            c.img[int(sy), sx] = _lerp(c.img[int(sy), sx], white, rng.uniform(0.35, 1.0) * (1 - sy / c.horizon))
    if c.has_disc:
        disc = np.clip(c.dr - dist + 0.5, 0, 1)
        if c.is_moon and rng.random() < 0.6:  # crescent
            off = np.hypot(c.xx - c.dx - c.dr * 0.45, c.yy - c.dy + c.dr * 0.2)
            disc = disc * (1 - np.clip(c.dr * 0.95 - off + 0.5, 0, 1) * 0.88)
        c.img += (pal["disc"] - c.img) * disc[..., None]
    if c.has("cloud", "storm", "rain", "fog", "mist", "sky", "云", "雾", "雨") or rng.random() < 0.45:
        layer = Image.new("L", (c.lw, c.lh), 0)
        d = ImageDraw.Draw(layer)
        for _ in range(rng.randint(9, 13) if c.storm else rng.randint(3, 7)):  # flat ellipses, blurred
            cx, cy, cw = (rng.uniform(-0.1, 1.1) * c.lw, rng.uniform(0.08, 0.8) * c.horizon,
                          rng.uniform(0.18, 0.45) * c.lw)
            for _ in range(rng.randint(3, 6)):
                ox, oy, r = rng.uniform(-cw / 2, cw / 2), rng.uniform(-cw / 10, cw / 14), rng.uniform(cw / 7, cw / 3.5)
                d.ellipse([cx + ox - r, cy + oy - r * 0.6, cx + ox + r, cy + oy + r * 0.6], fill=rng.randint(110, 200))
        mask = np.asarray(layer.filter(ImageFilter.GaussianBlur(c.lw * 0.02)), np.float32)[..., None] / 255
        if c.night:
            tone = pal["mid"] * 1.3
        elif c.storm:  # heavy, dark storm clouds
            tone = pal["top"] * 0.55
        elif c.pal_name == "storm":
            tone = _lerp(pal["mid"], pal["horizon"], 0.5)
        else:
            tone = _lerp(pal["horizon"], np.full(3, 255.0), 0.45)
        c.img += (tone - c.img) * mask * (0.9 if c.storm else 0.75)
    if c.storm and rng.random() < 0.6:  # a lightning bolt out of the clouds, away from the subjects
        x, y = c.lw * rng.choice((rng.uniform(0.08, 0.2), rng.uniform(0.8, 0.92))), c.horizon * 0.15
        pts = [(x, y)]
        while y < c.horizon * 0.75:
            x, y = x + rng.uniform(-0.04, 0.04) * c.lw, y + rng.uniform(0.06, 0.12) * c.horizon
            pts.append((x, y))
        bolt = Image.new("L", (c.lw, c.lh), 0)
        ImageDraw.Draw(bolt).line(pts, fill=255, width=max(1, c.lw // 200))
        glow = np.asarray(bolt.filter(ImageFilter.GaussianBlur(c.lw * 0.006)), np.float32)[..., None] / 255
        sharp = np.asarray(bolt, np.float32)[..., None] / 255
        c.img += (np.array([235, 240, 255], np.float32) - c.img) * np.clip(sharp + glow * 1.5, 0, 1)


def _paint_land(c: _Canvas) -> None:
    """Hazy hills or mountains on the horizon, then water with reflections, or a plain; a calm
    near ground (or shore) at the ground line, darkening gently towards the bottom."""
    rng, pal, lh, lw = c.rng, c.pal, c.lh, c.lw
    mountains = c.has("mountain", "peak", "cliff", "fortress", "山", "峰")
    layers = 3 if mountains else 2
    for k in range(layers):
        base = c.horizon - (lh * rng.uniform(0.08, 0.15) if mountains and k == 0 else lh * 0.03 * (1 - k))
        ridge = _ridge(rng, lw, base, lh * (0.05 if mountains else 0.02), mountains and k < 2)
        _fill_below(c.img, ridge, _lerp(c.haze, pal["land"], (k + 1) / (layers + 1) * (0.6 if c.water else 1.0)))
        c.ridges.append(ridge)
    if c.water:
        top = int(c.horizon)
        rows = np.linspace(0, 1, lh - top, dtype=np.float32)[:, None, None]
        c.img[top:] = _lerp(pal["horizon"] * 0.5 + pal["water"] * 0.5, pal["water"] * 0.6, rows)
        if c.has_disc:  # the light's reflection
            band = np.exp(-((c.xx[top:] - c.dx) / (c.dr * 1.2)) ** 2)[..., None]
            c.img[top:] += (pal["disc"] - c.img[top:]) * band * 0.35 * (1 - rows)
        for _ in range(rng.randint(60, 120)):  # ripples, longer near the viewer
            y = rng.uniform(top + 2, lh)
            x, length = rng.uniform(0, lw), rng.uniform(4, 18) * (y - top) / (lh - top) + 2
            seg = c.img[int(y), int(max(0, x - length)):int(min(lw, x + length))]
            seg += (pal["disc"] - seg) * 0.18
    c.ground = np.full(lw, lh + 10.0, np.float32)
    if not c.water or c.shore:  # the near ground, or a shore for someone to stand on
        c.ground = _ridge(rng, lw, c.ground_y, lh * 0.012, False)
        _fill_below(c.img, c.ground, pal["land"] * (1.0 if c.water else 0.85))
    if c.has(*_ROAD) and not c.water:  # a road winding from the viewer to the horizon
        far_x = lw * rng.uniform(0.35, 0.65)
        rows = np.arange(int(c.horizon), lh, dtype=np.float32)
        t = np.clip((rows - c.horizon) / max(1.0, lh - c.horizon), 0, 1)  # 0 at the horizon, 1 at the bottom
        centre = far_x + (lw * 0.5 - far_x) * t + lw * 0.05 * np.sin(t * 5 + rng.uniform(0, 6))
        half = lw * (0.004 + 0.22 * t ** 1.3)
        mask = np.clip(half[:, None] - np.abs(c.xx[int(c.horizon):] - centre[:, None]) + 0.5, 0, 1)[..., None]
        tone = _lerp(c.haze, np.full(3, 200.0), 0.25) if c.has("snow", "winter", "雪", "冬") else \
            _lerp(pal["land"], c.haze, 0.55)
        c.img[int(c.horizon):] += (tone - c.img[int(c.horizon):]) * mask * 0.85
    below = np.clip((c.yy - c.ground_y) / max(1.0, lh - c.ground_y), 0, 1)[..., None]
    c.img *= 1 - 0.2 * below  # a calm foreground, darker towards the bottom


def _paint_settlement(c: _Canvas, draw: ImageDraw.ImageDraw) -> None:
    """A city skyline or a row of village roofs on the horizon, windows lit after dark."""
    rng, u = c.rng, c.unit
    city = c.has("city", "skyline", "城市")
    if not (city or c.has("town", "village", "street", "镇", "村", "街")):
        return
    x = c.lw * rng.uniform(0.02, 0.2)
    end = c.lw * (0.98 if city else rng.uniform(0.6, 0.85))
    far = _rgb(_lerp(c.haze, c.pal["land"], 0.5))
    step = max(2.5, u * 0.012)
    while x < end:
        bw = u * rng.uniform(0.05, 0.09)
        bh = u * (rng.uniform(0.08, 0.22) if city else rng.uniform(0.035, 0.065))
        y0 = c.horizon - bh
        draw.rectangle([x, y0, x + bw, c.horizon + 4], fill=far)
        if not city:
            draw.polygon([(x - 1, y0), (x + bw / 2, y0 - bh * 0.6), (x + bw + 1, y0)], fill=far)
        if c.lit:
            for wy in np.arange(y0 + step * 0.6, c.horizon - 1, step * 1.2):
                for wx in np.arange(x + step * 0.6, x + bw - 1, step):
                    if rng.random() < 0.35:
                        draw.rectangle([wx, wy, wx + step * 0.35, wy + step * 0.45], fill=_GLOW)
        x += bw + u * rng.uniform(0.0, 0.03)


def _paint_castle(c: _Canvas, draw: ImageDraw.ImageDraw) -> None:
    """A castle on the far ridge, near the middle, hazy with distance."""
    if not c.has("castle", "fortress", "kingdom", "城堡", "要塞", "王国"):
        return
    rng, lw, u = c.rng, c.lw, c.unit
    cx, cw = lw * rng.uniform(0.38, 0.62), u * rng.uniform(0.3, 0.38)
    base = float(c.ridges[-1][int(np.clip(cx, 0, lw - 1))]) + 2
    col = _rgb(_lerp(c.haze, c.pal["ink"], 0.45))
    draw.rectangle([cx - cw / 2, base - cw * 0.28, cx + cw / 2, base], fill=col)
    for tx in (cx - cw / 2, cx - cw / 12, cx + cw / 2 - cw / 6):
        th = cw * rng.uniform(0.42, 0.62)
        draw.rectangle([tx, base - th, tx + cw / 6, base], fill=col)
        draw.polygon([(tx - 2, base - th), (tx + cw / 12, base - th - cw * 0.16), (tx + cw / 6 + 2, base - th)],
                     fill=col)
        if c.lit:
            draw.rectangle([tx + cw / 18, base - th * 0.7, tx + cw / 9, base - th * 0.6], fill=_GLOW)


def _paint_water_subjects(c: _Canvas, draw: ImageDraw.ImageDraw) -> None:
    """A sailing boat and a whale on the water, between the horizon and the shore, with reflections."""
    rng, pal = c.rng, c.pal
    reflect = _rgb(_lerp(pal["water"] * 0.6, pal["ink"], 0.45))
    if "boat" in c.spots:
        bx, bs, _ = c.spots["boat"]
        by = c.boat_y
        ink, d = c.ink, rng.choice((1, -1))
        for k in range(4):  # the reflection: broken dark streaks under the hull
            y = by + bs * (0.1 + 0.06 * k)
            half = bs * (0.42 - 0.07 * k)
            draw.line([(bx - half, y), (bx + half, y)], fill=reflect, width=max(1, int(bs * 0.025)))
        draw.polygon([(bx - d * bs / 2, by - bs * 0.1), (bx + d * bs / 2, by - bs * 0.13),
                      (bx + d * bs * 0.38, by + bs * 0.07), (bx - d * bs * 0.36, by + bs * 0.07)], fill=ink)
        mx = bx - d * bs * 0.04
        draw.line([(mx, by - bs * 0.1), (mx, by - bs * 1.0)], fill=ink, width=max(1, int(bs * 0.03)))
        sail = _rgb(_lerp(pal["disc"], pal["horizon"], 0.3) * 0.95)
        draw.polygon([(mx + d * bs * 0.03, by - bs * 0.95), (mx + d * bs * 0.42, by - bs * 0.2),
                      (mx + d * bs * 0.03, by - bs * 0.2)], fill=sail)
        draw.polygon([(mx - d * bs * 0.03, by - bs * 0.82), (mx - d * bs * 0.3, by - bs * 0.2),
                      (mx - d * bs * 0.03, by - bs * 0.2)], fill=_rgb(_lerp(pal["disc"], pal["ink"], 0.35)))
        if c.lit:  # a lamp at the stern
            lx = bx - d * bs * 0.33
            draw.ellipse([lx - bs * 0.025, by - bs * 0.2, lx + bs * 0.025, by - bs * 0.15], fill=_GLOW)
    if "whale" in c.spots:
        wx, ws, _ = c.spots["whale"]
        wy = c.whale_y
        col = _rgb(_lerp(pal["ink"], pal["water"] * 0.7, 0.18))
        d = rng.choice((1, -1))  # the head's side
        for k in range(3):
            y, half = wy + ws * (0.03 + 0.035 * k), ws * (0.45 - 0.1 * k)
            draw.line([(wx - half, y), (wx + half, y)], fill=reflect, width=max(1, int(ws * 0.015)))
        body = [wx - ws * 0.5 + (ws * 0.25 if d < 0 else 0), wy - ws * 0.13,
                wx + ws * 0.5 - (ws * 0.25 if d > 0 else 0), wy + ws * 0.13]
        draw.chord(body, 180, 360, fill=col)  # the long back
        hx = wx + d * ws * 0.28  # the head: a higher, rounder hump
        draw.chord([hx - ws * 0.22, wy - ws * 0.2, hx + ws * 0.22, wy + ws * 0.2], 180, 360, fill=col)
        tx = wx - d * ws * 0.43  # the tail: a stalk rising from the water, then the flukes
        top = wy - ws * 0.26
        draw.polygon([(tx - ws * 0.05, wy), (tx + ws * 0.05, wy), (tx + ws * 0.025, top), (tx - ws * 0.025, top)],
                      fill=col)
        for side in (-1, 1):
            draw.polygon([(tx, top + ws * 0.02), (tx + side * ws * 0.15, top - ws * 0.08),
                          (tx + side * ws * 0.13, top - ws * 0.01)], fill=col)
        light = _rgb(_lerp(pal["disc"], np.full(3, 255.0), 0.3))
        ex = hx + d * ws * 0.1
        draw.ellipse([ex - ws * 0.012, wy - ws * 0.07, ex + ws * 0.012, wy - ws * 0.046], fill=light)  # the eye
        sx, sy = hx - d * ws * 0.05, wy - ws * 0.19  # the spout: a fan of spray from the blowhole
        for k in range(5):
            a = math.pi * (0.3 + 0.4 * k / 4)
            r = ws * (0.13 if k in (1, 3) else 0.1)
            px, py = sx + math.cos(a) * r * 0.8, sy - math.sin(a) * r
            draw.line([(sx, sy), (px, py)], fill=light, width=max(1, int(ws * 0.01)))
            draw.ellipse([px - ws * 0.012, py - ws * 0.012, px + ws * 0.012, py + ws * 0.012], fill=light)
        foam = _rgb(_lerp(pal["water"], np.full(3, 255.0), 0.45))
        draw.line([(wx - ws * 0.5, wy), (wx + ws * 0.5, wy)], fill=foam, width=max(1, int(ws * 0.01)))


def _paint_buildings(c: _Canvas, draw: ImageDraw.ImageDraw) -> None:
    """A lighthouse (its beam when lit), a house or a tower, standing on the ground line."""
    lw, lh, ink = c.lw, c.lh, c.ink
    if "lighthouse" in c.spots:
        lx, th, _ = c.spots["lighthouse"]
        base, bw = c.ground_at(lx), th * 0.1
        draw.polygon([(lx - bw, base), (lx - bw * 0.62, base - th), (lx + bw * 0.62, base - th), (lx + bw, base)],
                     fill=ink)
        for k in range(1, 4):  # red bands
            y, half = base - th * k / 4, bw * (1 - 0.38 * k / 4)
            draw.rectangle([lx - half, y - th * 0.045, lx + half, y], fill=(180, 40, 40))
        draw.rectangle([lx - bw * 0.75, base - th - bw * 0.15, lx + bw * 0.75, base - th], fill=ink)  # gallery
        draw.rectangle([lx - bw * 0.45, base - th - bw * 0.9, lx + bw * 0.45, base - th - bw * 0.15],
                       fill=_GLOW if c.lit else ink)
        draw.polygon([(lx - bw * 0.6, base - th - bw * 0.9), (lx, base - th - bw * 1.5),
                      (lx + bw * 0.6, base - th - bw * 0.9)], fill=ink)
        if c.lit:  # the beam
            beam = Image.new("L", (lw, lh), 0)
            side = 1 if lx < lw / 2 else -1
            y = base - th - bw * 0.5
            ImageDraw.Draw(beam).polygon([(lx, y), (lx + side * lw, y - lh * 0.1), (lx + side * lw, y + lh * 0.05)],
                                         fill=70)
            c.pic.paste(Image.new("RGB", (lw, lh), _GLOW), (0, 0), beam.filter(ImageFilter.GaussianBlur(3)))
    if "house" in c.spots:
        cx, hw, _ = c.spots["house"]
        hx = cx - hw / 2
        base, hh = c.ground_at(cx), hw * 0.6
        draw.rectangle([hx, base - hh, hx + hw, base], fill=ink)
        draw.polygon([(hx - hw * 0.1, base - hh), (hx + hw / 2, base - hh - hw * 0.45), (hx + hw * 1.1, base - hh)],
                     fill=ink)
        draw.rectangle([hx + hw * 0.7, base - hh - hw * 0.4, hx + hw * 0.82, base - hh - hw * 0.1], fill=ink)  # chimney
        window = _GLOW if c.lit else _rgb(c.haze)
        draw.rectangle([hx + hw * 0.58, base - hh * 0.72, hx + hw * 0.82, base - hh * 0.4], fill=window)
        draw.rectangle([hx + hw * 0.18, base - hh * 0.62, hx + hw * 0.36, base],
                       fill=_rgb(_lerp(c.pal["ink"], c.haze, 0.3)))
    if "vehicle" in c.spots:  # a car, a cart or a bus: a body, a cabin, two wheels
        vx, vs, vw = c.spots["vehicle"]
        base = c.ground_at(vx)
        wheel = vs * 0.22
        body_top = base - wheel - vs * 0.32
        cart = c.has("cart", "wagon", "carriage", "马车")
        draw.rounded_rectangle([vx - vw / 2, body_top, vx + vw / 2, base - wheel * 0.8], radius=max(1, vs * 0.08),
                               fill=ink)
        if not cart:
            draw.polygon([(vx - vw * 0.3, body_top), (vx - vw * 0.18, body_top - vs * 0.3),
                          (vx + vw * 0.2, body_top - vs * 0.3), (vx + vw * 0.34, body_top)], fill=ink)
            win = _GLOW if c.lit else _rgb(c.haze)
            draw.polygon([(vx - vw * 0.24, body_top - 1), (vx - vw * 0.15, body_top - vs * 0.24),
                          (vx - vw * 0.02, body_top - vs * 0.24), (vx - vw * 0.02, body_top - 1)], fill=win)
            draw.polygon([(vx + vw * 0.02, body_top - 1), (vx + vw * 0.02, body_top - vs * 0.24),
                          (vx + vw * 0.17, body_top - vs * 0.24), (vx + vw * 0.27, body_top - 1)], fill=win)
            if c.lit:
                _glow(c, vx + vw / 2, body_top + vs * 0.12, vs * 0.25)
        for wx in (vx - vw * 0.3, vx + vw * 0.3):
            draw.ellipse([wx - wheel, base - 2 * wheel, wx + wheel, base], fill=ink)
            draw.ellipse([wx - wheel * 0.4, base - wheel * 1.4, wx + wheel * 0.4, base - wheel * 0.6],
                         fill=_rgb(_lerp(c.pal["ink"], c.haze, 0.4)))
    if "tower" in c.spots:
        tx, th, _ = c.spots["tower"]
        base, bw = c.ground_at(tx), th * 0.09
        draw.rectangle([tx - bw, base - th, tx + bw, base], fill=ink)
        draw.polygon([(tx - bw * 1.3, base - th), (tx, base - th - th * 0.2), (tx + bw * 1.3, base - th)], fill=ink)
        draw.rectangle([tx - bw * 0.35, base - th * 0.85, tx + bw * 0.35, base - th * 0.76],
                       fill=_GLOW if c.lit else ink)


def _pine(draw: ImageDraw.ImageDraw, x: float, base: float, th: float, col: tuple[int, int, int]) -> None:
    for k in range(3):  # three stacked triangles on a short trunk
        w2, y1 = th * (0.34 - k * 0.08), base - th * (0.3 + k * 0.22)
        draw.polygon([(x - w2, y1 + th * 0.2), (x, y1 - th * 0.3), (x + w2, y1 + th * 0.2)], fill=col)
    draw.rectangle([x - th * 0.03, base - th * 0.2, x + th * 0.03, base], fill=col)


def _paint_trees(c: _Canvas, draw: ImageDraw.ImageDraw) -> None:
    """A forest: a hazy far row and a near row that leaves a clearing around the subjects; or one tree."""
    rng = c.rng
    if c.has("forest", "woods", "森林"):
        far = _rgb(_lerp(c.haze, c.pal["ink"], 0.45))
        for _ in range(rng.randint(16, 28)):
            tx = rng.uniform(0, c.lw)
            _pine(draw, tx, float(c.ridges[-1][int(np.clip(tx, 0, c.lw - 1))]) + 4, c.band * rng.uniform(0.2, 0.35),
                  far)
        for _ in range(rng.randint(8, 16)):
            tx = rng.uniform(0, c.lw)
            th = c.band * rng.uniform(0.45, 0.8)
            if _clear_of_subjects(c, tx, th * 0.35):
                _pine(draw, tx, c.ground_at(tx) + 2, th, c.ink)
    if "tree" in c.spots:  # a broad tree: trunk and a cloud of leaves
        tx, th, _ = c.spots["tree"]
        base = c.ground_at(tx)
        draw.polygon([(tx - th * 0.06, base), (tx - th * 0.035, base - th * 0.65), (tx + th * 0.035, base - th * 0.65),
                      (tx + th * 0.06, base)], fill=c.ink)
        for _ in range(9):
            ox, oy, r = rng.uniform(-0.25, 0.25) * th, rng.uniform(-0.85, -0.6) * th, rng.uniform(0.14, 0.22) * th
            draw.ellipse([tx + ox - r, base + oy - r, tx + ox + r, base + oy + r], fill=c.ink)


def _glow(c: _Canvas, x: float, y: float, r: float) -> None:
    layer = Image.new("L", (c.lw, c.lh), 0)
    ImageDraw.Draw(layer).ellipse([x - r, y - r, x + r, y + r], fill=90)
    c.pic.paste(Image.new("RGB", (c.lw, c.lh), _GLOW), (0, 0), layer.filter(ImageFilter.GaussianBlur(r * 0.5)))


def _paint_figures(c: _Canvas, draw: ImageDraw.ImageDraw) -> None:
    """A robot, an animal or a person standing on the ground line; birds in the sky."""
    rng, ink = c.rng, c.ink
    if "robot" in c.spots:
        fx, s, _ = c.spots["robot"]
        fb = c.ground_at(fx) - 1
        draw.rectangle([fx - s * 0.22, fb - s * 0.7, fx + s * 0.22, fb - s * 0.25], fill=ink)
        draw.rectangle([fx - s * 0.15, fb - s, fx + s * 0.15, fb - s * 0.75], fill=ink)
        draw.rectangle([fx - s * 0.15, fb - s * 0.25, fx - s * 0.05, fb], fill=ink)
        draw.rectangle([fx + s * 0.05, fb - s * 0.25, fx + s * 0.15, fb], fill=ink)
        draw.rectangle([fx - s * 0.3, fb - s * 0.66, fx - s * 0.24, fb - s * 0.36], fill=ink)  # arms
        draw.rectangle([fx + s * 0.24, fb - s * 0.66, fx + s * 0.3, fb - s * 0.36], fill=ink)
        for ex in (-0.07, 0.07):  # eyes
            draw.ellipse([fx + s * (ex - 0.03), fb - s * 0.9, fx + s * (ex + 0.03), fb - s * 0.84], fill=_GLOW)
        draw.line([(fx, fb - s), (fx, fb - s * 1.12)], fill=ink, width=max(1, int(s * 0.02)))
        draw.ellipse([fx - s * 0.03, fb - s * 1.16, fx + s * 0.03, fb - s * 1.1], fill=_GLOW)
    if "animal" in c.spots:
        cx, s, _ = c.spots["animal"]
        d = rng.choice((1, -1))  # facing right or left
        fx = cx + d * s * 0.35  # the spot is the middle of tail, body and head together
        fb = c.ground_at(fx) - 1

        def box(x0: float, y0: float, x1: float, y1: float) -> list[float]:
            xa, xb = sorted((fx + d * x0, fx + d * x1))
            return [xa, y0, xb, y1]

        draw.ellipse(box(-s, fb - s * 0.9, s * 0.7, fb - s * 0.25), fill=ink)  # body
        for lx in (-s * 0.7, -s * 0.45, s * 0.25, s * 0.45):
            draw.rectangle(box(lx, fb - s * 0.5, lx + s * 0.12, fb), fill=ink)
        draw.ellipse(box(s * 0.4, fb - s * 1.35, s * 1.05, fb - s * 0.75), fill=ink)  # head
        if c.has("fox", "dog", "wolf", "狐", "狗", "狼"):
            draw.polygon([(fx + d * s * 0.95, fb - s * 1.15), (fx + d * s * 1.3, fb - s * 0.95),
                          (fx + d * s * 0.9, fb - s * 0.85)], fill=ink)  # snout
        ear = s * (0.45 if c.has("rabbit", "兔") else 0.3)
        for ex in (s * 0.5, s * 0.78):
            draw.polygon([(fx + d * ex, fb - s * 1.2), (fx + d * (ex + s * 0.1), fb - s * 1.3 - ear),
                          (fx + d * (ex + s * 0.22), fb - s * 1.2)], fill=ink)
        if c.has("cat", "猫"):  # a thin tail curling up
            tail = [(-0.85, 0.65), (-1.2, 0.75), (-1.4, 1.0), (-1.38, 1.3), (-1.2, 1.45)]
            draw.line([(fx + d * s * tx, fb - s * ty) for tx, ty in tail], fill=ink, width=max(1, int(s * 0.14)),
                      joint="curve")
        else:
            draw.ellipse(box(-s * 1.9, fb - s * 1.0, -s * 0.7, fb - s * 0.55), fill=ink)  # a bushy tail
        draw.ellipse(box(s * 0.78, fb - s * 1.12, s * 0.86, fb - s * 1.04), fill=_rgb(c.haze))  # eye
    if "person" in c.spots:
        fx, s, _ = c.spots["person"]
        fb = c.ground_at(fx) - 1
        d = rng.choice((1, -1))
        hem = s * (0.22 if c.has("girl", "woman", "女孩") else 0.16)
        draw.ellipse([fx - s * 0.07, fb - s, fx + s * 0.07, fb - s * 0.86], fill=ink)  # head
        draw.rectangle([fx - s * 0.03, fb - s * 0.88, fx + s * 0.03, fb - s * 0.8], fill=ink)  # neck
        draw.ellipse([fx - s * 0.12, fb - s * 0.83, fx + s * 0.12, fb - s * 0.74], fill=ink)  # shoulders
        draw.polygon([(fx - s * 0.12, fb - s * 0.78), (fx + s * 0.12, fb - s * 0.78), (fx + hem, fb - s * 0.3),
                      (fx - hem, fb - s * 0.3)], fill=ink)  # coat
        draw.rectangle([fx - s * 0.085, fb - s * 0.32, fx - s * 0.03, fb], fill=ink)  # legs
        draw.rectangle([fx + s * 0.03, fb - s * 0.32, fx + s * 0.085, fb], fill=ink)
        w = max(1, int(s * 0.05))
        draw.line([(fx - d * s * 0.11, fb - s * 0.78), (fx - d * s * 0.19, fb - s * 0.44)], fill=ink, width=w)
        if c.has("scarf", "围巾"):
            draw.polygon([(fx - s * 0.09, fb - s * 0.82), (fx + s * 0.09, fb - s * 0.82),
                          (fx + d * s * 0.2, fb - s * 0.66), (fx + d * s * 0.12, fb - s * 0.62)], fill=(170, 36, 40))
        if c.has("lantern", "灯笼"):  # an arm held out with a glowing lantern
            hx, hy = fx + d * s * 0.26, fb - s * 0.52
            draw.line([(fx + d * s * 0.1, fb - s * 0.78), (hx, hy)], fill=ink, width=w)
            draw.line([(hx, hy), (hx, hy + s * 0.05)], fill=ink, width=1)
            _glow(c, hx, hy + s * 0.1, s * 0.18)
            draw.ellipse([hx - s * 0.055, hy + s * 0.05, hx + s * 0.055, hy + s * 0.17], fill=_GLOW)
        else:
            draw.line([(fx + d * s * 0.11, fb - s * 0.78), (fx + d * s * 0.19, fb - s * 0.44)], fill=ink, width=w)
    if c.has("bird", "birds", "gull", "crow", "鸟"):
        for _ in range(rng.randint(3, 7)):
            bx, by = rng.uniform(0.18, 0.82) * c.lw, rng.uniform(0.45, 0.85) * c.horizon
            bs = c.unit * rng.uniform(0.012, 0.025)
            draw.line([(bx - bs, by - bs * 0.4), (bx, by), (bx + bs, by - bs * 0.4)], fill=ink,
                      width=max(1, int(bs * 0.25)))


def _paint_weather(c: _Canvas, pic: Image.Image, seed: int, prompt: str) -> tuple[Image.Image, np.random.Generator]:
    """Fog, snow, a vignette, a mottled texture (so motion shows) and rain streaks."""
    rng, lw, lh = c.rng, c.lw, c.lh
    arr = np.asarray(pic, np.float32).copy()
    if c.has("fog", "mist", "雾"):
        band = np.exp(-((c.yy - c.horizon) / (lh * 0.12)) ** 2)[..., None]
        arr += (c.pal["horizon"] * 0.9 + 25 - arr) * band * 0.55
    if c.has("snow", "雪"):
        for _ in range(rng.randint(150, 300)):
            x, y, r = int(rng.uniform(0, lw)), int(rng.uniform(0, lh)), int(rng.uniform(0.5, 1.4))
            arr[y:y + r + 1, x:x + r + 1] = 245
    arr *= (1 - 0.38 * (((c.xx - lw / 2) / (lw / 2)) ** 2 * 0.6 + ((c.yy - lh / 2) / (lh / 2)) ** 2 * 0.4))[..., None]
    noise = np.random.default_rng(seed_of("grain", seed, prompt) % (2 ** 63))
    arr += noise.normal(0, 3.0, (lh, lw, 1)).astype(np.float32)
    pic = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if c.has("rain", "storm", "雨", "暴风", "风暴"):
        layer = Image.new("L", (lw, lh), 0)
        d = ImageDraw.Draw(layer)
        for _ in range(rng.randint(150, 260)):
            rx, ry, length = rng.uniform(-lw * 0.1, lw), rng.uniform(0, lh), rng.uniform(6, 14)
            d.line([(rx, ry), (rx + length * 0.25, ry + length)], fill=rng.randint(50, 110), width=1)
        pic.paste(Image.new("RGB", (lw, lh), (210, 220, 235)), (0, 0), layer)
    return pic, noise


def paint(prompt: str, width: int, height: int, seed: int = 0, caption: str = "") -> Image.Image:
    """A procedural illustration of the prompt: sky, light, land or sea, buildings, a figure.

    Drawn at about 640 px on the long side and scaled up smoothly, with a fine grain at full size.
    The subjects stand in the middle band of the picture (see `_BAND_TOP`), clear of the subtitle
    box and of the edges that camera moves crop.
    """
    text = prompt.lower()
    for term, _category, _en, zh_words in T.VISUALS:  # Chinese prompts: add the English words
        if any(w in prompt for w in zh_words):
            text += " " + term
    rng = random.Random(seed_of("paint", seed, prompt, width, height))
    scale = max(1, round(max(width, height) / 640))
    lw, lh = max(16, width // scale), max(16, height // scale)
    pal_name, pal = _palette(text, rng)
    c = _Canvas(text, rng, lw, lh, pal_name, pal)
    _plan(c)
    _paint_sky(c)
    _paint_land(c)
    pic = c.pic = Image.fromarray(np.clip(c.img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(pic)
    for step in (_paint_settlement, _paint_castle, _paint_water_subjects, _paint_trees, _paint_buildings,
                 _paint_figures):
        step(c, draw)
    pic, noise = _paint_weather(c, pic, seed, prompt)
    if (lw, lh) != (width, height):
        pic = pic.resize((width, height), Image.Resampling.BICUBIC)
        fine = noise.integers(-3, 4, (height, width, 1), dtype=np.int16)  # film grain
        pic = Image.fromarray(np.clip(np.asarray(pic, np.int16) + fine, 0, 255).astype(np.uint8))
    if caption.strip():
        _draw_caption(pic, caption.strip())
    return pic


@functools.lru_cache(maxsize=64)
def _font_for(chars: str) -> tuple[str, int] | None:
    """A font file (and face index) that has a glyph for every character, via fontconfig."""
    codes = sorted({ord(c) for c in chars if not c.isspace()})[:200]
    if not codes:
        return None
    if shutil.which("fc-list"):
        query = ":charset=" + " ".join(f"{c:x}" for c in codes)
        try:
            out = subprocess.run(["fc-list", "-f", "%{file}\t%{index}\t%{family}\t%{style}\n", query],
                                 capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        rows = [line.split("\t") for line in out.splitlines() if line.count("\t") == 3]
        rows = [r for r in rows if r[0].lower().endswith((".ttf", ".otf", ".ttc"))]
        if rows:
            cjk = any(is_cjk(chr(c)) for c in codes)
            rows.sort(key=lambda r: (cjk and " SC" not in r[2] + " ", "Sans" not in r[2], "Regular" not in r[3],
                                     "Bold" in r[3], r[0], r[1]))
            return rows[0][0], int(rows[0][1] or 0)
        return None
    if all(c < 0x250 for c in codes):
        for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/Library/Fonts/Arial.ttf",
                     "C:/Windows/Fonts/arial.ttf"):
            if Path(path).exists():
                return path, 0
    return None


_CUT_CHUNK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\s\u3400-\u9fff\uf900-\ufaff]+")


def _shorten(text: str, fits: Any, ellipsis: str = "…", force: bool = False) -> str:
    """`text` if it fits (and `force` is false), else its longest start that fits with an ellipsis,
    cut after a whole word or a CJK character, never after a dangling word ("a", "of", "的" ...)."""
    if not force and fits(text):
        return text
    for m in reversed(list(_CUT_CHUNK.finditer(text))):
        head = trim_dangling(text[:m.end()])
        if head and fits(head + ellipsis):
            return head + ellipsis
    return ""


def _draw_caption(pic: Image.Image, caption: str) -> None:
    """A small label in the safe area: centred, at least 14% in from every edge (so camera moves
    do not crop it), shortened at a word boundary to fit; only when a font has every glyph."""
    caption = " ".join(caption.split())
    if len(caption) == 60 and re.search(r"[A-Za-z0-9][A-Za-z0-9]$", caption) and " " in caption:
        caption = caption.rsplit(" ", 1)[0] + "…"  # cut at 60 characters upstream, maybe mid-word
    ellipsis, found = "…", _font_for(caption + "…")
    if found is None:
        ellipsis, found = "...", _font_for(caption.replace("…", "") + "...")
        caption = caption.replace("…", "...")
    if found is None:
        return
    size = max(12, round(min(pic.size) * 0.028))
    try:
        font = ImageFont.truetype(found[0], size, index=found[1])
    except OSError:
        return
    draw = ImageDraw.Draw(pic, "RGBA")
    pad = round(size * 0.45)
    safe_x = math.ceil(pic.width * _CAPTION_SAFE)
    room = pic.width - 2 * (safe_x + pad) - 2
    fits = lambda s: draw.textlength(s, font=font) <= room  # noqa: E731
    if caption.endswith(ellipsis):  # already shortened: shorten the words before the ellipsis
        caption = _shorten(caption[:-len(ellipsis)], fits, ellipsis, force=True)
    else:
        caption = _shorten(caption, fits, ellipsis)
    if not caption:
        return
    box = draw.textbbox((0, 0), caption, font=font)
    left = max(safe_x + pad, (pic.width - (box[2] - box[0])) / 2) - box[0]
    top = math.ceil(pic.height * max(_CAPTION_TOP, _CAPTION_SAFE)) + pad - box[1]
    box = (box[0] + left, box[1] + top, box[2] + left, box[3] + top)
    draw.rounded_rectangle([box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad], radius=pad,
                           fill=(0, 0, 0, 120))
    draw.text((left, top), caption, font=font, fill=(255, 255, 255, 235))


class Painter:
    """A procedural Pillow painter: palette and composition follow the prompt's words."""

    name = "local-painter"
    kind = "text2image"
    # The version is part of every image key: bump it when the same prompt paints differently.
    # v2: no prompt text painted into the picture (set STORYNB_DEBUG_IMAGE_TEXT=1 to see it),
    # storms bring dark clouds, rain and lightning; roads, vehicles, strangers and doors are drawn.
    model = "local-painter/2 (procedural Pillow drawing, offline)"

    def identity(self) -> dict:
        """What goes into an image key: the painter and its version, and, only when the debug
        option paints the prompt into the picture, that option and the font it draws with (a
        font installed later would change the pixels)."""
        found: dict[str, Any] = {"provider": self.name, "model": self.model, "provider_params": {}}
        if os.environ.get("STORYNB_DEBUG_IMAGE_TEXT") == "1":
            font = _font_for("Aa你")
            found["debug_text_font"] = Path(font[0]).name if font else None
        return found

    async def generate(self, request: ImageRequest, out_path: Path) -> None:
        if request.width < 16 or request.height < 16:
            raise ProviderError(f"image size {request.width}x{request.height} is too small (minimum 16x16)")

        def work() -> None:
            from .figures import draw_characters, painter_prompt  # the shot's characters

            caption = request.caption if os.environ.get("STORYNB_DEBUG_IMAGE_TEXT") == "1" else ""
            prompt = painter_prompt(request.prompt, request.characters) if request.characters else request.prompt
            pic = paint(prompt, request.width, request.height, request.seed, caption)
            draw_characters(pic, request.characters, request.seed)  # the same in every shot
            pic.save(Path(out_path), format="PNG", compress_level=3)  # level 6 triples the time for 5%

        await asyncio.to_thread(work)
