"""`storynb …`: the command line mirrors the Python API."""
from __future__ import annotations

import argparse
import sys

from .errors import StorynbError
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
    run.add_argument("--lang", choices=["en", "zh"], help="story language (default: the topic's)")
    run.add_argument("--style", default="warm", help="story style: warm, suspense, epic, whimsical …")
    run.add_argument("--length", choices=["short", "medium", "long"], default="short")
    run.add_argument("--aspect", choices=["9:16", "16:9", "1:1"], default="9:16")
    run.add_argument("--fps", type=int, default=24)
    run.add_argument("--size", help="resolution WxH matching the aspect, e.g. 360x640 for a quick preview")
    run.add_argument("--shots", type=int, help="number of shots, 4 to 12")
    run.add_argument("--seed", type=int, help="seed for a reproducible project")
    run.add_argument("--font", help="font file or family for the subtitles")
    run.add_argument("--no-burn", action="store_true", help="do not burn subtitles into the video")
    run.add_argument("--stage", action="append", choices=STAGES, help="run only this stage (repeatable)")
    run.set_defaults(handler=_run)

    commands.add_parser("projects", help="list projects").set_defaults(handler=_projects)
    for name, handler, text in (("status", _status, "stage status of a project"),
                                ("shots", _shots, "the storyboard of a project"),
                                ("calls", _calls, "the call log of a project"),
                                ("export", _export, "export the video (runs what it needs)"),
                                ("retry", _retry, "run again from the first failed stage"),
                                ("pause", _pause, "pause a running project between jobs"),
                                ("resume", _resume, "resume a paused project")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("project", help="project id or name")
        sub.set_defaults(handler=handler)
    for name, handler, text in (("skip", _skip, "leave a stage out of runs"),
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

    commands.add_parser("gc", help="remove media that nothing refers to").set_defaults(handler=_gc)
    commands.add_parser("disk", help="media disk use per project").set_defaults(handler=_disk)
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
        print(path)
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


def _find_same(studio, args):
    rows = list(studio.db.query(
        "select id from projects where topic = ? and style = ? and aspect = ? and fps = ? "
        "and length = ? order by id desc limit 1",
        [args.topic.strip(), args.style, args.aspect, args.fps, args.length]))
    return studio.project(rows[0]["id"]) if rows else None


def _run(studio, args) -> int:
    if args.project:
        project = studio.project(args.project)
    elif not args.topic:
        raise StorynbError("give a topic, or --project ID to continue a project")
    else:
        project = None if args.new else _find_same(studio, args)
        if project is None:
            project = studio.create_project(
                args.topic, language=args.lang, style=args.style, length=args.length,
                aspect=args.aspect, fps=args.fps, shots=args.shots, seed=args.seed,
                font=args.font, burn_subtitles=not args.no_burn, size=_size(args.size))
            print(f"project {project.id}: {project.row['name']}", file=sys.stderr)
        else:
            print(f"project {project.id}: continuing (same topic and settings)", file=sys.stderr)
    report = project.run(args.stage, on_event=_Progress())
    return _finish(project, report)


def _size(text: str | None):
    if not text:
        return None
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise StorynbError(f"--size {text!r}: write it as WIDTHxHEIGHT, e.g. 360x640") from None
    return width, height


def _projects(studio, args) -> int:
    frame = studio.projects()
    print(frame.to_string(index=False) if len(frame) else "no projects yet: storynb run \"a topic\"")


def _status(studio, args) -> int:
    project = studio.project(args.project)
    print(f"project {project.id} {project.row['name']!r}: {project.row['status']}")
    frame = project.stages()
    print(frame[["stage", "status", "ran", "skipped", "failed", "retries"]].to_string(index=False))
    if project.video_path():
        print(project.video_path())


def _shots(studio, args) -> int:
    import pandas as pd

    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print(studio.project(args.project).storyboard().to_string(index=False))


def _calls(studio, args) -> int:
    frame = studio.project(args.project).calls()
    if not len(frame):
        print("no calls recorded")
        return 0
    print(frame[["id", "stage", "provider", "status", "latency_ms", "created"]].to_string(index=False))


def _export(studio, args) -> int:
    project = studio.project(args.project)
    return _finish(project, project.run(on_event=_Progress()))


def _retry(studio, args) -> int:
    project = studio.project(args.project)
    return _finish(project, project.retry(on_event=_Progress()))


def _pause(studio, args) -> int:
    studio.project(args.project).pause()
    print("paused: running jobs finish, no new ones start")


def _resume(studio, args) -> int:
    project = studio.project(args.project)
    return _finish(project, project.resume(on_event=_Progress()))


def _skip(studio, args) -> int:
    studio.project(args.project).skip(args.stage)


def _rollback(studio, args) -> int:
    studio.project(args.project).rollback(args.stage)
    print(f"{args.stage} will be redone on the next run; later stages are stale")


def _edit_shot(studio, args) -> int:
    values = {k: v for k, v in (("scene", args.scene), ("narration", args.narration),
                                ("image_prompt", args.image_prompt),
                                ("negative_prompt", args.negative_prompt),
                                ("duration_s", args.duration)) if v is not None}
    if not values:
        raise StorynbError("nothing to change: give --image-prompt, --narration, --scene, --duration …")
    shot = studio.project(args.project).edit_shot(args.seq, **values)
    print(f"shot {shot['seq']} saved; `storynb run --project {args.project}` redoes what depends on it")


def _gc(studio, args) -> int:
    files, freed = studio.gc()
    print(f"removed {files} unreferenced file(s), {freed / 1e6:.1f} MB freed")


def _disk(studio, args) -> int:
    print(studio.disk_usage().to_string(index=False))


if __name__ == "__main__":
    sys.exit(main())
