"""What the stages share: rendering a stage's prompt and calling the project's LLM."""
from __future__ import annotations

import json
from typing import Any

from ..db import now
from ..errors import NotFound
from ..prompts import render
from ..jobs import adoptable_call
from ..llmjson import extract_json  # noqa: F401  (the stages' JSON repair; lives below the providers)
from ..providers.base import LLMRequest, LLMResult
from ..routing import call


def template(project, stage: str) -> dict:
    return project.studio.prompts.template(project.row["prompt_set_id"], stage)


def provider_identity(provider) -> dict:
    """What of a provider (or a route of providers) goes into a job key. A route of one
    provider has that provider's identity, so the offline defaults keep their keys; a route of
    several has the set of its members, whichever served (see storynb.routing.Route.identity)."""
    from ..routing import identity_of

    return identity_of(provider)


async def produce(project, provider, method: str, request, *, stage: str, key: str, ext: str,
                  describe: dict | None = None):
    """Call a provider that writes a file and keep the file in the media store (before the call
    is recorded, so a paid result is never lost). A result a killed run already paid for and
    stored is adopted instead of calling again. Returns (the provider's result, call id, stored
    media name)."""
    media = project.studio.media
    adopted = adoptable_call(project.db, key, media=media)
    if adopted is not None:
        return adopted["result"], adopted["id"], adopted["media"]
    out = media.scratch("." + ext)
    stored: dict[str, str] = {}

    def store(path) -> str:
        stored["name"] = media.add(path, ext)
        return stored["name"]

    try:
        result, call_id = await call(
            project.studio, provider, method, request, project_id=project.id, stage=stage, job_key=key,
            out_path=out, describe=describe, store=store)
    finally:
        out.unlink(missing_ok=True)
    if "name" not in stored:  # a provider that reported success without writing its file
        raise ValueError(f"{getattr(provider, 'name', provider)} reported success but wrote no file")
    return result, call_id, stored["name"]


def record_failure(db, table: str, key: str | None, message: str, row: dict) -> None:
    """A failed job is a row with its error; trying again counts a retry on the same row."""
    previous = list(db[table].rows_where("key = ? and status = 'failed'", [key], limit=1))
    if previous:
        db[table].update(previous[0]["id"], {"error": message, "retries": previous[0]["retries"] + 1})
    else:
        db[table].insert({**row, "key": key, "status": "failed", "error": message, "retries": 0,
                          "created": now()})


def story_row(project, version: int | None = None) -> dict | None:
    """The project's latest story (or that version) as its `stories` row; None before the
    rewrite stage, NotFound for a version that does not exist."""
    where, args = "project_id = ?", [project.id]
    if version is not None:
        where, args = where + " and version = ?", args + [version]
    rows = list(project.db["stories"].rows_where(where, args, order_by="version desc", limit=1))
    if version is not None and not rows:
        raise NotFound(f"project {project.id} has no story version {version}")
    return rows[0] if rows else None


def take(project, stage: str) -> int:
    """How many times the stage was rolled back: part of its keys, so a rollback redoes it."""
    return json.loads(project.row["takes"] or "{}").get(stage, 0)


def bump_take(project, stage: str) -> None:
    current = json.loads(project.row["takes"] or "{}")
    current[stage] = current.get(stage, 0) + 1
    project.db["projects"].update(project.id, {"takes": json.dumps(current)})


async def ask_llm(project, stage: str, tpl: dict, variables: dict[str, Any], *, key: str,
                  want_json: bool, validate=None):
    """Render the stage's template and call the project's LLM; returns (result, call_id)."""
    prompt = render(tpl["body"], variables, label=f"{stage} template v{tpl['version']}")
    system = render(tpl["system"] or "", variables, label=f"{stage} system prompt") or None
    provider = project.provider("llm")
    request = LLMRequest(task=stage, prompt=prompt, variables=variables, json=want_json,
                         system=system, validate=validate)
    adopted = adoptable_call(project.db, key)
    if adopted is not None:  # answered and paid for before the last run was killed
        return LLMResult(text=adopted["response"], tokens_in=adopted["tokens_in"] or 0,
                         tokens_out=adopted["tokens_out"] or 0), adopted["id"]
    return await call(project.studio, provider, "complete", request, project_id=project.id,
                      stage=stage, job_key=key,
                      describe={"system": system, "prompt": prompt})
