"""Plans each stage's jobs, skips the ones whose key already has a finished artifact, runs the
rest concurrently within each provider's cap, and reports progress to observers."""
from __future__ import annotations

import asyncio
import hashlib
import json
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

STAGES = ("rewrite", "storyboard", "images", "camera", "clips", "export")


def job_key(stage: str, **parts: Any) -> str:
    """A hash of everything that determines a job's output."""
    blob = json.dumps({"stage": stage, **parts}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


@dataclass
class Job:
    stage: str
    key: str
    label: str
    run: Callable[[], Awaitable[None]]
    done: Callable[[], bool]
    shot_id: int | None = None
    limit: str = "default"  # the concurrency group (usually the provider name)
    cap: int = 2  # how many jobs of that group may run at once
    on_failure: Callable[[str], None] | None = None
    pending_shots: Callable[[], list[int]] | None = None  # the shots a run would redo (storynb.usage)


@dataclass
class Event:
    """A progress event. kind: run_start, stage_start, job_start, job_done, job_skipped,
    job_failed, stage_done, run_done."""

    kind: str
    project_id: int
    stage: str | None = None
    label: str = ""
    done: int = 0
    total: int = 0
    status: str = ""
    message: str = ""
    data: dict = field(default_factory=dict)


@dataclass
class StageReport:
    stage: str
    status: str  # done | skipped (nothing to do) | failed | paused | skipped_by_user
    ran: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        if self.status == "skipped_by_user":
            return f"{self.stage}: skipped (by request)"
        text = f"{self.stage}: {self.status} ({self.ran} ran, {self.skipped} up to date"
        text += f", {self.failed} failed)" if self.failed else ")"
        return text


@dataclass
class RunReport:
    project_id: int
    status: str  # done | failed | paused
    stages: list[StageReport] = field(default_factory=list)
    seconds: float = 0.0
    text: str = ""  # the stored summary of a run carried out by another process

    def summary(self) -> str:
        if self.text and not self.stages:
            return self.text
        lines = [r.line() for r in self.stages]
        for report in self.stages:
            lines += [f"  {err}" for err in report.errors]
        lines.append(f"project {self.project_id}: {self.status} in {self.seconds:.1f}s")
        return "\n".join(lines)


class Observers:
    """One observer API: callables that receive every Event (the CLI and widgets subscribe)."""

    def __init__(self):
        self._observers: list[Callable[[Event], None]] = []

    def subscribe(self, fn: Callable[[Event], None]) -> Callable[[], None]:
        self._observers.append(fn)
        return lambda: self._observers.remove(fn) if fn in self._observers else None

    def emit(self, event: Event) -> None:
        for fn in list(self._observers):
            try:
                fn(event)
            except Exception:  # an observer must never break a run
                traceback.print_exc()


async def run_jobs(jobs: list[Job], *, report: StageReport, emit, caps: dict[str, int],
                   paused: Callable[[], bool], book=None) -> None:
    """Run a stage's jobs: skip finished ones, run the others concurrently within caps.

    Failures are recorded by each job's `on_failure` and counted; the other jobs go on.
    A pause request stops new jobs from starting; jobs already running finish.
    """
    offset = _finished(report)  # a stage with several phases keeps counting
    total = offset + len(jobs)
    todo, finished = [], {}
    for job in jobs:
        finished[job.key] = job.done()
        if not finished[job.key]:
            todo.append(job)
    if book is not None:  # every planned job is a row before anything runs
        book.plan(jobs, finished)
    for job in jobs:
        if finished[job.key]:
            report.skipped += 1
            emit("job_skipped", label=job.label, done=_finished(report), total=total)
    semaphores = {name: asyncio.Semaphore(caps.get(name, 2)) for name in {j.limit for j in todo}}

    async def one(job: Job) -> None:
        async with semaphores[job.limit]:
            if paused():
                report.status = "paused"
                if book is not None:
                    book.cancelled(job.key)
                return
            if book is not None:
                book.claim(job.key)
            emit("job_start", label=job.label, done=_finished(report), total=total)
            try:
                await job.run()
            except Exception as exc:  # failures are data: recorded, counted, the rest goes on
                message = f"{job.label}: {_describe(exc)}"
                report.failed += 1
                report.errors.append(message)
                if job.on_failure:
                    job.on_failure(_describe(exc))
                if book is not None:
                    book.failed(job.key, _describe(exc))
                emit("job_failed", label=job.label, done=_finished(report), total=total,
                     message=message)
            else:
                report.ran += 1
                if book is not None:
                    book.done(job.key)
                emit("job_done", label=job.label, done=_finished(report), total=total)

    await asyncio.gather(*(one(job) for job in todo))


def _finished(report: StageReport) -> int:
    return report.ran + report.skipped + report.failed


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text if len(text) < 600 else text[:600] + "…"


def now_seconds() -> float:
    return time.perf_counter()
