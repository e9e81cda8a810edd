"""`storynb …`: the command line mirrors the Python API."""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys

from .errors import StorynbError
from .settings import (ASPECTS, DEFAULTS, EXECUTORS, KINDS, LANGUAGES, LENGTHS, STRATEGIES, STYLES, USAGE_BY,
                       normalize_style)
from .runner import STAGES


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        from .studio import Studio

        studio = Studio(args.studio)
        return args.handler(studio, args) or 0
    except StorynbError as exc:
        print(f"storynb: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`storynb … | head`): nobody to tell
        return 141
    except (sqlite3.DatabaseError, OSError) as exc:
        print(f"storynb: cannot use the studio database ({exc}): check the --studio path, "
              "its permissions and free disk space", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("storynb: interrupted; finished work is kept, run again to continue", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="storynb", description="Topic → story → shots → images "
                                     "→ camera → clips → video, with finished work skipped.")
    parser.add_argument("--studio", help="studio database (default data/studio.db or $STORYNB_STUDIO)")
    commands = parser.add_subparsers(dest="command")

    run = commands.add_parser("run", help="make a video from a topic (or continue a project)")
    run.add_argument("topic", nargs="?", help="what the story is about (Chinese or English)")
    run.add_argument("--project", help="continue this project (id or name) instead of a topic")
    run.add_argument("--new", action="store_true", help="always start a new project")
    run.add_argument("--lang", choices=LANGUAGES, help="story language (default: the topic's)")
    # Settings default to None so that what was given can be told from what was not: a new
    # project gets DEFAULTS for the rest, a template its own, --project changes only these.
    run.add_argument("--style", help=f"story style: {', '.join(STYLES)} … (default {DEFAULTS['style']})")
    run.add_argument("--length", choices=LENGTHS, help=f"default {DEFAULTS['length']}")
    run.add_argument("--aspect", choices=list(ASPECTS), help=f"default {DEFAULTS['aspect']}")
    run.add_argument("--fps", type=int, help=f"default {DEFAULTS['fps']}")
    run.add_argument("--size", help="resolution WxH matching the aspect, e.g. 360x640 for a quick preview")
    run.add_argument("--shots", type=int, help="number of shots, 4 to 300 (default: a topic gets "
                     "4 to 12, a --text as many as it needs)")
    run.add_argument("--text", metavar="FILE", help="make the video from this text (a chapter or "
                     "a short novel, up to 200,000 characters; - reads standard input)")
    run.add_argument("--as-is", action="store_true", help="with --text: narrate the text word for "
                     "word (no rewrite)")
    run.add_argument("--target-length", type=int, metavar="N", help="with --text: adapt it to "
                     "about N characters (Chinese) or words (English)")
    run.add_argument("--chapters", action="store_true", help="also export a video per chapter")
    run.add_argument("--seed", type=int, help="seed for a reproducible project")
    run.add_argument("--font", help="font file or family for the subtitles")
    run.add_argument("--burn", action=argparse.BooleanOptionalAction, default=None,
                     help="burn subtitles into the video (default), or not (--no-burn)")
    run.add_argument("--stage", action="append", choices=STAGES, help="run only this stage (repeatable)")
    run.add_argument("--template", help="start from a saved project template (`storynb templates`)")
    run.add_argument("--executor", choices=EXECUTORS, default="inline",
                     help="inline: here (default); celery: provider calls on Celery workers "
                          "(--broker or $STORYNB_BROKER); worker: queue the run for the studio's "
                          "local worker and return at once (follow it with `storynb watch`)")
    run.add_argument("--broker", help="Celery broker URL, e.g. redis://127.0.0.1:6379/0")
    run.add_argument("--loudness", type=float, help="loudness target in LUFS (default -16; -14 social, -23 broadcast)")
    run.add_argument("--music", help="background music: an audio file, 'builtin' (a generated pad) or 'none'")
    run.add_argument("--music-level", type=float, help="music level in dB under the narration (default -18)")
    run.add_argument("--highlight-words", action="store_true", help="burned captions colour the spoken word")
    run.set_defaults(handler=_run)
    check = commands.add_parser("check", help="check a project's export as a viewer (exit 1 on failure)")
    check.add_argument("project", help="project id or name")
    check.add_argument("--again", action="store_true", help="measure again instead of showing the stored check")
    check.set_defaults(handler=_check)

    commands.add_parser("projects", help="list projects").set_defaults(handler=_projects)
    shots = commands.add_parser("shots", help="the storyboard of a project, a page at a time")
    shots.add_argument("project", help="project id or name")
    shots.add_argument("--page", type=int, default=1, help="which page (from 1)")
    shots.add_argument("--limit", type=int, default=50, help="shots per page (default 50)")
    shots.set_defaults(handler=_shots)
    chapters = commands.add_parser("chapters", help="a project's chapters and their videos")
    chapters.add_argument("project", help="project id or name")
    chapters.set_defaults(handler=_chapters)
    for name, handler, text in (("status", _status, "stage status of a project"),
                                ("calls", _calls, "the call log of a project"),
                                ("export", _export, "export the video (runs what it needs)"),
                                ("retry", _retry, "run again from the first failed stage"),
                                ("pause", _pause, "pause a running project between jobs"),
                                ("resume", _resume, "resume a paused project")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("project", help="project id or name")
        sub.set_defaults(handler=handler)
    export = commands.choices["export"]
    export.add_argument("--chapters", action="store_true", help="also a video per chapter")
    for name, handler, text in (("skip", _skip, "leave a stage out of runs"),
                                ("unskip", _unskip, "put a skipped stage back into runs"),
                                ("rollback", _rollback, "redo a stage next run; later stages go stale")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("project")
        sub.add_argument("stage", choices=STAGES)
        sub.set_defaults(handler=handler)

    edit = commands.add_parser("edit-shot", help="edit one shot of the storyboard")
    edit.add_argument("project")
    edit.add_argument("seq", type=int)
    edit.add_argument("--scene")
    edit.add_argument("--narration")
    edit.add_argument("--image-prompt")
    edit.add_argument("--negative-prompt")
    edit.add_argument("--duration", type=float)
    edit.set_defaults(handler=_edit_shot)

    _provider_commands(commands)
    from .experiments.cli import add_commands as _ab_commands  # storynb ab …: prompt experiments

    _ab_commands(commands)
    from .prompts_cli import add_commands as _prompt_commands  # storynb prompts …: sets and versions

    _prompt_commands(commands)

    gc = commands.add_parser("gc", help="remove media that nothing refers to")
    gc.add_argument("--grace", type=float, default=3600,
                    help="keep unreferenced files younger than this many seconds (default 3600)")
    gc.set_defaults(handler=_gc)
    commands.add_parser("disk", help="media disk use per project").set_defaults(handler=_disk)
    save = commands.add_parser("save-template", help="save a project's settings as a template")
    save.add_argument("project")
    save.add_argument("name")
    save.set_defaults(handler=_save_template)
    commands.add_parser("templates", help="list project templates").set_defaults(handler=_templates)
    bundle = commands.add_parser("bundle", help="write a project bundle (rows + media, a zip)")
    bundle.add_argument("project")
    bundle.add_argument("--out", help="where to write the zip")
    bundle.set_defaults(handler=_bundle)
    watch = commands.add_parser("watch", help="follow a project's run live, wherever it was "
                                "started (exit 0 done, 1 failed, 3 paused)")
    watch.add_argument("project")
    watch.add_argument("--timeout", type=float, help="give up after this many seconds (exit 4)")
    watch.set_defaults(handler=_watch)
    worker = commands.add_parser("worker", help="carry out runs: the studio's local worker, or a "
                                 "Celery worker with --broker")
    worker.add_argument("--broker", help="redis://HOST:6379/0 (or $STORYNB_BROKER): serve jobs "
                        "from Celery queues instead of the studio's queued runs")
    worker.add_argument("--concurrency", type=int, help="jobs at once (default: cores)")
    worker.add_argument("--queues", default="api,render", help="Celery queues to serve")
    worker.add_argument("-n", "--hostname", help="Celery node name, e.g. w1@%%h")
    worker.add_argument("--media", help="the shared media folder (default: beside the studio)")
    worker.add_argument("--idle-exit", type=float, default=60.0,
                        help="local worker: stop after this many idle seconds")
    worker.set_defaults(handler=_worker)
    commands.add_parser("workers", help="the workers serving this studio").set_defaults(
        handler=_workers)
    cast = commands.add_parser("characters", help="a project's character sheet (and the shots "
                               "each character is in)")
    cast.add_argument("project")
    cast.set_defaults(handler=_characters)
    char = commands.add_parser("character", help="add or edit a character: its locked "
                               "description, voice, seed, reference images")
    char.add_argument("project")
    char.add_argument("name")
    char.add_argument("--description", help="who they are and what they look like (locked: "
                      "every image prompt of a shot showing them gets it)")
    char.add_argument("--voice", help="the voice that speaks their lines")
    char.add_argument("--seed", type=int)
    char.add_argument("--rename", help="a new name (shots follow)")
    char.add_argument("--reference", action="append", default=[],
                      help="a reference image (PNG/JPEG/WebP), repeatable")
    char.add_argument("--unlock", action="store_true",
                      help="let the storyboard's character step update it again")
    char.add_argument("--delete", action="store_true", help="remove the character")
    char.set_defaults(handler=_character)
    tag = commands.add_parser("cast", help="set which characters a shot shows")
    tag.add_argument("project")
    tag.add_argument("seq", type=int)
    tag.add_argument("names", nargs="*", help="character names (none: the shot shows nobody)")
    tag.set_defaults(handler=_cast)
    batch = commands.add_parser("batch", help="many topics from a CSV (a 'topic' column, optional "
                                "settings per row), one report notebook each; a rerun resumes")
    batch.add_argument("topics", help="CSV file with a 'topic' column (optional columns: name, "
                       "language, style, length, audience, aspect, fps, shots, seed, size, "
                       "prompt_set, template, burn_subtitles)")
    batch.add_argument("--out", required=True, help="folder for the videos, report notebooks "
                       "and summary.csv (also the batch's name: rerun with the same --out)")
    batch.add_argument("--concurrency", type=int, default=2, help="projects at once (default 2)")
    batch.add_argument("--budget", type=float, help="stop starting work once the batch's calls "
                       "cost this many US dollars")
    batch.add_argument("--no-notebooks", action="store_true", help="skip the report notebooks")
    batch.add_argument("--size", help="default resolution WxH for rows without a size column")
    batch.add_argument("--fps", type=int, help="default fps for rows without an fps column")
    batch.set_defaults(handler=_batch)
    load = commands.add_parser("import", help="add a project from a bundle zip")
    load.add_argument("bundle")
    load.add_argument("--max-gb", type=float, metavar="GB",
                      help="accept a bundle expanding to this many GB (default 4; for bundles you trust)")
    load.set_defaults(handler=_import)
    return parser


class _Progress:
    """Progress bars per stage from runner events."""

    def __init__(self):
        from tqdm import tqdm

        self.tqdm = tqdm
        self.bar = None

    def __call__(self, event) -> None:
        if event.kind == "stage_start":
            self.bar = self.tqdm(total=0, desc=f"{event.stage:>10}", unit="job", leave=False,
                                 file=sys.stderr, dynamic_ncols=True,
                                 disable=not sys.stderr.isatty())
        elif event.kind.startswith("job_") and self.bar is not None:
            if self.bar.total != event.total:
                self.bar.total = event.total
            if event.kind != "job_start":
                self.bar.update(1)
            self.bar.set_postfix_str(event.label, refresh=True)
            if event.kind == "job_failed":
                self.bar.write(f"  failed: {event.message}", file=sys.stderr)
        elif event.kind == "stage_done":
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            print(event.message or f"{event.stage}: {event.status}", file=sys.stderr)


def _finish(project, report) -> int:
    for line in report.summary().splitlines()[len(report.stages):]:
        print(line, file=sys.stderr)
    path = project.video_path()
    if report.status == "done" and path:
        _export_notes(project)
        print(path)
        return 0
    if report.status == "done" and project.status().get("export") == "skipped":
        print(f"storynb: the export stage is skipped, so there is no video yet "
              f"(`storynb unskip {project.id} export` turns it back on)", file=sys.stderr)
        return 0
    if report.status == "paused":
        print(f"storynb: project {project.id} paused; `storynb resume {project.id}` continues",
              file=sys.stderr)
        return 3
    if report.status == "failed":
        first = next((e for r in report.stages for e in r.errors), "a stage failed")
        print(f"storynb: {first}", file=sys.stderr)
        return 1
    return 0


# run options → Project settings (what `--project` may change in place)
SETTINGS = {"style": "style", "length": "length", "aspect": "aspect", "fps": "fps", "size": "size",
            "shots": "shots", "font": "font", "burn": "burn_subtitles"}


def _given(args) -> dict:
    """The run options given on the command line, as project settings."""
    values = {name: getattr(args, option) for option, name in SETTINGS.items()
              if getattr(args, option) is not None}
    if getattr(args, "project", None):  # long form: --project may change these in place too
        for option, name in (("source_text", "text"), ("target_length", "target_length")):
            if getattr(args, option, None) is not None:
                values[name] = getattr(args, option)
        for option, name in (("as_is", "as_is"), ("chapters", "by_chapter")):
            if getattr(args, option, False):
                values[name] = True
    if "size" in values:
        values["size"] = _size(values["size"])
    return values


def _find_same(studio, args):
    """The latest project made from the same topic with the same settings, if any."""
    get = lambda name: getattr(args, name) if getattr(args, name) is not None else DEFAULTS[name]
    return studio.find_project(
        args.topic, text=getattr(args, "source_text", None), as_is=bool(getattr(args, "as_is", False)),
        style=normalize_style(get("style")), length=get("length"), aspect=get("aspect"), fps=get("fps"),
        burn_subtitles=bool(get("burn")), font=args.font, size=_size(args.size), language=args.lang,
        shots=args.shots, seed=args.seed, target_length=args.target_length)


def _update_in_place(project, args) -> None:
    """Settings given with --project change that project (and say so), or are refused."""
    fixed = [flag for flag, value in (("--lang", args.lang), ("--seed", args.seed),
                                      ("--template", args.template), ("--new", args.new or None))
             if value is not None]
    if args.topic:
        fixed.insert(0, "a topic")
    if fixed:
        raise StorynbError(f"{', '.join(fixed)} cannot be used with --project: they make a new "
                           f"project (`storynb run \"topic\" …`); --project {project.id} can change "
                           "--style, --length, --aspect, --size, --fps, --shots, --font, --burn/--no-burn")
    settings = _given(args)
    if not settings:
        return
    changed = project.update(**settings)
    shown = []
    for key, (old, new) in changed.items():
        if key in ("width", "height"):
            continue
        if key == "burn_subtitles":
            shown.append(f"burned subtitles {'on' if old else 'off'} → {'on' if new else 'off'}")
        elif key == "source_text":
            shown.append(f"text of {len(old or ''):,} → {len(new or ''):,} characters")
        else:
            shown.append(f"{key.replace('_wanted', '')} {old or ''!r} → {new!r}")
    if {"width", "height"} & set(changed):
        row = project.row
        shown.append(f"size {changed.get('width', (row['width'],))[0]}x"
                     f"{changed.get('height', (row['height'],))[0]} → {row['width']}x{row['height']}")
    print(f"project {project.id}: " + ("; ".join(shown) if shown else "settings unchanged")
          + ("; what depends on them is redone" if shown else ""), file=sys.stderr)


def _run(studio, args) -> int:
    args.source_text = _read_text(args.text).strip() or None if args.text else None
    if args.text and not args.source_text:
        raise StorynbError(f"--text {args.text}: the text is empty; give a file with the story")
    if (args.as_is or args.target_length) and not args.text:
        raise StorynbError("--as-is and --target-length go with --text FILE")
    if args.source_text is not None and not args.topic and not args.project:
        from .text import name_from

        args.topic = name_from(args.source_text)
    if args.project:
        project = studio.project(args.project)
        _update_in_place(project, args)
    elif not args.topic:
        raise StorynbError("give a topic, or --project ID to continue a project")
    else:
        project = None if (args.new or args.template) else _find_same(studio, args)
        if project is None:
            given = {"language": args.lang, "seed": args.seed, **_given(args)}
            if not args.template:  # a template brings its own; given ones override it
                given = {**{SETTINGS[k]: v for k, v in DEFAULTS.items()}, **given}
            given.update(text=args.source_text, as_is=args.as_is or None,
                         target_length=args.target_length, by_chapter=args.chapters or None)
            project = studio.create_project(
                args.topic, template=args.template,
                **{k: v for k, v in given.items() if v is not None})
            print(f"project {project.id}: {project.row['name']}", file=sys.stderr)
        else:
            print(f"project {project.id}: continuing (same topic and settings)", file=sys.stderr)
            if args.chapters:
                project.update(by_chapter=True)
    sound = {k: v for k, v in (("loudness_lufs", args.loudness), ("music", args.music),
                                ("music_level_db", args.music_level),
                                ("highlight_words", True if args.highlight_words else None))
             if v is not None}
    if sound:
        project.update(**sound)
    if args.executor == "worker":
        handle = project.run(args.stage, background=True, executor="worker")
        print(f"project {project.id}: run {handle.run_id} queued for the local worker; "
              f"`storynb watch {project.id}` follows it", file=sys.stderr)
        return 0
    if args.executor == "celery" or args.broker:
        from .distributed import use_celery

        use_celery(studio, args.broker)
    report = project.run(args.stage, on_event=_Progress())
    return _finish(project, report)


def _watch(studio, args) -> int:
    import time

    project = studio.project(args.project)
    changes = studio.changes()
    shown: dict[str, str] = {}
    tty = sys.stderr.isatty()
    bars: dict = {}
    started = time.monotonic()
    progress = project.progress()
    while True:
        if changes.changed():
            progress = project.progress()
            for stage in progress["stages"]:
                line = (f"{stage['stage']}: {stage['status']} ({stage['done']} of {stage['total']} "
                        f"done" + (f", {stage['running']} running" if stage["running"] else "")
                        + (f", {stage['failed']} failed" if stage["failed"] else "") + ")")
                if tty and stage["total"]:
                    _watch_bar(bars, stage)
                elif shown.get(stage["stage"]) != line and (stage["total"] or stage["stage"] in shown):
                    print(line, file=sys.stderr, flush=True)
                shown[stage["stage"]] = line
            if progress["status"] not in ("running", "queued"):
                break
        if args.timeout and time.monotonic() - started > args.timeout:
            print(f"storynb: project {project.id} is still {progress['status']}", file=sys.stderr)
            return 4
        time.sleep(0.25)
    for bar in bars.values():
        bar.close()
    run = progress.get("run") or {}
    state = progress["status"]
    if run.get("summary"):
        print(run["summary"].splitlines()[-1], file=sys.stderr)
    if state == "done":
        path = project.video_path()
        if path:
            print(path)
        return 0
    if state == "paused":
        print(f"storynb: project {project.id} paused; `storynb resume {project.id}` continues",
              file=sys.stderr)
        return 3
    if state in ("failed", "interrupted"):
        failed = next((s for s in progress["stages"] if s["status"] == "failed"), None)
        why = (failed["error"] or "").splitlines()[0] if failed and failed["error"] else \
            run.get("error") or f"the run is {state}"
        print(f"storynb: {why}", file=sys.stderr)
        return 1
    print(f"storynb: project {project.id} is {state}", file=sys.stderr)
    return 0


def _watch_bar(bars: dict, stage: dict) -> None:
    from tqdm import tqdm

    bar = bars.get(stage["stage"])
    if bar is None:
        bar = bars[stage["stage"]] = tqdm(total=stage["total"], desc=f"{stage['stage']:>10}",
                                          unit="job", file=sys.stderr, dynamic_ncols=True)
    bar.total = stage["total"]
    bar.n = stage["done"] + stage["failed"]
    bar.set_postfix_str(f"{stage['running']} running" if stage["running"] else stage["status"])
    bar.refresh()


def _worker(studio, args) -> int:
    import os

    broker = args.broker or os.environ.get("STORYNB_BROKER")
    if broker:
        from .distributed import serve_celery

        return serve_celery(studio, broker, concurrency=args.concurrency, queues=args.queues,
                            hostname=args.hostname, media=args.media)
    from .worker import serve

    path = studio.path
    studio.close()
    return serve(path, idle_exit=args.idle_exit)


def _workers(studio, args) -> int:
    from .worker import local_worker

    found = local_worker(studio.db)
    print(f"local worker: {found['host']}:{found['pid']} since {found['started']}" if found
          else "local worker: none running (it starts when a run is started from the app or "
               "with project.run(background=True))")
    return 0


def _check(studio, args) -> int:
    from .check import check_export, latest_check, report

    project = studio.project(args.project)
    export = project.latest_export()
    if not export:
        raise StorynbError(f"project {project.id} has no export yet: `storynb run --project {project.id}`")
    found = None if args.again else latest_check(project)
    if found and found["export_id"] == export["id"]:
        found = {**found, "passed": bool(found["passed"]),
                 "warnings": json.loads(export.get("warnings") or "[]")}
    else:
        found = check_export(project)
    print(f"{export.get('path') or export['video']}")
    print(report(found))
    return 0 if found["passed"] else 1


def _export_notes(project) -> None:
    """The export's warnings (an unnarrated video, left-out glyphs) and its check, on stderr."""
    from .check import latest_check

    export = project.latest_export() or {}
    for warning in json.loads(export.get("warnings") or "[]"):
        print(f"warning: {warning}", file=sys.stderr)
    found = latest_check(project)
    if found and found["export_id"] == export.get("id"):
        failed = [r for r in found["results"] if r["status"] == "fail"]
        print("check: passed" if not failed else "check: FAILED: " + "; ".join(
            f"{r['name']}: {r['message']}" for r in failed), file=sys.stderr)


def _size(text: str | None):
    if not text:
        return None
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise StorynbError(f"--size {text!r}: write it as WIDTHxHEIGHT, e.g. 360x640") from None
    return width, height


def _characters(studio, args) -> int:
    _print_frame(studio.project(args.project).cast.frame(),
                 "no characters yet: run the storyboard, or add one with `storynb character`")
    return 0


def _character(studio, args) -> int:
    cast = studio.project(args.project).cast
    if args.delete:
        cast.delete(args.name)
        print(f"deleted {args.name}", file=sys.stderr)
        return 0
    edits = {"description": args.description, "voice": args.voice, "seed": args.seed,
             "rename": args.rename}
    edits = {k: v for k, v in edits.items() if v is not None}
    if edits or args.unlock or not args.reference:
        row = cast.set(args.name, **edits, locked=not args.unlock)
    name = args.rename or args.name
    for path in args.reference:
        cast.add_reference(name, path)
    row = cast.get(name)
    print(f"{row['name']}: {row['description']} (references: {len(json.loads(row['refs']))}, "
          f"{'locked' if row['locked'] else 'unlocked'})")
    return 0


def _cast(studio, args) -> int:
    project = studio.project(args.project)
    names = project.cast.tag(args.seq, args.names)
    print(f"shot {args.seq}: {', '.join(names) or 'no characters'}")
    return 0


def _batch(studio, args) -> int:
    from .batch import run_batch

    defaults = {k: v for k, v in (("size", _size(args.size)), ("fps", args.fps)) if v is not None}

    def progress(item: dict) -> None:
        if item.get("status") in ("done", "failed", "budget", "paused", "running"):
            print(f"row {item['row']} (project {item['project_id']}): {item['status']}"
                  + (f": {item['error']}" if item.get("error") else ""), file=sys.stderr)

    table = run_batch(studio, args.topics, args.out, concurrency=args.concurrency,
                      budget=args.budget, notebooks=not args.no_notebooks, defaults=defaults,
                      on_progress=progress)
    _print_frame(table[["row", "project_id", "status", "calls", "cost", "video", "notebook"]],
                 "no topics")
    return 0 if (table["status"] == "done").all() else 1


def _projects(studio, args) -> int:
    frame = studio.projects()
    print(frame.to_string(index=False) if len(frame) else "no projects yet: storynb run \"a topic\"")
    return 0


def _status(studio, args) -> int:
    project = studio.project(args.project)
    print(f"project {project.id} {project.row['name']!r}: {project.state}")
    frame = project.stages()
    print(frame[["stage", "status", "ran", "skipped", "failed", "retries"]].to_string(index=False))
    if project.video_path():
        print(project.video_path())
        from .staleness import staleness

        found = staleness(project)
        if found.stale:  # an edit since the video was made: `storynb run` updates it
            print(f"out of date: {found.summary()} (storynb run --project {project.id} updates it)")
    return 0


def _read_text(path: str) -> str:
    from pathlib import Path

    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise StorynbError(f"--text {path}: not UTF-8 text; save it as UTF-8 and try again") from None
    except OSError as exc:
        raise StorynbError(f"--text {path}: cannot read it ({exc.strerror or exc})") from None


def _shots(studio, args) -> int:
    import pandas as pd

    if args.page < 1 or args.limit < 1:
        raise StorynbError("--page and --limit are whole numbers from 1")
    project = studio.project(args.project)
    total = project.shot_count()
    pages = max(1, -(-total // args.limit))
    if args.page > pages:
        raise StorynbError(f"project {project.id} has {total} shots: {pages} page(s) of {args.limit}")
    offset = (args.page - 1) * args.limit
    frame = project.storyboard(offset=offset, limit=args.limit)
    if not frame["chapter"].notna().any():
        frame = frame.drop(columns=["chapter"])
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print(frame.to_string(index=False))
    if total > args.limit:
        print(f"shots {offset + 1}–{offset + len(frame)} of {total} (page {args.page} of {pages}; "
              f"--page {args.page + 1 if args.page < pages else 1} for more)", file=sys.stderr)
    return 0


def _chapters(studio, args) -> int:
    project = studio.project(args.project)
    made = project.chapter_videos()
    videos = dict(zip(made["chapter"], made["path"]))
    for part in project.chapters().to_dict("records"):
        print(f"{part['chapter']:>3}  shots {part['first_seq']}–{part['last_seq']}  "
              f"{part['duration_s']:.0f}s  {part['title']}  {videos.get(part['chapter'], '')}".rstrip())
    if not videos:
        print(f"(no chapter videos yet: `storynb export {project.id} --chapters`)", file=sys.stderr)
    return 0


def _calls(studio, args) -> int:
    frame = studio.project(args.project).calls()
    if not len(frame):
        print("no calls recorded")
        return 0
    print(frame[["id", "stage", "provider", "status", "latency_ms", "created"]].to_string(index=False))
    return 0


def _export(studio, args) -> int:
    project = studio.project(args.project)
    if args.chapters:
        project.update(by_chapter=True)
    code = _finish(project, project.run(on_event=_Progress()))
    if code == 0 and args.chapters:
        for path in project.chapter_videos()["path"]:
            print(path)
    return code


def _retry(studio, args) -> int:
    project = studio.project(args.project)
    return _finish(project, project.run(from_failed=True, on_event=_Progress()))


def _pause(studio, args) -> int:
    project = studio.project(args.project)
    state = project.state
    if state not in ("running", "queued"):
        print(f"project {project.id} is not running ({state}): nothing to pause")
        return 0
    project.pause()
    print(f"project {project.id} pausing: running jobs finish, no new ones start; "
          f"`storynb resume {project.id}` continues")
    return 0


def _resume(studio, args) -> int:
    project = studio.project(args.project)
    return _finish(project, project.run(from_failed=True, on_event=_Progress()))


def _skip(studio, args) -> int:
    studio.project(args.project).skip(args.stage)
    print(f"{args.stage} is left out of runs; `storynb unskip {args.project} {args.stage}` undoes it")
    return 0


def _unskip(studio, args) -> int:
    project = studio.project(args.project)
    status = project.status().get(args.stage)
    if status != "skipped":
        print(f"{args.stage} is not skipped (it is {status}): nothing to change")
        return 0
    project.unskip(args.stage)
    print(f"{args.stage} is back in runs; `storynb run --project {project.id}` runs it")
    return 0


def _rollback(studio, args) -> int:
    studio.project(args.project).rollback(args.stage)
    print(f"{args.stage} will be redone on the next run; later stages are stale")
    return 0


def _edit_shot(studio, args) -> int:
    values = {k: v for k, v in (("scene", args.scene), ("narration", args.narration),
                                ("image_prompt", args.image_prompt),
                                ("negative_prompt", args.negative_prompt),
                                ("duration_s", args.duration)) if v is not None}
    if not values:
        raise StorynbError("nothing to change: give --image-prompt, --narration, --scene, --duration …")
    shot = studio.project(args.project).edit_shot(args.seq, **values)
    print(f"shot {shot['seq']} saved; `storynb run --project {args.project}` redoes what depends on it")
    return 0


def _gc(studio, args) -> int:
    files, freed = studio.gc(grace_s=args.grace)
    print(f"removed {files} unreferenced file(s), {freed / 1e6:.1f} MB freed")
    return 0


def _save_template(studio, args) -> int:
    studio.save_template(studio.project(args.project), args.name)
    print(f"saved; `storynb run \"a topic\" --template {args.name!r}` starts a project from it")
    return 0


def _templates(studio, args) -> int:
    frame = studio.templates()
    print(frame.to_string(index=False) if len(frame) else "no project templates yet")
    return 0


def _bundle(studio, args) -> int:
    print(studio.project(args.project).export_bundle(args.out))
    return 0


def _import(studio, args) -> int:
    limits = None
    if args.max_gb is not None:
        import dataclasses

        from .bundle import LIMITS

        if not 0 < args.max_gb <= 1024:
            raise StorynbError(f"--max-gb must be more than 0 and at most 1024, not {args.max_gb:g}")
        limits = dataclasses.replace(LIMITS, max_total_bytes=int(args.max_gb * 1024 ** 3))
    project = studio.import_bundle(args.bundle, limits=limits)
    print(f"project {project.id}: {project.row['name']} (`storynb run --project {project.id}` "
          "continues it; finished work is skipped)")
    return 0


def _disk(studio, args) -> int:
    print(studio.disk_usage().to_string(index=False))
    return 0


# providers, usage, estimate -------------------------------------------------------------------
def _provider_commands(commands) -> None:
    providers = commands.add_parser("providers", help="model providers: list, add, edit, test, route …")
    sub = providers.add_subparsers(dest="action")
    sub.add_parser("list", help="every provider (keys are never shown)").set_defaults(handler=_providers_list)
    sub.add_parser("types", help="the adapter types, by kind").set_defaults(handler=_providers_types)
    for name, text in (("add", "add a provider"), ("edit", "change a provider's settings")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("name")
        if name == "add":
            cmd.add_argument("--kind", required=True, choices=KINDS)
            cmd.add_argument("--type", required=True, help="adapter type: `storynb providers types`")
        cmd.add_argument("--url", help="the API's base URL")
        cmd.add_argument("--model")
        cmd.add_argument("--key-stdin", action="store_true", help="read the API key from standard input")
        cmd.add_argument("--key-env", metavar="VAR", help="take the API key from this environment variable")
        if name == "edit":
            cmd.add_argument("--remove-key", action="store_true")
            cmd.add_argument("--active", choices=["yes", "no"])
        cmd.add_argument("--param", action="append", default=[], metavar="K=V",
                         help="a kind default (temperature=0.7, steps=30, workflow=@file.json …)")
        cmd.add_argument("--price", action="append", default=[], metavar="K=V",
                         help="per_call, per_1k_tokens, per_1k_input, per_1k_output, per_second, "
                              "per_unit, per_1k_characters, currency")
        cmd.add_argument("--weight", type=float)
        cmd.add_argument("--priority", type=int, help="0 is tried first; higher numbers are fallbacks")
        cmd.add_argument("--rpm", type=int, help="requests per minute")
        cmd.add_argument("--rpd", type=int, help="requests per day (UTC)")
        cmd.add_argument("--concurrency", type=int, help="calls in flight at once")
        cmd.add_argument("--timeout", type=float, help="seconds")
        cmd.set_defaults(handler=_providers_add if name == "add" else _providers_edit)
    for name, handler, text in (("delete", _providers_delete, "delete a provider"),
                                ("activate", _providers_activate, "use a provider again"),
                                ("deactivate", _providers_deactivate, "stop using a provider"),
                                ("test", _providers_test, "test connection (costs no generation)")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("name")
        if name == "delete":
            cmd.add_argument("--force", action="store_true", help="even if projects route to it")
        cmd.set_defaults(handler=handler)
    route = sub.add_parser("route", help="set the providers (and strategy) a project uses for a kind")
    route.add_argument("project")
    route.add_argument("kind", choices=KINDS)
    route.add_argument("names", nargs="+", metavar="NAME")
    route.add_argument("--strategy", default="round_robin",
                       choices=STRATEGIES)
    route.set_defaults(handler=_providers_route)
    sub.add_parser("rotate-keys", help="re-encrypt stored keys under a new master key").set_defaults(
        handler=_providers_rotate)
    providers.set_defaults(handler=_providers_list)

    usage = commands.add_parser("usage", help="calls, tokens and cost per provider, project or day")
    usage.add_argument("--by", default="provider", choices=USAGE_BY)
    usage.add_argument("--project", help="only this project (id or name)")
    usage.add_argument("--since", help="from this date (YYYY-MM-DD, UTC)")
    usage.set_defaults(handler=_usage)

    estimate = commands.add_parser("estimate", help="what a run will call and cost, before it runs")
    estimate.add_argument("project")
    estimate.add_argument("--stage", action="append", choices=STAGES)
    estimate.set_defaults(handler=_estimate)


def _print_frame(frame, empty: str) -> None:
    import pandas as pd

    from .secrets import redact

    if not len(frame):
        print(empty)
        return
    with pd.option_context("display.max_colwidth", 48, "display.width", 220):
        print(redact(frame.to_string(index=False)))


def _key_from(args) -> str | None:
    import os

    if getattr(args, "key_env", None):
        value = os.environ.get(args.key_env, "")
        if not value:
            raise StorynbError(f"${args.key_env} is empty or not set")
        return value
    if getattr(args, "key_stdin", False):
        if sys.stdin.isatty():
            import getpass

            return getpass.getpass("API key: ")
        return sys.stdin.readline().strip()
    return None


def _pairs(items: list[str], what: str) -> dict:
    import json
    from pathlib import Path

    values = {}
    for item in items:
        if "=" not in item:
            raise StorynbError(f"--{what} {item!r}: write it as KEY=VALUE")
        key, value = item.split("=", 1)
        if value.startswith("@"):  # a file (a ComfyUI workflow …): capped, UTF-8 text only
            from .intake import MAX_WORKFLOW_BYTES, read_text

            value = read_text(Path(value[1:]), name=value[1:], max_bytes=MAX_WORKFLOW_BYTES)
        try:
            values[key.strip()] = json.loads(value)
        except ValueError:
            values[key.strip()] = value
    return values


def _provider_fields(args) -> dict:
    fields = {k: getattr(args, k) for k in ("url", "model", "weight", "priority", "rpm", "rpd",
                                            "concurrency", "timeout") if getattr(args, k) is not None}
    if args.param:
        fields["params"] = _pairs(args.param, "param")
    if args.price:
        fields["price"] = _pairs(args.price, "price")
    key = _key_from(args)
    if key is not None:
        fields["key"] = key
    return fields


def _show_provider(row: dict) -> None:
    from .secrets import redact

    print(redact(", ".join(f"{k}={v}" for k, v in row.items() if v not in (None, "", {}))))


def _providers_list(studio, args) -> int:
    frame = studio.providers.frame()
    columns = ["name", "kind", "type", "model", "url", "key", "active", "weight", "priority", "rpm",
               "rpd", "used_today", "concurrency", "cooling_s"]
    _print_frame(frame[columns], "no providers")
    return 0


def _providers_types(studio, args) -> int:
    for kind in KINDS:
        print(f"{kind}: {', '.join(studio.providers.types(kind))}")
    return 0


def _providers_add(studio, args) -> int:
    _show_provider(studio.providers.add(args.name, args.kind, args.type, **_provider_fields(args)))
    return 0


def _providers_edit(studio, args) -> int:
    fields = _provider_fields(args)
    if args.remove_key:
        fields["key"] = ""
    if args.active:
        fields["active"] = args.active == "yes"
    if not fields:
        raise StorynbError("nothing to change: give --url, --model, --key-stdin, --param, --rpm …")
    if "params" in fields:  # --param adds to the stored params
        fields["params"] = {**studio.providers.get(args.name)["params"], **fields["params"]}
    _show_provider(studio.providers.edit(args.name, **fields))
    return 0


def _providers_delete(studio, args) -> int:
    studio.providers.delete(args.name, force=args.force)
    print(f"deleted {args.name}")
    return 0


def _providers_activate(studio, args) -> int:
    studio.providers.activate(args.name)
    print(f"{args.name} is active")
    return 0


def _providers_deactivate(studio, args) -> int:
    studio.providers.deactivate(args.name)
    print(f"{args.name} is inactive")
    return 0


def _providers_test(studio, args) -> int:
    result = studio.providers.test(args.name)
    if result["ok"]:
        print(f"{args.name}: ok in {result['latency_ms']:.0f} ms {result.get('detail') or ''}")
        return 0
    print(f"{args.name}: {result['error_class']}: {result['error']}", file=sys.stderr)
    return 1


def _providers_route(studio, args) -> int:
    project = studio.project(args.project)
    current = dict(__import__("json").loads(project.row["providers"] or "{}"))
    current[args.kind] = (args.names[0] if len(args.names) == 1 and args.strategy == "round_robin"
                          else {"providers": args.names, "strategy": args.strategy})
    project.update(providers=current)
    from .usage import describe_route

    print(f"project {project.id} {args.kind}: {describe_route(project.provider(args.kind))}")
    return 0


def _providers_rotate(studio, args) -> int:
    count = studio.providers.rotate_keys()
    print(f"re-encrypted {count} key(s) under the new master key")
    return 0


def _usage(studio, args) -> int:
    project = studio.project(args.project).id if args.project else None
    _print_frame(studio.usage(args.by, project=project, since=args.since), "no calls recorded")
    return 0


def _estimate(studio, args) -> int:
    from .usage import routes_of

    project = studio.project(args.project)
    frame = studio.estimate(project, args.stage)
    for kind, route in routes_of(project).items():
        print(f"{kind:>11}: {route}")
    _print_frame(frame, "nothing to do: every selected stage is up to date")
    if len(frame):
        print(f"total: {frame.calls.sum():g} call(s), cost {frame.cost.sum():.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
