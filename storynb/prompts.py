"""Prompt sets: one versioned Jinja2 template per LLM stage; every edit is a new version."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .db import now
from .errors import InvalidInput, NotFound, PromptError

PROMPT_STAGES = ("rewrite", "storyboard", "camera", "image")
DATA_DIR = Path(__file__).resolve().parent.parent / "data"

_env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False,
                                     keep_trailing_newline=False)


def declared_variables(body: str) -> list[str]:
    try:
        return sorted(meta.find_undeclared_variables(_env.parse(body)))
    except jinja2.TemplateSyntaxError as exc:
        raise PromptError(f"template syntax error on line {exc.lineno}: {exc.message}") from None


def render(body: str, variables: dict[str, Any], *, label: str = "template") -> str:
    """Render a template in an immutable sandbox; an undefined variable is an error naming it."""
    try:
        return _env.from_string(body).render(**variables).strip()
    except jinja2.UndefinedError as exc:
        missing = sorted(set(declared_variables(body)) - set(variables))
        names = ", ".join(repr(m) for m in missing) or str(exc)
        raise PromptError(
            f"{label} needs variable {names}, which was not given: pass it, or remove it from the template"
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise PromptError(f"{label}: syntax error on line {exc.lineno}: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise PromptError(f"{label} tried something the sandbox forbids: {exc}") from None


class Prompts:
    """Prompt sets and their template versions, stored in the studio database."""

    def __init__(self, db):
        self.db = db

    def install_defaults(self) -> None:
        for path in sorted((DATA_DIR / "prompts").glob("*.json")):
            spec = json.loads(path.read_text(encoding="utf-8"))
            if self.db["prompt_sets"].count_where("name = ?", [spec["name"]]):
                continue
            set_id = self.create_set(spec["name"], spec["language"], spec.get("description", ""),
                                     builtin=True)
            for stage, tpl in spec["templates"].items():
                self.edit(set_id, stage, tpl["body"], system=tpl.get("system", ""),
                          note="shipped default")
            if not self.db["prompt_sets"].count_where("is_default = 1 and language = ?", [spec["language"]]):
                self.db["prompt_sets"].update(set_id, {"is_default": 1})

    def create_set(self, name: str, language: str = "en", description: str = "", *,
                   copy_from: int | str | None = None, builtin: bool = False) -> int:
        name = (name or "").strip()
        if not name:
            raise InvalidInput("a prompt set needs a name")
        if self.db["prompt_sets"].count_where("name = ?", [name]):
            raise InvalidInput(f"a prompt set named {name!r} already exists: choose another name")
        set_id = self.db["prompt_sets"].insert(
            {"name": name, "language": language, "description": description, "is_default": 0,
             "builtin": int(builtin), "created": now()}).last_pk
        if copy_from is not None:
            source = self.get_set(copy_from)
            for stage in PROMPT_STAGES:
                tpl = self.template(source["id"], stage, missing_ok=True)
                if tpl:
                    self.edit(set_id, stage, tpl["body"], system=tpl["system"],
                              note=f"copied from {source['name']} v{tpl['version']}")
        return set_id

    def get_set(self, ref: int | str) -> dict:
        rows = list(self.db["prompt_sets"].rows_where(
            "id = ? or name = ?", [ref if isinstance(ref, int) else -1, str(ref)]))
        if not rows:
            names = ", ".join(r["name"] for r in self.db["prompt_sets"].rows)
            raise NotFound(f"no prompt set {ref!r}; the sets are: {names}")
        return rows[0]

    def default_set(self, language: str) -> dict:
        for where in ("is_default = 1 and language = ?", "language = ?", "is_default = 1"):
            args = [language] if "?" in where else []
            rows = list(self.db["prompt_sets"].rows_where(where, args, order_by="id", limit=1))
            if rows:
                return rows[0]
        raise NotFound("no prompt sets in this studio: run Studio().prompts.install_defaults()")

    def set_default(self, ref: int | str) -> None:
        chosen = self.get_set(ref)
        self.db.execute("update prompt_sets set is_default = 0 where language = ?", [chosen["language"]])
        self.db["prompt_sets"].update(chosen["id"], {"is_default": 1})

    def delete_set(self, ref: int | str) -> None:
        chosen = self.get_set(ref)
        users = self.db["projects"].count_where("prompt_set_id = ?", [chosen["id"]])
        if users:
            raise InvalidInput(f"prompt set {chosen['name']!r} is used by {users} project(s): "
                               "attach another set to them first")
        self.db["prompt_templates"].delete_where("set_id = ?", [chosen["id"]])
        self.db["prompt_sets"].delete(chosen["id"])

    def edit(self, set_ref: int | str, stage: str, body: str, *, system: str | None = None,
             note: str = "") -> dict:
        """Save a new version of one stage's template; older versions stay. The system prompt
        stays as it was unless `system` is given."""
        if stage not in PROMPT_STAGES:
            raise InvalidInput(f"unknown prompt stage {stage!r}: use one of {', '.join(PROMPT_STAGES)}")
        variables = declared_variables(body)
        set_id = self.get_set(set_ref)["id"]
        current = self.template(set_id, stage, missing_ok=True)
        if system is None:
            system = current["system"] if current else ""
        declared_variables(system or "")
        if current and current["body"] == body and (current["system"] or "") == (system or ""):
            return current
        version = (current["version"] + 1) if current else 1
        row = {"set_id": set_id, "stage": stage, "version": version, "body": body,
               "system": system or "", "variables": json.dumps(variables), "note": note,
               "created": now()}
        row["id"] = self.db["prompt_templates"].insert(row).last_pk
        return row

    def template(self, set_ref: int | str, stage: str, version: int | None = None, *,
                 missing_ok: bool = False) -> dict | None:
        set_id = set_ref if isinstance(set_ref, int) else self.get_set(set_ref)["id"]
        where, args = "set_id = ? and stage = ?", [set_id, stage]
        if version is not None:
            where, args = where + " and version = ?", args + [version]
        rows = list(self.db["prompt_templates"].rows_where(where, args, order_by="version desc", limit=1))
        if rows:
            return rows[0]
        if missing_ok:
            return None
        raise NotFound(f"prompt set {set_ref!r} has no {stage!r} template"
                       + (f" version {version}" if version else ""))

    def template_by_id(self, template_id: int) -> dict:
        return self.db["prompt_templates"].get(template_id)

    def versions(self, set_ref: int | str, stage: str) -> list[dict]:
        set_id = self.get_set(set_ref)["id"]
        return list(self.db["prompt_templates"].rows_where(
            "set_id = ? and stage = ?", [set_id, stage], order_by="version"))

    def test_render(self, set_ref: int | str, stage: str, variables: dict[str, Any],
                    version: int | None = None) -> str:
        """The exact prompt a stage would send, without calling any model."""
        tpl = self.template(set_ref, stage, version)
        return render(tpl["body"], variables, label=f"{stage} template v{tpl['version']}")
