"""Project: a topic on its way to a video. The per-stage calls, hand edits and controls."""
from __future__ import annotations

import difflib
import json
import random
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence, overload

from .db import now, writing
from .errors import InvalidInput, NotFound
from .files import atomic_path
from .jobs import latest_run
from .runner import STAGES, Event, RunReport

if TYPE_CHECKING:
    import pandas as pd

    from .pipeline import BackgroundRun

from .settings import ASPECTS, LANGUAGES, LENGTHS, fps_ok, normalize_style, size_problem
from .text import name_from
from .text import detect_language as detect_language  # (the CLI and long stories use it from here)
from .settings import size_for as size_for  # (aspect, width, height): the size at another aspect
SHOT_FIELDS = ("scene", "narration", "image_prompt", "negative_prompt", "duration_s")




class Project:
    """A topic on its way to a video (open one with `studio.project(ref)` or make one with
    `studio.create_project(topic)`).

    - Running: `run(stages=None, *, background=False, from_failed=False)` is the one way in
      (retry and resume are `run(from_failed=True)`; see `run`). Controls: `pause`, `skip`,
      `unskip`, `rollback`; live state: `state`, `status()`, `progress()`.
    - What comes back: a table is a pandas DataFrame (`stages`, `stories`, `storyboard`, `images`,
      `clips`, `camera`, `calls`, `chapters`, `chapter_videos`); one record is a dict (`row`,
      `shot`, `story_row`, `chosen_image`, `latest_export`). `shots()` is the one list of dicts:
      the shot records for code that loops over and edits them (`storyboard()` is their table).
    - Errors are StorynbError subclasses (storynb.errors) whose message says what to do."""

    def __init__(self, studio, project_id: int):
        self.studio = studio
        self.db = studio.db
        self.id = project_id

    # creation --------------------------------------------------------------------------
    @classmethod
    def create(cls, studio, topic: str, *, name: str | None = None, language: str | None = None,
               style: str = "warm", length: str = "short", audience: str = "",
               aspect: str = "9:16", fps: int = 24, shots: int | None = None,
               prompt_set: int | str | None = None, seed: int | None = None,
               burn_subtitles: bool = True, font: str | None = None,
               providers: dict[str, Any] | None = None,
               size: tuple[int, int] | None = None, text: str | None = None,
               as_is: bool = False, target_length: int | None = None,
               by_chapter: bool = False) -> "Project":
        """`size` overrides the aspect's full resolution (e.g. (360, 640) for a quick preview).

        `text`: a source text (a chapter or a short novel, up to 200,000 characters) that the
        rewrite adapts (to about `target_length` characters for Chinese, words for English) or,
        with `as_is`, that is narrated word for word. A topic longer than 4,000 characters is
        taken as a source text. `by_chapter`: the export also makes a video per chapter."""
        from .longform import MAX_SOURCE

        topic = (topic or "").strip()
        text = (text or "").strip() or None
        if text is None and len(topic) > 4000:  # a pasted chapter: a source text, not a topic
            text, topic = topic, ""
        if text is not None:
            if len(text) > MAX_SOURCE:
                raise InvalidInput(f"the text is {len(text):,} characters long; the limit is "
                                   f"{MAX_SOURCE:,}: split it into several projects (by chapter)")
            topic = topic or name_from(text)
        elif as_is:
            raise InvalidInput("as_is needs a source text (text=...): a topic is always rewritten")
        if not topic:
            raise InvalidInput("the topic is empty: give a sentence or a paragraph to tell a story about")
        if len(topic) > 4000:
            raise InvalidInput(f"the topic is {len(topic)} characters long; keep it under 4000 "
                               "(a longer text goes in text=...)")
        _check_target(target_length)
        language = language or detect_language(text or topic)
        _check_choice("language", language, LANGUAGES)
        _check_choice("aspect", aspect, ASPECTS)
        _check_choice("length", length, LENGTHS)
        if not fps_ok(fps):
            raise InvalidInput(f"fps must be a whole number from 1 to 60, not {fps!r}")
        _check_shots(shots)
        chosen = (studio.prompts.get_set(prompt_set) if prompt_set is not None
                  else studio.prompts.default_set(language))
        for kind, spec in (providers or {}).items():
            studio.route(kind, spec)  # fails early with the list of known names
        width, height = _check_size(size, aspect) if size else ASPECTS[aspect]
        if font:
            _check_font(font, (text or topic)[:4000])
        stamp = now()
        # Never reuse the id of a deleted project: the call log and costs still name it.
        with writing(studio.db):  # two processes creating projects at once get two ids
            last = studio.db.execute("select max(m) from (select max(id) as m from projects union all "
                                     "select max(project_id) from calls)").fetchone()[0] or 0
            project_id = studio.db["projects"].insert({"id": last + 1,
                "name": (name or name_from(topic)).strip(), "topic": topic, "language": language,
                "style": normalize_style(style), "length": length, "audience": audience, "aspect": aspect,
                "width": width, "height": height, "fps": fps, "shots_wanted": shots,
                "seed": seed if seed is not None else random.randrange(1 << 30),
                "status": "draft", "paused": 0, "prompt_set_id": chosen["id"],
                "providers": json.dumps(providers or {}), "burn_subtitles": int(burn_subtitles),
                "font": font or "", "created": stamp, "updated": stamp, "source_text": text,
                "as_is": int(bool(as_is)), "target_length": target_length,
                "by_chapter": int(bool(by_chapter))}).last_pk
            studio.db["stages"].insert_all(
                [{"project_id": project_id, "stage": s, "status": "pending", "retries": 0, "ran": 0,
                  "skipped": 0, "failed": 0}
                 for s in STAGES])
        return cls(studio, project_id)

    @classmethod
    def open(cls, studio, ref: int | str) -> "Project":
        rows = list(studio.db["projects"].rows_where(
            "id = ? or name = ?", [_as_int(ref), str(ref)], order_by="id desc", limit=1))
        if not rows:
            raise NotFound(f"no project {ref!r} in {studio.path}: `storynb projects` lists them")
        return cls(studio, rows[0]["id"])

    # reading ---------------------------------------------------------------------------
    @property
    def row(self) -> dict:
        cursor = self.db.execute("select * from projects where id = ?", [self.id])
        found = cursor.fetchone()  # (a plain query: read per shot in plans of hundreds of shots)
        if found is None:
            raise NotFound(f"project {self.id} no longer exists")
        return dict(zip([c[0] for c in cursor.description], found))

    def __repr__(self) -> str:
        row = self.row
        return f"<Project {self.id} {row['name']!r} {row['status']}>"

    @property
    def state(self) -> str:
        """The project's status, except that a run whose process died (killed, crashed) shows as
        'interrupted' rather than 'running'; `run(from_failed=True)` continues it."""
        from .lease import held

        row = self.row
        if row["status"] == "running" and not held(row["run_owner"], row["run_heartbeat"]):
            return "interrupted"
        latest = latest_run(self.db, self.id)
        if latest and latest["state"] == "queued":
            return "queued"
        return row["status"]

    def progress(self) -> dict:
        """The live state of the project from the studio, whoever runs it: status, the latest
        run, and per stage its status and how many of the run's jobs are done, running, failed
        and planned (see storynb.jobs.progress). Poll `studio.changes()` to know when to re-read."""
        from .jobs import progress

        return progress(self.db, self.id, STAGES)

    def update(self, **settings: Any) -> dict[str, tuple]:
        """Change settings (style, aspect, size, fps, burn_subtitles, font, providers …; long
        form: text, as_is, target_length, by_chapter).
        A new aspect keeps the size's scale (a 360x640 preview becomes 640x360, not full HD)
        unless `size` is given too. Returns what changed: {setting: (old, new)}."""
        allowed = {"name", "style", "length", "audience", "aspect", "size", "fps", "burn_subtitles",
                   "font", "providers", "prompt_set", "shots", "loudness_lufs", "music",
                   "music_level_db", "highlight_words", "text", "as_is", "target_length",
                   "by_chapter"}
        unknown = set(settings) - allowed
        if unknown:
            raise InvalidInput(f"unknown setting(s) {sorted(unknown)}: use {sorted(allowed)}")
        before = self.row
        values: dict[str, Any] = {}
        for key, value in settings.items():
            if key == "aspect":
                _check_choice("aspect", value, ASPECTS)
                if settings.get("size") is None:
                    width, height = size_for(value, before["width"], before["height"])
                    values.update(width=width, height=height)
                values["aspect"] = value
            elif key == "size":
                if value is not None:
                    width, height = _check_size(value, settings.get("aspect", before["aspect"]))
                    values.update(width=width, height=height)
            elif key == "length":
                _check_choice("length", value, LENGTHS)
                values[key] = value
            elif key == "providers":  # per kind: a name, a list, or {"providers": [...], "strategy": ...}
                if not isinstance(value, dict):
                    raise InvalidInput("providers is a dict of kind → provider name or route")
                for kind, spec in value.items():
                    self.studio.route(kind, spec)
                values[key] = json.dumps(value)
            elif key == "prompt_set":
                values["prompt_set_id"] = self.studio.prompts.get_set(value)["id"]
            elif key == "shots":
                _check_shots(value)
                values["shots_wanted"] = value
            elif key == "text":  # the source text (None: back to the topic)
                from .longform import MAX_SOURCE

                value = (value or "").strip() or None
                if value and len(value) > MAX_SOURCE:
                    raise InvalidInput(f"the text is {len(value):,} characters long; the limit is "
                                       f"{MAX_SOURCE:,}")
                values["source_text"] = value
            elif key in ("as_is", "by_chapter"):
                values[key] = int(bool(value))
            elif key == "target_length":
                _check_target(value)
                values[key] = value
            elif key == "name":
                if not (isinstance(value, str) and value.strip()):
                    raise InvalidInput("a project needs a name (some text)")
                values[key] = value.strip()
            elif key == "font":
                if value:
                    _check_font(value, self.row["topic"])
                values[key] = value or ""
            elif key == "burn_subtitles":
                values[key] = int(bool(value))
            elif key in ("loudness_lufs", "music", "music_level_db", "highlight_words"):
                from .audio import sound_setting  # the export's sound settings (storynb.audio)

                values.update(sound_setting(self.studio, key, value))
            elif key == "style":
                values[key] = normalize_style(value)
            elif key == "fps" and not fps_ok(value):
                raise InvalidInput(f"fps must be a whole number from 1 to 60, not {value!r}")
            else:
                values[key] = value
        changed = {k: (before.get(k), v) for k, v in values.items() if before.get(k) != v}
        values["updated"] = now()
        self.db["projects"].update(self.id, values)
        return changed

    def provider(self, kind: str):
        """The route this project uses for a kind (see storynb.routing.Route): one or more
        providers and a strategy. A route of one provider behaves exactly like that provider."""
        return self.studio.route(kind, self.route_setting(kind))

    def route_setting(self, kind: str):
        """What the project's `providers` setting says for a kind (None: the offline default)."""
        return json.loads(self.row["providers"] or "{}").get(kind)

    def stages(self):
        import pandas as pd

        return pd.DataFrame(list(self.db.query(
            "select stage, status, ran, skipped, failed, retries, error, started, finished "
            "from stages where project_id = ? order by " + _STAGE_ORDER, [self.id])))

    def status(self) -> dict[str, str]:
        order = {s: i for i, s in enumerate(STAGES)}
        rows = self.db["stages"].rows_where("project_id = ?", [self.id])
        return dict(sorted(((r["stage"], r["status"]) for r in rows), key=lambda kv: order[kv[0]]))

    def calls(self):
        return self.studio.calls(self.id)

    # story -----------------------------------------------------------------------------
    def story(self, version: int | None = None) -> str:
        row = self.story_row(version)
        return row["text"] if row else ""

    def story_row(self, version: int | None = None) -> dict | None:
        from .stages.common import story_row

        return story_row(self, version)

    def stories(self):
        import pandas as pd

        return pd.DataFrame(list(self.db.query(
            "select version, source, length(text) as chars, created, text from stories "
            "where project_id = ? order by version", [self.id])))

    def set_story(self, text: str) -> int:
        """Save a hand-edited story as a new version (the storyboard follows it on the next run)."""
        text = (text or "").strip()
        if not text:
            raise InvalidInput("the story is empty: write some text, or run the rewrite stage")
        from .stages.rewrite import user_story_key

        return self.add_story_version(text, source="user", key=user_story_key(self))

    def add_story_version(self, text: str, *, source: str, key: str = "",
                          template_id: int | None = None, call_id: int | None = None) -> int:
        current = self.story_row()
        if current and current["text"] == text:
            return current["version"]
        version = (current["version"] + 1) if current else 1
        self.db["stories"].insert({
            "project_id": self.id, "version": version, "text": text, "key": key,
            "source": source, "template_id": template_id, "call_id": call_id, "created": now()})
        return version

    def story_diff(self, old: int, new: int | None = None) -> str:
        """A unified diff between two story versions (by paragraph and sentence)."""
        old_text, new_row = self.story(old), self.story_row(new)
        if new_row is None:
            raise NotFound(f"project {self.id} has no story yet: run the rewrite stage or set_story()")
        split = lambda t: [s for s in re.split(r"(?<=[.!?。！？])\s*|\n+", t) if s.strip()]
        return "\n".join(difflib.unified_diff(
            split(old_text), split(new_row["text"]), f"version {old}",
            f"version {new_row['version']}", lineterm=""))

    # shots -----------------------------------------------------------------------------
    def shots(self, offset: int = 0, limit: int | None = None) -> list[dict]:
        """The shots in order; `offset`/`limit` read one page of a long project (a page of
        shots 51–100 is `shots(offset=50, limit=50)`)."""
        where, args = _seq_window("project_id = ?", [self.id], offset, limit, column="seq")
        return list(self.db["shots"].rows_where(where, args, order_by="seq"))

    def shot_count(self) -> int:
        return self.db["shots"].count_where("project_id = ?", [self.id])

    def storyboard(self, offset: int = 0, limit: int | None = None):
        """The shots as a DataFrame (sequence, scene, narration, image_prompt, duration_s,
        chapter); `offset`/`limit` page through a long project."""
        import pandas as pd

        columns = ["seq", "scene", "narration", "image_prompt", "negative_prompt", "duration_s",
                   "chapter"]
        return pd.DataFrame([{c: s[c] for c in columns} for s in self.shots(offset, limit)],
                            columns=columns)

    def chapters(self) -> pd.DataFrame:
        """The chapters (from the source's headings, or groups of chunks), a DataFrame with
        chapter (number), title, first_seq, last_seq, shots, duration_s."""
        import pandas as pd

        from .longform import chapters

        return pd.DataFrame(chapters(self), columns=["chapter", "title", "first_seq", "last_seq",
                                                     "shots", "duration_s"])

    def chapter_videos(self) -> pd.DataFrame:
        """The video of each chapter (made by the export when `by_chapter` is on), a DataFrame
        with chapter, title, path, srt_path, duration_s."""
        import pandas as pd

        from .longform import chapter_videos

        return pd.DataFrame(chapter_videos(self), columns=["chapter", "title", "path", "srt_path",
                                                           "duration_s"])

    def shot(self, seq: int) -> dict:
        rows = list(self.db["shots"].rows_where("project_id = ? and seq = ?", [self.id, seq]))
        if not rows:
            raise NotFound(f"project {self.id} has no shot {seq}; it has "
                           f"{len(self.shots())} shot(s), numbered from 1")
        return rows[0]

    def _clean_shot(self, values: dict) -> dict:
        unknown = set(values) - set(SHOT_FIELDS)
        if unknown:
            raise InvalidInput(f"unknown shot field(s) {sorted(unknown)}: use {list(SHOT_FIELDS)}")
        clean = {}
        for field, value in values.items():
            if field == "duration_s":
                try:
                    seconds = float(value)
                except (TypeError, ValueError):
                    raise InvalidInput(f"duration_s must be a number of seconds, not {value!r}") from None
                if not 0.5 <= seconds <= 60:
                    raise InvalidInput(f"duration_s must be between 0.5 and 60 seconds, not {seconds}")
                fps = self.row["fps"]
                clean[field] = max(1, round(seconds * fps)) / fps  # a whole number of frames
            else:
                if value is not None and not isinstance(value, str):
                    raise InvalidInput(f"{field} must be text, not {type(value).__name__}")
                clean[field] = (value or "").strip()
        if "narration" in clean and not clean["narration"]:
            raise InvalidInput("a shot's narration cannot be empty")
        return clean

    def edit_shot(self, seq: int, **values: Any) -> dict:
        """Edit a shot; only the work that depends on the changed fields is redone next run."""
        shot = self.shot(seq)
        clean = self._clean_shot(values)
        if clean:
            with writing(self.db):
                self.db["shots"].update(shot["id"], {**clean, "updated": now()})
                self._mark_hand_edited()
        return self.shot(seq)

    def _mark_hand_edited(self) -> None:
        self.db.execute("update projects set shots_edited = 1 where id = ?", [self.id])

    def add_shot(self, narration: str, *, after: int | None = None, scene: str = "",
                 image_prompt: str = "", negative_prompt: str = "",
                 duration_s: float = 4.0) -> dict:
        """Insert a shot after shot `after` (default: at the end)."""
        clean = self._clean_shot({"narration": narration, "scene": scene or narration[:80],
                                  "image_prompt": image_prompt or scene or narration,
                                  "negative_prompt": negative_prompt, "duration_s": duration_s})
        count = len(self.shots())
        position = count + 1 if after is None else after + 1
        if not 1 <= position <= count + 1:
            raise InvalidInput(f"after must be between 0 and {count}, not {after}")
        with writing(self.db):
            self.db.execute("update shots set seq = seq + 1 where project_id = ? and seq >= ?",
                            [self.id, position])
            self.db["shots"].insert({"project_id": self.id, "seq": position, **clean,
                                     "seed": random.randrange(1 << 30), "created": now(),
                                     "updated": now()})
            self._mark_hand_edited()
        return self.shot(position)

    def delete_shot(self, seq: int) -> None:
        shot = self.shot(seq)
        with writing(self.db):
            self.db["camera"].delete_where("shot_id = ?", [shot["id"]])
            for table in ("images", "clips", "narrations"):  # artifacts stay, detached
                self.db.execute(f"update {table} set shot_id = null where shot_id = ?", [shot["id"]])
            self.db["shots"].delete(shot["id"])
            self.db.execute("update shots set seq = seq - 1 where project_id = ? and seq > ?",
                            [self.id, seq])
            self._mark_hand_edited()

    def move_shot(self, seq: int, to: int) -> None:
        """Move shot `seq` to position `to` (1-based), shifting the others."""
        order = [s["id"] for s in self.shots()]
        if not 1 <= to <= len(order):
            raise InvalidInput(f"position must be between 1 and {len(order)}, not {to}")
        shot_id = self.shot(seq)["id"]
        order.remove(shot_id)
        order.insert(to - 1, shot_id)
        with writing(self.db):
            for position, sid in enumerate(order, start=1):
                self.db["shots"].update(sid, {"seq": position})
            self._mark_hand_edited()

    def replace_shots(self, shots: list[dict]) -> None:
        """Replace every shot (what the storyboard stage does with a new storyboard)."""
        rng = random.Random(self.row["seed"])
        with writing(self.db):
            old = [s["id"] for s in self.shots()]
            if old:
                marks = ",".join("?" * len(old))
                self.db.execute(f"delete from camera where shot_id in ({marks})", old)
                for table in ("images", "clips", "narrations"):
                    self.db.execute(f"update {table} set shot_id = null where shot_id in ({marks})", old)
                self.db.execute(f"delete from shots where id in ({marks})", old)
            self.db.execute("update projects set shots_edited = 0 where id = ?", [self.id])
            stamp = now()
            self.db["shots"].insert_all([
                {"project_id": self.id, "seq": i, **self._clean_shot(s),
                 "seed": rng.randrange(1 << 30), "created": stamp, "updated": stamp}
                for i, s in enumerate(shots, start=1)])

    @property
    def cast(self):
        """The project's characters (a storynb.characters.CharacterSheet): `.frame()`, `.set()`,
        `.add_reference()`, `.tag(seq, names)` …"""
        from .characters import CharacterSheet

        return CharacterSheet(self)

    # images and camera -----------------------------------------------------------------
    def images(self, seq: int | None = None, *, offset: int = 0, limit: int | None = None):
        """Every image (candidates too) by shot; `offset`/`limit` count shots, so a gallery
        page of 24 shots is `images(offset=24 * page, limit=24)`."""
        import pandas as pd

        where, args = "i.project_id = ?", [self.id]
        if seq is not None:
            where, args = where + " and s.seq = ?", args + [seq]
        where, args = _seq_window(where, args, offset, limit)
        rows = self.db.query(
            "select s.seq, i.id, i.chosen, i.status, i.media, i.thumb, i.prompt, i.provider, "
            f"i.error, i.created from images i join shots s on s.id = i.shot_id where {where} "
            "order by s.seq, i.id", args)
        return pd.DataFrame(self._with_paths(rows))

    def _with_paths(self, rows) -> list[dict]:
        media = self.studio.media
        return [{**row, "path": str(media.path(row["media"])) if row["media"] else None}
                for row in rows]

    def chosen_image(self, seq: int) -> dict | None:
        rows = list(self.db["images"].rows_where(
            "shot_id = ? and chosen = 1 and status = 'done'", [self.shot(seq)["id"]], limit=1))
        return rows[0] if rows else None

    def choose_image(self, seq: int, image_id: int) -> None:
        shot = self.shot(seq)
        rows = list(self.db["images"].rows_where("id = ? and shot_id = ? and status = 'done'",
                                                  [image_id, shot["id"]]))
        if not rows:
            raise NotFound(f"shot {seq} has no finished image {image_id}: see project.images({seq})")
        with writing(self.db):
            self.db.execute("update images set chosen = 0 where shot_id = ?", [shot["id"]])
            self.db["images"].update(image_id, {"chosen": 1, "picked_at": now()})

    def delete_image(self, seq: int, image_id: int) -> None:
        """Forget one image. If it was the chosen one, another candidate takes its place, or
        (with none left) the next run paints a new one with a new seed, not the same picture."""
        shot = self.shot(seq)
        rows = list(self.db["images"].rows_where("id = ? and shot_id = ?", [image_id, shot["id"]]))
        if not rows:
            raise NotFound(f"shot {seq} has no image {image_id}: see project.images({seq})")
        with writing(self.db):
            self.db["images"].delete(image_id)
            if rows[0]["chosen"]:
                others = list(self.db["images"].rows_where(
                    "shot_id = ? and status = 'done'", [shot["id"]], order_by="id desc", limit=1))
                if others:
                    self.db["images"].update(others[0]["id"], {"chosen": 1, "picked_at": now()})
                else:
                    self.db["shots"].update(shot["id"], {"seed": random.randrange(1 << 30),
                                                         "updated": now()})

    def regenerate_image(self, seq: int) -> None:
        """Ask for a new image for one shot (a new seed); the next run makes it and its clip."""
        shot = self.shot(seq)
        self.db["shots"].update(shot["id"], {"seed": random.randrange(1 << 30), "updated": now()})

    def camera(self):
        import pandas as pd

        rows = self.db.query(
            "select s.seq, c.movement, c.params, c.source from shots s left join camera c "
            "on c.shot_id = s.id where s.project_id = ? order by s.seq", [self.id])
        frame = pd.DataFrame(list(rows), columns=["seq", "movement", "params", "source"])
        frame["params"] = [json.loads(p) if p else None for p in frame["params"]]
        return frame

    def set_camera(self, seq: int, movement: str | None = None, *, preset: str | None = None,
                   **params: Any) -> dict:
        """Set one shot's camera movement by hand (kept when the camera stage runs again)."""
        from .render.motion import CameraMove
        from .stages.camera import preset as load_preset

        if preset:
            found = load_preset(self.db, preset)
            movement, params = found["movement"], {**found["params"], **params}
        if not movement:
            raise InvalidInput("give a movement (or a preset name)")
        try:
            move = CameraMove.from_params(movement, params)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        shot = self.shot(seq)
        row = {"project_id": self.id, "shot_id": shot["id"], "movement": move.movement,
               "params": json.dumps(move.to_params()), "source": "user", "key": "",
               "created": now()}
        self.db["camera"].delete_where("shot_id = ?", [shot["id"]])
        self.db["camera"].insert(row)
        return row

    # clips and export ------------------------------------------------------------------
    def clips(self, *, offset: int = 0, limit: int | None = None):
        """Every clip by shot; `offset`/`limit` count shots (one page of a gallery)."""
        import pandas as pd

        where, args = _seq_window("c.project_id = ?", [self.id], offset, limit)
        rows = self.db.query(
            "select s.seq, c.id, c.status, c.media, c.movement, c.duration_s, c.width, c.height, "
            "c.fps, c.error, c.created from clips c join shots s on s.id = c.shot_id "
            f"where {where} order by s.seq, c.id", args)
        return pd.DataFrame(self._with_paths(rows))

    def latest_export(self) -> dict | None:
        rows = list(self.db["exports"].rows_where(
            "project_id = ? and status = 'done' and chapter is null", [self.id],
            order_by="published desc, id desc", limit=1))
        return rows[0] if rows else None

    def video_path(self):
        export = self.latest_export()
        return export["path"] if export else None

    def media_bytes(self) -> int:
        return self.studio.media.size(self.studio.referenced_media(self.id))

    # controls --------------------------------------------------------------------------
    @overload
    def run(self, stages: str | Sequence[str] | None = None, *, background: Literal[False] = False,
            from_failed: bool = False, executor: str | None = None,
            on_event: Callable[[Event], None] | None = None) -> RunReport: ...

    @overload
    def run(self, stages: str | Sequence[str] | None = None, *, background: Literal[True],
            from_failed: bool = False, executor: str | None = None,
            on_event: Callable[[Event], None] | None = None) -> BackgroundRun: ...

    def run(self, stages: str | Sequence[str] | None = None, *, background: bool = False,
            from_failed: bool = False, executor: str | None = None,
            on_event: Callable[[Event], None] | None = None) -> RunReport | BackgroundRun:
        """Run the pipeline, or the given stages (a name or a list); finished work is skipped,
        and a pause set by `pause()` is lifted.

        - `from_failed=True` starts at the first stage that is not done (failed, stale, pending
          or paused), so failed jobs are tried again: this is how to retry and to resume.
        - `background=False` (the default) waits and returns a RunReport (`.status`,
          `.summary()`). It works in a script and inside a running Jupyter kernel alike.
        - `background=True` returns at once with a handle (`.done()`, `.wait()`). `executor`
          chooses who carries it out: "worker" (the default) is the studio's local worker
          process, so the run goes on when this kernel, page or script ends; "thread" is a
          thread of this process (the default when `on_event` is given, or when the project
          uses providers registered only in this process). Provider calls go to Celery workers
          when the studio was set up with `storynb.distributed.use_celery(studio, broker)`.
        - `on_event` receives every progress Event of a run in this process."""
        from .pipeline import first_unfinished, run_sync, selected_stages, start

        chosen = selected_stages(stages)
        if from_failed:
            first = first_unfinished(self)
            chosen = [s for s in chosen if first and STAGES.index(s) >= STAGES.index(first)]
        if background:
            return start(self, chosen, on_event=on_event, executor=executor)
        if executor not in (None, "inline"):
            raise InvalidInput(f"executor={executor!r} chooses who carries out a background run: "
                               "give background=True too (a foreground run happens here)")
        return run_sync(self, chosen, on_event=on_event)

    def pause(self) -> None:
        """Stop starting new jobs; the jobs already running finish. `run(from_failed=True)`
        continues."""
        self.db["projects"].update(self.id, {"paused": 1, "updated": now()})

    def skip(self, stage: str) -> None:
        """Leave a stage out of runs (camera → static shots, rewrite → the topic is the story …)."""
        self._set_stage(stage, "skipped")

    def unskip(self, stage: str) -> None:
        self._set_stage(stage, "pending")

    def rollback(self, stage: str) -> None:
        """Redo a stage on the next run (a new take), and mark every stage after it stale.
        Earlier results stay stored (story versions, image candidates)."""
        from .stages.common import bump_take

        _check_choice("stage", stage, STAGES)
        bump_take(self, stage)
        if stage in ("rewrite", "storyboard"):  # a new storyboard may replace hand-edited shots
            self.db.execute("update projects set shots_edited = 0 where id = ?", [self.id])
        status = self.status()
        for later in STAGES[STAGES.index(stage):]:
            if status.get(later) != "skipped" or later == stage:
                self._set_stage(later, "stale")

    def _set_stage(self, stage: str, status: str) -> None:
        _check_choice("stage", stage, STAGES)
        self.db["stages"].update((self.id, stage), {"status": status})


    # ---------------------------------------------------------------------------------------
    # Added for the notebook panels (issue 4): delete, a project bundle,
    # a camera preview and redoing one clip. Panels call these like any other public method.
    def delete(self) -> None:
        """Delete the project and its rows. The call log stays (usage and cost history); media
        files stay until `studio.gc()` removes what nothing refers to any more."""
        from .pipeline import running_here

        if running_here(self) or self.state in ("running", "queued"):
            raise InvalidInput(f"project {self.id} is running: pause it and wait, then delete it")
        published = [(r["path"], r["srt_path"], r.get("ass_path")) for r in
                     self.db["exports"].rows_where("project_id = ?", [self.id])]
        owned = [t.name for t in self.db.tables if t.name != "projects"
                 and any(fk.other_table == "projects" for fk in t.foreign_keys)]
        with writing(self.db):
            for table in owned:
                self.db[table].delete_where("project_id = ?", [self.id])
            self.db["projects"].delete(self.id)
        for paths in published:
            for path in paths:
                if path:
                    Path(path).unlink(missing_ok=True)
            if paths[0]:  # and the editors' hand-off beside the video (storynb.timeline)
                from .timeline import remove_handoff
                remove_handoff(Path(paths[0]))

    def export_bundle(self, path=None):
        """Write the project as a zip: its rows (project.json) and every media file they name.
        Returns the path (default: beside the exported videos)."""
        import zipfile

        from .stages.export import file_slug

        row = self.row
        path = Path(path) if path else (
            Path(self.studio.exports_dir) / f"{file_slug(row['name'])}-{self.id}.bundle.zip")
        from .bundle import BUNDLE_TABLES, FORMAT_VERSION, LOCAL_PATHS
        from .media import is_media_name

        tables = {}
        for table in BUNDLE_TABLES:  # what an import reads back (a new table is added there)
            rows = list(self.db[table].rows_where("project_id = ?", [self.id]))
            for item in rows:  # paths on this machine mean nothing elsewhere
                item.update({column: None for column in LOCAL_PATHS.get(table, ())})
            tables[table] = rows
        template_ids = {r["template_id"] for t in ("stories", "storyboards")
                        for r in tables.get(t, []) if r.get("template_id")}
        prompt_set = self.db["prompt_sets"].get(row["prompt_set_id"]) if row["prompt_set_id"] else None
        marks = ",".join("?" * len(template_ids))
        templates = list(self.db["prompt_templates"].rows_where(
            f"set_id = ? or id in ({marks})" if template_ids else "set_id = ?",
            [row["prompt_set_id"], *template_ids], order_by="id"))
        document = {"format": "storynb-bundle", "version": FORMAT_VERSION, "created": now(),
                    "project": row, "tables": tables, "prompt_set": prompt_set, "prompt_templates": templates}
        media = self.studio.media
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, suffix=".zip") as temp:
            with zipfile.ZipFile(temp, "w") as bundle:
                bundle.writestr("project.json", json.dumps(document, ensure_ascii=False, indent=1,
                                                           default=str), zipfile.ZIP_DEFLATED)
                for name in sorted(self.studio.referenced_media(self.id)):
                    if not is_media_name(name):  # only files of the store, by their hash name
                        raise InvalidInput(f"project {self.id} has a row naming media {name!r}, "
                                           "which is not a stored media name; no bundle was written")
                    if media.exists(name):
                        bundle.write(media.inside(name), f"media/{name}", zipfile.ZIP_STORED)
        return path

    def preview_camera(self, seq: int, movement: str, *, seconds: float = 2.0,
                       short_side: int = 160, **params: Any) -> bytes:
        """A short, small MP4 of a camera movement over the shot's chosen image (not stored)."""
        from .render.motion import CameraMove, render_clip

        try:
            move = CameraMove.from_params(movement, params)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        if not 0.5 <= float(seconds) <= 10:
            raise InvalidInput(f"a preview lasts 0.5 to 10 seconds, not {seconds}")
        if not 64 <= int(short_side) <= 720:
            raise InvalidInput(f"short_side must be 64 to 720 pixels, not {short_side}")
        image = self.chosen_image(seq)
        if image is None:
            raise InvalidInput(f"shot {seq} has no image yet: run the images stage first")
        row = self.row
        scale = short_side / min(row["width"], row["height"])
        width, height = (max(2, round(row["width"] * scale / 2) * 2),
                         max(2, round(row["height"] * scale / 2) * 2))
        out = self.studio.media.scratch(".mp4")
        try:
            render_clip(self.studio.media.path(image["media"]), move, float(seconds), width, height,
                        12, out)
            return out.read_bytes()
        finally:
            out.unlink(missing_ok=True)

    def delete_clip(self, seq: int) -> int:
        """Forget one shot's clip so the next run renders it again (and redoes the export).
        Returns how many clip rows were removed; the media file stays until `studio.gc()`."""
        shot = self.shot(seq)
        keys = [r["key"] for r in self.db["clips"].rows_where("shot_id = ?", [shot["id"]]) if r["key"]]
        where, args = "shot_id = ?", [shot["id"]]
        if keys:  # detached copies with the same key would otherwise be reused as they are
            where += f" or (shot_id is null and key in ({','.join('?' * len(keys))}))"
            args += keys
        with writing(self.db):
            count = self.db["clips"].count_where(where, args)
            self.db["clips"].delete_where(where, args)
        return count


_STAGE_ORDER = "case stage " + " ".join(f"when '{s}' then {i}" for i, s in enumerate(STAGES)) + " end"


def _check_choice(field: str, value, choices) -> None:
    if value not in choices:
        raise InvalidInput(f"{field} {value!r} is not one of: {', '.join(map(str, choices))}")


def _check_shots(shots) -> None:
    from .longform import MAX_SHOTS

    if shots is not None and not (isinstance(shots, int) and not isinstance(shots, bool)
                                  and 4 <= shots <= MAX_SHOTS):
        raise InvalidInput(f"shots must be a whole number from 4 to {MAX_SHOTS}, not {shots!r} "
                           "(or leave it out: a topic gets 4 to 12, a text as many as it needs)")


def _check_target(value) -> None:
    if value is not None and not (isinstance(value, int) and 50 <= value <= 200_000):
        raise InvalidInput(f"target_length is the adapted story's length in characters (Chinese) "
                           f"or words (English), from 50 to 200000, not {value!r}")


def _seq_window(where: str, args: list, offset: int, limit: int | None,
                column: str = "s.seq") -> tuple[str, list]:
    """Restrict a query to shots offset+1 … offset+limit (shots are numbered 1…N)."""
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidInput(f"offset must be a whole number ≥ 0, not {offset!r}")
    if limit is not None and not (isinstance(limit, int) and limit >= 1):
        raise InvalidInput(f"limit must be a whole number ≥ 1 (or None for all), not {limit!r}")
    if offset:
        where, args = where + f" and {column} > ?", args + [offset]
    if limit is not None:
        where, args = where + f" and {column} <= ?", args + [offset + limit]
    return where, args


def _check_font(font: str, sample: str) -> None:
    """A font the user names must exist and draw the topic's script (checked again per run)."""
    from .render.subtitles import find_font

    try:
        find_font(sample, font)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _check_size(size, aspect: str) -> tuple[int, int]:
    found, problem = size_problem(size, aspect)
    if found is None:
        raise InvalidInput(problem)
    return found


def _as_int(ref) -> int:
    try:
        return int(ref)
    except (TypeError, ValueError):
        return -1


