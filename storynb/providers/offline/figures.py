"""The offline painter's figures of a project's characters (storynb.characters gives their looks):
the same shape, colours and size in every shot; only where they stand changes."""
from __future__ import annotations

import random
import re

# words that make the offline painter draw its own generic figure of a kind
GENERIC = {"person": ("a lone figure", "figure", "keeper", "traveller", "traveler", "knight",
                      "sailor", "person", "woman", "man", "girl", "boy", "child", "女孩", "男孩",
                      "孩子", "人"),
           "animal": ("fox", "cat", "dog", "rabbit", "wolf", "狐", "猫", "狗", "兔", "狼"),
           "robot": ("robot", "机器人"), "sea": ("whale", "鲸"), "bird": ("bird", "crow", "gull", "鸟")}


def painter_prompt(prompt: str, looks) -> str:
    """What the offline painter paints behind the characters it draws itself: the prompt without
    their descriptions, and without the words that would make it paint a second, generic figure
    of the same kind (a silhouette beside the character)."""
    for look in looks:
        if look.get("description"):
            prompt = prompt.replace(f"; {look['description']}", "").replace(
                f"；{look['description']}", "")
    kinds = {look["kind"] for look in looks}
    for kind in kinds:
        for word in sorted(GENERIC.get(kind, ()), key=len, reverse=True):
            if re.search(r"[\u4e00-\u9fff]", word):
                prompt = prompt.replace(word, "")
            else:
                prompt = re.sub(rf"\b{re.escape(word)}s?\b", "", prompt, flags=re.I)
    return re.sub(r"(,\s*)+", ", ", prompt).strip(" ,")


# --- the offline painter's figures --------------------------------------------------------
def place(look: dict, index: int, count: int, width: int, height: int, shot_seed: int):
    """Where a character stands in a picture: (x of the feet, y of the feet, height)."""
    unit = min(width, height)
    tall = unit * 0.34 * look.get("build", 1.0) * (0.8 if look["kind"] in ("animal", "bird") else 1)
    rng = random.Random(f"place:{shot_seed}:{look['name']}")
    slot = (index + 0.5) / count
    x = width * (0.25 + 0.5 * slot) + rng.uniform(-0.06, 0.06) * width
    y = height * 0.70
    return x, y, tall


def draw_characters(picture, looks, shot_seed: int = 0) -> list[tuple[float, float, float, float]]:
    """Paint each character's figure onto a PIL picture, the same way in every shot: same shape,
    colours and size; only where they stand changes. Returns the boxes (x0, y0, x1, y1)."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(picture)
    width, height = picture.size
    boxes = []
    for index, look in enumerate(looks):
        x, y, tall = place(look, index, len(looks), width, height, shot_seed)
        painter = {"person": _person, "robot": _robot, "animal": _animal, "sea": _sea,
                   "bird": _bird}[look["kind"]]
        boxes.append(painter(draw, look, x, y, tall))
    return boxes


def _c(value) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in value)
    return r, g, b


def _outline(tall: float) -> int:
    return max(1, round(tall * 0.02))


def _person(draw, look, x, y, s):
    coat, accent, skin, hair = _c(look["coat"]), _c(look["accent"]), _c(look["skin"]), _c(look["hair"])
    ink, w = (30, 26, 24), _outline(s)
    draw.rectangle([x - s * 0.09, y - s * 0.3, x - s * 0.02, y], fill=(45, 40, 50), outline=ink, width=w)
    draw.rectangle([x + s * 0.02, y - s * 0.3, x + s * 0.09, y], fill=(45, 40, 50), outline=ink, width=w)
    draw.polygon([(x - s * 0.14, y - s * 0.78), (x + s * 0.14, y - s * 0.78), (x + s * 0.2, y - s * 0.26),
                  (x - s * 0.2, y - s * 0.26)], fill=coat, outline=ink, width=w)  # coat
    draw.rectangle([x - s * 0.02, y - s * 0.76, x + s * 0.02, y - s * 0.3], fill=_c(v * 0.7 for v in coat))
    draw.polygon([(x - s * 0.12, y - s * 0.8), (x + s * 0.12, y - s * 0.8), (x + s * 0.16, y - s * 0.7),
                  (x + s * 0.05, y - s * 0.52), (x - s * 0.16, y - s * 0.7)], fill=accent, outline=ink,
                 width=w)  # scarf
    draw.ellipse([x - s * 0.1, y - s, x + s * 0.1, y - s * 0.8], fill=skin, outline=ink, width=w)  # head
    draw.chord([x - s * 0.1, y - s * 1.01, x + s * 0.1, y - s * 0.84], 180, 360, fill=hair)
    if look["hat"] == "a knit cap":
        draw.chord([x - s * 0.11, y - s * 1.06, x + s * 0.11, y - s * 0.88], 180, 360, fill=accent,
                   outline=ink, width=w)
    elif look["hat"] == "a wide-brimmed hat":
        draw.rectangle([x - s * 0.18, y - s * 0.97, x + s * 0.18, y - s * 0.94], fill=(60, 45, 35))
        draw.rectangle([x - s * 0.09, y - s * 1.08, x + s * 0.09, y - s * 0.96], fill=(60, 45, 35))
    elif look["hat"] == "a hood":
        draw.arc([x - s * 0.13, y - s * 1.04, x + s * 0.13, y - s * 0.78], 160, 380, fill=coat,
                 width=max(2, round(s * 0.05)))
    for ex in (-0.04, 0.04):
        draw.ellipse([x + s * (ex - 0.012), y - s * 0.92, x + s * (ex + 0.012), y - s * 0.895], fill=ink)
    return (x - s * 0.2, y - s * 1.08, x + s * 0.2, y)


def _robot(draw, look, x, y, s):
    body, light, ink, w = _c(look["coat"]), _c(look["accent"]), (30, 30, 36), _outline(s)
    draw.rectangle([x - s * 0.2, y - s * 0.72, x + s * 0.2, y - s * 0.28], fill=body, outline=ink, width=w)
    draw.rectangle([x - s * 0.14, y - s, x + s * 0.14, y - s * 0.76], fill=body, outline=ink, width=w)
    for lx in (-0.14, 0.05):
        draw.rectangle([x + s * lx, y - s * 0.28, x + s * (lx + 0.09), y], fill=body, outline=ink, width=w)
    for ex in (-0.06, 0.06):
        draw.ellipse([x + s * (ex - 0.03), y - s * 0.91, x + s * (ex + 0.03), y - s * 0.85], fill=light)
    draw.rectangle([x - s * 0.08, y - s * 0.6, x + s * 0.08, y - s * 0.45], fill=light)
    return (x - s * 0.2, y - s, x + s * 0.2, y)


def _animal(draw, look, x, y, s):
    body, mark, ink, w = _c(look["coat"]), _c(look["accent"]), (30, 26, 24), _outline(s)
    draw.ellipse([x - s * 0.45, y - s * 0.55, x + s * 0.3, y - s * 0.2], fill=body, outline=ink, width=w)
    for lx in (-0.35, -0.2, 0.1, 0.22):
        draw.rectangle([x + s * lx, y - s * 0.3, x + s * (lx + 0.06), y], fill=body, outline=ink, width=w)
    draw.ellipse([x + s * 0.18, y - s * 0.75, x + s * 0.48, y - s * 0.45], fill=body, outline=ink, width=w)
    draw.polygon([(x + s * 0.22, y - s * 0.7), (x + s * 0.27, y - s * 0.85), (x + s * 0.32, y - s * 0.7)],
                 fill=mark, outline=ink)
    draw.polygon([(x + s * 0.34, y - s * 0.7), (x + s * 0.4, y - s * 0.85), (x + s * 0.44, y - s * 0.7)],
                 fill=mark, outline=ink)
    draw.ellipse([x - s * 0.7, y - s * 0.6, x - s * 0.38, y - s * 0.42], fill=mark, outline=ink, width=w)
    draw.ellipse([x + s * 0.36, y - s * 0.65, x + s * 0.4, y - s * 0.61], fill=ink)
    return (x - s * 0.7, y - s * 0.85, x + s * 0.48, y)


def _sea(draw, look, x, y, s):
    body, belly, ink, w = _c(look["coat"]), _c(look["accent"]), (20, 24, 30), _outline(s)
    draw.ellipse([x - s * 0.6, y - s * 0.42, x + s * 0.5, y - s * 0.05], fill=body, outline=ink, width=w)
    draw.chord([x - s * 0.5, y - s * 0.3, x + s * 0.45, y - s * 0.05], 0, 180, fill=belly)
    draw.polygon([(x - s * 0.55, y - s * 0.25), (x - s * 0.85, y - s * 0.5), (x - s * 0.75, y - s * 0.22),
                  (x - s * 0.85, y - s * 0.02)], fill=body, outline=ink)
    draw.ellipse([x + s * 0.3, y - s * 0.3, x + s * 0.35, y - s * 0.25], fill=ink)
    draw.line([(x + s * 0.1, y - s * 0.42), (x + s * 0.05, y - s * 0.6)], fill=(220, 235, 245),
              width=max(1, round(s * 0.03)))
    return (x - s * 0.85, y - s * 0.6, x + s * 0.5, y)


def _bird(draw, look, x, y, s):
    body, wing, ink, w = _c(look["coat"]), _c(look["accent"]), (20, 20, 20), _outline(s)
    draw.ellipse([x - s * 0.25, y - s * 0.5, x + s * 0.2, y - s * 0.15], fill=body, outline=ink, width=w)
    draw.ellipse([x + s * 0.1, y - s * 0.65, x + s * 0.32, y - s * 0.42], fill=body, outline=ink, width=w)
    draw.polygon([(x - s * 0.15, y - s * 0.42), (x + s * 0.1, y - s * 0.35), (x - s * 0.2, y - s * 0.22)],
                 fill=wing, outline=ink)
    draw.polygon([(x + s * 0.3, y - s * 0.56), (x + s * 0.42, y - s * 0.52), (x + s * 0.3, y - s * 0.5)],
                 fill=(230, 170, 40))
    draw.line([(x - s * 0.05, y - s * 0.16), (x - s * 0.05, y)], fill=ink, width=w)
    draw.line([(x + s * 0.05, y - s * 0.16), (x + s * 0.05, y)], fill=ink, width=w)
    return (x - s * 0.25, y - s * 0.65, x + s * 0.42, y)
