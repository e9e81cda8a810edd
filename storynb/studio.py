"""Studio: one SQLite database and the media folder beside it, plus the provider registry."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .db import connect, now, setup_lock
from .errors import InvalidInput, NotFound
from .media import MediaStore
from .prompts import Prompts
from .providers.base import KINDS
from .runner import Observers

if TYPE_CHECKING:
    from .project import Project

DEFAULT_PATH = Path("data") / "studio.db"
DEFAULT_PROVIDERS = {"llm": "draft-writer", "text2image": "local-painter",
                     "image2video": "local-motion", "tts": "local-narrator"}


def _builtin_providers() -> dict[str, Any]:
    from .providers.registry import builtin_providers

    return builtin_providers()


class Studio:
    """Opens (creating if needed) a studio: `Studio()` uses `data/studio.db` or $STORYNB_STUDIO.

    Projects: `create_project`, `project`, `find_project`, `projects()`, `import_bundle`;
    providers: `providers` (configured ones), `register` (an object of this process), `provider`,
    `route`; the call log: `calls()`, `usage()`, `estimate()`; disk: `disk_usage()`, `gc()`.
    Tables come back as pandas DataFrames (`projects`, `calls`, `usage`, `templates`,
    `disk_usage`); `prompt_sets()` is a list of dicts (the records the panels choose from).
    Provider calls themselves go through storynb.routing.call (the stages do that)."""

    def __init__(self, path: str | Path | None = None):
        path = _database_path(Path(path or os.environ.get("STORYNB_STUDIO") or DEFAULT_PATH))
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path.resolve()
        with setup_lock(self.path):  # many processes may open a brand-new studio at once
            self.db = connect(self.path)
            self.media = MediaStore(self.path.parent / "media")
            self.exports_dir = self.path.parent / "exports"
            self.prompts = Prompts(self.db)
            self.prompts.install_defaults()
            self.events = Observers()
            self._providers = _builtin_providers()
            self.builtin_names = frozenset(self._providers)
            self._register_builtins()
        self.executor: Any = None  # how provider calls are carried out (None: in this process)
        self.worker_name: str | None = None  # set in a worker process: recorded with each call

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

    def changes(self):
        """A cheap change counter over the studio (`.changed()` is True after any commit by
        any process): what views poll before re-reading `project.progress()`."""
        from .jobs import Changes

        return Changes(self.db)

    # providers -------------------------------------------------------------------------
    def _register_builtins(self) -> None:
        """The offline providers are rows of the registry like configured ones (type "local").
        Also sets up what every thread of this studio shares: the router (in-flight counts,
        cool-downs), the adapter cache and the key encryption."""
        from .routing import Router
        from .secrets import Secrets, install_log_filter

        install_log_filter()
        self.router = Router()
        self._adapters: dict[str, tuple] = {}
        self._secrets = Secrets()
        for name, provider in self._providers.items():
            if not self.db["providers"].count_where("name = ?", [name]):
                self.db.table("providers").insert({
                    "kind": provider.kind, "name": name, "type": "local", "url": "",
                    "model": getattr(provider, "model", name), "params": "{}", "weight": 1.0,
                    "priority": 0, "timeout": 600.0, "price": "{}", "active": 1, "builtin": 1,
                    "concurrency": getattr(provider, "concurrency", None), "created": now()})

    @property
    def providers(self):
        """Provider management: add, edit, delete, activate, test, frame() (see
        storynb.providers.registry)."""
        from .providers.registry import Providers

        return Providers(self)

    def register(self, provider) -> None:
        """Make a provider object (one of the four protocols) available by its name."""
        if getattr(provider, "kind", None) not in KINDS or not getattr(provider, "name", ""):
            raise InvalidInput("a provider needs a `name` and a `kind` in " + ", ".join(KINDS))
        self._providers[provider.name] = provider

    def registered(self, name: str) -> Any | None:
        """The provider object registered under `name` in this process (a built-in or one given
        to `register`), or None (a provider configured only as a row is built on demand)."""
        return self._providers.get(name)

    def provider(self, kind: str, name: str | None = None):
        """One provider by name: a registered object (the offline ones, `register`ed ones) or an
        adapter built from its row in the `providers` table."""
        if kind not in KINDS:
            raise InvalidInput(f"unknown provider kind {kind!r}: use one of {', '.join(KINDS)}")
        name = name or DEFAULT_PROVIDERS[kind]
        provider = self._providers.get(name)
        if provider is None:
            row = self._provider_row(name)
            if row is not None and row["type"] != "local":
                provider = self._adapter(row)
        if provider is None or provider.kind != kind:
            known = [n for n, p in self._providers.items() if p.kind == kind] + [
                r["name"] for r in self.db["providers"].rows_where(
                    "kind = ? and type != 'local'", [kind], select="name", order_by="name")]
            raise NotFound(f"no {kind} provider named {name!r}; available: {', '.join(known)}")
        return provider

    def _provider_row(self, name: str) -> dict | None:
        from .routing import provider_row

        return provider_row(self.db, name)

    def _adapter(self, row: dict):
        from .providers.registry import build

        stamp = (row.get("updated") or row["created"], row["key_encrypted"])
        cached = self._adapters.get(row["name"])
        if cached is None or cached[0] != stamp:
            cached = (stamp, build(row, self._secrets))
            self._adapters[row["name"]] = cached
        return cached[1]

    def route(self, kind: str, spec=None):
        """The route for one kind from a project's setting: a name, a list of names, or
        {"providers": [...], "strategy": "round_robin|random|weighted|least_loaded"}.
        No setting means the offline default."""
        from .routing import Member, Route, parse_route_spec

        names, strategy = parse_route_spec(spec)
        names = names or [DEFAULT_PROVIDERS[kind]]
        members = []
        for name in names:
            provider = self.provider(kind, name)
            row = self._provider_row(name) or {}
            concurrency = row.get("concurrency") or getattr(provider, "concurrency", None) or 2
            if self.executor is not None and name in self.builtin_names:
                concurrency = max(int(concurrency), self.executor.slots)  # renders on many workers
            members.append(Member(
                provider=provider, weight=row.get("weight", 1.0) if row.get("weight") is not None else 1.0,
                priority=row.get("priority") or 0, rpm=row.get("rpm"), rpd=row.get("rpd"),
                concurrency=int(concurrency), active=bool(row.get("active", 1)),
                price=json.loads(row.get("price") or "{}")))
        return Route(self, kind, members, strategy)

    def usage(self, by="provider", *, project: int | None = None, since: str | None = None,
              until: str | None = None):
        """Calls, failures, tokens, cost and latency from the call log, grouped by provider,
        project, day, stage or kind (a DataFrame; see storynb.usage)."""
        from .usage import usage

        return usage(self.db, by, project=project, since=since, until=until)

    def estimate(self, project, stages=None):
        """Before a run: how many calls of which provider it will make, and what they cost."""
        from .usage import estimate

        return estimate(project if hasattr(project, "shots") else self.project(project), stages)

    # projects --------------------------------------------------------------------------
    def create_project(self, topic: str, *, template: str | None = None, **settings) -> "Project":
        """A new project. `template` starts from saved settings (see `save_template`); settings
        given here override the template's."""
        from .project import Project
        from .templates import with_template

        if template:
            settings = with_template(self, template, settings)
        return Project.create(self, topic, **settings)

    def save_template(self, project: "Project", name: str) -> dict:
        """Save a project's settings, prompt set and providers as a template for new projects."""
        from .templates import save_template

        return save_template(self, project, name)

    def templates(self):
        import pandas as pd

        from .templates import list_templates

        return pd.DataFrame(list_templates(self))

    def delete_template(self, name: str) -> None:
        from .templates import delete_template

        delete_template(self, name)

    def find_project(self, topic: str, *, text: str | None = None, as_is: bool = False,
                     style: str = "warm", length: str = "short", aspect: str = "9:16",
                     fps: int = 24, burn_subtitles: bool = True, font: str | None = None,
                     size: tuple[int, int] | None = None, language: str | None = None,
                     shots: int | None = None, seed: int | None = None,
                     target_length: int | None = None) -> "Project | None":
        """The latest project made from this topic (and source text) with these settings, or
        None: what `storynb run "topic"` continues instead of starting over. The defaults are
        `create_project`'s; language, shots, seed and target_length left as None match any
        value, and without `size` the project must have the aspect's full size."""
        from .project import ASPECTS

        if aspect not in ASPECTS:
            raise InvalidInput(f"aspect {aspect!r} is not one of: {', '.join(ASPECTS)}")
        wanted = {"topic": (topic or "").strip(), "style": style, "aspect": aspect, "fps": fps,
                  "length": length, "burn_subtitles": int(bool(burn_subtitles)), "font": font or "",
                  "source_text": text, "as_is": int(bool(as_is))}
        optional = {"language": language, "shots_wanted": shots, "seed": seed,
                    "target_length": target_length}
        width, height = tuple(size) if size else ASPECTS[aspect]
        for row in self.db.query("select * from projects where topic = ? order by id desc",
                                 [wanted["topic"]]):
            if any(row[k] != v for k, v in wanted.items()):
                continue
            if any(v is not None and row[k] != v for k, v in optional.items()):
                continue
            if (row["width"], row["height"]) != (width, height):
                continue
            return self.project(row["id"])
        return None

    def project(self, ref: int | str) -> "Project":
        from .project import Project

        return Project.open(self, ref)

    def import_bundle(self, path, *, limits=None) -> "Project":
        """Add a project from a bundle zip (`Project.export_bundle()`) as a new project. The
        bundle is checked first (storynb.bundle); `limits` (storynb.intake.ZipLimits) raises the
        caps for a trusted, larger bundle."""
        from .bundle import import_bundle

        return self.project(import_bundle(self, path, limits=limits))

    def projects(self):
        import pandas as pd

        from .lease import held

        rows = list(self.db.query(
            "select id, name, language, aspect, status, run_owner, run_heartbeat, created, updated "
            "from projects order by id"))
        for row in rows:  # a run whose process died is 'interrupted', not 'running'
            if row["status"] == "running" and not held(row.pop("run_owner"), row.pop("run_heartbeat")):
                row["status"] = "interrupted"
        return pd.DataFrame(rows, columns=["id", "name", "language", "aspect", "status",
                                           "created", "updated"])

    def calls(self, project_id: int | None = None):
        import pandas as pd

        where, args = ("where project_id = ?", [project_id]) if project_id else ("", [])
        return pd.DataFrame(list(self.db.query(
            f"select id, provider, kind, project_id, stage, status, latency_ms, tokens_in, "
            f"tokens_out, cost, error, error_class, attempt, route, created from calls {where} "
            f"order by id", args)))

    # disk ------------------------------------------------------------------------------
    def referenced_media(self, project_id: int | None = None) -> set[str]:
        """Media that rows still use. Images, clips and narrations of deleted shots (detached rows,
        kept as history) do not count, so `gc` can free them."""
        names: set[str] = set()
        from .media import MEDIA_COLUMNS, NO_FILE, is_media_name

        for table, columns in MEDIA_COLUMNS.items():
            where = ["shot_id is not null"] if "shot_id" in self.db[table].columns_dict else []
            args = []
            if project_id:
                where.append("id = ?" if table == "projects" else "project_id = ?")
                args.append(project_id)
            clause = f"where {' and '.join(where)}" if where else ""
            for row in self.db.query(f"select {', '.join(columns)} from {table} {clause}", args):
                names.update(v for v in row.values() if v and v not in NO_FILE)
        clause, args = ("where project_id = ?", [project_id]) if project_id else ("", [])
        for (refs,) in self.db.execute(f"select refs from characters {clause}", args):
            names.update(n for n in json.loads(refs or "[]") if is_media_name(n))  # characters' references
        return names

    def disk_usage(self):
        """Bytes of media per project (a file shared by projects counts for each)."""
        import pandas as pd

        rows = [{"project_id": p["id"], "name": p["name"],
                 "bytes": self.media.size(self.referenced_media(p["id"]))}
                for p in self.db["projects"].rows]
        return pd.DataFrame(rows, columns=["project_id", "name", "bytes"])

    def gc(self, grace_s: float = 3600) -> tuple[int, int]:
        """Remove media files that nothing refers to and that are older than `grace_s` (a younger
        file may belong to a job whose row is being written). Returns (files, bytes freed)."""
        return self.media.remove_unreferenced(self.referenced_media(), grace_s=grace_s)

    # ---------------------------------------------------------------------------------------
    # Added for the notebook panels (issue 4).
    def camera_presets(self) -> list[dict]:
        """The camera presets, built in and saved (name, movement, params, note, kind)."""
        from .stages.camera import presets

        return presets(self.db)

    def save_camera_preset(self, name: str, movement: str, params: dict | None = None,
                           note: str = "") -> dict:
        """Save (or replace) a camera preset of your own; built-in ones cannot be overwritten."""
        from .stages.camera import add_preset

        return add_preset(self.db, name, movement, params, note)

    def prompt_sets(self) -> list[dict]:
        """Every prompt set (id, name, language, description, is_default, builtin), by id."""
        return list(self.db["prompt_sets"].rows_where(order_by="id"))


def _database_path(path: Path) -> Path:
    """Where the studio database is: an existing file is the database (it must be SQLite), an
    existing folder holds studio.db, and a new path with a suffix (.db, .sqlite …) is a new
    database file, one without a suffix a new folder."""
    path = path.expanduser()
    if path.is_dir():
        return path / "studio.db"
    if path.is_file():
        with open(path, "rb") as fh:
            head = fh.read(16)
        if head and head != b"SQLite format 3\x00":
            raise InvalidInput(f"{path} is not a SQLite database: give a studio database file "
                               "(.db), a folder for one, or a path that does not exist yet")
        return path
    if path.exists():
        raise InvalidInput(f"{path} is neither a file nor a folder: give a studio database file or a folder")
    return path if path.suffix else path / "studio.db"


def _describe_request(request) -> dict:
    if hasattr(request, "__dataclass_fields__"):
        return {k: getattr(request, k) for k in request.__dataclass_fields__}
    return {"request": str(request)}
