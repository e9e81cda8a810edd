"""JSON in an LLM's answer: find it, and repair the usual breakage where that is safe.

A low-level helper (it imports nothing of storynb), so adapters (storynb.providers.openai_compat)
and the stages (storynb.stages.storyboard, .camera) share one implementation.
"""
from __future__ import annotations

import json
import re
from typing import Any


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
