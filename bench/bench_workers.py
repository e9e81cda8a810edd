"""Workers benchmark: a 24-shot project (offline providers, 360x640) run in-process and on two
local Celery workers (a real redis-server on 127.0.0.1), side by side in one run; and the queue
overhead per job: no-op jobs per second through the job table in-process and through Celery.

    python bench/bench_workers.py

Prints ratios; needs Debian's redis-server. On a 2-core machine two render workers share the
same two cores as the in-process renderer (which already keeps both busy with the encoder), so
the wall ratio shows the cost of the queue rather than a gain: the gain comes with more machines.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storynb import Studio  # noqa: E402

SHOTS = 24
TOPIC = "A lighthouse keeper befriends a lost whale during the longest storm of the year"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_project(studio: Studio):
    project = studio.create_project(TOPIC, shots=12, size=(360, 640), seed=11)
    project.run(["rewrite", "storyboard"])
    for shot in list(project.shots()):
        project.add_shot(shot["narration"] + " Then the sea was quiet again.",
                         image_prompt=shot["image_prompt"] + ", at dusk", duration_s=3.0)
    assert len(project.shots()) == SHOTS
    return project


def timed_run(project) -> float:
    started = time.perf_counter()
    report = project.run()
    assert report.status == "done", report.summary()
    return time.perf_counter() - started


def noop_jobs_in_process(count: int) -> float:
    from storynb.jobs import JobBook, open_run
    from storynb.runner import Job, StageReport, run_jobs

    with tempfile.TemporaryDirectory() as folder:
        studio = Studio(Path(folder) / "studio.db")
        project = studio.create_project("no-op jobs", shots=4, size=(180, 320))
        run_id = open_run(studio.db, project.id, ["images"], "bench")

        async def nothing():
            return None

        jobs = [Job("images", f"noop-{i}", f"job {i}", nothing, lambda: False) for i in range(count)]
        book = JobBook(studio.db, run_id, project.id, "images")
        started = time.perf_counter()
        asyncio.run(run_jobs(jobs, report=StageReport("images", "done"), emit=lambda *a, **k: None,
                             caps={"default": 8}, paused=lambda: False, book=book))
        return count / (time.perf_counter() - started)


def noop_jobs_celery(executor, count: int, parallel: int) -> float:
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(lambda _: executor.ping(), range(count)))
    return count / (time.perf_counter() - started)


def main() -> int:
    if shutil.which("redis-server") is None:
        print("bench_workers: needs redis-server (apt-get install redis-server); skipped")
        return 0
    from cryptography.fernet import Fernet

    os.environ.setdefault("STORYNB_SECRET_KEY", Fernet.generate_key().decode())
    work = Path(tempfile.mkdtemp(prefix="storynb-bench-workers-"))
    port = free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", str(work)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = []
    try:
        inline = Studio(work / "inline" / "studio.db")
        spread = Studio(work / "celery" / "studio.db")
        for name in ("w1", "w2"):
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "storynb.cli", "--studio", str(spread.path), "worker",
                 "--broker", broker, "-n", f"{name}@%h", "--concurrency", "1"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from storynb.distributed import use_celery

        time.sleep(1.0)
        a, b = make_project(inline), make_project(spread)
        executor = use_celery(spread, broker)
        for _ in range(50):  # the workers are up when they answer
            try:
                executor.ping()
                break
            except Exception:
                time.sleep(0.2)
        in_process = timed_run(a)
        on_workers = timed_run(b)
        served = dict(spread.db.execute("select worker, count(*) from calls where stage = 'clips' "
                                        "group by worker").fetchall())
        print(f"{SHOTS}-shot project, 360x640, offline providers")
        print(f"  in-process          {in_process:7.1f} s")
        print(f"  2 Celery workers    {on_workers:7.1f} s   ratio {on_workers / in_process:.2f}x "
              f"(clips by worker: {served})")
        local = noop_jobs_in_process(500)
        one = noop_jobs_celery(executor, 200, 1)
        many = noop_jobs_celery(executor, 400, 8)
        print("queue overhead (no-op jobs per second)")
        print(f"  in-process job table   {local:8.0f} /s")
        print(f"  Celery, one at a time  {one:8.0f} /s   ({1000 / one:.1f} ms per job)")
        print(f"  Celery, 8 in flight    {many:8.0f} /s")
    finally:
        for process in workers:
            process.kill()
        redis.kill()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
