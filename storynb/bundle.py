"""Importing a project bundle (the zip `Project.export_bundle()` writes): rows + media."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

from .db import now, writing
from .errors import InvalidInput
from .media import file_hash

# Tables in the order their rows can be inserted, with the id columns that point at other rows.
TABLES = (
    ("calls", {}),
    ("shots", {}),
    ("stories", {"call_id": "calls"}),
    ("storyboards", {"story_id": "stories", "call_id": "calls"}),
    ("images", {"shot_id": "shots"}),
    ("camera", {"shot_id": "shots"}),
    ("clips", {"shot_id": "shots", "image_id": "images"}),
    ("narrations", {"shot_id": "shots"}),
    ("exports", {}),
)


def import_bundle(studio, path) -> int:
    """Add the project in a bundle to this studio as a new project; returns its id. Media files
    are checked against their content hash; the prompt set is reused by name or recreated."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as bundle:
            document = json.loads(bundle.read("project.json"))
            if document.get("format") != "storynb-bundle":
                raise InvalidInput(f"{path.name} is not a storynb project bundle (no storynb-bundle header)")
            names = [n for n in bundle.namelist() if n.startswith("media/") and not n.endswith("/")]
            stored = [_store(studio.media, bundle, name) for name in names]
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, FileNotFoundError) as exc:
        raise InvalidInput(f"cannot read the bundle {path}: {exc}; export it again with "
                           "project.export_bundle()") from None
    del stored  # the files are in the store; rows below refer to them by name
    db = studio.db
    set_id, template_ids = _prompt_set(studio, document)
    project = dict(document["project"])
    tables = document.get("tables", {})
    with writing(db):
        last = db.execute("select max(m) from (select max(id) as m from projects union all "
                          "select max(project_id) from calls)").fetchone()[0] or 0
        new_id = last + 1
        project.update(id=new_id, prompt_set_id=set_id, status=_settled(project["status"]),
                       run_owner=None, run_heartbeat=None, paused=0, updated=now())
        project = {k: v for k, v in project.items() if k in db["projects"].columns_dict}
        db["projects"].insert(project)
        for row in tables.get("stages", []):
            db["stages"].insert({**row, "project_id": new_id, "status": _settled(row["status"])})
        mapped: dict[str, dict] = {}
        for table, refs in TABLES:
            mapped[table] = {}
            columns = db[table].columns_dict
            for row in tables.get(table, []):
                row = {k: v for k, v in row.items() if k in columns}
                old = row.pop("id", None)
                row["project_id"] = new_id
                for column, target in refs.items():
                    if row.get(column) is not None:
                        row[column] = mapped[target].get(row[column])
                if "template_id" in row and row["template_id"] is not None:
                    row["template_id"] = template_ids.get(row["template_id"])
                if table == "exports":  # published again under this studio's exports folder
                    row.update(path=None, srt_path=None, published=None)
                mapped[table][old] = db[table].insert(row).last_pk
    return new_id


def _store(media, bundle: zipfile.ZipFile, member: str) -> str:
    name = Path(member).name
    temp = media.scratch(Path(name).suffix)
    temp.write_bytes(bundle.read(member))
    if file_hash(temp) != Path(name).stem:
        temp.unlink(missing_ok=True)
        raise InvalidInput(f"the bundle's file {name} does not match its content hash: the bundle "
                           "is damaged; export it again")
    return media.add(temp)


def _prompt_set(studio, document) -> tuple[int, dict]:
    """The studio's prompt set of the same name, else a copy made from the bundle's templates.
    Returns the set id and a map from the bundle's template ids to this studio's."""
    source = document.get("prompt_set") or {}
    templates = document.get("prompt_templates", [])
    prompts = studio.prompts
    name = source.get("name") or "imported"
    existing = list(studio.db["prompt_sets"].rows_where("name = ?", [name]))
    if existing:
        set_id = existing[0]["id"]
    else:
        set_id = prompts.create_set(name, source.get("language", "en"),
                                    source.get("description", "") + " (imported)")
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
