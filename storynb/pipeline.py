"""Runs a project's stages in order through the runner, records stage status, and turns the
async engine into plain calls that work in a script and inside a running Jupyter kernel."""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Protocol, Sequence

from . import jobs, lease
from .db import now
from .errors import InvalidInput
from .runner import STAGES, Event, RunReport, StageReport, run_jobs
from .stages import PLANNERS


_active: set[tuple[str, int]] = set()
_active_lock = threading.Lock()


class BackgroundRun(Protocol):
    """What `Project.run(background=True)` returns: a RunHandle (a thread of this process) or a
    WorkerRun (the studio's local worker)."""

    project_id: int

    def done(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> RunReport | None: ...


def running_here(project) -> bool:
    """Whether this process is running the project now (in any of its threads)."""
    with _active_lock:
        return (str(project.studio.path), project.id) in _active


class RunHandle:
    """A run going on in a thread of this process (`Project.run(background=True,
    executor="thread")`)."""

    def __init__(self, project, stages, on_event):
        self.project_id = project.id
        self._outcome: dict = {}
        self._token = _claim(project)  # before the thread starts, so a second run is refused
        self._thread = threading.Thread(target=self._work, args=(project, stages, on_event),
                                        name=f"storynb-run-{project.id}", daemon=True)
        self._thread.start()

    def _work(self, project, stages, on_event) -> None:
        # The worker gets its own database connection: SQLite transactions must not interleave
        # with reads and edits made from the caller's thread meanwhile.
        worker_project = type(project)(project.studio.for_thread(), project.id)
        try:
            self._outcome["report"] = asyncio.run(
                _run_project(worker_project, selected_stages(stages), on_event))
        except BaseException as exc:  # handed to whoever asks for the result
            self._outcome["error"] = exc
        finally:
            _release(self._token, worker_project.db)
            worker_project.studio.close()

    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> RunReport | None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            return None
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome["report"]


class WorkerRun:
    """A run queued for (or carried out by) the studio's local worker: what
    `Project.run(background=True)` returns by default. Its state is read from the studio, so it can be followed from any
    process; the run goes on when the caller goes away."""

    def __init__(self, studio, project_id: int, run_id: int):
        self.studio, self.project_id, self.run_id = studio, project_id, run_id
        self._started = time.perf_counter()

    def state(self) -> str:
        """queued, running, done, failed, paused, cancelled, or interrupted (the worker died)."""
        row = self.studio.db["runs"].get(self.run_id)
        if row["state"] == "running" and not lease.held(row["owner"], row["heartbeat"]):
            return "interrupted"
        return row["state"]

    def done(self) -> bool:
        return self.state() not in ("queued", "running")

    def wait(self, timeout: float | None = None) -> RunReport | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done():
            if deadline is not None and time.monotonic() > deadline:
                return None
            time.sleep(0.2)
        row = self.studio.db["runs"].get(self.run_id)
        state = self.state()
        status = state if state in ("done", "failed", "paused") else "failed"
        text = row["summary"] or row["error"] or f"run {self.run_id}: {state}"
        return RunReport(self.project_id, status, seconds=time.perf_counter() - self._started,
                         text=text)


def start(project, stages=None, *, on_event=None, executor: str | None = None) -> BackgroundRun:
    """Start a run in the background and return at once (widgets stay live meanwhile).

    executor "worker" (the default without `on_event`): the studio's local worker process
    carries it out, so it outlives the page, kernel or script that started it. "thread": a
    thread of this process (the default with `on_event`, and for projects that use providers
    registered only in this process with `studio.register`)."""
    selected = selected_stages(stages)
    local_only = _local_only_providers(project)
    if executor is None:
        executor = "thread" if on_event is not None or local_only else "worker"
    if executor == "thread":
        return RunHandle(project, stages, on_event)
    if executor != "worker":
        raise InvalidInput(f"unknown executor {executor!r}: use 'worker' or 'thread'")
    if on_event is not None:
        raise InvalidInput("a run in the worker reports through the studio, not on_event: follow "
                           "it with project.progress() (or use executor='thread')")
    if local_only:
        raise InvalidInput(f"project {project.id} uses provider(s) {', '.join(local_only)} "
                           "registered only in this process: run it here (executor='thread')")
    from .worker_lease import ensure_local_worker

    db = project.db
    with _active_lock:
        busy = (str(project.studio.path), project.id) in _active
    row = project.row
    latest = jobs.latest_run(db, project.id)
    if busy or lease.held(row["run_owner"], row["run_heartbeat"]) or (
            latest and latest["state"] == "queued"):
        raise InvalidInput(f"project {project.id} is already running: wait for it, or pause it")
    db["projects"].update(project.id, {"paused": 0})
    run_id = jobs.request_run(db, project.id, selected, "local")
    ensure_local_worker(project.studio)
    return WorkerRun(project.studio, project.id, run_id)


def run_claimed(project, stages, run_id: int) -> RunReport:
    """Carry out a queued run that this process (a worker) has claimed."""
    token = _claim(project, reset_pause=False)
    try:
        return asyncio.run(_run_project(project, selected_stages(stages), None, run_id=run_id,
                                        executor="local"))
    finally:
        _release(token, project.db)


def _local_only_providers(project) -> list[str]:
    """Providers of the project's routes that exist only as objects in this process."""
    from .providers.base import KINDS

    studio = project.studio
    names = []
    for kind in KINDS:
        for member in getattr(project.provider(kind), "members", []):
            if studio.registered(member.name) is not None and member.name not in studio.builtin_names:
                names.append(member.name)
    return names


def run_sync(project, stages=None, *, on_event=None) -> RunReport:
    """Run to the end. Inside a running event loop (a Jupyter cell) the run happens on a worker
    thread with its own loop, so the call still returns the report."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run_project(project, stages, on_event=on_event))
    report = start(project, stages, on_event=on_event).wait()
    assert report is not None  # wait() without a timeout returns the report
    return report


def selected_stages(stages: str | Sequence[str] | None) -> list[str]:
    """The stages asked for (None: all), in pipeline order; InvalidInput names an unknown one."""
    if stages is None:
        return list(STAGES)
    if isinstance(stages, str):
        stages = [stages]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise InvalidInput(f"unknown stage(s) {unknown}: use {', '.join(STAGES)}")
    return [s for s in STAGES if s in stages]


async def run_project(project, stages=None, *, on_event=None) -> RunReport:
    selected = selected_stages(stages)
    token = _claim(project)
    try:
        return await _run_project(project, selected, on_event)
    finally:
        _release(token, project.db)


def _claim(project, reset_pause: bool = True) -> tuple[str, int]:
    """One run per project: among this process's threads, and (through a lease in the database)
    among processes."""
    token = (str(project.studio.path), project.id)
    with _active_lock:
        if token in _active:
            raise InvalidInput(f"project {project.id} is already running in this process: "
                               "wait for it, or pause it")
        _active.add(token)
    try:
        lease.acquire(project.db, project.id)
        if reset_pause:
            project.db["projects"].update(project.id, {"paused": 0})  # here, so a pause() right
        # after start() (which runs in the caller's thread too) is not undone by the worker
    except BaseException:
        with _active_lock:
            _active.discard(token)
        raise
    return token


def _release(token, db) -> None:
    try:
        lease.release(db, token[1])
    finally:
        with _active_lock:
            _active.discard(token)


async def _run_project(project, selected, on_event, *, run_id: int | None = None,
                       executor: str = "inline") -> RunReport:
    """Run the selected stages, recording the run and every job in the studio."""
    db = project.db
    run_id = jobs.open_run(db, project.id, selected, executor, run_id)
    try:
        report = await _run_stages(project, selected, on_event, run_id)
    except BaseException as exc:
        jobs.close_run(db, run_id, "failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        db["projects"].update(project.id, {"status": "failed", "updated": now()})
        raise
    jobs.close_run(db, run_id, report.status, report.summary())
    return report


async def _run_stages(project, selected, on_event, run_id: int) -> RunReport:
    studio, db = project.studio, project.db
    started = time.perf_counter()
    report = RunReport(project.id, "done")

    def emit(kind, stage=None, **fields):
        event = Event(kind, project.id, stage, **fields)
        studio.events.emit(event)
        if on_event:
            on_event(event)

    db["projects"].update(project.id, {"status": "running", "updated": now()})
    emit("run_start", data={"stages": selected})
    status_of = project.status()
    heartbeat = asyncio.create_task(lease.keep_alive(db, project.id))
    try:
        for stage in selected:
            if status_of.get(stage) == "skipped":
                report.stages.append(StageReport(stage, "skipped_by_user"))
                emit("stage_done", stage, status="skipped")
                continue
            stage_report = await _run_stage(project, stage, emit, run_id)
            report.stages.append(stage_report)
            if stage_report.status in ("failed", "paused"):
                report.status = stage_report.status
                break
    finally:
        heartbeat.cancel()
    report.seconds = time.perf_counter() - started
    final = {"done": "done", "failed": "failed", "paused": "paused"}[report.status]
    db["projects"].update(project.id, {"status": final, "updated": now()})
    emit("run_done", status=report.status, message=report.summary())
    return report


async def _run_stage(project, stage: str, emit, run_id: int | None = None) -> StageReport:
    db = project.db
    report = StageReport(stage, "done")
    started = time.perf_counter()
    previous = db["stages"].get((project.id, stage))
    db["stages"].update((project.id, stage), {
        "status": "running", "error": None, "started": now(), "finished": None,
        "retries": (previous["retries"] or 0) + (1 if previous["status"] == "failed" else 0)})
    emit("stage_start", stage)

    def stage_emit(kind, **fields):
        emit(kind, stage, **fields)

    paused = lambda: bool(db["projects"].get(project.id)["paused"])
    book = jobs.JobBook(db, run_id, project.id, stage)
    try:
        for plan in PLANNERS[stage]:
            planned = plan(project)
            caps = {job.limit: job.cap for job in planned}
            await run_jobs(planned, report=report, emit=stage_emit, caps=caps, paused=paused,
                           book=book)
            if report.failed or report.status == "paused":
                break
    except Exception as exc:  # a planning error (bad storyboard, missing font …)
        report.failed += 1
        report.errors.append(f"{stage}: {exc}")
    if report.failed:
        report.status = "failed"
    elif report.status != "paused" and report.ran == 0:
        report.status = "skipped"
    report.seconds = time.perf_counter() - started
    stored = {"skipped": "done"}.get(report.status, report.status)
    if report.status == "paused":
        stored = "pending"
    db["stages"].update((project.id, stage), {
        "status": stored, "ran": report.ran, "skipped": report.skipped, "failed": report.failed,
        "error": "\n".join(report.errors)[:4000] or None, "finished": now()})
    emit("stage_done", stage, status=report.status, done=report.ran + report.skipped,
         total=report.ran + report.skipped + report.failed, message=report.line())
    return report


def first_unfinished(project) -> str | None:
    for stage, status in project.status().items():
        if status not in ("done", "skipped"):
            return stage
    return None
