"""Prompt sets: one versioned Jinja2 template per LLM stage; every edit is a new version."""
from __future__ import annotations

import contextvars
import functools
import json
import math
import re
import string
import time
from pathlib import Path
from typing import Any, Literal, overload

import jinja2
from jinja2 import meta, nodes
from jinja2.compiler import CodeGenerator
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .db import now
from .errors import InvalidInput, NotFound, PromptError

PROMPT_STAGES = ("rewrite", "storyboard", "camera", "image", "adapt", "storyboard_chunk")
DATA_DIR = Path(__file__).resolve().parent / "data"  # package data: shipped prompt sets, camera presets

# What each stage gives its template (and system prompt). Saving a template that uses anything
# else is refused, so a typo cannot break the next project that runs the stage.
STAGE_VARIABLES = {
    "rewrite": ("topic", "language", "style", "length", "audience"),
    "storyboard": ("story", "shots", "language", "fps"),
    "camera": ("shots", "language"),
    "image": ("image_prompt", "style", "scene"),
    # long form (storynb.longform): a part of a source text adapted, a part of a story storyboarded
    "adapt": ("source", "part", "parts", "target_length", "previous", "chapter", "topic",
              "language", "style", "audience", "length"),
    "storyboard_chunk": ("story", "narrations", "shots", "chapter", "language", "fps", "part",
                         "parts", "first_seq", "last_seq", "characters", "places", "last_shot"),
}

# Limits of the template sandbox. Prompts are a few kB; these leave room for any real template
# and stop hostile ones (huge powers, huge repetitions, nested loops) early, with a PromptError.
MAX_TEMPLATE = 100_000     # characters of template source
MAX_OUTPUT = 200_000       # characters a render may produce
MAX_SECONDS = 1.0          # CPU seconds a render may take
MAX_VALUE = 1_000_000      # size of any string or list made while rendering (characters + items)
MAX_INT_BITS = 10_000      # bits of any integer made while rendering (about 3000 digits)
MAX_RANGE = 10_000         # items in one range()
MAX_WIDTH = 10_000         # a width, count or padding given to a filter or string method
MAX_INDENT_JSON = 16       # tojson(indent=…)


class _Budget:
    """One render's allowance of CPU time; ticked by every operation the sandbox sees."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = time.thread_time() + seconds
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1
        if not self.ticks & 31 and time.thread_time() > self.deadline:
            raise PromptError(f"it takes longer than {self.seconds:g} s to render (a loop that "
                              "runs too long?): make it simpler")


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("storynb_budget", default=None)


def _tick() -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick()


def _size(value: Any, limit: int = MAX_VALUE) -> int:
    """How big a value is once written out (characters of strings plus items of containers),
    counted without recursion and stopping as soon as it passes `limit`."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            total += len(item)
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += len(item)
            stack.extend(item)
        else:
            total += 1
        if total > limit:
            return total
    return total


def _too_big(what: str, size: int | float) -> PromptError:
    return PromptError(f"{what} would be {_count(size)} characters or items; a template may make "
                       f"values of at most {MAX_VALUE:,}")


def _count(n) -> str:
    return f"{n:,.0f}" if n < 1e15 else f"about 10^{math.log10(n):.0f}"


def _check_value(value: Any, what: str = "a value") -> Any:
    size = _size(value)
    if size > MAX_VALUE:
        raise _too_big(what, size)
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise PromptError(f"{what} is a number of {value.bit_length():,} bits; a template may "
                          f"make numbers of at most {MAX_INT_BITS:,} bits")
    return value


def _is_seq(value) -> bool:
    return isinstance(value, (str, list, tuple))


_PRINTF = re.compile(r"%[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_printf(fmt: str) -> None:
    for width, precision in _PRINTF.findall(fmt):
        for number in (width, precision):
            if number == "*" or (number and int(number) > MAX_WIDTH):
                raise PromptError(f"a %-format width of {number!r} is too large for a template "
                                  f"(at most {MAX_WIDTH:,})")


def _check_format_string(fmt: str) -> None:
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format raises the same error itself
    for _, _, spec, _ in parsed:
        if spec and "{" in spec:
            raise PromptError("nested {…} inside a format spec is not allowed in a template")
        for number in re.findall(r"\d+", spec or ""):
            if int(number) > MAX_WIDTH:
                raise PromptError(f"a format width of {number} is too large for a template "
                                  f"(at most {MAX_WIDTH:,})")


def _check_int_args(name: str, args, limit: int = MAX_WIDTH) -> None:
    for value in args:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > limit:
            raise PromptError(f"{name}({value}) is too large for a template (at most {limit:,})")


def _check_str_method(method, args, kwargs) -> None:
    """Bounds for the str methods that can make a string much larger than their inputs."""
    name, text = method.__name__, method.__self__
    values = list(args) + list(kwargs.values())
    if name in ("center", "ljust", "rjust", "zfill"):
        _check_int_args(f"str.{name}", values, MAX_VALUE)
    elif name == "expandtabs":
        _check_int_args("str.expandtabs", values, 64)
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        count = text.count(args[0]) if args[0] else len(text) + 1
        if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
            count = min(count, args[2])
        if len(text) + count * len(args[1]) > MAX_VALUE:
            raise _too_big("str.replace", len(text) + count * len(args[1]))
    elif name == "join" and args:
        items = args[0]
        size = _size(items)
        if size + len(text) * (len(items) if hasattr(items, "__len__") else size) > MAX_VALUE:
            raise _too_big("str.join", size + len(text) * size)
    elif name == "translate" and args and isinstance(args[0], dict):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        if len(text) * longest > MAX_VALUE:
            raise _too_big("str.translate", len(text) * longest)


def _budget_filter(name: str, func):
    """A filter that ticks the budget, refuses oversized inputs and arguments, and checks the
    size of what it made."""
    offset = 1 if getattr(func, "jinja_pass_arg", None) else 0

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        _tick()
        value, rest = (args[offset] if len(args) > offset else None), args[offset + 1:]
        if _size(value) + _size(rest) + _size(kwargs) > MAX_VALUE:
            raise _too_big(f"the input of |{name}", _size(value) + _size(rest) + _size(kwargs))
        extra = list(rest) + list(kwargs.values())
        if name == "tojson":
            _check_int_args("|tojson indent", extra, MAX_INDENT_JSON)
        elif name in ("center",):
            _check_int_args(f"|{name}", extra, MAX_VALUE)
        elif name == "indent" and isinstance(value, str):
            width = extra[0] if extra else 4
            pad = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
            if len(value) + pad * (value.count("\n") + 1) > MAX_VALUE:
                raise _too_big("|indent", len(value) + pad * (value.count("\n") + 1))
        elif name == "replace" and isinstance(value, str) and len(rest) >= 2:
            _check_str_method(value.replace, rest, {})
        elif name == "join":
            sep = extra[0] if extra and isinstance(extra[0], str) else ""
            size = _size(value)
            if size * (1 + len(sep)) > MAX_VALUE:
                raise _too_big("|join", size * (1 + len(sep)))
        elif name == "format" and isinstance(value, str):
            _check_printf(value)
        else:
            _check_int_args(f"|{name}", extra)
        return _check_value(func(*args, **kwargs), f"the result of |{name}")

    return wrapper


@jinja2.pass_context
def _budget_iter(context, iterable):
    """Every for-loop iterates through this: one tick per item, so a loop that does nothing but
    loop still runs out of time."""
    for item in iterable:
        _tick()
        yield item


def _range(*args):
    _tick()
    _check_int_args("range", args, 1 << 62)
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise PromptError(f"range() of {len(numbers):,} numbers is too long for a template "
                          f"(at most {MAX_RANGE:,})")
    return numbers


class _Generator(CodeGenerator):
    """Compiles `a ~ b` into a size-checked join instead of a plain one."""

    def visit_Concat(self, node, frame) -> None:
        self.write("environment.checked_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox plus limits on time, output and the size of every value.

    Arithmetic that can explode (`**`, `*`, `+`, `%`) is intercepted: Jinja then neither folds it
    while parsing (so `{{ 9**(9**9) }}` cannot hang `edit`) nor runs it unchecked while
    rendering. Every call, attribute, item, operator and loop step ticks a CPU-time budget."""

    intercepted_binops = frozenset(["**", "*", "+", "%", "//"])
    code_generator_class = _Generator

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.globals["range"] = _range
        self.globals.pop("lipsum", None)  # lipsum(n=…) writes n paragraphs: no use in a prompt
        self.filters = {name: _budget_filter(name, f) for name, f in self.filters.items()}
        self.filters["_budget_iter"] = _budget_iter
        self.finalize = self._finalize
        self.concat = self._concat

    # parsing -----------------------------------------------------------------------------
    def _parse(self, source, name, filename):
        if len(source) > MAX_TEMPLATE:
            raise PromptError(f"the template is {len(source):,} characters long; keep it under "
                              f"{MAX_TEMPLATE:,}")
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "_budget_iter", [], [], None, None,
                                     lineno=loop.iter.lineno)
        return tree

    # rendering ---------------------------------------------------------------------------
    def _finalize(self, value):
        _tick()
        if _size(value, MAX_OUTPUT) > MAX_OUTPUT:
            raise _output_error()
        return value

    def _concat(self, chunks) -> str:
        out, total = [], 0
        for chunk in chunks:
            _tick()
            total += len(chunk)
            if total > MAX_OUTPUT:
                raise _output_error()
            out.append(chunk)
        return "".join(out)

    def checked_concat(self, values) -> str:
        _tick()
        size = sum(_size(v) for v in values)
        if size > MAX_VALUE:
            raise _too_big("a ~ join", size)
        return _check_value("".join(map(str, values)), "a ~ join")

    def call_binop(self, context, operator, left, right):
        _tick()
        if operator == "**" and isinstance(left, int) and isinstance(right, int) \
                and right > 0 and abs(left) > 1:
            bits = right * math.log2(abs(left))
            if bits > MAX_INT_BITS:
                raise PromptError(f"{left} ** {right} is a number of about {_count(bits)} bits; "
                                  f"a template may make numbers of at most {MAX_INT_BITS:,} bits")
        elif operator == "*":
            if isinstance(left, int) and isinstance(right, int):
                if left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
                    raise PromptError(f"a product of {left.bit_length() + right.bit_length():,} "
                                      f"bits is too large (at most {MAX_INT_BITS:,} bits)")
            elif _is_seq(left) and isinstance(right, int) or _is_seq(right) and isinstance(left, int):
                seq, times = (left, right) if _is_seq(left) else (right, left)
                if times > 0 and _size(seq) * times > MAX_VALUE:
                    raise _too_big(f"repeating a value {times:,} times", _size(seq) * times)
        elif operator == "+" and not isinstance(left, (int, float)):
            size = _size(left) + _size(right)
            if size > MAX_VALUE:
                raise _too_big("joining two values with +", size)
        elif operator == "%" and isinstance(left, str):
            _check_printf(left)
            if _size(left) + _size(right) > MAX_VALUE:
                raise _too_big("a %-format", _size(left) + _size(right))
        try:
            result = super().call_binop(context, operator, left, right)
        except OverflowError:
            raise PromptError(f"{operator} overflowed: the number is too large") from None
        return _check_value(result, f"the result of {operator}")

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (Jinja's own signature)
        _tick()
        if isinstance(getattr(__obj, "__self__", None), str) and hasattr(__obj, "__name__"):
            _check_str_method(__obj, args, kwargs)
        return _check_value(super().call(__context, __obj, *args, **kwargs), "a call's result")

    def getattr(self, obj, attribute):
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        _tick()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value):
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = value.__self__

        @functools.wraps(wrapped)
        def checked(*args, **kwargs):
            _tick()
            _check_format_string(text)
            if _size(text) + _size(args) + _size(kwargs) > MAX_VALUE:
                raise _too_big("str.format", _size(text) + _size(args) + _size(kwargs))
            return _check_value(wrapped(*args, **kwargs), "str.format")

        return checked


def _output_error() -> PromptError:
    return PromptError(f"it renders more than {MAX_OUTPUT:,} characters; a prompt should be far "
                       "shorter")


_env = LimitedSandbox(undefined=jinja2.StrictUndefined, autoescape=False,
                      keep_trailing_newline=False)


def declared_variables(body: str) -> list[str]:
    """The variables a template reads (names the sandbox itself provides, like range, aside)."""
    try:
        found = meta.find_undeclared_variables(_env.parse(body))
    except jinja2.TemplateSyntaxError as exc:
        raise PromptError(f"template syntax error on line {exc.lineno}: {exc.message}") from None
    except (RecursionError, MemoryError):
        raise PromptError("the template is nested too deeply to read: simplify it") from None
    return sorted(found - set(_env.globals))


def check_variables(stage: str, body: str, system: str = "") -> list[str]:
    """The variables a stage template uses; an error naming any that the stage does not give."""
    used = sorted(set(declared_variables(body)) | set(declared_variables(system or "")))
    given = STAGE_VARIABLES.get(stage)
    unknown = [name for name in used if given is not None and name not in given]
    if unknown and given is not None:
        names = ", ".join("{{ %s }}" % n for n in unknown)
        raise PromptError(f"the {stage} template uses {names}, which the {stage} stage does not "
                          f"give; it gives: {', '.join(given or ())}")
    return used


@functools.lru_cache(maxsize=256)
def _compiled(body: str):
    """A template compiled once (a stage renders the same template for hundreds of shots)."""
    return _env.from_string(body)


def render(body: str, variables: dict[str, Any], *, label: str = "template",
           seconds: float = MAX_SECONDS) -> str:
    """Render a template in the limited sandbox; an undefined variable is an error naming it,
    and so is anything the sandbox forbids or a render that is too long or too slow."""
    token = _BUDGET.set(_Budget(seconds))
    try:
        return _compiled(body).render(**variables).strip()
    except jinja2.UndefinedError as exc:
        try:
            missing = sorted(set(declared_variables(body)) - set(variables))
        except PromptError:
            missing = []
        names = ", ".join(repr(m) for m in missing) or str(exc)
        raise PromptError(
            f"{label} needs variable {names}, which was not given: pass it, or remove it from the template"
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise PromptError(f"{label}: syntax error on line {exc.lineno}: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise PromptError(f"{label} tried something the sandbox forbids: {exc}") from None
    except PromptError as exc:
        raise PromptError(f"{label}: {exc}") from None
    except RecursionError:
        raise PromptError(f"{label} recurses too deeply (a macro that calls itself?)") from None
    except MemoryError:
        raise PromptError(f"{label} needs more memory than a prompt should") from None
    except Exception as exc:  # TypeError, ZeroDivisionError …: the template's own mistake
        raise PromptError(f"{label} failed to render: {type(exc).__name__}: {exc}") from None
    finally:
        _BUDGET.reset(token)


def copy_name(builtin: dict) -> str:
    """The name of the set a built-in set's edits go into: "default-en (my copy)"."""
    return builtin["name"] + ("（我的副本）" if builtin["language"] == "zh" else " (my copy)")


def _copy_notice(builtin: str, copy: str, stage: str, version: int) -> str:
    return (f"the built-in set {builtin!r} stays as shipped: your {stage} template was saved as "
            f"v{version} of its copy {copy!r}; attach that set to a project to use it")


@functools.lru_cache(maxsize=4)
def _shipped_sets(folder: str) -> dict[str, dict]:
    """The shipped sets' templates, by set name: {"default-en": {"rewrite": {"body": …}}}."""
    found = {}
    for path in sorted((Path(folder) / "prompts").glob("*.json")):
        spec = json.loads(path.read_text(encoding="utf-8"))
        found[spec["name"]] = spec["templates"]
    return found


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
        if chosen["builtin"]:
            raise InvalidInput(f"{chosen['name']!r} is a built-in set: it stays as shipped "
                               "(delete your own sets; copy this one to change it)")
        users = self.db["projects"].count_where("prompt_set_id = ?", [chosen["id"]])
        if users:
            raise InvalidInput(f"prompt set {chosen['name']!r} is used by {users} project(s): "
                               "attach another set to them first")
        self.db["prompt_templates"].delete_where("set_id = ?", [chosen["id"]])
        self.db["prompt_sets"].delete(chosen["id"])

    def edit(self, set_ref: int | str, stage: str, body: str, *, system: str | None = None,
             note: str = "") -> dict:
        """Save a new version of one stage's template; older versions stay. The system prompt
        stays as it was unless `system` is given.

        A built-in set stays as shipped: an edit of one is saved in its copy, "<name> (my copy)"
        (made from the built-in set on its first edit, with every other stage as shipped). The
        returned row then says so: `copied_from` is the built-in set's name and `notice` the
        message to show; `set_name` is always the name of the set the version was saved in."""
        if stage not in PROMPT_STAGES:
            raise InvalidInput(f"unknown prompt stage {stage!r}: use one of {', '.join(PROMPT_STAGES)}")
        if not isinstance(body, str) or (system is not None and not isinstance(system, str)):
            raise InvalidInput("a template body and system prompt are text")
        chosen = self.get_set(set_ref)
        set_id = chosen["id"]
        current = self.template(set_id, stage, missing_ok=True)
        if system is None:
            system = current["system"] if current else ""
        variables = check_variables(stage, body, system or "")  # before anything is copied
        if current and current["body"] == body and (current["system"] or "") == (system or ""):
            return {**current, "set_name": chosen["name"], "copied_from": None, "notice": ""}
        copied_from, notice = None, ""
        if chosen["builtin"] and not self._as_shipped(chosen, stage, body, system or ""):
            copy = self._copy_of(chosen)
            copied_from, set_id = chosen["name"], copy["id"]
            chosen, current = copy, self.template(copy["id"], stage, missing_ok=True)
            if current and current["body"] == body and (current["system"] or "") == (system or ""):
                return {**current, "set_name": copy["name"], "copied_from": copied_from,
                        "notice": _copy_notice(copied_from, copy["name"], stage, current["version"])}
        version = (current["version"] + 1) if current else 1
        row = {"set_id": set_id, "stage": stage, "version": version, "body": body,
               "system": system or "", "variables": json.dumps(variables), "note": note,
               "created": now()}
        row["id"] = self.db["prompt_templates"].insert(row).last_pk
        if copied_from:
            notice = _copy_notice(copied_from, chosen["name"], stage, version)
        return {**row, "set_name": chosen["name"], "copied_from": copied_from, "notice": notice}

    def restore(self, set_ref: int | str, stage: str, version: int, *, note: str = "") -> dict:
        """Make an older version of a stage's template the current one again, as a new version
        (the versions in between stay). A built-in set's restore goes into its copy, as `edit`."""
        chosen = self.get_set(set_ref)
        if isinstance(version, bool) or not isinstance(version, int):
            raise InvalidInput(f"a version is a number such as 1, not {version!r}")
        versions = [v["version"] for v in self.versions(chosen["id"], stage)]
        if version not in versions:
            raise NotFound(f"prompt set {chosen['name']!r} has no {stage} template version {version}; "
                           f"its versions are: {', '.join(f'v{v}' for v in versions) or 'none'}")
        if version == versions[-1]:
            raise InvalidInput(f"v{version} is already the current {stage} template of "
                               f"{chosen['name']!r}: choose an older version to restore")
        old = self.template(chosen["id"], stage, version)
        assert old is not None
        return self.edit(chosen["id"], stage, old["body"], system=old["system"] or "",
                         note=note or f"restored v{version}")

    def _as_shipped(self, chosen: dict, stage: str, body: str, system: str) -> bool:
        """Whether this is the shipped text of a built-in set's stage (installing the defaults,
        or adding a stage a set made by an older version lacks, writes that into the set)."""
        shipped = _shipped_sets(str(DATA_DIR)).get(chosen["name"]) or \
            _shipped_sets(str(DATA_DIR)).get(f"default-{chosen['language']}") or {}
        tpl = shipped.get(stage)
        return tpl is not None and tpl["body"] == body and (tpl.get("system") or "") == system

    def _copy_of(self, builtin: dict) -> dict:
        """The set a built-in set's edits go into, made from it on its first edit."""
        name = copy_name(builtin)
        rows = list(self.db["prompt_sets"].rows_where("name = ?", [name]))
        if rows:
            return rows[0]
        self.create_set(name, builtin["language"],
                        f"My edits of the built-in set {builtin['name']} (which stays as shipped)",
                        copy_from=builtin["id"])
        return self.get_set(name)

    @overload
    def template(self, set_ref: int | str, stage: str, version: int | None = None, *,
                 missing_ok: Literal[False] = False) -> dict: ...

    @overload
    def template(self, set_ref: int | str, stage: str, version: int | None = None, *,
                 missing_ok: bool) -> dict | None: ...

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
        assert tpl is not None  # template() raises NotFound unless missing_ok
        return render(tpl["body"], variables, label=f"{stage} template v{tpl['version']}")


SAMPLE_STORY = ("The storm had lasted three days when the keeper saw the whale. It lay in the "
                "shallows below the lighthouse, breathing slowly, too tired to swim.")


def sample_variables(stage: str, project=None) -> dict:
    """Values to try a stage's template with: the open project's, else a small example. Every
    variable the stage gives (prompts.STAGE_VARIABLES) has a value."""
    row = project.row if project is not None else {}
    story = (project.story() if project is not None else "") or SAMPLE_STORY
    shots = project.shots() if project is not None else []
    language = row.get("language") or "en"
    fps = row.get("fps") or 24
    listed = [{"sequence": s["seq"], "scene": s["scene"], "narration": s["narration"]}
              for s in shots[:6]] or [
        {"sequence": 1, "scene": "A lighthouse in a storm", "narration": SAMPLE_STORY}]
    narrations = [s["narration"] for s in shots[:6]] or [
        "The storm had lasted three days.", "The keeper saw the whale in the shallows."]
    base: dict[str, Any] = {
        "topic": row.get("topic") or "A lighthouse keeper befriends a lost whale",
        "language": language, "style": row.get("style") or "warm",
        "length": row.get("length") or "short", "audience": row.get("audience") or "",
        "story": story, "shots": row.get("shots_wanted") or 6, "fps": fps,
        "image_prompt": shots[0]["image_prompt"] if shots else "a lighthouse on black rocks, storm",
        "scene": shots[0]["scene"] if shots else "A lighthouse in a storm",
        # long form (storynb.longform): one part of a long text
        "source": story, "part": 1, "parts": 3, "target_length": 400, "previous": "",
        "chapter": "Chapter 1", "narrations": narrations, "first_seq": 1,
        "last_seq": len(narrations), "characters": ["Keeper"], "places": ["the lighthouse"],
        "last_shot": ""}
    if stage == "camera":
        base["shots"] = listed
    if stage == "storyboard_chunk":
        base["shots"] = len(narrations)
    return {name: base[name] for name in STAGE_VARIABLES.get(stage, ()) if name in base}
