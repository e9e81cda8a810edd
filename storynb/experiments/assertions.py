"""Assertions on one output, promptfoo-style: a list of dicts, each with a `type` and a `value`.

    {"type": "contains", "value": "whale"}          the text contains it (case-insensitive)
    {"type": "not-contains", "value": "Once upon"}  it does not
    {"type": "regex", "value": "^I "}                re.search, multiline
    {"type": "is-json"}                              the answer parses as JSON (repairs allowed)
    {"type": "shots", "value": 6}                    a storyboard with 6 shots ({"min": 4, "max": 8} too)
    {"type": "max-cost", "value": 0.01}              the call cost at most this
    {"type": "max-latency", "value": 3000}           the call took at most this many ms
    {"type": "llm-rubric", "value": "...", "judge": "name"}   a named judge model checks an instruction

Structural assertions (is-json, shots, max-cost, max-latency) do not depend on the wording of
the answer, so they are the only ones that mean something when the offline draft writer answers.
"""
from __future__ import annotations

import json
import re
from typing import Any

from ..errors import InvalidInput

STRUCTURAL = ("is-json", "shots", "max-cost", "max-latency")
CONTENT = ("contains", "not-contains", "regex", "llm-rubric")
TYPES = STRUCTURAL + CONTENT


def validate(assertions: Any, where: str = "assertions") -> list[dict]:
    """Check a list of assertions; returns them as plain dicts (raises InvalidInput)."""
    if assertions is None:
        return []
    if not isinstance(assertions, (list, tuple)):
        raise InvalidInput(f"{where}: a list of {{'type': …, 'value': …}} dicts, not {assertions!r}")
    out = []
    for i, item in enumerate(assertions):
        if not isinstance(item, dict) or item.get("type") not in TYPES:
            raise InvalidInput(f"{where}[{i}]: each assertion is a dict whose type is one of "
                               f"{', '.join(TYPES)}; got {item!r}")
        kind, value = item["type"], item.get("value")
        if kind in ("contains", "not-contains", "llm-rubric") and (not isinstance(value, str)
                                                                   or not value.strip()):
            raise InvalidInput(f"{where}[{i}]: {kind} needs a non-empty text value")
        if kind == "regex":
            try:
                re.compile(str(value or ""))
            except re.error as exc:
                raise InvalidInput(f"{where}[{i}]: the regex {value!r} is invalid: {exc}") from None
            if not value:
                raise InvalidInput(f"{where}[{i}]: regex needs a pattern")
        if kind == "shots":
            if isinstance(value, dict):
                if not set(value) <= {"min", "max"} or not all(
                        isinstance(v, int) and v >= 0 for v in value.values()):
                    raise InvalidInput(f"{where}[{i}]: shots is a count or {{'min': n, 'max': m}}")
            elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInput(f"{where}[{i}]: shots is a count or {{'min': n, 'max': m}}")
        if kind in ("max-cost", "max-latency") and (isinstance(value, bool) or not isinstance(
                value, (int, float)) or value < 0):
            raise InvalidInput(f"{where}[{i}]: {kind} needs a number ≥ 0")
        if kind == "llm-rubric" and item.get("judge") is not None and not isinstance(item["judge"], str):
            raise InvalidInput(f"{where}[{i}]: llm-rubric's judge is a provider name")
        out.append(dict(item))
    return out


def describe(item: dict) -> str:
    value = item.get("value")
    if item["type"] == "is-json":
        return "is-json"
    if item["type"] == "llm-rubric":
        return f"llm-rubric({str(value)[:40]!r} by {item.get('judge') or '?'})"
    return f"{item['type']}({value!r})" if not isinstance(value, dict) else \
        f"{item['type']}({', '.join(f'{k} {v}' for k, v in value.items())})"


def check(item: dict, output: str, *, cost: float | None, latency_ms: float | None) -> dict:
    """One assertion on one output (not llm-rubric, which needs a model): {type, name, pass, reason}."""
    kind: str = item["type"]
    value: Any = item.get("value")
    name = describe(item)
    text = output or ""
    if kind == "contains":
        ok = str(value).lower() in text.lower()
        reason = "" if ok else f"{value!r} is not in the output"
    elif kind == "not-contains":
        ok = str(value).lower() not in text.lower()
        reason = "" if ok else f"{value!r} is in the output"
    elif kind == "regex":
        ok = re.search(str(value), text, re.M) is not None
        reason = "" if ok else f"no match for /{value}/"
    elif kind in ("is-json", "shots"):
        from ..stages.common import extract_json

        try:
            data, _ = extract_json(text)
        except ValueError as exc:
            return {"type": kind, "name": name, "pass": False, "reason": f"not JSON: {exc}"[:300]}
        if kind == "is-json":
            ok, reason = True, ""
        else:
            shots = data.get("shots") if isinstance(data, dict) else data
            count = len(shots) if isinstance(shots, list) else 0
            low, high = ((value.get("min", 0), value.get("max", 10 ** 9)) if isinstance(value, dict)
                         else (value, value))
            ok = bool(low <= count <= high)
            reason = "" if ok else f"{count} shots"
    elif kind == "max-cost":
        ok = (cost or 0.0) <= float(value)
        reason = "" if ok else f"cost {cost:.6g} > {value}"
    elif kind == "max-latency":
        ok = latency_ms is not None and latency_ms <= float(value)
        reason = "" if ok else f"{latency_ms:.0f} ms > {value} ms" if latency_ms is not None else \
            "latency unknown"
    else:  # pragma: no cover - llm-rubric goes through the judge
        raise InvalidInput(f"{kind} is checked by a judge model")
    return {"type": kind, "name": name, "pass": bool(ok), "reason": reason}


RUBRIC_CHECK = """You check one output of a story tool against one instruction.

Instruction: {{ instruction }}

The output:
---
{{ output }}
---
Does the output satisfy the instruction? Answer with JSON only:
{"pass": true or false, "reason": "one sentence"}"""


def parse_rubric_answer(text: str) -> tuple[bool, str]:
    from ..stages.common import extract_json

    data, _ = extract_json(text)
    if not isinstance(data, dict) or not isinstance(data.get("pass"), bool):
        raise ValueError('the judge did not answer {"pass": true|false, …}')
    return data["pass"], str(data.get("reason") or "")[:500]


def summarize(checks: list[dict]) -> tuple[int, int]:
    """(passed, checked) — skipped checks count in neither."""
    done = [c for c in checks if c.get("pass") is not None]
    return sum(1 for c in done if c["pass"]), len(done)


def dumps(checks: list[dict]) -> str:
    return json.dumps(checks, ensure_ascii=False)
