"""Writes docs/cli.md, the CLI reference, from storynb's argparse parser (`make docs`).

The text comes from the parser's own help strings, so the reference cannot drift from the CLI;
tests/test_docs.py fails when the checked-in file differs from what this prints.
Usage: python docs/cli_reference.py [--check] [OUT]   (default OUT: docs/cli.md beside this file)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = """# CLI reference

Generated from the parser by `make docs` (`python docs/cli_reference.py`); do not edit by hand.
Every command takes the global option `--studio PATH` (or `$STORYNB_STUDIO`) before its name:
`storynb --studio my.db run "a topic"`. Exit codes: 0 done, 1 a stage or check failed,
2 bad input, 3 paused.
"""


def parser() -> argparse.ArgumentParser:
    from storynb import cli

    return cli._parser()


def _subcommands(p: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, help, parser) of each subcommand, in the order they were added."""
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()
                    if helps.get(name) != argparse.SUPPRESS]
    return []


def _metavar(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if action.choices is not None and action.metavar is None:
        name = "{" + ",".join(str(c) for c in action.choices) + "}"
    else:
        name = str(action.metavar or (action.dest if not action.option_strings else action.dest.upper()))
    return {"?": f"[{name}]", "*": f"[{name} ...]", "+": f"{name} [{name} ...]"}.get(str(action.nargs), name)


def _help(action: argparse.Action, prog: str) -> str:
    text = action.help or ""
    if "%" in text:
        params = {k: v for k, v in vars(action).items() if v is not argparse.SUPPRESS}
        params["prog"] = prog
        if params.get("choices") is not None:
            params["choices"] = ", ".join(str(c) for c in params["choices"])
        text = text % params
    extra = []
    if isinstance(action, argparse._AppendAction) and "repeatable" not in text:
        extra.append("repeatable")
    default = action.default
    if (action.option_strings and default not in (None, False, [], "", argparse.SUPPRESS)
            and not isinstance(action, argparse.BooleanOptionalAction) and "default" not in text):
        extra.append(f"default {default}")
    if extra:
        text = f"{text} ({'; '.join(extra)})" if text else "; ".join(extra)
    return text.replace("|", "\\|").replace("\n", " ")


def _command(words: list[str], summary: str, p: argparse.ArgumentParser) -> list[str]:
    actions = [a for a in p._actions
               if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))
               and a.help != argparse.SUPPRESS]
    positionals = [_metavar(a) for a in actions if not a.option_strings]
    subs = _subcommands(p)
    usage = " ".join(["storynb", *words, *positionals] + (["[options]"] if any(a.option_strings for a in actions)
                                                            else []) + (["COMMAND"] if subs else []))
    lines = [f"## storynb {' '.join(words)}", ""]
    if summary:
        lines += [summary[0].upper() + summary[1:] + ("" if summary.endswith(".") else "."), ""]
    lines += ["```", usage, "```", ""]
    if actions:
        lines += ["| argument | meaning |", "|---|---|"]
        for a in actions:
            flag = ", ".join(a.option_strings) if a.option_strings else ""
            shown = f"{flag} {_metavar(a)}".strip() if flag else _metavar(a)
            lines.append(f"| `{shown}` | {_help(a, p.prog)} |")
        lines.append("")
    if subs:
        lines += ["Subcommands: " + ", ".join(f"`{name}`" for name, _, _ in subs) + ".", ""]
    for name, text, sub in subs:
        lines += _command([*words, name], text, sub)
    return lines


def render() -> str:
    top = parser()
    lines = [HEADER]
    for name, text, sub in _subcommands(top):
        lines += _command([name], text, sub)
    return "\n".join(lines).rstrip() + "\n"


def commands() -> list[str]:
    """Every command path, e.g. "run", "providers add", "ab run"."""
    def walk(words: list[str], p: argparse.ArgumentParser) -> list[str]:
        found = []
        for name, _, sub in _subcommands(p):
            found.append(" ".join([*words, name]))
            found += walk([*words, name], sub)
        return found
    return walk([], parser())


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    out = Path(paths[0]) if paths else HERE / "cli.md"
    text = render()
    if check:
        same = out.exists() and out.read_text(encoding="utf-8") == text
        print(f"{out}: {'current' if same else 'out of date; run `make docs`'}")
        return 0 if same else 1
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing
    sys.exit(main(sys.argv[1:]))
