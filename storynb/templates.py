"""Project templates: a project's settings, prompt set and providers saved under a name, to
start new projects from."""
from __future__ import annotations

import json

from .db import now
from .errors import InvalidInput, NotFound

def save_template(studio, project, name: str) -> dict:
    """Everything that shapes a project except its topic, name and seed."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("a project template needs a name")
    row = project.row
    settings = {
        "language": row["language"], "style": row["style"], "length": row["length"],
        "audience": row["audience"], "aspect": row["aspect"], "fps": row["fps"],
        "shots": row["shots_wanted"], "prompt_set": row["prompt_set_id"],
        "providers": json.loads(row["providers"] or "{}"),
        "burn_subtitles": bool(row["burn_subtitles"]), "font": row["font"] or None,
        "size": [row["width"], row["height"]],
    }
    studio.db["project_templates"].insert({"name": name, "settings": json.dumps(settings),
                                           "created": now()}, replace=True)
    return settings


def template_settings(studio, name: str) -> dict:
    rows = list(studio.db["project_templates"].rows_where("name = ?", [name]))
    if not rows:
        names = ", ".join(r["name"] for r in studio.db["project_templates"].rows) or "none yet"
        raise NotFound(f"no project template {name!r}; templates: {names}")
    settings = json.loads(rows[0]["settings"])
    settings["size"] = tuple(settings["size"]) if settings.get("size") else None
    return settings


def with_template(studio, name: str, settings: dict) -> dict:
    """A template's settings with the ones given on top. A different aspect given without a size
    keeps the template's scale in the new shape (its 360x640 preview becomes 640x360)."""
    from .settings import ASPECTS, size_for

    merged = {**template_settings(studio, name), **settings}
    size, aspect = merged.get("size"), merged.get("aspect")
    if settings.get("size") is None and size and aspect in ASPECTS:
        merged["size"] = size_for(aspect, *size)
    return merged


def list_templates(studio) -> list[dict]:
    return [{"name": r["name"], "created": r["created"], **json.loads(r["settings"])}
            for r in studio.db["project_templates"].rows_where(order_by="name")]


def delete_template(studio, name: str) -> None:
    template_settings(studio, name)
    studio.db["project_templates"].delete(name)
