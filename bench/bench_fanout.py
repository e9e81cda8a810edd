"""Fan-out benchmark: 24 shots' images through a fake image service (real HTTP on 127.0.0.1)
with a fixed latency, a concurrency cap and a requests-per-minute limit, run by the pipeline's
images stage (runner + router + adapter + media store).

    python bench/bench_fanout.py

For each setting it prints the wall time against the bound max(N·latency/concurrency, N/rpm),
the ratio (target: within 1.2x), and the time of a sequential loop over the same provider and
limits (what most tools do: one call after another).

The rpm limiter spaces calls evenly (60/rpm apart, no bursts), so even a perfect scheduler
starts the first `concurrency` calls (concurrency-1)·60/rpm apart; the column "strict" is the
bound with that stagger: max(N·latency/concurrency + (concurrency-1)·60/rpm,
(N-1)·60/rpm + latency).
"""
from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fakes import OpenAIFake  # noqa: E402
from storynb import Studio  # noqa: E402
from storynb.providers.base import ImageRequest  # noqa: E402
from storynb.routing import call  # noqa: E402

N = 24
SETTINGS = [  # (latency s, concurrency, rpm): bound by latency/concurrency, by rpm, and both
    (0.50, 4, 600),
    (0.25, 8, 480),
    (0.40, 6, 600),
    (0.25, 4, 1200),
]


def project_with_shots(studio, n: int, tag: str):
    project = studio.create_project(f"A lighthouse keeper befriends a lost whale ({tag})",
                                    size=(144, 256), fps=12, shots=4, seed=3,
                                    providers={"text2image": "fake-images"})
    project.run(["rewrite", "storyboard"])
    while len(project.shots()) < n:
        k = len(project.shots()) + 1
        project.add_shot(f"Shot {k}: the whale surfaces again.", image_prompt=f"whale, moonlight, shot {k}")
    for shot in project.shots():  # a distinct prompt per shot (so no image is shared)
        project.edit_shot(shot["seq"], image_prompt=f"{shot['image_prompt']} [{tag} {shot['seq']}]")
    return project


def sequential(studio, project) -> float:
    route = project.provider("text2image")

    async def loop():
        for shot in project.shots():
            request = ImageRequest(prompt=shot["image_prompt"] + " [sequential]", width=144,
                                   height=256, seed=shot["seed"])
            out = Path(tempfile.mktemp(suffix=".png"))
            await call(studio, route, "generate", request, project_id=project.id, stage="bench",
                              out_path=out)
            out.unlink(missing_ok=True)

    started = time.perf_counter()
    asyncio.run(loop())
    return time.perf_counter() - started


def main() -> int:
    os.environ.setdefault("STORYNB_KEY_FILE", str(Path(tempfile.mkdtemp()) / "secret.key"))
    print(f"fan-out: {N} shots through a fake image service on 127.0.0.1 (real HTTP)")
    print(f"{'latency':>8} {'conc':>5} {'rpm':>5} | {'bound s':>8} {'strict s':>8} {'storynb s':>9} "
          f"{'ratio':>6} | {'sequential s':>12} {'speed-up':>8} | max in flight")
    worst = 0.0
    for latency, concurrency, rpm in SETTINGS:
        with tempfile.TemporaryDirectory() as folder, OpenAIFake(latency=latency) as server:
            studio = Studio(Path(folder) / "studio.db")
            studio.providers.add("fake-images", "text2image", "openai_images",
                                 url=server.url + "/v1", model="gpt-image-1",
                                 concurrency=concurrency, rpm=rpm, timeout=30)
            project = project_with_shots(studio, N, f"{latency}-{concurrency}-{rpm}")
            assert studio.providers.test("fake-images")["ok"]  # warm up: imports, TLS context
            time.sleep(60 / rpm)  # the limiter's window is clear, as for a fresh run
            started = time.perf_counter()
            report = project.run(["images"])
            wall = time.perf_counter() - started
            assert report.status == "done", report.summary()
            assert report.stages[0].ran == N
            peak = server.max_in_flight
            time.sleep(60 / rpm)
            seq = sequential(studio, project)
            bound = max(N * latency / concurrency, N / rpm * 60)
            strict = max(N * latency / concurrency + (concurrency - 1) * 60 / rpm,
                         (N - 1) * 60 / rpm + latency)
            worst = max(worst, wall / bound)
            print(f"{latency:>8.2f} {concurrency:>5} {rpm:>5} | {bound:>8.2f} {strict:>8.2f} "
                  f"{wall:>9.2f} {wall / bound:>5.2f}x | {seq:>12.2f} {seq / wall:>7.1f}x | {peak}")
            studio.close()
    print(f"worst ratio to the bound: {worst:.2f}x (target ≤ 1.20x; a benchmark reports, it does "
          "not fail)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
