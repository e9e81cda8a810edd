"""Batch runs: a table of topics becomes many projects, each with an executed report notebook.

`run_batch(studio, "topics.csv", "out/")` reads a CSV with a `topic` column (and optional
per-row settings: name, language, style, length, audience, aspect, fps, shots, seed, size,
prompt_set, template, burn_subtitles), makes one project per row and runs them, `concurrency`
projects at a time in one event loop (so every provider's rate limits, held by the studio, are
shared by all of them), stopping new work once the batch's calls cost `budget` (USD). Each
finished project gets `out/NNN-<name>/report.ipynb` (story, storyboard, thumbnails, the video,
calls and cost), executed with papermill, and its video beside it; `out/summary.csv` is the
summary table.

A rerun is a resume: each row's project is found again (the row's topic and settings are its
key, recorded in `batch_items`), finished work is skipped by the engine, and a report whose
export has not changed is not executed again. `storynb batch topics.csv --out DIR` is the CLI.
"""
from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import time
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from .db import now
from .errors import InvalidInput
from .files import atomic_path

SETTINGS = ("name", "language", "style", "length", "audience", "aspect", "fps", "shots", "seed",
            "size", "prompt_set", "template", "burn_subtitles")
INTS = ("fps", "shots", "seed")
SUMMARY = ("row", "topic", "project_id", "status", "video", "notebook", "calls", "cost",
           "seconds", "error")


def read_topics(path) -> list[dict]:
    """The rows of a topics CSV as [{"row", "topic", "settings"}], checked before any work:
    a missing `topic` column, an empty topic or an unknown column is an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no topics file at {path}: give a CSV with a 'topic' column")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        if "topic" not in columns:
            raise InvalidInput(f"{path} has no 'topic' column (its columns: {columns or 'none'}); "
                               "the first line must name the columns, e.g. topic,style")
        unknown = [c for c in columns if c and c != "topic" and c not in SETTINGS]
        if unknown:
            raise InvalidInput(f"{path}: unknown column(s) {unknown}; per-row settings are "
                               f"{', '.join(SETTINGS)}")
        rows = []
        for number, raw in enumerate(reader, start=1):
            raw = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k}
            if not any(raw.values()):
                continue  # a blank line
            if not raw.get("topic"):
                raise InvalidInput(f"{path}: row {number} has no topic")
            settings = {}
            for key in SETTINGS:
                value = raw.get(key, "")
                if value == "":
                    continue
                if key in INTS:
                    try:
                        value = int(value)
                    except ValueError:
                        raise InvalidInput(f"{path}: row {number}: {key} must be a whole number, "
                                           f"not {value!r}") from None
                elif key == "size":
                    try:
                        width, height = (int(v) for v in value.lower().split("x"))
                    except ValueError:
                        raise InvalidInput(f"{path}: row {number}: size is WxH (e.g. 360x640), "
                                           f"not {value!r}") from None
                    value = (width, height)
                elif key == "burn_subtitles":
                    value = value.lower() not in ("0", "no", "false", "off")
                settings[key] = value
            rows.append({"row": number, "topic": raw["topic"], "settings": settings})
    if not rows:
        raise InvalidInput(f"{path} has no topics: add one line per topic under the header")
    return rows


def _key(topic: str, settings: dict, defaults: dict) -> str:
    body = json.dumps({"topic": topic, "settings": {**defaults, **settings}}, sort_keys=True,
                      ensure_ascii=False, default=list)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def _project_for(studio, batch: str, item: dict, defaults: dict):
    """The row's project: found again on a rerun (same row, topic and settings), else new."""
    key = _key(item["topic"], item["settings"], defaults)
    found = studio.db.execute(
        "select b.project_id from batch_items b join projects p on p.id = b.project_id "
        "where b.batch = ? and b.key = ? order by b.id desc limit 1", [batch, key]).fetchone()
    if found:
        return studio.project(found[0]), key
    settings = {**defaults, **item["settings"]}
    project = studio.create_project(item["topic"], **settings)
    studio.db["batch_items"].insert({"batch": batch, "row": item["row"], "topic": item["topic"],
                                     "settings": json.dumps(item["settings"], default=list),
                                     "key": key, "project_id": project.id, "status": "planned",
                                     "created": now(), "updated": now()})
    return project, key


def batch_cost(studio, batch: str) -> float:
    """What the batch's projects have cost so far (USD, from the call log)."""
    return studio.db.execute(
        "select coalesce(sum(c.cost), 0) from calls c where c.project_id in "
        "(select project_id from batch_items where batch = ?)", [batch]).fetchone()[0]


def run_batch(studio, topics, out_dir, *, concurrency: int = 2, budget: float | None = None,
              notebooks: bool = True, defaults: dict | None = None,
              on_progress: Callable[[dict], Any] | None = None):
    """Run every topic of a CSV; returns the summary table (a DataFrame, also out/summary.csv)."""
    items = read_topics(topics)
    if not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidInput(f"concurrency must be a whole number of projects at once, at least 1, "
                           f"not {concurrency!r}")
    if budget is not None and budget < 0:
        raise InvalidInput(f"budget must be zero or more US dollars, not {budget}")
    if notebooks:
        _check_papermill()
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    batch = str(out)
    defaults = dict(defaults or {})
    # one project per row, created (or found again) up front, so the summary lists every row
    planned = []
    for item in items:
        try:
            project, key = _project_for(studio, batch, item, defaults)
        except InvalidInput as exc:
            raise InvalidInput(f"{topics}: row {item['row']}: {exc}") from None
        planned.append((item, project))
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_run_all(studio, batch, planned, out, concurrency, budget, notebooks,
                             on_progress))
    else:  # inside a running loop (a Jupyter cell): run on a thread with its own loop
        import threading

        errors = []

        def work():
            worker = studio.for_thread()
            try:
                asyncio.run(_run_all(worker, batch,
                                     [(i, worker.project(p.id)) for i, p in planned], out,
                                     concurrency, budget, notebooks, on_progress))
            except BaseException as exc:  # handed back to the caller
                errors.append(exc)
            finally:
                worker.close()

        thread = threading.Thread(target=work, name="storynb-batch")
        thread.start()
        thread.join()
        if errors:
            raise errors[0]
    return summary(studio, out)


async def _run_all(studio, batch, planned, out, concurrency, budget, notebooks, on_progress):
    from .pipeline import run_project  # the async run: many projects share this event loop

    gate = asyncio.Semaphore(concurrency)
    over = asyncio.Event()
    running: dict[int, Any] = {}

    def note(item, project, **values):
        values["updated"] = now()
        studio.db.execute("update batch_items set " + ", ".join(f"{k} = ?" for k in values) +
                          " where batch = ? and project_id = ?",
                          [*values.values(), batch, project.id])
        if on_progress:
            on_progress({"row": item["row"], "topic": item["topic"], "project_id": project.id,
                         **values})

    def check_budget(event) -> None:
        # after every finished job of a batch project: once the batch's calls cost the budget,
        # pause every running project (jobs already running finish; no new job starts)
        if budget is None or event.kind not in ("job_done", "job_failed") or \
                event.project_id not in running:
            return
        if batch_cost(studio, batch) >= budget:
            over.set()
            for project in list(running.values()):
                project.pause()

    async def one(item, project):
        async with gate:
            if over.is_set() or (budget is not None and batch_cost(studio, batch) >= budget):
                over.set()
                note(item, project, status="budget", error=f"the batch budget of ${budget:.2f} "
                     "was reached before this topic started; raise --budget and run again")
                return
            started = time.perf_counter()
            note(item, project, status="running", error=None)
            running[project.id] = project
            try:
                if project.row["paused"]:
                    project.db["projects"].update(project.id, {"paused": 0})
                report = await run_project(project)
            except Exception as exc:
                note(item, project, status="failed", error=f"{type(exc).__name__}: {exc}"[:2000])
                return
            finally:
                running.pop(project.id, None)
            status = report.status
            error = None
            if status == "paused" and over.is_set():
                status, error = "budget", (f"paused: the batch budget of ${budget:.2f} was "
                                           "reached; raise --budget and run again to continue")
            elif status == "failed":
                error = next((e for r in report.stages for e in r.errors), "a stage failed")
            seconds = time.perf_counter() - started
            video = _place_video(project, out, item)
            note(item, project, status=status, error=error, seconds=round(seconds, 3),
                 video=str(video) if video else None)
            if notebooks and status == "done":
                try:
                    notebook, stamp, due = _report(studio, project, out, item, batch)
                    if due:
                        await asyncio.to_thread(_execute_report, studio.path, project.id, notebook)
                    note(item, project, notebook=str(notebook), report_key=stamp)
                except Exception as exc:
                    note(item, project, status="failed",
                         error=f"the report notebook failed: {type(exc).__name__}: {exc}"[:2000])

    unsubscribe = studio.events.subscribe(check_budget)
    try:
        await asyncio.gather(*(one(item, project) for item, project in planned))
    finally:
        unsubscribe()


def folder_for(out: Path, item: dict, project) -> Path:
    from .stages.export import file_slug

    return out / f"{item['row']:03d}-{file_slug(project.row['name'])}"


def _place_video(project, out: Path, item: dict) -> Path | None:
    source = project.video_path()
    if not source or not Path(source).exists():
        return None
    from .media import place

    return place(source, folder_for(out, item, project) / "video.mp4")


def report_template() -> Path:
    return Path(str(resources.files("storynb") / "reports" / "report.ipynb"))


def _check_papermill() -> None:
    try:
        import papermill  # noqa: F401
    except ImportError:
        raise InvalidInput("the batch report notebooks need papermill and a Jupyter kernel: "
                           "pip install 'storynb[notebook]' (or run with --no-notebooks)") from None


def _report(studio, project, out: Path, item: dict, batch: str) -> tuple[Path, str, bool]:
    """(the report's path, the export it reports on, whether it must be executed): a report
    whose export has not changed is not executed again."""
    export = project.latest_export()
    folder = folder_for(out, item, project)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "report.ipynb"
    stamp = export["key"] if export else ""
    row = studio.db.execute("select report_key from batch_items where batch = ? and "
                            "project_id = ?", [batch, project.id]).fetchone()
    return target, stamp, not (target.exists() and row and row[0] == stamp)


def _execute_report(studio_path, project_id: int, target: Path) -> None:
    """papermill runs the report notebook in a kernel of its own (which opens the studio there);
    this process opens no second connection for it."""
    import papermill

    with atomic_path(target, suffix=".ipynb") as temp:
        papermill.execute_notebook(
            str(report_template()), str(temp), cwd=str(target.parent), progress_bar=False,
            parameters={"studio_path": str(studio_path), "project_id": project_id},
            kernel_name="python3", log_output=False)


def summary(studio, out_dir):
    """The batch's summary table (one row per topic row), written to out/summary.csv too."""
    import pandas as pd

    out = Path(out_dir).resolve()
    rows = []
    for item in studio.db.query(
            "select b.* from batch_items b join projects p on p.id = b.project_id "
            "where b.batch = ? and b.id in (select max(id) from batch_items where batch = ? "
            "group by row) order by b.row", [str(out), str(out)]):
        calls, cost = studio.db.execute(
            "select count(*), coalesce(sum(cost), 0) from calls where project_id = ?",
            [item["project_id"]]).fetchone()
        rows.append({"row": item["row"], "topic": item["topic"], "project_id": item["project_id"],
                     "status": item["status"], "video": item["video"], "notebook": item["notebook"],
                     "calls": calls, "cost": round(cost, 6), "seconds": item["seconds"],
                     "error": item["error"]})
    frame = pd.DataFrame(rows, columns=list(SUMMARY))
    if out.exists():
        frame.to_csv(out / "summary.csv", index=False)
    return frame


def batches(studio):
    """Every batch in the studio: its folder, topics, and how many are done."""
    import pandas as pd

    return pd.DataFrame(list(studio.db.query(
        "select batch, count(distinct row) as topics, sum(status = 'done') as done, "
        "max(updated) as updated from batch_items group by batch order by updated desc")),
        columns=["batch", "topics", "done", "updated"])
