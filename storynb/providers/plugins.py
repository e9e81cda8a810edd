"""Adapter types are plugins: Python entry points in the group `storynb.providers`.

Each entry point's name is an adapter type (what `studio.providers.add(..., type=...)` takes) and
its value an adapter class: built from a `storynb.providers.http.Config` (name, kind, url, key,
model, params, timeout, concurrency), with a `kind` (one of storynb.settings.KINDS) and that
kind's method (`complete`, `generate`, `animate` or `speak`, see storynb.providers.base).
storynb's own adapters are registered the same way, in its pyproject.toml:

    [project.entry-points."storynb.providers"]
    openai_chat = "storynb.providers.openai_compat:OpenAIChat"

A third-party package does the same in its own pyproject.toml; once it is installed (`pip install
storynb-foo`) its type is listed by `adapter_types()` and usable in `studio.providers.add`.
A plugin that fails to import does not stop the others: using its type says what went wrong.
"""
from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from importlib import import_module, metadata
from pathlib import Path
from typing import Any

from ..settings import KINDS

GROUP = "storynb.providers"
# The method each kind's adapter must have (the protocols in storynb.providers.base).
METHODS = {"llm": "complete", "text2image": "generate", "image2video": "animate", "tts": "speak"}


@dataclass
class Found:
    """The adapter types found: type → class, and type → why it could not be used."""

    adapters: dict[str, Any] = field(default_factory=dict)  # adapter classes
    broken: dict[str, str] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)  # type → the package that registered it


def _source_tree_entry_points() -> list[tuple[str, str, str]]:
    """storynb's own entry points read from the pyproject.toml beside the package, for a source
    tree that is imported without being installed (no metadata to read them from)."""
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    if not pyproject.is_file():
        return []
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return []
    if data.get("project", {}).get("name") != "storynb":
        return []
    table = data["project"].get("entry-points", {}).get(GROUP, {})
    return [(name, str(value), "storynb") for name, value in table.items()]


def _entry_points() -> list[tuple[str, str, str]]:
    """(type, "module:Class", package) for every entry point of the group."""
    found = []
    for ep in metadata.entry_points(group=GROUP):
        dist = getattr(ep, "dist", None)
        found.append((ep.name, ep.value, (dist.metadata["Name"] if dist is not None else "") or "?"))
    if not any(package.lower() == "storynb" for _, _, package in found):
        found = _source_tree_entry_points() + found
    # storynb's own first: a plugin may add types, never take over a built-in one.
    return sorted(found, key=lambda entry: entry[2].lower() != "storynb")


def _load(value: str) -> Any:
    module, _, attr = value.partition(":")
    obj: Any = import_module(module.strip())
    for part in attr.strip().split(".") if attr.strip() else []:
        obj = getattr(obj, part)
    return obj


def check_adapter(adapter_type: str, cls: Any) -> str:
    """What is wrong with an adapter class for `adapter_type` ("" when it is usable)."""
    if not isinstance(cls, type):
        return f"it names {cls!r}, not an adapter class"
    kind = getattr(cls, "kind", None)
    if kind not in KINDS:
        return f"its class {cls.__name__} has kind {kind!r}; use one of {', '.join(KINDS)}"
    if not callable(getattr(cls, METHODS[kind], None)):
        return f"its class {cls.__name__} is a {kind} adapter without a {METHODS[kind]}() method"
    declared = getattr(cls, "type", None) or adapter_type
    if declared != adapter_type:
        return (f"its class {cls.__name__} says its type is {declared!r}, but the entry point "
                f"names it {adapter_type!r}")
    return ""


@functools.lru_cache(maxsize=1)
def discover() -> Found:
    """Load every adapter type of the group (cached; `refresh()` looks again)."""
    found = Found()
    for name, value, package in _entry_points():
        if name in found.adapters or name in found.broken:
            if found.origin.get(name) != package:
                found.broken.setdefault(
                    f"{name} ({package})",
                    f"adapter type {name!r} of {package} is ignored: {found.origin[name]} already "
                    "registers that type")
            continue
        found.origin[name] = package
        try:
            cls = _load(value)
        except Exception as exc:  # a broken plugin must not break the others
            found.broken[name] = (f"adapter type {name!r} ({package}, {value}) could not be loaded: "
                                  f"{type(exc).__name__}: {exc}; reinstall or remove that package")
            continue
        problem = check_adapter(name, cls)
        if problem:
            found.broken[name] = f"adapter type {name!r} ({package}, {value}) is not usable: {problem}"
        else:
            found.adapters[name] = cls
    return found


def refresh() -> Found:
    """Look for adapter types again (after installing a plugin in a running process)."""
    discover.cache_clear()
    return discover()


def adapter_class(adapter_type: str) -> Any:
    return discover().adapters.get(adapter_type)


def why_missing(adapter_type: str) -> str:
    """Why a type is not usable: its plugin's error, or that no installed package registers it."""
    found = discover()
    if adapter_type in found.broken:
        return found.broken[adapter_type]
    return (f"no installed package registers adapter type {adapter_type!r} (entry point group "
            f"{GROUP!r}); types: {', '.join(sorted(found.adapters)) or 'none'}")
