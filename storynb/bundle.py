"""Importing a project bundle (the zip `Project.export_bundle()` writes): rows + media.

A bundle is untrusted input (anyone can hand one over or upload it in the app), so nothing in it
is used before it is checked:
- the zip against caps (storynb.intake.ZipLimits: members, total uncompressed size, compression
  ratio) from its central directory, before anything is written, and again while streaming;
- project.json (at most MAX_DOCUMENT_BYTES): only the tables and columns this studio has, each
  value of its column's type; media names exactly `<sha256>.<ext>`; paths that only mean
  something on the exporting machine (exports' files, a font file) dropped;
- every media file a row uses must be in the bundle (its content matching its name's hash and
  type) or already in this studio's store.
Rows go in one transaction; stored files are removed again when the import fails.
"""
from __future__ import annotations

import re
import sqlite3
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .db import now, writing
from .errors import InvalidInput, StorynbError
from .intake import (MiB, ZipLimits, check_zip, free_space_check, looks_like_text, open_zip,
                     parse_json, read_member, sniff, stream_member)
from .media import MEDIA_COLUMNS, NO_FILE, is_media_name

# Tables in the order their rows can be inserted, with the id columns that point at other rows.
# A bundle carries exactly these tables (and `stages`); a new per-project table is added here.
TABLES: tuple[tuple[str, dict[str, str]], ...] = (
    ("calls", {}),
    ("shots", {}),
    ("stories", {"call_id": "calls"}),
    ("storyboards", {"story_id": "stories", "call_id": "calls"}),
    ("images", {"shot_id": "shots"}),
    ("camera", {"shot_id": "shots"}),
    ("clips", {"shot_id": "shots", "image_id": "images"}),
    ("narrations", {"shot_id": "shots"}),
    ("exports", {}),
    ("characters", {}),  # the character sheet (reference images are media, shots name them)
    ("chunks", {"call_id": "calls"}),  # long form: stored answers of chunk jobs (paid once)
)
BUNDLE_TABLES = ("stages",) + tuple(name for name, _ in TABLES)
# Columns that hold paths on the exporting machine: never carried over.
LOCAL_PATHS = {"exports": ("path", "srt_path", "ass_path", "published")}
MAX_DOCUMENT_BYTES = 16 * MiB   # project.json, uncompressed
LIMITS = ZipLimits()            # 20,000 members, 4 GB uncompressed, 100:1 over 1 MB
FORMAT_VERSION = 1
_DOCUMENT_KEYS = {"format", "version", "created", "project", "tables", "prompt_set",
                  "prompt_templates"}
_STATUS = re.compile(r"[a-z_]{1,24}")
_TEXT_EXTENSIONS = {"srt", "ass"}


@dataclass
class _Plan:
    project: dict
    tables: dict[str, list[dict]]
    prompt_set: dict
    templates: list[dict]
    media: set[str] = field(default_factory=set)      # every media name a row holds
    live: set[str] = field(default_factory=set)       # … of rows that are not detached history


def import_bundle(studio, path, *, limits: ZipLimits | None = None) -> int:
    """Add the project in a bundle to this studio as a new project; returns its id. Everything
    is checked first (see the module's doc); a bundle that fails a check is refused with
    InvalidInput and leaves nothing behind."""
    path = Path(path)
    label = path.name
    limits = limits or LIMITS
    try:
        archive = open_zip(path, limits, name=label)
    except InvalidInput:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise InvalidInput(f"cannot read the bundle {path}: {exc}; export it again with "
                           "project.export_bundle() (or `storynb bundle`)") from None
    with archive:
        infos = check_zip(archive, limits, name=label)
        document_info, members = _members(infos, label)
        raw = read_member(archive, document_info, name=label, max_bytes=MAX_DOCUMENT_BYTES)
        document = parse_json(raw, name=f"{label}: project.json")
        del raw
        plan = _validate(studio, document, label)
        media = studio.media
        missing = sorted(n for n in plan.live if n not in members and not media.exists(n))
        if missing:
            raise InvalidInput(f"{label} uses {len(missing)} media file(s) it does not carry and "
                               f"this studio does not have (first: {missing[0]}): export the "
                               "bundle again from the studio that made it")
        wanted = sorted(n for n in plan.media if n in members and not media.exists(n))
        free_space_check(media.root, sum(members[n].file_size for n in wanted), name=label)
        added: list[str] = []
        try:
            for name in wanted:
                _store(media, archive, members[name], name, label)
                added.append(name)
            return _insert(studio, plan, label)
        except BaseException:
            _remove_unused(studio, added)
            raise


def _members(infos, label: str) -> tuple[zipfile.ZipInfo, dict[str, zipfile.ZipInfo]]:
    """project.json and the media members by name; any other member is refused."""
    document = None
    media: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        member = info.filename
        if member == "project.json":
            document = info
        elif member == "media/" and info.is_dir():
            continue
        elif member.startswith("media/") and is_media_name(member[6:]):
            media[member[6:]] = info
        else:
            shown = member if len(member) <= 80 else member[:77] + "..."
            raise InvalidInput(f"{label} holds {shown!r}, which is not part of a storynb bundle "
                               "(project.json and media/<sha256>.<ext> only): refused")
    if document is None:
        raise InvalidInput(f"{label} is not a storynb project bundle (it has no project.json)")
    return document, media


# --- checking project.json ---------------------------------------------------------------------

def _validate(studio, document, label: str) -> _Plan:
    from .settings import ASPECTS, size_problem
    from .prompts import PROMPT_STAGES
    from .runner import STAGES

    if not isinstance(document, dict) or document.get("format") != "storynb-bundle":
        raise InvalidInput(f"{label} is not a storynb project bundle (no storynb-bundle header)")
    if document.get("version") != FORMAT_VERSION:
        raise InvalidInput(f"{label} is bundle format version {document.get('version')!r}; this "
                           f"storynb reads version {FORMAT_VERSION}: update storynb")
    extra = set(document) - _DOCUMENT_KEYS
    if extra:
        raise InvalidInput(f"{label}: project.json has unknown part(s) {sorted(extra)}: it comes "
                           "from a newer storynb or was edited; update storynb or export it again")
    db = studio.db
    plan = _Plan(project={}, tables={}, prompt_set={}, templates=[])

    # the project row
    project = _row(db, "projects", document.get("project"), label, "the project")
    for required in ("name", "topic"):
        if not isinstance(project.get(required), str) or not project[required].strip():
            raise InvalidInput(f"{label}: the project has no {required}")
    for column in ("status",):
        if project.get(column) is not None and not _STATUS.fullmatch(project[column]):
            raise InvalidInput(f"{label}: the project's {column} {project[column]!r} is not a status")
    if project.get("aspect") is not None:
        if project["aspect"] not in ASPECTS:
            raise InvalidInput(f"{label}: the project's aspect {project['aspect']!r} is not one of "
                               f"{', '.join(ASPECTS)}")
        if project.get("width") is not None or project.get("height") is not None:
            _, problem = size_problem((project.get("width"), project.get("height")), project["aspect"])
            if problem:
                raise InvalidInput(f"{label}: the project's {problem}")
    if project.get("fps") is not None and not 1 <= project["fps"] <= 120:
        raise InvalidInput(f"{label}: the project's fps {project['fps']} is not 1 to 120")
    for column in ("providers", "takes"):
        if project.get(column):
            value = parse_json(project[column], name=f"{label}: the project's {column}")
            if not isinstance(value, dict):
                raise InvalidInput(f"{label}: the project's {column} is not a JSON object")
    font = project.get("font") or ""
    if _looks_like_path(font):  # a font file on the exporting machine: use the default here
        font = ""
    project.update(font=font, status=_settled(project.get("status") or "draft"), run_owner=None,
                   run_heartbeat=None, paused=0, updated=now())
    project.pop("id", None)
    project.pop("prompt_set_id", None)
    for column in MEDIA_COLUMNS.get("projects", ()):  # project-wide media (music …)
        if project.get(column) not in NO_FILE:
            _media_value(plan, project.get(column), label, f"the project's {column}", live=True)
    plan.project = {k: v for k, v in project.items() if k in db["projects"].columns_dict}

    # the tables
    tables = document.get("tables") or {}
    if not isinstance(tables, dict):
        raise InvalidInput(f"{label}: project.json's tables are not an object")
    unknown = sorted(set(tables) - set(BUNDLE_TABLES))
    if unknown:
        raise InvalidInput(f"{label} carries table(s) {unknown} this storynb does not import "
                           f"(it imports {', '.join(BUNDLE_TABLES)}): update storynb")
    stages_seen = set()
    for raw in _list(tables.get("stages"), label, "the stages"):
        row = _row(db, "stages", raw, label, "a stage")
        if row.get("stage") not in STAGES or row["stage"] in stages_seen:
            raise InvalidInput(f"{label}: stage {row.get('stage')!r} is unknown or repeated")
        stages_seen.add(row["stage"])
        if not _STATUS.fullmatch(row.get("status") or ""):
            raise InvalidInput(f"{label}: stage {row['stage']} has no valid status")
        row["status"] = _settled(row["status"])
        plan.tables.setdefault("stages", []).append(row)
    for table, _refs in TABLES:
        ids = set()
        rows = []
        for raw in _list(tables.get(table), label, f"the {table}"):
            row = _row(db, table, raw, label, f"a row of {table}")
            if not isinstance(row.get("id"), int) or row["id"] in ids:
                raise InvalidInput(f"{label}: a row of {table} has a missing or repeated id "
                                   f"{row.get('id')!r}")
            ids.add(row["id"])
            for column in LOCAL_PATHS.get(table, ()):
                if column in row:
                    row[column] = None
            detached = "shot_id" in db[table].columns_dict and row.get("shot_id") is None
            for column in MEDIA_COLUMNS.get(table, ()):
                _media_value(plan, row.get(column), label, f"{table} row {row['id']}",
                             live=not detached)
            if table == "characters":  # reference images: a JSON list of media names
                names = parse_json(row.get("refs") or "[]", name=f"{label}: character {row['id']}'s refs")
                if not isinstance(names, list):
                    raise InvalidInput(f"{label}: character {row['id']}'s refs is not a list")
                for name in names:
                    _media_value(plan, name, label, f"characters row {row['id']}", live=True)
            rows.append(row)
        plan.tables[table] = rows

    # the prompt set and its templates
    source = document.get("prompt_set") or {}
    if not isinstance(source, dict):
        raise InvalidInput(f"{label}: the prompt set is not an object")
    plan.prompt_set = _row(db, "prompt_sets", source, label, "the prompt set")
    template_ids = set()
    for raw in _list(document.get("prompt_templates"), label, "the prompt templates"):
        tpl = _row(db, "prompt_templates", raw, label, "a prompt template")
        if not isinstance(tpl.get("id"), int) or tpl["id"] in template_ids:
            raise InvalidInput(f"{label}: a prompt template has a missing or repeated id")
        template_ids.add(tpl["id"])
        if tpl.get("stage") not in PROMPT_STAGES or not isinstance(tpl.get("body"), str) \
                or not isinstance(tpl.get("version"), int):
            raise InvalidInput(f"{label}: prompt template {tpl['id']} needs a stage (one of "
                               f"{', '.join(PROMPT_STAGES)}), a version and a body")
        plan.templates.append(tpl)
    return plan


def _media_value(plan: _Plan, value, label: str, where: str, *, live: bool) -> None:
    """A media name a row holds: exactly `<sha256>.<ext>` (or empty), noted as needed."""
    if value in (None, ""):
        return
    if not is_media_name(value):
        shown = repr(value) if len(repr(value)) <= 100 else repr(value)[:97] + "..."
        raise InvalidInput(f"{label}: {where} names media {shown}, which is not a stored media "
                           "name (<sha256>.<ext>): the bundle was tampered with; refused")
    plan.media.add(value)
    if live:
        plan.live.add(value)


def _list(value, label: str, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{label}: {what} are not a list")
    return value


def _row(db, table: str, row, label: str, what: str) -> dict:
    """A copy of a row with only this studio's columns, each value of its column's type."""
    if not isinstance(row, dict):
        raise InvalidInput(f"{label}: {what} is not an object")
    columns = db[table].columns_dict
    clean: dict[str, Any] = {}
    for column, value in row.items():
        kind = columns.get(column)
        if kind is None:
            raise InvalidInput(f"{label}: {what} has a column {column!r} that table {table} does "
                               "not have: the bundle comes from a newer storynb or was edited; "
                               "update storynb or export it again")
        if value is None:
            clean[column] = None
        elif kind is int and isinstance(value, (int, bool)):
            clean[column] = int(value)
        elif kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            clean[column] = float(value)
        elif kind is str and isinstance(value, str):
            clean[column] = value
        else:
            expected = {int: "a whole number", float: "a number", str: "text"}.get(kind, str(kind))
            raise InvalidInput(f"{label}: {what}'s {column} must be {expected}, not "
                               f"{type(value).__name__}")
    return clean


def _looks_like_path(font: str) -> bool:
    return bool(font) and (any(c in font for c in "/\\:") or font.startswith(("~", ".")) or
                           font.lower().endswith((".ttf", ".otf", ".ttc", ".otc", ".woff", ".woff2")))


# --- media -------------------------------------------------------------------------------------

def _store(media, archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, label: str) -> str:
    """Stream one media member into the store, checked against its name's hash and type."""
    ext = name.rsplit(".", 1)[1]
    temp = media.scratch("." + ext)
    try:
        with open(temp, "wb") as out:
            _, digest = stream_member(archive, info, out, name=label)
        if digest != name.split(".")[0]:
            raise InvalidInput(f"the bundle's file {name} does not match its content hash: the "
                               "bundle is damaged; export it again")
        with open(temp, "rb") as handle:
            head = handle.read(1 << 16)
        kind = sniff(head)
        if ext in _TEXT_EXTENSIONS:
            ok = looks_like_text(head)
        else:
            ok = kind == ext or (ext == "mp4" and kind == "m4a")
        if not ok:
            raise InvalidInput(f"{label}: media {name} is not a .{ext} file (its content is "
                               f"{kind or 'something else'}): refused")
        return media.add(temp, ext)
    finally:
        temp.unlink(missing_ok=True)


def _remove_unused(studio, names: list[str]) -> None:
    """After a failed import: remove the files it stored that no row uses."""
    if not names:
        return
    try:
        used = studio.referenced_media()
    except Exception:
        return  # cannot tell: leave them for `gc`
    for name in names:
        if name not in used:
            studio.media.path(name).unlink(missing_ok=True)


# --- rows --------------------------------------------------------------------------------------

def _insert(studio, plan: _Plan, label: str) -> int:
    db = studio.db
    try:
        with writing(db):
            set_id, template_ids = _prompt_set(studio, plan.prompt_set, plan.templates)
            last = db.execute("select max(m) from (select max(id) as m from projects union all "
                              "select max(project_id) from calls)").fetchone()[0] or 0
            new_id = last + 1
            db["projects"].insert({**plan.project, "id": new_id, "prompt_set_id": set_id})
            for row in plan.tables.get("stages", []):
                db["stages"].insert({**row, "project_id": new_id})
            mapped: dict[str, dict] = {}
            for table, refs in TABLES:
                mapped[table] = {}
                for row in plan.tables.get(table, []):
                    row = dict(row)
                    old = row.pop("id")
                    row["project_id"] = new_id
                    for column, target in refs.items():
                        if row.get(column) is not None:
                            row[column] = mapped[target].get(row[column])
                    if row.get("template_id") is not None:
                        row["template_id"] = template_ids.get(row["template_id"])
                    if table == "calls" and row.get("job_key"):
                        # history only: a run here never adopts an answer it did not receive
                        # (storynb.jobs.adoptable_call matches calls by job key, in any project)
                        row["job_key"] = f"imported:{row['job_key']}"
                    mapped[table][old] = db[table].insert(row).last_pk
    except sqlite3.IntegrityError as exc:
        raise InvalidInput(f"{label}: its rows do not fit together ({exc}): export it again") from None
    except StorynbError as exc:
        raise InvalidInput(f"{label}: {exc}") from None
    return new_id


def _prompt_set(studio, source: dict, templates: list[dict]) -> tuple[int, dict]:
    """The studio's prompt set of the same name, else a copy made from the bundle's templates.
    Returns the set id and a map from the bundle's template ids to this studio's."""
    prompts = studio.prompts
    name = (source.get("name") or "").strip() or "imported"
    existing = list(studio.db["prompt_sets"].rows_where("name = ?", [name]))
    if existing:
        set_id = existing[0]["id"]
    else:
        set_id = prompts.create_set(name, source.get("language") or "en",
                                    (source.get("description") or "") + " (imported)")
        for tpl in sorted(templates, key=lambda t: (t["stage"], t["version"])):
            prompts.edit(set_id, tpl["stage"], tpl["body"], system=tpl.get("system") or "",
                         note=f"imported v{tpl['version']}")
    mapping = {}
    for tpl in templates:
        same = list(studio.db["prompt_templates"].rows_where(
            "set_id = ? and stage = ? and body = ?", [set_id, tpl["stage"], tpl["body"]], limit=1))
        if same:
            mapping[tpl["id"]] = same[0]["id"]
    return set_id, mapping


def _settled(status: str) -> str:
    return "pending" if status in ("running", "stale") else status
