"""Studio: one SQLite database and the media folder beside it, plus the provider registry."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from .db import connect, now
from .errors import InvalidInput, NotFound
from .media import MediaStore
from .prompts import Prompts
from .providers.base import KINDS
from .runner import Observers

DEFAULT_PATH = Path("data") / "studio.db"
DEFAULT_PROVIDERS = {"llm": "draft-writer", "text2image": "local-painter",
                     "image2video": "local-motion", "tts": "local-narrator"}


def _builtin_providers() -> dict[str, Any]:
    from .providers.local import offline_providers
    from .providers.motion import LocalMotion

    found = dict(offline_providers())
    found["local-motion"] = LocalMotion()
    return found


class Studio:
    """Opens (creating if needed) a studio: `Studio()` uses `data/studio.db` or $STORYNB_STUDIO."""

    def __init__(self, path: str | Path | None = None):
        path = Path(path or os.environ.get("STORYNB_STUDIO") or DEFAULT_PATH)
        if path.suffix != ".db":
            path = path / "studio.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path.resolve()
        self.db = connect(self.path)
        self.media = MediaStore(self.path.parent / "media")
        self.exports_dir = self.path.parent / "exports"
        self.prompts = Prompts(self.db)
        self.prompts.install_defaults()
        self.events = Observers()
        self._providers = _builtin_providers()
        self._register_builtins()

    def __repr__(self) -> str:
        return f"Studio({str(self.path)!r})"

    def for_thread(self) -> "Studio":
        """The same studio (providers, observers) with its own database connection, for a
        worker thread."""
        twin = object.__new__(Studio)
        twin.__dict__.update(self.__dict__)
        twin.db = connect(self.path)
        twin.prompts = Prompts(twin.db)
        return twin

    def close(self) -> None:
        self.db.close()

    # providers -------------------------------------------------------------------------
    def _register_builtins(self) -> None:
        for name, provider in self._providers.items():
            if not self.db["providers"].count_where("name = ?", [name]):
                self.db["providers"].insert({
                    "kind": provider.kind, "name": name, "type": "local", "url": "",
                    "model": getattr(provider, "model", name), "params": "{}", "weight": 1.0,
                    "priority": 0, "timeout": 600.0, "price": "{}", "active": 1, "builtin": 1,
                    "created": now()})

    def register(self, provider) -> None:
        """Make a provider object (one of the four protocols) available by its name."""
        if getattr(provider, "kind", None) not in KINDS or not getattr(provider, "name", ""):
            raise InvalidInput("a provider needs a `name` and a `kind` in " + ", ".join(KINDS))
        self._providers[provider.name] = provider

    def provider(self, kind: str, name: str | None = None):
        if kind not in KINDS:
            raise InvalidInput(f"unknown provider kind {kind!r}: use one of {', '.join(KINDS)}")
        name = name or DEFAULT_PROVIDERS[kind]
        provider = self._providers.get(name)
        if provider is None or provider.kind != kind:
            known = [n for n, p in self._providers.items() if p.kind == kind]
            raise NotFound(f"no {kind} provider named {name!r}; available: {', '.join(known)}")
        return provider

    async def call(self, provider, method: str, request, *, project_id: int | None,
                   stage: str, job_key: str = "", out_path: Path | None = None,
                   describe: dict | None = None):
        """Call a provider and record the call (latency, tokens, status, error) as a row."""
        started = time.perf_counter()
        row = {"provider": provider.name, "kind": provider.kind, "project_id": project_id,
               "stage": stage, "job_key": job_key,
               "request": json.dumps(describe or _describe_request(request), ensure_ascii=False,
                                     default=str),
               "tokens_in": 0, "tokens_out": 0, "cost": 0.0, "created": now()}
        args = (request,) if out_path is None else (request, out_path)
        try:
            result = await getattr(provider, method)(*args)
        except Exception as exc:
            row.update(status="failed", error=str(exc)[:2000],
                       latency_ms=(time.perf_counter() - started) * 1000)
            self.db["calls"].insert(row)
            raise
        row.update(status="ok", latency_ms=(time.perf_counter() - started) * 1000)
        if hasattr(result, "text"):
            row.update(response=result.text, tokens_in=result.tokens_in,
                       tokens_out=result.tokens_out)
        elif out_path is not None:
            row["response"] = json.dumps({"file_bytes": Path(out_path).stat().st_size})
        call_id = self.db["calls"].insert(row).last_pk
        return result, call_id

    def record_output(self, call_id: int, media: str) -> None:
        """Note which stored media a call produced."""
        self.db["calls"].update(call_id, {"response": json.dumps({"media": media})})

    # projects --------------------------------------------------------------------------
    def create_project(self, topic: str, **settings) -> "Project":
        from .project import Project

        return Project.create(self, topic, **settings)

    def project(self, ref: int | str) -> "Project":
        from .project import Project

        return Project.open(self, ref)

    def projects(self):
        import pandas as pd

        rows = list(self.db.query(
            "select id, name, language, aspect, status, created, updated from projects order by id"))
        return pd.DataFrame(rows, columns=["id", "name", "language", "aspect", "status",
                                           "created", "updated"])

    def calls(self, project_id: int | None = None):
        import pandas as pd

        where, args = ("where project_id = ?", [project_id]) if project_id else ("", [])
        return pd.DataFrame(list(self.db.query(
            f"select id, provider, kind, project_id, stage, status, latency_ms, tokens_in, "
            f"tokens_out, cost, error, created from calls {where} order by id", args)))

    # disk ------------------------------------------------------------------------------
    def referenced_media(self, project_id: int | None = None) -> set[str]:
        names: set[str] = set()
        where, args = ("where project_id = ?", [project_id]) if project_id else ("", [])
        for table, columns in (("images", ("media", "thumb")), ("clips", ("media",)),
                               ("narrations", ("media",)), ("exports", ("video", "subtitles"))):
            for row in self.db.query(f"select {', '.join(columns)} from {table} {where}", args):
                names.update(v for v in row.values() if v)
        return names

    def disk_usage(self):
        """Bytes of media per project (a file shared by projects counts for each)."""
        import pandas as pd

        rows = [{"project_id": p["id"], "name": p["name"],
                 "bytes": self.media.size(self.referenced_media(p["id"]))}
                for p in self.db["projects"].rows]
        return pd.DataFrame(rows, columns=["project_id", "name", "bytes"])

    def gc(self) -> tuple[int, int]:
        """Remove media files that nothing refers to. Returns (files removed, bytes freed)."""
        return self.media.remove_unreferenced(self.referenced_media())


def _describe_request(request) -> dict:
    if hasattr(request, "__dataclass_fields__"):
        return {k: getattr(request, k) for k in request.__dataclass_fields__}
    return {"request": str(request)}
