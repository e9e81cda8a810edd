"""`storynb prompts …`: prompt sets and their versioned templates from the command line (the same
calls as the Prompts panel and `Studio().prompts`).

    storynb prompts                                  # the sets and each stage's current version
    storynb prompts versions default-en rewrite      # every version, with its date and note
    storynb prompts show default-en rewrite --version 1
    storynb prompts edit my-set rewrite --file rewrite.j2 --note "shorter"   # a new version
    storynb prompts restore my-set rewrite 1         # v1 again, saved as a new version
    storynb prompts render my-set rewrite --var topic="A robot learns to paint"
    storynb prompts new my-set --language en --copy-from default-en
"""
from __future__ import annotations

import sys

from .errors import InvalidInput
from .prompts import PROMPT_STAGES, sample_variables


def add_commands(commands) -> None:
    prompts = commands.add_parser("prompts", help="prompt sets and their versioned templates: list, "
                                                  "show, edit, restore, render")
    sub = prompts.add_subparsers(dest="action")
    sub.add_parser("list", help="every set and each stage's current version").set_defaults(handler=_list)
    versions = sub.add_parser("versions", help="every version of one stage's template")
    _set_and_stage(versions)
    versions.set_defaults(handler=_versions)
    show = sub.add_parser("show", help="a template's text (the current version, or --version)")
    _set_and_stage(show)
    show.add_argument("--version", type=int)
    show.add_argument("--system", action="store_true", help="the system prompt instead of the body")
    show.set_defaults(handler=_show)
    edit = sub.add_parser("edit", help="save a new version of a template (a built-in set's edit goes "
                                       "into its copy)")
    _set_and_stage(edit)
    edit.add_argument("--file", required=True, help="the template's new text (Jinja); - reads standard input")
    edit.add_argument("--system-file", help="a new system prompt (kept as it is without this)")
    edit.add_argument("--note", default="", help="what changed, shown in the version list")
    edit.set_defaults(handler=_edit)
    restore = sub.add_parser("restore", help="make an older version current again (as a new version)")
    _set_and_stage(restore)
    restore.add_argument("version", type=int)
    restore.add_argument("--note", default="")
    restore.set_defaults(handler=_restore)
    render = sub.add_parser("render", help="the exact prompt a stage would send (no model is called)")
    _set_and_stage(render)
    render.add_argument("--version", type=int)
    render.add_argument("--project", help="take the variables from this project (else a small example)")
    render.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                        help="set one variable (repeat)")
    render.set_defaults(handler=_render)
    new = sub.add_parser("new", help="a new prompt set of your own")
    new.add_argument("name")
    new.add_argument("--language", default="en", choices=["en", "zh"])
    new.add_argument("--copy-from", metavar="SET", help="start from this set's current templates")
    new.add_argument("--description", default="")
    new.set_defaults(handler=_new)
    prompts.set_defaults(handler=_list)


def _set_and_stage(parser) -> None:
    parser.add_argument("set", help="a prompt set's name or id (`storynb prompts`)")
    parser.add_argument("stage", choices=PROMPT_STAGES)


def _ref(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except OSError as exc:
        raise InvalidInput(f"cannot read the template file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text: save the template as UTF-8") from None


def _list(studio, args) -> int:
    for chosen in studio.prompt_sets():
        marks = [m for m, on in (("default", chosen["is_default"]), ("built-in", chosen["builtin"])) if on]
        print(f"{chosen['name']}  [{chosen['language']}{', ' + ', '.join(marks) if marks else ''}]"
              f"{'  ' + chosen['description'] if chosen['description'] else ''}")
        for stage in PROMPT_STAGES:
            current = studio.prompts.template(chosen["id"], stage, missing_ok=True)
            if current:
                print(f"  {stage:<17} v{current['version']}  {current['created'][:16].replace('T', ' ')}"
                      f"{'  ' + current['note'] if current['note'] else ''}")
    return 0


def _versions(studio, args) -> int:
    rows = studio.prompts.versions(_ref(args.set), args.stage)
    if not rows:
        print(f"{args.set} has no {args.stage} template")
    for row in rows:
        current = " (current)" if row is rows[-1] else ""
        print(f"v{row['version']}{current}  {row['created'][:16].replace('T', ' ')}"
              f"{'  ' + row['note'] if row['note'] else ''}")
    return 0


def _show(studio, args) -> int:
    row = studio.prompts.template(_ref(args.set), args.stage, args.version)
    print(row["system"] if args.system else row["body"])
    return 0


def _edit(studio, args) -> int:
    body = _read(args.file)
    system = _read(args.system_file) if args.system_file else None
    row = studio.prompts.edit(_ref(args.set), args.stage, body, system=system, note=args.note)
    if row.get("notice"):
        print(row["notice"])
    print(f"{row['set_name']} {args.stage}: v{row['version']} is current")
    return 0


def _restore(studio, args) -> int:
    row = studio.prompts.restore(_ref(args.set), args.stage, args.version, note=args.note)
    if row.get("notice"):
        print(row["notice"])
    print(f"{row['set_name']} {args.stage}: v{args.version} restored as v{row['version']}")
    return 0


def _render(studio, args) -> int:
    project = studio.project(args.project) if args.project else None
    variables = sample_variables(args.stage, project)
    for pair in args.var:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"--var {pair!r}: write NAME=VALUE")
        if name.strip() not in variables:
            raise InvalidInput(f"the {args.stage} stage gives no variable {name.strip()!r}: it gives "
                               f"{', '.join(variables)}")
        old = variables[name.strip()]
        variables[name.strip()] = int(value) if isinstance(old, int) and value.strip().isdigit() else value
    print(studio.prompts.test_render(_ref(args.set), args.stage, variables, version=args.version))
    return 0


def _new(studio, args) -> int:
    copy_from = _ref(args.copy_from) if args.copy_from else None
    studio.prompts.create_set(args.name, args.language, args.description, copy_from=copy_from)
    print(f"prompt set {args.name} made" + (f" from {args.copy_from}" if copy_from is not None else ""))
    return 0
