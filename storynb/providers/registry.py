"""Provider management: configured providers are rows of the `providers` table (kind, name,
adapter type, URL, encrypted key, model, params with the kind's defaults, weight, priority, rpm,
rpd, concurrency, timeout, price, active); adapters are built from the rows. The offline
providers are rows too (type "local") and members of the same registry.

    studio.providers.add("gpt", "llm", "openai_chat", url="https://api.openai.com/v1",
                         key=getpass(), model="gpt-4o-mini", params={"temperature": 0.7},
                         rpm=60, price={"per_1k_input": 0.00015, "per_1k_output": 0.0006})
    studio.providers.test("gpt")        # a cheap call that costs no generation
    studio.providers.frame()            # a DataFrame; keys show as "set, ends …abcd"
    project.update(providers={"llm": {"providers": ["gpt", "draft-writer"], "strategy": "round_robin"}})
"""
from __future__ import annotations

import builtins
import json
import math
import re
import time
from typing import Any

from ..db import now
from ..aio import run_sync
from ..errors import InvalidInput, NotFound
from ..secrets import Secret, check_key_text, hint, redact
from .base import KINDS, ProviderError
from .http import Config
from .images import DEFAULT_WORKFLOW
from .plugins import adapter_class, discover, why_missing
from .specs import check_price, parse_route_spec
from .urls import check_provider_url

# The adapter types are plugins (entry point group "storynb.providers", see .plugins): storynb's
# own (openai_chat, openai_images, sdwebui, comfyui, runway, kling, dashscope_wan, openai_tts)
# are registered in its pyproject.toml exactly as a third-party package registers its own.
KIND_PARAMS = {  # the kind defaults a user is expected to set (others are accepted as is)
    "llm": ("temperature", "max_tokens", "top_p"),
    "text2image": ("size", "steps", "count"),
    "image2video": ("resolution", "duration", "fps"),
    "tts": ("voice", "speed"),
}
FIELDS = ("url", "key", "model", "params", "weight", "priority", "rpm", "rpd", "concurrency",
          "timeout", "price", "active")
PUBLIC_COLUMNS = ["name", "kind", "type", "model", "url", "key", "active", "weight", "priority",
                  "rpm", "rpd", "used_today", "concurrency", "timeout", "params", "price",
                  "cooling_s", "builtin"]
_NAME = re.compile(r"^[^\s|,]{1,64}$")
MAX_TIMEOUT = 24 * 3600
# Numeric kind defaults: (lowest, highest, whole number, what to say).
PARAM_RULES = {
    "temperature": (0, 5, False, "a number ≥ 0"),
    "top_p": (0, 1, False, "a number from 0 to 1"),
    "max_tokens": (1, 10_000_000, True, "a whole number ≥ 1"),
    "steps": (1, 10_000, True, "a whole number ≥ 1"),
    "count": (1, 100, True, "a whole number from 1 to 100"),
    "duration": (0, 3600, False, "a number of seconds above 0"),
    "fps": (0, 240, False, "a number of frames per second above 0"),
    "speed": (0, 10, False, "a number above 0"),
    "poll_interval": (0, 3600, False, "a number of seconds above 0"),
    "task_timeout": (0, 7 * 24 * 3600, False, "a number of seconds above 0"),
    "max_side": (64, 16384, True, "a whole number of pixels from 64 to 16384"),
}
POSITIVE_PARAMS = {"duration", "fps", "speed", "poll_interval", "task_timeout"}
PROMPT_PLACEHOLDER = re.compile(r"\{\{\s*prompt\s*\}\}")


def builtin_providers() -> dict[str, Any]:
    """One instance of each built-in provider, by name: the offline writer, painter and narrator,
    and the local motion renderer."""
    from .motion import LocalMotion
    from .offline import offline_providers

    found = dict(offline_providers())
    found["local-motion"] = LocalMotion()
    return found


def check_workflow(flow) -> dict:
    """A ComfyUI workflow must be API-format JSON (what "Save (API Format)" writes: node id →
    {"class_type", "inputs"}) with a {{prompt}} placeholder. Returns it as a dict; InvalidInput
    says what is wrong."""
    if isinstance(flow, str):
        try:
            flow = json.loads(flow)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"the ComfyUI workflow is not valid JSON ({exc.msg} at character "
                               f"{exc.pos}); export it with \"Save (API Format)\"") from None
    if not isinstance(flow, dict) or not flow:
        raise InvalidInput(f"the ComfyUI workflow must be an API-format JSON object (node id → "
                           f"{{\"class_type\", \"inputs\"}}), not {json.dumps(flow)[:60]}; export it "
                           "with \"Save (API Format)\"")
    if "nodes" in flow and "links" in flow:
        raise InvalidInput("this ComfyUI workflow is in the editor's format (nodes and links); "
                           "export it with \"Save (API Format)\" instead")
    for node_id, node in flow.items():
        if not (isinstance(node, dict) and isinstance(node.get("class_type"), str)
                and isinstance(node.get("inputs"), dict)):
            raise InvalidInput(f"the ComfyUI workflow's node {node_id!r} is not an API-format node "
                               "({\"class_type\": …, \"inputs\": {…}}); export the workflow with "
                               "\"Save (API Format)\"")
    if not PROMPT_PLACEHOLDER.search(json.dumps(flow, ensure_ascii=False)):
        raise InvalidInput("the ComfyUI workflow has no {{prompt}} placeholder: put \"{{prompt}}\" "
                           "in the text input of the positive prompt node (and {{negative_prompt}}, "
                           "{{seed}}, {{width}}, {{height}} where they belong)")
    return flow


def adapter_types(kind: str | None = None) -> dict[str, str]:
    """Adapter type → kind (what `add(type=...)` accepts): every installed plugin's types."""
    return {t: cls.kind for t, cls in sorted(discover().adapters.items())
            if kind in (None, cls.kind)}


class Providers:
    """Add, edit, delete, activate and test providers (`studio.providers`)."""

    def __init__(self, studio):
        self.studio = studio

    @property
    def db(self):
        return self.studio.db

    @staticmethod
    def types(kind: str | None = None) -> dict[str, str]:
        """Adapter type → kind: what `add(type=...)` accepts (the installed plugins' types)."""
        return adapter_types(kind)

    # reading -----------------------------------------------------------------------------
    def _row(self, name: str) -> dict:
        rows = list(self.db["providers"].rows_where("name = ?", [name]))
        if not rows:
            known = [r["name"] for r in self.db["providers"].rows_where(select="name", order_by="name")]
            raise NotFound(f"no provider named {name!r}; providers: {', '.join(known)}")
        return rows[0]

    def stored(self, name: str) -> dict | None:
        """The provider's stored row as it is (the key still encrypted), or None: what a worker
        process needs to build the same adapter."""
        rows = list(self.db["providers"].rows_where("name = ?", [name]))
        return rows[0] if rows else None

    def get(self, name: str) -> dict:
        """One provider's settings as shown to a user (the key as a hint only)."""
        return self._public(self._row(name))

    def list(self, kind: str | None = None) -> builtins.list[dict]:
        where, args = ("kind = ?", [kind]) if kind else (None, [])
        return [self._public(r) for r in self.db["providers"].rows_where(
            where, args, order_by="kind, priority, name")]

    def frame(self, kind: str | None = None):
        import pandas as pd

        return pd.DataFrame(self.list(kind), columns=PUBLIC_COLUMNS)

    def _public(self, row: dict) -> dict:
        router = self.studio.router
        return {
            "name": row["name"], "kind": row["kind"], "type": row["type"],
            "model": row["model"] or "",
            "url": redact(row["url"] or getattr(adapter_class(row["type"]), "default_url", "")),
            "key": row.get("key_hint") or ("set" if row.get("key_encrypted") else ""),
            "active": bool(row["active"]), "weight": row["weight"], "priority": row["priority"],
            "rpm": row["rpm"], "rpd": row["rpd"], "used_today": router.used_today(self.db, row["name"]),
            "concurrency": row.get("concurrency") or _default_concurrency(self.studio, row),
            "timeout": row["timeout"],
            "params": json.loads(row["params"] or "{}"), "price": json.loads(row["price"] or "{}"),
            "cooling_s": round(router.cooling_left(row["name"]), 1), "builtin": bool(row["builtin"]),
        }

    # writing -----------------------------------------------------------------------------
    def add(self, name: str, kind: str, type: str, *, url: str = "", key: str | None = None,
            model: str = "", params: dict | None = None, weight: float = 1.0, priority: int = 0,
            rpm: int | None = None, rpd: int | None = None, concurrency: int | None = None,
            timeout: float | None = None, price: dict | None = None, active: bool = True) -> dict:
        """Add a provider. `key` is encrypted before it is stored and never shown again."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidInput(f"a provider name is 1–64 characters without spaces, '|' or ',': {name!r}")
        if self.db["providers"].count_where("name = ?", [name]):
            raise InvalidInput(f"there is already a provider named {name!r}: edit it, or choose another name")
        if kind not in KINDS:
            raise InvalidInput(f"unknown provider kind {kind!r}: use one of {', '.join(KINDS)}")
        cls = adapter_class(type)
        if cls is None:
            raise InvalidInput(f"unknown adapter type {type!r}; for {kind}: "
                               f"{', '.join(adapter_types(kind)) or 'none'}"
                               + (f" ({why_missing(type)})" if type in discover().broken else ""))
        if cls.kind != kind:
            raise InvalidInput(f"adapter type {type!r} is for {cls.kind}, not {kind}; "
                               f"for {kind}: {', '.join(adapter_types(kind))}")
        values = self._clean({"url": url, "model": model, "params": params or {}, "weight": weight,
                              "priority": priority, "rpm": rpm, "rpd": rpd,
                              "concurrency": concurrency,
                              "timeout": 120.0 if timeout is None else timeout,
                              "price": price or {}, "active": active})
        if key:
            values.update(self._key_fields(key))
        stamp = now()
        self.db["providers"].insert({"kind": kind, "name": name, "type": type, "builtin": 0,
                                     "created": stamp, "updated": stamp, **values})
        return self.get(name)

    def edit(self, name: str, **changes: Any) -> dict:
        """Change settings. `key=None` (or leaving it out) keeps the key; `key=""` removes it."""
        row = self._row(name)
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise InvalidInput(f"unknown provider field(s) {sorted(unknown)}: use {', '.join(FIELDS)}")
        if row["builtin"] and set(changes) - {"weight", "priority", "rpm", "rpd", "concurrency",
                                              "price", "active", "timeout"}:
            raise InvalidInput(f"{name} is built in: only weight, priority, rpm, rpd, concurrency, "
                               "timeout, price and active can change")
        key = changes.pop("key", None)
        values = self._clean(changes)
        if key is not None:
            values.update(self._key_fields(key) if key else {"key_encrypted": None, "key_hint": None})
        values["updated"] = now()
        self.db["providers"].update(row["id"], values)
        self.studio.router.reset(name)
        return self.get(name)

    def delete(self, name: str, *, force: bool = False) -> None:
        row = self._row(name)
        if row["builtin"]:
            raise InvalidInput(f"{name} is built in and cannot be deleted (deactivate it instead)")
        users = self.used_by(name)
        if users and not force:
            raise InvalidInput(f"{name} is in the routes of project(s) {users}: change those "
                               "projects first, or delete with force=True")
        self.db["providers"].delete(row["id"])
        self.studio._adapters.pop(name, None)

    def activate(self, name: str, active: bool = True) -> dict:
        return self.edit(name, active=active)

    def deactivate(self, name: str) -> dict:
        return self.edit(name, active=False)

    def used_by(self, name: str) -> builtins.list[int]:
        users = []
        for project in self.db.query("select id, providers from projects"):
            for spec in json.loads(project["providers"] or "{}").values():
                try:
                    names, _ = parse_route_spec(spec)
                except InvalidInput:
                    continue
                if name in names:
                    users.append(project["id"])
        return sorted(set(users))

    def rotate_keys(self) -> int:
        """Re-encrypt every stored key under a new master key (see storynb.secrets)."""
        count = self.studio._secrets.rotate(self.db)
        self.studio._adapters.clear()
        return count

    def _key_fields(self, key) -> dict:
        key = check_key_text(key)
        return {"key_encrypted": self.studio._secrets.encrypt(key), "key_hint": hint(key)}

    @staticmethod
    def _clean(values: dict) -> dict:
        clean: dict[str, Any] = {}
        for field, value in values.items():
            if field == "url":
                value = (value or "").strip() if isinstance(value, str) or value is None else value
                if not isinstance(value, str):
                    raise InvalidInput(f"url must be text, not {type(value).__name__}")
                if value:
                    try:
                        value = check_provider_url(value)
                    except ValueError as exc:
                        raise InvalidInput(f"url {redact(value)[:200]!r} is refused: {exc}") from None
                clean[field] = value
            elif field == "model":
                clean[field] = (value or "").strip()
            elif field == "params":
                if not isinstance(value, dict):
                    raise InvalidInput(f"params must be a dict, not {value!r}")
                for number, (low, high, whole, meaning) in PARAM_RULES.items():
                    v = value.get(number)
                    if v is None:
                        continue
                    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                            or (whole and not float(v).is_integer()) or v < low or v > high \
                            or (low == 0 and number in POSITIVE_PARAMS and v <= 0):
                        raise InvalidInput(f"param {number} must be {meaning}, not {v!r}")
                if "workflow" in value:
                    check_workflow(value["workflow"])
                try:
                    clean[field] = json.dumps(value, ensure_ascii=False, sort_keys=True,
                                              allow_nan=False)
                except (TypeError, ValueError) as exc:
                    raise InvalidInput(f"params must be plain JSON values (text, finite numbers, "
                                       f"lists, dicts): {exc}") from None
            elif field == "price":
                clean[field] = json.dumps(check_price(value), sort_keys=True)
            elif field in ("rpm", "rpd", "concurrency"):
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                          or value < 1):
                    raise InvalidInput(f"{field} must be a whole number ≥ 1 (or None for no limit), "
                                       f"not {value!r}")
                clean[field] = value
            elif field in ("weight", "timeout"):
                if isinstance(value, bool) or not isinstance(value, (int, float)) \
                        or not math.isfinite(value) or value <= 0:
                    raise InvalidInput(
                        f"{field} must be a finite number above 0, not {value!r}"
                        + (" (weights share a route's calls out; deactivate a provider to stop "
                           "using it)" if field == "weight" else " (seconds to wait for an answer)"))
                if field == "timeout" and value > MAX_TIMEOUT:
                    raise InvalidInput(f"timeout must be at most {MAX_TIMEOUT} seconds, not {value!r}")
                clean[field] = float(value)
            elif field == "priority":
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise InvalidInput(f"priority must be a whole number ≥ 0 (0 is tried first, "
                                       f"higher numbers are fallbacks), not {value!r}")
                clean[field] = value
            elif field == "active":
                clean[field] = int(bool(value))
        return clean

    # testing -----------------------------------------------------------------------------
    def test(self, name: str) -> dict:
        """Test connection: a cheap call that costs no generation (list models, a health route).
        Returns {"provider", "ok", "latency_ms", "detail" or "error"}; never raises for the
        service's answer."""
        return run_sync(self.test_async(name))

    async def test_async(self, name: str) -> dict:
        row = self._row(name)
        provider = self.studio.provider(row["kind"], name)
        started = time.perf_counter()
        check = getattr(provider, "check", None)
        result: dict[str, Any] = {"provider": name}
        try:
            if row["type"] == "comfyui":  # a bad workflow fails every run: say so here
                check_workflow(json.loads(row["params"] or "{}").get("workflow") or DEFAULT_WORKFLOW)
            detail = await check() if check else {"offline": True}
            result.update(ok=True, detail=detail)
        except ProviderError as exc:
            result.update(ok=False, error_class=type(exc).__name__, error=redact(exc))
        except Exception as exc:  # a broken URL, a bad workflow …: a result, not a crash
            result.update(ok=False, error_class=type(exc).__name__, error=redact(exc))
        result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return result


def _default_concurrency(studio, row: dict) -> int:
    cls = adapter_class(row["type"])
    if cls is not None:
        return getattr(cls, "default_concurrency", None) or 2
    return getattr(studio.registered(row["name"]), "concurrency", None) or 2


def build(row: dict, secrets) -> Any:
    """An adapter from a `providers` row (the key decrypted into a Secret)."""
    cls = adapter_class(row["type"])
    if cls is None:
        raise NotFound(f"provider {row['name']!r} has adapter type {row['type']!r}, which cannot be "
                       f"used: {why_missing(row['type'])}")
    key = Secret(secrets.decrypt(row["key_encrypted"])) if row.get("key_encrypted") else None
    return cls(Config(name=row["name"], kind=row["kind"], type=row["type"], url=row["url"] or "",
                      key=key, model=row["model"] or "", params=json.loads(row["params"] or "{}"),
                      timeout=row["timeout"] or 120.0, concurrency=row.get("concurrency")))
