"""What the stages share: rendering a stage's prompt and calling the project's LLM."""
from __future__ import annotations

import json
import re
from typing import Any

from ..db import now
from ..prompts import render
from ..jobs import adoptable_call
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


def extract_json(text: str) -> tuple[Any, list[str]]:
    """Parse an LLM's JSON answer, repairing the usual breakage where it is safe.

    Repairs: code fences, prose around the JSON, and anything json-repair mends without losing
    content (trailing commas, missing commas, single or smart quotes, comments, unquoted keys,
    Python literals). An answer that was cut off (its JSON never closes) is not repaired: the
    end is missing, so it raises ValueError like anything else that cannot be used, quoting it.
    """
    repairs: list[str] = []
    body = (text or "").strip()
    if not body:
        raise ValueError("the model's answer is empty")
    fences = re.findall(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", body, re.S)
    fenced = next((f for f in fences if re.search(r"[\[{]", f)), None)
    if fenced is not None:
        body = fenced.strip()
        repairs.append("removed a code fence")
    elif body.startswith("```"):  # an opening fence whose closing one was cut off
        body = re.sub(r"^```[A-Za-z0-9_-]*", "", body).strip()
    start = min([i for i in (body.find("{"), body.find("[")) if i >= 0], default=-1)
    if start < 0:
        raise ValueError(f"the answer has no JSON object: {_quote(body)}")
    end, closed = _matching_end(body, start)
    if start > 0 or end < len(body):
        repairs.append("removed text around the JSON")
    candidate = body[start:end]
    try:
        return json.loads(candidate), repairs
    except json.JSONDecodeError as exc:
        problem = exc
    if not closed and not candidate.rstrip().endswith(("}", "]")):
        raise ValueError(f"the answer was cut off: its JSON never closes (it ends "
                         f"{_quote(candidate[-120:])}); ask for fewer or shorter shots, or raise "
                         "the provider's max_tokens")
    import json_repair  # the field's library for LLM JSON; only reached for broken answers

    try:
        repaired = json_repair.loads(candidate)
    except Exception:  # json-repair gave up: report the parser's own complaint
        repaired = None
    if not isinstance(repaired, (dict, list)) or not repaired:
        around = candidate[max(0, problem.pos - 60): problem.pos + 60]
        raise ValueError(f"the answer is not valid JSON ({problem.msg} at character "
                         f"{problem.pos}) and cannot be repaired: …{around}…")
    repairs.append(f"repaired broken JSON ({problem.msg} at character {problem.pos})")
    return repaired, repairs


def _matching_end(text: str, start: int) -> tuple[int, bool]:
    """(index just past the bracket that closes text[start], whether it closes at all)."""
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1, True
    return len(text), False


def _quote(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "…")
