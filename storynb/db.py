"""The studio database: schema, migrations and indexes (sqlite-utils)."""
from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("storynb")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@contextlib.contextmanager
def writing(db: sqlite_utils.Database):
    """A write transaction that takes the write lock at once (BEGIN IMMEDIATE).

    A deferred BEGIN that reads first and writes later fails with "database is locked" when
    another connection (a background run, another process) committed in between, whatever the
    busy timeout; taking the lock up front makes it wait instead. Nested uses are savepoints.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    else:
        db.conn.execute("COMMIT")


@contextlib.contextmanager
def setup_lock(path: Path):
    """An exclusive lock (a file beside the database) around opening a studio: migrations and
    the seeding of defaults run once, even when many processes open a new studio at once."""
    import fcntl

    with open(f"{path}.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def connect(path: Path | str) -> sqlite_utils.Database:
    """Open (and migrate) a studio database. WAL so a reader never blocks the runner."""
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    db = sqlite_utils.Database(conn)
    if str(path) != ":memory:":
        db.enable_wal()
        # WAL + NORMAL: a commit is not flushed to the disk platter, but a killed process loses
        # nothing that was committed (only a power cut could lose the latest commits); every job
        # state change is a commit, and FULL made each one cost an fsync.
        db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 30000")
    migrations.apply(db)
    return db


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("projects").create(
        {
            "id": int, "name": str, "topic": str, "language": str, "style": str, "length": str,
            "audience": str, "aspect": str, "width": int, "height": int, "fps": int,
            "shots_wanted": int, "seed": int, "status": str, "paused": int,
            "prompt_set_id": int, "providers": str, "burn_subtitles": int, "font": str,
            "takes": str, "created": str, "updated": str,
        },
        pk="id", not_null={"name", "topic"},
    )
    db.table("projects").create_index(["status"])

    db.table("stages").create(
        {"project_id": int, "stage": str, "status": str, "error": str, "retries": int,
         "ran": int, "skipped": int, "failed": int, "started": str, "finished": str},
        pk=("project_id", "stage"), foreign_keys=[("project_id", "projects", "id")],
    )

    db.table("prompt_sets").create(
        {"id": int, "name": str, "language": str, "description": str, "is_default": int,
         "builtin": int, "created": str},
        pk="id",
    )
    db.table("prompt_sets").create_index(["name"], unique=True)
    db.table("prompt_templates").create(
        {"id": int, "set_id": int, "stage": str, "version": int, "body": str, "system": str,
         "variables": str, "note": str, "created": str},
        pk="id", foreign_keys=[("set_id", "prompt_sets", "id")],
    )
    db.table("prompt_templates").create_index(["set_id", "stage", "version"], unique=True)

    db.table("stories").create(
        {"id": int, "project_id": int, "version": int, "text": str, "key": str, "source": str,
         "template_id": int, "call_id": int, "created": str},
        pk="id", foreign_keys=[("project_id", "projects", "id")],
    )
    db.table("stories").create_index(["project_id", "version"], unique=True)
    db.table("stories").create_index(["key"])

    db.table("storyboards").create(
        {"id": int, "project_id": int, "key": str, "story_id": int, "template_id": int,
         "call_id": int, "raw": str, "repairs": str, "created": str},
        pk="id", foreign_keys=[("project_id", "projects", "id")],
    )
    db.table("storyboards").create_index(["project_id", "key"])

    db.table("shots").create(
        {"id": int, "project_id": int, "seq": int, "scene": str, "narration": str,
         "image_prompt": str, "negative_prompt": str, "duration_s": float, "seed": int,
         "created": str, "updated": str},
        pk="id", foreign_keys=[("project_id", "projects", "id")],
    )
    db.table("shots").create_index(["project_id", "seq"])

    db.table("images").create(
        {"id": int, "project_id": int, "shot_id": int, "key": str, "media": str, "thumb": str,
         "prompt": str, "params": str, "provider": str, "chosen": int, "status": str,
         "error": str, "retries": int, "created": str},
        pk="id", foreign_keys=[("project_id", "projects", "id")],
    )
    db.table("images").create_index(["shot_id", "chosen"])
    db.table("images").create_index(["project_id", "status"])
    db.table("images").create_index(["key"])

    db.table("camera").create(
        {"id": int, "project_id": int, "shot_id": int, "movement": str, "params": str,
         "source": str, "key": str, "created": str},
        pk="id", foreign_keys=[("project_id", "projects", "id")],
    )
    db.table("camera").create_index(["shot_id"], unique=True)
    db.table("camera_presets").create(
        {"name": str, "movement": str, "params": str, "description": str, "builtin": int},
        pk="name",
    )

    db.table("clips").create(
        {"id": int, "project_id": int, "shot_id": int, "key": str, "image_id": int,
         "media": str, "movement": str, "params": str, "duration_s": float, "width": int,
         "height": int, "fps": int, "provider": str, "status": str, "error": str,
         "retries": int, "created": str},
        pk="id", foreign_keys=[("project_id", "projects", "id")],
    )
    db.table("clips").create_index(["shot_id", "status"])
    db.table("clips").create_index(["key"])

    db.table("narrations").create(
        {"id": int, "project_id": int, "shot_id": int, "key": str, "media": str,
         "duration_s": float, "provider": str, "status": str, "error": str, "retries": int,
         "created": str},
        pk="id", foreign_keys=[("project_id", "projects", "id")],
    )
    db.table("narrations").create_index(["key"])

    db.table("exports").create(
        {"id": int, "project_id": int, "key": str, "video": str, "subtitles": str,
         "path": str, "srt_path": str, "duration_s": float, "status": str, "error": str,
         "created": str},
        pk="id", foreign_keys=[("project_id", "projects", "id")],
    )
    db.table("exports").create_index(["project_id", "key"])

    db.table("providers").create(
        {"id": int, "kind": str, "name": str, "type": str, "url": str, "key_encrypted": str,
         "model": str, "params": str, "weight": float, "priority": int, "rpm": int, "rpd": int,
         "timeout": float, "price": str, "active": int, "builtin": int, "created": str},
        pk="id",
    )
    db.table("providers").create_index(["name"], unique=True)
    db.table("providers").create_index(["kind", "active"])

    db.table("calls").create(
        {"id": int, "provider": str, "kind": str, "project_id": int, "stage": str,
         "job_key": str, "request": str, "response": str, "tokens_in": int,
         "tokens_out": int, "latency_ms": float, "cost": float, "status": str, "error": str,
         "created": str},
        pk="id",
    )
    db.table("calls").create_index(["project_id", "stage"])
    db.table("calls").create_index(["provider", "created"])


@migrations()
def m101_provider_routing(db: sqlite_utils.Database) -> None:
    """Configured providers (concurrency, key hint, edit time), every attempt in the call log
    (error class, attempt number, route), requests per provider per day (rpd survives a restart)
    and submitted asynchronous tasks (a restart resumes polling instead of paying again)."""
    providers = db.table("providers")
    for column, kind in (("concurrency", int), ("key_hint", str), ("updated", str)):
        if column not in providers.columns_dict:
            providers.add_column(column, kind)
    calls = db.table("calls")
    for column, kind in (("error_class", str), ("attempt", int), ("route", str)):
        if column not in calls.columns_dict:
            calls.add_column(column, kind)
    db.table("calls").create_index(["created"], if_not_exists=True)
    db.table("provider_usage").create(
        {"provider": str, "day": str, "requests": int}, pk=("provider", "day"), if_not_exists=True)
    db.table("provider_tasks").create(
        {"id": int, "provider": str, "job_key": str, "task_id": str, "status": str,
         "created": str, "updated": str},
        pk="id", if_not_exists=True)
    db.table("provider_tasks").create_index(["provider", "job_key"], if_not_exists=True)


@migrations()
def m201_ab_runs(db: sqlite_utils.Database) -> None:
    """A/B runs of prompt template versions (storynb.abtest): one row per arm × input, with the
    output, tokens, latency, cost, a human rating and an optional judge's score and notes."""
    db.table("ab_runs").create(
        {"id": int, "experiment": str, "stage": str, "arm": str, "key": str, "template_id": int,
         "set_name": str, "version": int, "topic": str, "variables": str, "prompt": str,
         "output": str, "status": str, "error": str, "provider": str, "model": str,
         "tokens_in": int, "tokens_out": int, "latency_ms": float, "cost": float, "call_id": int,
         "rating": int, "rating_note": str, "rated": str, "judge": str, "judge_score": float,
         "judge_notes": str, "created": str},
        pk="id", if_not_exists=True,
    )
    db.table("ab_runs").create_index(["experiment", "key"], if_not_exists=True)


@migrations()
def m301_run_lease(db: sqlite_utils.Database) -> None:
    """Which process is running a project, and when it last said so (see storynb.lease)."""
    db.table("projects").add_column("run_owner", str)
    db.table("projects").add_column("run_heartbeat", float)


@migrations()
def m302_hand_edits(db: sqlite_utils.Database) -> None:
    """Whether shots were edited by hand since the last storyboard (so a new storyboard does not
    silently replace them), and when the user picked an image."""
    db.table("projects").add_column("shots_edited", int, not_null_default=0)
    db.table("images").add_column("picked_at", str)
    db.table("exports").add_column("published", str)  # when this export last became the project's video


@migrations()
def m303_project_templates(db: sqlite_utils.Database) -> None:
    """Saved project settings (style, aspect, prompt set, providers …) to start new projects from."""
    db.table("project_templates").create({"name": str, "settings": str, "created": str}, pk="name")


@migrations()
def m400_durable_runs(db: sqlite_utils.Database) -> None:
    """Runs and jobs as rows (storynb.jobs): every unit of work with its state, attempts and lease;
    the workers that serve a studio; which worker made each call; and the pacing of each
    provider's requests per minute, shared by every process of the studio."""
    db.table("runs").create(
        {"id": int, "project_id": int, "stages": str, "state": str, "executor": str,
         "owner": str, "heartbeat": float, "requested": str, "started": str, "finished": str,
         "summary": str, "error": str},
        pk="id", if_not_exists=True)
    db.table("runs").create_index(["project_id", "id"], if_not_exists=True)
    db.table("runs").create_index(["state"], if_not_exists=True)
    db.table("jobs").create(
        {"id": int, "run_id": int, "project_id": int, "stage": str, "key": str, "shot_id": int,
         "label": str, "state": str, "attempts": int, "owner": str, "heartbeat": float,
         "call_id": int, "error": str, "created": str, "started": str, "finished": str},
        pk="id", if_not_exists=True)
    db.table("jobs").create_index(["project_id", "stage", "key"], unique=True, if_not_exists=True)
    db.table("jobs").create_index(["run_id", "stage", "state"], if_not_exists=True)
    db.table("workers").create(
        {"name": str, "kind": str, "host": str, "pid": int, "heartbeat": float,
         "started": str, "studio": str},
        pk="name", if_not_exists=True)
    db.table("provider_pacing").create({"provider": str, "next_at": float}, pk="provider",
                                 if_not_exists=True)
    if "worker" not in db["calls"].columns_dict:
        db.table("calls").add_column("worker", str)
    for column in ("total", "running"):
        if column not in db["stages"].columns_dict:
            db.table("stages").add_column(column, int)


@migrations()
def m709_viewer(db: sqlite_utils.Database) -> None:
    """What a viewer sees and hears: word timings and the voice of each narration, the sound
    settings of a project (loudness target, background music, word highlight), the .ass and
    warnings of an export, and the check of every export."""
    columns: dict[str, dict[str, type]] = {
        "narrations": {"words": str, "engine": str, "voice": str},
        "projects": {"loudness_lufs": float, "music": str, "music_name": str,
                     "music_level_db": float, "highlight_words": int},
        "exports": {"ass": str, "ass_path": str, "warnings": str, "narrated": int},
    }
    for table, wanted in columns.items():
        have = db[table].columns_dict
        for column, kind in wanted.items():
            if column not in have:
                db.table(table).add_column(column, kind)
    db.table("export_checks").create(
        {"id": int, "project_id": int, "export_id": int, "video": str, "passed": int,
         "results": str, "created": str},
        pk="id", foreign_keys=[("project_id", "projects", "id")], if_not_exists=True)
    db.table("export_checks").create_index(["project_id", "export_id"], if_not_exists=True)


@migrations()
def m713_experiments(db: sqlite_utils.Database) -> None:
    """Prompt experiments a prompt engineer can trust (storynb.experiments): an experiment pinned
    to a stage and a provider, versioned case sets with assertions, per-run checks and sample
    numbers, pairwise and pointwise judgments kept side by side (history, cost), and template
    suggestions queued as the next experiment's arms."""
    db.table("ab_experiments").create(
        {"name": str, "stage": str, "provider": str, "model": str, "params": str,
         "samples": int, "config": str, "case_set": str, "case_version": int, "offline": int,
         "warnings": str, "arms": str, "baseline": str, "created": str, "updated": str},
        pk="name", if_not_exists=True)
    db.table("ab_case_sets").create(
        {"id": int, "name": str, "version": int, "language": str, "description": str,
         "cases": str, "note": str, "created": str},
        pk="id", if_not_exists=True)
    db.table("ab_case_sets").create_index(["name", "version"], unique=True, if_not_exists=True)
    runs = db.table("ab_runs")
    for column, kind in (("sample", int), ("position", int), ("case_id", str), ("params", str),
                         ("config", str), ("checks", str), ("passed", int), ("checked", int),
                         ("traits", str)):
        if column not in runs.columns_dict:
            runs.add_column(column, kind)
    runs.create_index(["experiment", "config"], if_not_exists=True)
    db.table("ab_judgments").create(
        {"id": int, "experiment": str, "kind": str, "judge": str, "label": str, "model": str,
         "key": str, "run_a": int, "run_b": int, "arm_a": str, "arm_b": str, "topic": str,
         "sample": int, "first": str, "second": str, "winner": str, "consistent": int,
         "score": float, "reason": str, "cost": float, "tokens": int, "call_ids": str,
         "created": str},
        pk="id", if_not_exists=True)
    db.table("ab_judgments").create_index(["experiment", "judge"], if_not_exists=True)
    db.table("ab_judgments").create_index(["key"], if_not_exists=True)
    db.table("ab_suggestions").create(
        {"id": int, "experiment": str, "stage": str, "base_template_id": int, "template_id": int,
         "critic": str, "label": str, "rationale": str, "diff": str, "status": str,
         "cost": float, "created": str},
        pk="id", if_not_exists=True)


@migrations()
def m712_batch_items(db: sqlite_utils.Database) -> None:
    """Batch runs (storynb.batch): one row per topic row of a batch (the output folder names the
    batch), the project made for it, and where its video and executed report notebook are."""
    db.table("batch_items").create(
        {"id": int, "batch": str, "row": int, "topic": str, "settings": str, "key": str,
         "project_id": int, "status": str, "video": str, "notebook": str, "report_key": str,
         "seconds": float, "error": str, "created": str, "updated": str},
        pk="id", foreign_keys=[("project_id", "projects", "id")], if_not_exists=True)
    db.table("batch_items").create_index(["batch", "key"], if_not_exists=True)
    db.table("batch_items").create_index(["project_id"], if_not_exists=True)


@migrations()
def m712_characters(db: sqlite_utils.Database) -> None:
    """Character sheets (storynb.characters): per project, each character's locked description,
    reference images (media names, JSON), voice and seed; and which characters each shot shows
    (a JSON list of names; NULL until the storyboard's character step or a hand edit sets it)."""
    db.table("characters").create(
        {"id": int, "project_id": int, "name": str, "description": str, "locked": int,
         "refs": str, "voice": str, "seed": int, "source": str, "created": str, "updated": str},
        pk="id", foreign_keys=[("project_id", "projects", "id")], if_not_exists=True)
    db.table("characters").create_index(["project_id", "name"], unique=True, if_not_exists=True)
    if "characters" not in db["shots"].columns_dict:
        db.table("shots").add_column("characters", str)


@migrations()
def m715_long_form(db: sqlite_utils.Database) -> None:
    """Long form (storynb.longform): a project's source text (a chapter or a short novel), whether
    it is narrated as it is, the target length of its adaptation and whether the export also makes
    a video per chapter; each shot's chapter; the stored answers of chunked rewrite and
    storyboard jobs (so putting the shots together is cheap); one export row per chapter video."""
    projects = db.table("projects")
    for column, kind, default in (("source_text", str, None), ("as_is", int, 0),
                                  ("target_length", int, None), ("by_chapter", int, 0)):
        if column not in projects.columns_dict:
            if default is None:
                projects.add_column(column, kind)
            else:
                projects.add_column(column, kind, not_null_default=default)
    if "chapter" not in db["shots"].columns_dict:
        db.table("shots").add_column("chapter", str)
    if "chapter" not in db["exports"].columns_dict:
        db.table("exports").add_column("chapter", str)
    db.table("chunks").create(
        {"id": int, "project_id": int, "kind": str, "idx": int, "key": str, "chapter": str,
         "text": str, "result": str, "repairs": str, "call_id": int, "created": str},
        pk="id", foreign_keys=[("project_id", "projects", "id")], if_not_exists=True)
    db.table("chunks").create_index(["project_id", "kind", "key"], if_not_exists=True)
