"""The engine's layers, read from the code: every import of every module (also the ones inside
functions), checked against one order.

    helpers ← render ← providers ← routing ← stages ← pipeline ← project/studio ← widgets/cli

A module imports only from its own layer and the layers to its left. The helpers (errors, db,
settings, text …) import only other helpers. The panels are views over the engine's public API:
they do not reach into the stages, the router or the provider adapters. No module uses another
package's private names (`_name`), imported or as an attribute.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "storynb"

# Modules are matched by the longest prefix listed (a package covers its submodules).
LAYERS = {
    "helpers": ["errors", "db", "lease", "jobs", "live", "media", "secrets", "aio", "runner", "worker_lease", "longtext",
                "prompts", "settings", "text", "llmjson", "files"],
    "render": ["render", "audio", "timeline", "intake"],
    "providers": ["providers"],
    "routing": ["routing"],
    "stages": ["stages", "characters", "longform", "check"],
    "pipeline": ["pipeline"],
    "project": ["project", "studio", "templates", "bundle", "batch", "usage", "distributed",
                "experiments", "abtest"],
    "interface": ["widgets", "cli", "experiments.cli", "worker", ""],  # "": the package itself (storynb/__init__)
}
ORDER = list(LAYERS)
# Modules that implement part of another's object and may use its private state: the provider
# registry is `studio.providers` (it manages the studio's adapter cache and key encryption).
FRIENDS = {"providers.registry": {"studio"}}
# What a panel may not import directly (it asks the studio or the project instead).
NOT_FOR_PANELS = ("stages", "routing", "providers", "render", "pipeline", "longform")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> str:
    best, found = -1, None
    for layer, prefixes in LAYERS.items():
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + ".") or prefix == "":
                if len(prefix) > best:
                    best, found = len(prefix), layer
    assert found is not None, module
    return found


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(encoding="utf-8"), str(p))
            for p in sorted(ROOT.rglob("*.py"))}


def package_of(module: str, path_is_init: bool) -> str:
    return module if path_is_init else module.rpartition(".")[0]


def imports(module: str, tree: ast.Module, is_init: bool):
    """(imported storynb module, the names taken from it, line) for every import in the module."""
    package = package_of(module, is_init)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "storynb" or alias.name.startswith("storynb."):
                    yield alias.name.removeprefix("storynb").lstrip("."), [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and (node.module == "storynb" or node.module.startswith("storynb.")):
                target = node.module.removeprefix("storynb").lstrip(".")
            else:
                continue
            names = []
            for alias in node.names:  # `from . import words` imports the module <package>.words
                sub = f"{target}.{alias.name}" if target else alias.name
                if sub in ALL:
                    yield sub, [], node.lineno
                else:
                    names.append(alias.name)
            if names or not node.names:
                yield target, names, node.lineno


ALL = {}


@pytest.fixture(scope="module")
def graph():
    trees = modules()
    ALL.clear()
    ALL.update(trees)
    edges = []
    for module, tree in trees.items():
        is_init = (ROOT / Path(*module.split(".")) / "__init__.py").exists() if module else True
        for target, names, line in imports(module, tree, is_init):
            edges.append((module, target, names, line))
    return trees, edges


def test_every_module_has_a_layer(graph):
    trees, _ = graph
    assert {m: layer_of(m) for m in trees}  # layer_of fails on a module no layer claims
    assert ORDER.index(layer_of("providers.offline.painter")) == ORDER.index("providers")
    assert layer_of("experiments.cli") == "interface" and layer_of("experiments.core") == "project"


def test_no_module_imports_a_higher_layer(graph):
    _, edges = graph
    upward = [f"storynb.{m or '__init__'}:{line} ({layer_of(m)}) imports storynb.{t} ({layer_of(t)})"
              for m, t, _, line in edges if ORDER.index(layer_of(t)) > ORDER.index(layer_of(m))]
    assert upward == [], "imports that run up the layers:\n" + "\n".join(upward)


def test_panels_use_the_engine_api_not_its_internals(graph):
    _, edges = graph
    reached = [f"storynb.{m}:{line} imports storynb.{t}" for m, t, _, line in edges
               if m.startswith("widgets") and any(t == x or t.startswith(x + ".") for x in NOT_FOR_PANELS)]
    assert reached == [], "panels reaching past the studio and project:\n" + "\n".join(reached)


def test_adapters_get_narrow_interfaces_not_the_database(graph):
    """Adapters see a TaskStore, a CallContext and storynb.llmjson, never the database, the job
    tables or the media store (the registry, which manages the providers table, excepted)."""
    _, edges = graph
    reached = [f"storynb.{m}:{line} imports storynb.{t}" for m, t, _, line in edges
               if m.startswith("providers.") and m != "providers.registry"
               and t in ("db", "jobs", "lease", "media", "prompts")]
    assert reached == [], "adapters reaching for the studio's storage:\n" + "\n".join(reached)


def private_names(tree: ast.Module) -> set[str]:
    """The private names a module defines: functions, classes, assignments, `self._x = …`."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            found.add(node.attr)
    return {n for n in found if n.startswith("_") and not n.startswith("__")}


def test_no_private_names_across_packages(graph):
    trees, edges = graph

    def top(module: str) -> str:  # a package and its modules may share private names
        return module.split(".")[0] if "." in module or (ROOT / module).is_dir() else module

    crossing = [f"storynb.{m}:{line} imports {name} from storynb.{t}" for m, t, names, line in edges
                for name in names if name.startswith("_") and not name.startswith("__")
                and top(m) != top(t)]
    defined: dict[str, set[str]] = {}
    for module, tree in trees.items():
        for name in private_names(tree):
            defined.setdefault(name, set()).add(top(module))
    for module, tree in trees.items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and node.attr in defined):
                continue
            receiver = node.value
            if isinstance(receiver, ast.Name) and receiver.id in ("self", "cls"):
                continue
            if isinstance(receiver, ast.Call) and getattr(receiver.func, "id", "") == "super":
                continue
            if top(module) not in defined[node.attr] and not defined[node.attr] <= FRIENDS.get(module, set()):
                crossing.append(f"storynb.{module}:{node.lineno} uses {ast.unparse(node)} "
                                f"(private to {', '.join(sorted(defined[node.attr]))})")
    assert crossing == [], "private names used across packages:\n" + "\n".join(sorted(crossing))


def test_the_layer_test_sees_imports_inside_functions(tmp_path):
    tree = ast.parse("def f():\n    from ..pipeline import run\n    import storynb.widgets.app\n")
    found = {t for t, _, _ in imports("stages.images", tree, False)}
    assert {"pipeline", "widgets.app"} <= found
    assert ORDER.index(layer_of("pipeline")) > ORDER.index(layer_of("stages.images"))
