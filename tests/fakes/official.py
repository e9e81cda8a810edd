"""A fake service that replays recorded, official-format exchanges (tests/fixtures/official/*.json).

A fixture names its source (the official docs or SDK types the bodies were taken from) and lists
routes. Each route has `responses` (answered in order, the last one repeated) and may have
`rules`: what the real service answers to a request that matches (mostly its documented
rejections: a reasoning model sent `max_tokens`, a Runway duration it does not make …). With `per_task`,
responses advance per task id (each poll of a task moves it one step along its lifecycle);
the route marked `creates` hands out the task ids.

Conditions of a rule (`when`, all must hold): model (shell patterns for body.model or
body.model_name), has / missing (dotted body paths), not_in {"path", "values"}, not_equals
{"path", "value"}, header_missing (a header name).

Placeholders in recorded bodies (keys and values): {{task_id}}, {{model}}, {{png_b64}},
{{asset:NAME}} (a signed-looking URL served by the fake, see FakeServer.issue), and a response
may carry `body: {"kind": "wav_stream" | "png", ...}` for bytes instead of JSON.
"""
from __future__ import annotations

import base64
import fnmatch
import json
import uuid
from pathlib import Path

from .servers import FakeServer, tiny_png

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "official"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def _get(body, path: str):
    node = body
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return _MISSING
    return node


_MISSING = object()


def matches(when: dict, request) -> bool:
    body = request.json if isinstance(request.json, dict) else {}
    if "model" in when:
        model = str(body.get("model") or body.get("model_name") or "").lower()
        if not any(fnmatch.fnmatchcase(model, p.lower()) for p in when["model"]):
            return False
    for path in when.get("has", []):
        if _get(body, path) is _MISSING:
            return False
    for path in when.get("missing", []):
        if _get(body, path) is not _MISSING:
            return False
    if "not_in" in when:
        value = _get(body, when["not_in"]["path"])
        if value is not _MISSING and value in when["not_in"]["values"]:
            return False
    if "not_equals" in when:
        value = _get(body, when["not_equals"]["path"])
        if value is _MISSING or value == when["not_equals"]["value"]:
            return False
    if "header_missing" in when and request.headers.get(when["header_missing"].lower()):
        return False
    return True


def wav_stream(spec: dict) -> bytes:
    """A WAV as OpenAI streams it: the recorded header (RIFF and data sizes 0xFFFFFFFF), then
    `seconds` of 16-bit mono samples at the header's rate (a quiet sawtooth, not silence)."""
    header = bytes.fromhex(spec["header_hex"])
    rate = int.from_bytes(header[24:28], "little")
    frames = int(round(float(spec["seconds"]) * rate))
    samples = bytearray()
    for i in range(frames):
        samples += int(((i % 200) - 100) * 40).to_bytes(2, "little", signed=True)
    return header + bytes(samples)


class OfficialFake(FakeServer):
    """Replays one fixture. `fixture_name` picks tests/fixtures/official/<name>.json."""

    def __init__(self, fixture_name: str, **kw):
        self.fixture = fixture(fixture_name)
        super().__init__(**kw)

    def setup(self):
        super().setup()
        self.task_steps: dict[str, int] = {}
        self.sequence: dict[str, int] = {}
        for route in self.fixture["routes"]:
            self.route(route["method"], route["path"], route["name"],
                       lambda request, _route=route, **groups: self.answer(_route, request, groups))

    @property
    def submits(self) -> int:
        return len(self.task_steps)

    def answer(self, route: dict, request, groups: dict):
        for rule in route.get("rules", []):
            if matches(rule.get("when", {}), request):
                return self._render(rule, request, groups.get("task_id", ""))
        if route.get("creates"):
            task_id = str(uuid.uuid4())
            self.task_steps[task_id] = 0
            return self._render(self._next(route), request, task_id)
        if route.get("per_task"):
            task_id = groups.get("task_id", "")
            if task_id not in self.task_steps:
                return self._render(route["unknown"], request, task_id)
            responses = route["responses"]
            step = self.task_steps[task_id]
            self.task_steps[task_id] = step + 1
            return self._render(responses[min(step, len(responses) - 1)], request, task_id)
        return self._render(self._next(route), request, groups.get("task_id", ""))

    def _next(self, route: dict) -> dict:
        count = self.sequence.get(route["name"], 0)
        self.sequence[route["name"]] = count + 1
        responses = route["responses"]
        return responses[min(count, len(responses) - 1)]

    def _render(self, response: dict, request, task_id: str):
        status = response.get("status", 200)
        body = response.get("body")
        if body and body.get("kind") == "wav_stream":
            return status, {"Content-Type": "audio/wav"}, wav_stream(body)
        if body and body.get("kind") == "png":
            return status, {"Content-Type": "image/png"}, tiny_png()
        model = str((request.json or {}).get("model") or "") if isinstance(request.json, dict) else ""
        return status, self._fill(response.get("json"), task_id, model)

    def _fill(self, node, task_id: str, model: str):
        if isinstance(node, dict):
            return {self._fill(k, task_id, model): self._fill(v, task_id, model) for k, v in node.items()}
        if isinstance(node, list):
            return [self._fill(v, task_id, model) for v in node]
        if isinstance(node, str) and "{{" in node:
            if node.startswith("{{asset:") and node.endswith("}}"):
                return self.issue(node[8:-2])
            return (node.replace("{{task_id}}", task_id).replace("{{model}}", model)
                    .replace("{{png_b64}}", base64.b64encode(tiny_png()).decode()))
        return node
