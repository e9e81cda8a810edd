"""Characters: a sheet per project (name, locked description, reference images, voice, seed and
the look the offline painter gives them), and which characters each shot shows.

- The storyboard stage ends with `plan` (a planner step after the storyboard): it finds the
  story's characters ("a lighthouse keeper named Mara", "名叫小满的女孩", a name said again and
  again) and tags every shot that mentions one. It never changes a character edited by hand
  (`locked`), and never re-tags a shot whose characters were set by hand.
- The images stage adds each shown character's locked description to the shot's prompt, passes
  the character's reference images to providers that take them (`ImageRequest.reference_images`)
  and, for the offline painter, the character's look (`ImageRequest.characters`), which
  `draw_characters` paints the same way in every shot: same figure, same colours, same size.
- `project.cast` (a `CharacterSheet`) is the Python API; `storynb characters …` the CLI; the
  Characters panel the no-code view.
"""
from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

from .db import now, writing
from .errors import InvalidInput, NotFound
# The offline painter's figures live with the painter; these names stay importable from here.
from .providers.offline.figures import GENERIC, draw_characters, painter_prompt, place  # noqa: F401

# colours a character can wear: (name for the prompt, RGB for the painter)
COLOURS = [("red", (196, 48, 43)), ("blue", (42, 92, 170)), ("green", (46, 132, 74)),
           ("yellow", (226, 180, 40)), ("purple", (120, 64, 150)), ("orange", (222, 120, 36)),
           ("teal", (30, 140, 140)), ("white", (236, 236, 228)), ("pink", (220, 110, 150))]
HATS = ["no hat", "a knit cap", "a wide-brimmed hat", "a hood"]
KINDS = {"animal": ("fox", "dog", "cat", "wolf", "bear", "rabbit", "horse", "deer", "狐", "狗", "猫",
                    "狼", "熊", "兔", "马", "鹿"),
         "sea": ("whale", "fish", "dolphin", "shark", "seal", "鲸", "鱼", "海豚"),
         "robot": ("robot", "android", "machine", "机器人"),
         "bird": ("bird", "crow", "owl", "gull", "eagle", "鸟", "鸦", "鹰")}
ZH_NAMED = re.compile(r"名叫(\S{1,3}?)的([^。，；！？,.!?在正要想去和与跟的]{1,8})")
EN_NAMED = re.compile(r"\b(an?|the)\s+((?:[A-Za-z'-]+\s+){0,3}?[A-Za-z'-]+)\s+(?:named|called)\s+"
                      r"([A-Z][a-z]+)")
EN_SKIP = {"The", "A", "An", "And", "But", "She", "He", "They", "It", "Her", "His", "Then", "When",
           "One", "That", "This", "In", "On", "At", "As", "By", "For", "With", "From", "Of", "To",
           "So", "Yet", "Still", "Now", "There", "Once", "After", "Before", "Every", "All", "I", "We",
           "You", "Day", "Night", "Morning", "Evening", "No", "Not", "What", "Why", "How", "If"}


def kind_of(description: str) -> str:
    low = description.lower()
    for kind, words in KINDS.items():
        if any(w in low for w in words):
            return kind
    return "person"


def look_for(name: str, description: str, seed: int) -> dict:
    """The painter's look of a character: kind, colours, hat, build (all from the seed)."""
    rng = random.Random(f"character:{seed}")
    coat, accent = rng.sample(range(len(COLOURS)), 2)
    return {"name": name, "kind": kind_of(description), "seed": seed,
            "coat": list(COLOURS[coat][1]), "coat_name": COLOURS[coat][0],
            "accent": list(COLOURS[accent][1]), "accent_name": COLOURS[accent][0],
            "hat": rng.choice(HATS), "build": round(rng.uniform(0.9, 1.1), 3),
            "skin": list(rng.choice([(238, 200, 170), (200, 150, 110), (150, 100, 70), (250, 220, 190)])),
            "hair": list(rng.choice([(40, 30, 25), (120, 80, 40), (200, 170, 100), (150, 150, 150)]))}


def describe_look(description: str, look: dict, language: str = "en") -> str:
    """The locked description: who they are plus what they wear, as the painter draws them."""
    kind = look["kind"]
    if language == "zh":
        colour = {"red": "红", "blue": "蓝", "green": "绿", "yellow": "黄", "purple": "紫",
                  "orange": "橙", "teal": "青", "white": "白", "pink": "粉"}
        if kind == "person":
            return f"{description}，穿{colour[look['coat_name']]}色外套，系{colour[look['accent_name']]}色围巾"
        return f"{description}，{colour[look['coat_name']]}色的身体，{colour[look['accent_name']]}色的斑纹"
    if kind == "person":
        hat = "" if look["hat"] == "no hat" else f", {look['hat']}"
        return (f"{description}, wearing a long {look['coat_name']} coat and "
                f"{_a(look['accent_name'])} {look['accent_name']} scarf{hat}")
    if kind == "robot":
        return (f"{description}, {_a(look['coat_name'])} {look['coat_name']} metal body with "
                f"{look['accent_name']} lights")
    return f"{description}, {look['coat_name']} with {look['accent_name']} markings"


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


# --- extraction ---------------------------------------------------------------------------
def find_characters(story: str, language: str) -> list[dict]:
    """Characters named in a story: [{"name", "description"}], main character first."""
    found: dict[str, str] = {}
    if language == "zh":
        for m in ZH_NAMED.finditer(story):
            found.setdefault(m.group(1), m.group(2))
        return [{"name": n, "description": f"名叫{n}的{d}"} for n, d in found.items()]
    for m in EN_NAMED.finditer(story):
        found.setdefault(m.group(3), f"{m.group(1).lower()} {m.group(2).lower()}")
    # names said at least three times in the middle of sentences
    counts: dict[str, int] = {}
    for m in re.finditer(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]{2,})\b", story):
        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    for name, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        if count >= 3 and name not in EN_SKIP and name not in found:
            found[name] = name
    return [{"name": n, "description": d if d == n else f"{d} named {n}"}
            for n, d in found.items()]


def mentions(text: str, character: dict) -> bool:
    name = character["name"]
    if re.search(r"[\u4e00-\u9fff]", name):
        return name in text
    return re.search(rf"\b{re.escape(name)}\b", text) is not None


def plan(project):
    """The storyboard stage's last step: the character sheet and each shot's characters."""
    from .runner import Job, job_key

    shots = project.shots()
    if not shots:
        return []
    untagged = [s for s in shots if s.get("characters") is None]
    key = job_key("characters", shots=[s["id"] for s in untagged])

    def done() -> bool:
        return not untagged

    async def run() -> None:
        CharacterSheet(project).extract()

    return [Job("storyboard", key, "characters", run, done, limit="local-characters", cap=1)]


# --- the sheet ----------------------------------------------------------------------------
class CharacterSheet:
    """A project's characters (`project.cast`)."""

    def __init__(self, project):
        self.project = project
        self.db = project.db

    def rows(self) -> list[dict]:
        return list(self.db["characters"].rows_where("project_id = ?", [self.project.id],
                                                      order_by="id"))

    def frame(self):
        """The sheet as a DataFrame: name, description, locked, references, voice, seed, shots."""
        import pandas as pd

        shots = self.project.shots()
        rows = []
        for row in self.rows():
            rows.append({"name": row["name"], "description": row["description"],
                         "locked": bool(row["locked"]), "references": len(_names(row["refs"])),
                         "voice": row["voice"] or "", "seed": row["seed"],
                         "shots": [s["seq"] for s in shots if row["name"] in shot_names(s)]})
        return pd.DataFrame(rows, columns=["name", "description", "locked", "references", "voice",
                                           "seed", "shots"])

    def get(self, name: str) -> dict:
        rows = list(self.db["characters"].rows_where("project_id = ? and name = ?",
                                                      [self.project.id, name]))
        if not rows:
            known = ", ".join(r["name"] for r in self.rows()) or "none yet"
            raise NotFound(f"project {self.project.id} has no character {name!r} (characters: {known})")
        return rows[0]

    def set(self, name: str, *, description: str | None = None, voice: str | None = None,
            seed: int | None = None, locked: bool | None = None, rename: str | None = None) -> dict:
        """Add a character or edit one. An edited character is locked (extraction leaves it
        alone) unless `locked=False` is given."""
        name = _clean_name(name)
        existing = list(self.db["characters"].rows_where("project_id = ? and name = ?",
                                                          [self.project.id, name]))
        values: dict = {"updated": now()}
        if description is not None:
            description = description.strip()
            if not description:
                raise InvalidInput(f"{name}'s description is empty: say who they are and what "
                                   "they look like")
            if len(description) > 1000:
                raise InvalidInput(f"{name}'s description is {len(description)} characters; "
                                   "keep it under 1000")
            values["description"] = description
        if voice is not None:
            values["voice"] = voice.strip()
        if seed is not None:
            if not isinstance(seed, int) or seed < 0:
                raise InvalidInput(f"a seed is a whole number, 0 or more, not {seed!r}")
            values["seed"] = seed
        values["locked"] = int(True if locked is None else bool(locked))
        with writing(self.db):
            if existing:
                row = existing[0]
                if rename and rename.strip() != name:
                    new = _clean_name(rename)
                    if self.db["characters"].count_where("project_id = ? and name = ?",
                                                         [self.project.id, new]):
                        raise InvalidInput(f"there is already a character named {new!r}")
                    values["name"] = new
                    self._rename_in_shots(name, new)
                self.db["characters"].update(row["id"], values)
                return self.db["characters"].get(row["id"])
            if "description" not in values:
                raise InvalidInput(f"a new character needs a description (who {name} is and "
                                   "what they look like)")
            values.setdefault("seed", random.randrange(1 << 30))
            row_id = self.db["characters"].insert({
                "project_id": self.project.id, "name": name, "voice": "", "refs": "[]",
                "source": "user", "created": now(), **values}).last_pk
            return self.db["characters"].get(row_id)

    def delete(self, name: str) -> None:
        row = self.get(name)
        with writing(self.db):
            self.db["characters"].delete(row["id"])
            self._rename_in_shots(name, None)

    def add_reference(self, name: str, path) -> str:
        """Add a reference image (PNG or JPEG) of a character; returns its media name."""
        from PIL import Image, UnidentifiedImageError

        row = self.get(name)
        path = Path(path)
        if not path.is_file():
            raise InvalidInput(f"no image at {path}")
        try:
            with Image.open(path) as image:
                image.verify()
                fmt = (image.format or "").lower()
        except (UnidentifiedImageError, OSError) as exc:
            raise InvalidInput(f"{path} is not an image ({exc}): give a PNG or JPEG") from None
        if fmt not in ("png", "jpeg", "webp"):
            raise InvalidInput(f"{path} is a {fmt or 'unknown'} image: give a PNG, JPEG or WebP")
        store = self.project.studio.media
        copy = store.scratch(path.suffix or ".img")
        shutil.copyfile(path, copy)  # the store consumes what it adds: the user's file stays
        media = store.add(copy, {"jpeg": "jpg"}.get(fmt, fmt))
        refs = _names(row["refs"])
        if media not in refs:
            refs.append(media)
        self.db["characters"].update(row["id"], {"refs": json.dumps(refs), "updated": now()})
        return media

    def remove_reference(self, name: str, media: str) -> None:
        row = self.get(name)
        refs = [r for r in _names(row["refs"]) if r != media]
        self.db["characters"].update(row["id"], {"refs": json.dumps(refs), "updated": now()})

    def references(self, name: str) -> list[Path]:
        media = self.project.studio.media
        return [media.path(r) for r in _names(self.get(name)["refs"]) if media.exists(r)]

    def tag(self, seq: int, names: list[str]) -> list[str]:
        """Set which characters shot `seq` shows (kept as set by hand)."""
        known = {r["name"] for r in self.rows()}
        names = [n.strip() for n in names if n and n.strip()]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InvalidInput(f"unknown character(s) {unknown}: add them first (known: "
                               f"{', '.join(sorted(known)) or 'none'})")
        shot = self.project.shot(seq)
        self.db["shots"].update(shot["id"], {"characters": json.dumps(list(dict.fromkeys(names)),
                                                                      ensure_ascii=False),
                                             "updated": now()})
        return names

    def in_shot(self, shot: dict) -> list[dict]:
        """The character rows a shot shows, in the shot's order."""
        names = shot_names(shot)
        if not names:
            return []
        rows = {r["name"]: r for r in self.rows()}
        return [rows[n] for n in names if n in rows]

    def extract(self) -> list[str]:
        """Find the story's characters and tag the shots that have no characters yet. Characters
        edited by hand are kept as they are. Returns the names found."""
        project = self.project
        row = project.row
        story = project.story() or row["topic"]
        language = row["language"]
        found = find_characters(story, language)
        with writing(self.db):
            existing = {r["name"]: r for r in self.rows()}
            for number, character in enumerate(found):
                name = character["name"]
                if name in existing:
                    continue
                seed = (row["seed"] or 0) * 31 + number * 7919 + sum(map(ord, name))
                look = look_for(name, character["description"], seed)
                self.db["characters"].insert({
                    "project_id": project.id, "name": name,
                    "description": describe_look(character["description"], look, language),
                    "locked": 0, "refs": "[]", "voice": "", "seed": seed, "source": "extracted",
                    "created": now(), "updated": now()})
            cast = self.rows()
            for index, shot in enumerate(project.shots()):
                if shot.get("characters") is not None:
                    continue
                text = " ".join(filter(None, (shot["narration"], shot["scene"], shot["image_prompt"])))
                names = [c["name"] for c in cast if mentions(text, c)]
                if index == 0 and found and found[0]["name"] not in names:
                    names.insert(0, found[0]["name"])  # the story opens on its main character
                self.db["shots"].update(shot["id"], {"characters": json.dumps(
                    names, ensure_ascii=False)})
        return [c["name"] for c in found]

    def _rename_in_shots(self, old: str, new: str | None) -> None:
        for shot in self.project.shots():
            names = shot_names(shot)
            if old in names:
                names = ([n for n in names if n != old] if new is None
                         else [new if n == old else n for n in names])
                self.db["shots"].update(shot["id"], {"characters": json.dumps(
                    names, ensure_ascii=False)})


# --- what the images stage uses -----------------------------------------------------------
def shot_names(shot: dict) -> list[str]:
    try:
        names = json.loads(shot.get("characters") or "[]")
    except ValueError:
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def for_image(project, shot: dict, prompt: str) -> tuple[str, tuple[Path, ...], tuple[dict, ...],
                                                         list[str]]:
    """(prompt with the locked descriptions, reference image paths, the painter's looks,
    the reference media names) for one shot."""
    cast = CharacterSheet(project).in_shot(shot)
    if not cast:
        return prompt, (), (), []
    media = project.studio.media
    descriptions = [c["description"] for c in cast if c["description"]
                    and c["description"].lower() not in prompt.lower()]
    if descriptions:
        joiner = "；" if project.row["language"] == "zh" else "; "
        prompt = f"{prompt}{joiner}{joiner.join(descriptions)}"
    names, paths = [], []
    for c in cast:
        for ref in _names(c["refs"]):
            if media.exists(ref) and ref not in names:
                names.append(ref)
                paths.append(media.path(ref))
    looks = tuple({**look_for(c["name"], c["description"] or "", c["seed"] or 0),
                   "description": c["description"] or ""} for c in cast)
    return prompt, tuple(paths), looks, names


def _names(value) -> list[str]:
    try:
        names = json.loads(value or "[]")
    except ValueError:
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _clean_name(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("a character needs a name (some text)")
    name = name.strip()
    if len(name) > 60 or any(ch in name for ch in ",;[]\"\n"):
        raise InvalidInput(f"a character's name is up to 60 characters without , ; [ ] or quotes, "
                           f"not {name!r}")
    return name
