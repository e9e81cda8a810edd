"""`storynb ab …`: prompt experiments from the command line (the same calls as ABTests).

    storynb ab run twist --stage rewrite --arm my-set:1 --arm my-set:2 --cases stories-en \\
        --provider my-llm --samples 3 --temperature 0.7 --assert "llm-rubric=has a 'twist'" --judge judge-llm
    storynb ab show twist                     # the same table as the Prompt lab tab
    storynb ab judge twist --judge judge-llm  # blind pairwise, both positions
    storynb ab suggest twist --critic judge-llm
    storynb ab regress twist --baseline "my-set v1" --candidate "my-set v2"   # exit 1 on a regression
"""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

from ..errors import InvalidInput
from .assertions import TYPES


def add_commands(commands) -> None:
    ab = commands.add_parser("ab", help="prompt experiments: run, show, judge, suggest, regress, cases")
    sub = ab.add_subparsers(dest="action")

    run = sub.add_parser("run", help="run template versions over test cases (finished runs are skipped)")
    run.add_argument("experiment")
    run.add_argument("--stage", default="rewrite", choices=["rewrite", "storyboard", "camera"])
    run.add_argument("--arm", action="append", default=[], metavar="SET:VERSION[:K=V,…]",
                     help="a template version, e.g. default-en:1 or my-set:2:style=whimsical (repeat)")
    run.add_argument("--cases", metavar="NAME[@VERSION]", help="a stored case set (`storynb ab cases`)")
    run.add_argument("--topic", action="append", default=[], help="a topic (repeatable)")
    run.add_argument("--provider", help="the one LLM provider the experiment is pinned to")
    run.add_argument("--samples", type=int, default=1, help="samples per cell (seeds seed, seed+1 …)")
    run.add_argument("--temperature", type=float, help="override the provider's temperature")
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("--assert", dest="asserts", action="append", default=[], metavar="TYPE[=VALUE]",
                     help=f"an assertion for every case: {', '.join(TYPES)} "
                          "(e.g. contains=whale, shots=6, max-latency=3000, \"llm-rubric=ends with a 'twist'\")")
    run.add_argument("--judge", help="the judge model for llm-rubric assertions")
    run.add_argument("--repeat", action="store_true", help="ask again even where a run exists")
    run.add_argument("--no-suggested", action="store_true", help="leave queued suggestions out")
    run.add_argument("--concurrency", type=int, default=2)
    run.set_defaults(handler=_run)

    show = sub.add_parser("show", help="the pass/fail matrix, statistics and verdicts of an experiment")
    show.add_argument("experiment")
    _report_args(show)
    show.add_argument("--diff", nargs=2, metavar=("ARM_A", "ARM_B"),
                      help="also print the diff of the prompts the two arms rendered")
    show.set_defaults(handler=_show)

    judge = sub.add_parser("judge", help="blind pairwise judging (both positions), or --pointwise scores")
    judge.add_argument("experiment")
    judge.add_argument("--judge", help="an LLM provider other than the generator (default: the "
                                       "heuristic checker, not an AI)")
    judge.add_argument("--pointwise", action="store_true", help="score each output 1–10 instead")
    judge.add_argument("--arms", nargs=2, metavar=("A", "B"), help="only this pair of arms")
    judge.add_argument("--redo", action="store_true", help="a new round (the old one stays as history)")
    judge.set_defaults(handler=_judge)

    suggest = sub.add_parser("suggest", help="an LLM critic proposes a revised template (queued as an arm)")
    suggest.add_argument("experiment")
    suggest.add_argument("--critic", required=True, help="the LLM provider that critiques")
    suggest.add_argument("--arm", help="the arm to improve (default: the best scoring)")
    suggest.set_defaults(handler=_suggest)

    regress = sub.add_parser("regress", help="exit 1 when the candidate scores below the baseline (CI)")
    regress.add_argument("experiment")
    regress.add_argument("--baseline")
    regress.add_argument("--candidate")
    regress.add_argument("--metric", choices=["pass_rate", "judge_score", "rating"])
    regress.add_argument("--tolerance", type=float, default=0.0)
    regress.set_defaults(handler=_regress)

    cases = sub.add_parser("cases", help="list case sets, show one, or save a new version from JSON")
    cases.add_argument("name", nargs="?")
    cases.add_argument("--version", type=int)
    cases.add_argument("--save", metavar="FILE.json", help="a JSON list of cases to save as a new version")
    cases.add_argument("--note", default="")
    cases.set_defaults(handler=_cases)

    sub.add_parser("list", help="every experiment").set_defaults(handler=_list)
    ab.set_defaults(handler=_list)


def _report_args(parser) -> None:
    parser.add_argument("--metric", choices=["pass_rate", "judge_score", "rating"],
                        help="the score for the paired test (default: the first one that exists)")
    parser.add_argument("--baseline", help="the arm the others are compared with")


def _ab(studio):
    from .core import ABTests

    return ABTests(studio)


def _print(text: str) -> None:
    from ..secrets import redact

    print(redact(text))


def _arm(text: str):
    parts = text.split(":")
    if len(parts) < 2 or not parts[1].isdigit():
        raise InvalidInput(f"--arm {text!r}: write SET:VERSION or SET:VERSION:K=V,K=V")
    overrides = {}
    for pair in filter(None, ":".join(parts[2:]).split(",")):
        if "=" not in pair:
            raise InvalidInput(f"--arm {text!r}: variables are K=V, separated by commas")
        key, value = pair.split("=", 1)
        overrides[key.strip()] = value
    return (parts[0], int(parts[1]), overrides) if overrides else (parts[0], int(parts[1]))


def parse_assertion(text: str, judge: str | None = None) -> dict:
    kind, _, value = text.partition("=")
    kind = kind.strip()
    if kind not in TYPES:
        raise InvalidInput(f"--assert {text!r}: the type is one of {', '.join(TYPES)}")
    item: dict = {"type": kind}
    if kind == "is-json":
        return item
    if not value:
        raise InvalidInput(f"--assert {text!r}: write {kind}=VALUE")
    if kind == "shots" and "-" in value:
        low, high = value.split("-", 1)
        item["value"] = {"min": int(low), "max": int(high)}
    elif kind == "shots":
        item["value"] = int(value)
    elif kind in ("max-cost", "max-latency"):
        item["value"] = float(value)
    else:
        item["value"] = value
    if kind == "llm-rubric":
        item["judge"] = judge
    return item


def _run(studio, args) -> int:
    ab = _ab(studio)
    cases, version = args.cases, None
    if cases and "@" in cases:
        cases, number = cases.rsplit("@", 1)
        version = int(number)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        ab.run(args.experiment, args.stage, [_arm(a) for a in args.arm], args.topic or None,
               cases=cases, case_version=version, provider=args.provider, samples=args.samples,
               temperature=args.temperature, seed=args.seed,
               assertions=[parse_assertion(a, args.judge) for a in args.asserts],
               repeat=args.repeat, suggested=not args.no_suggested, concurrency=args.concurrency)
    _print(ab.report(args.experiment).text())
    return 0


def _show(studio, args) -> int:
    ab = _ab(studio)
    _print(ab.report(args.experiment, metric=args.metric, baseline=args.baseline).text())
    if args.diff:
        print()
        _print(ab.prompt_diff(args.experiment, *args.diff))
    return 0


def _judge(studio, args) -> int:
    ab = _ab(studio)
    if args.pointwise:
        ab.judge(args.experiment, provider=args.judge, redo=args.redo)
    else:
        ab.pairwise(args.experiment, judge=args.judge, arms=tuple(args.arms) if args.arms else None,
                    redo=args.redo)
    _print(ab.report(args.experiment).text())
    return 0


def _suggest(studio, args) -> int:
    row = _ab(studio).suggest(args.experiment, critic=args.critic, arm=args.arm)
    _print(f"{row['critic']} proposed {row['label']} (queued as an arm of the next run of "
           f"{args.experiment!r}; `ABTests.adopt({row['id']})` makes it the set's newest version)\n"
           f"why: {row['rationale']}\n\n{row['diff']}")
    return 0


def _regress(studio, args) -> int:
    result = _ab(studio).regress(args.experiment, baseline=args.baseline, candidate=args.candidate,
                                 metric=args.metric, tolerance=args.tolerance)
    print(result.message, file=sys.stdout if result.passed else sys.stderr)
    return 0 if result.passed else 1


def _cases(studio, args) -> int:
    ab = _ab(studio)
    if args.save:
        if not args.name:
            raise InvalidInput("--save needs the case set's name")
        try:
            data = json.loads(Path(args.save).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot read {args.save}: {exc}") from None
        saved = ab.cases.save(args.name, data, note=args.note)
        print(f"case set {saved['name']} v{saved['version']}: {len(saved['cases'])} case(s)")
        return 0
    if args.name:
        found = ab.cases.get(args.name, args.version)
        print(f"case set {found['name']} v{found['version']} ({found['language']})")
        print(json.dumps(found["cases"], ensure_ascii=False, indent=1))
        return 0
    _print(ab.cases.list().to_string(index=False))
    return 0


def _list(studio, args) -> int:
    frame = _ab(studio).experiments()
    _print(frame.to_string(index=False) if len(frame) else "no experiments yet: storynb ab run …")
    return 0
