"""Long-form benchmark: a 250-shot project against a 12-shot one, offline, at 360x640.

    python bench/bench_longform.py [--shots 250] [--fps 24] [--size 360x640]

Both projects narrate slices of the same English text as-is (tests/data/chapter_en.txt), sized
so their shots last about as long, and run the whole pipeline (storyboard in chunks, images,
camera, clips, narration, export). Each project runs in a child process of its own, so its peak
memory is its own: ru_maxrss of that process (and of its ffmpeg children, reported apart). Then
the big project is run again in a fresh process: everything is skipped.

Prints per-shot time and the ratio (target ≤ 1.2x), peak RSS (target < 800 MB) and the rerun
time (target < 2 s).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TEXT = ROOT / "tests" / "data" / "chapter_en.txt"


def text_for(shots: int, words_per_shot: float) -> str:
    """The first paragraphs of the text, about shots × words_per_shot words."""
    out, count = [], 0
    for paragraph in TEXT.read_text(encoding="utf-8").split("\n\n"):
        if count >= shots * words_per_shot:
            break
        out.append(paragraph)
        count += len(paragraph.split())
    return "\n\n".join(out)


def child(args) -> None:
    """Run one project (create it, or run it again) and print what it cost as JSON."""
    from storynb import Studio

    studio = Studio(args.studio)
    width, height = (int(v) for v in args.size.split("x"))
    if args.rerun:
        project = studio.project(args.name)
    else:
        project = studio.create_project("", text=text_for(args.shots, args.words), name=args.name,
                                        as_is=True, shots=args.shots, size=(width, height),
                                        fps=args.fps, seed=7)
    started = time.perf_counter()
    report = project.run()
    seconds = time.perf_counter() - started
    if report.status != "done":
        print(report.summary(), file=sys.stderr)
        raise SystemExit(1)
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    hwm = next((int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmHWM:")), 0)
    print(json.dumps({"shots": project.shot_count(), "seconds": seconds,
                      "video_s": sum(s["duration_s"] for s in project.shots()),
                      "peak_mb": self_kb / 1024, "hwm_mb": hwm / 1024,
                      "children_peak_mb": children_kb / 1024, "video": project.video_path()}))


def run_child(studio: str, name: str, shots: int, words: float, fps: int, size: str,
              rerun: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--child", "--studio", studio, "--name", name,
           "--shots", str(shots), "--words", str(words), "--fps", str(fps), "--size", size]
    if rerun:
        cmd.append("--rerun")
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--rerun", action="store_true")
    parser.add_argument("--studio")
    parser.add_argument("--name", default="long")
    parser.add_argument("--shots", type=int, default=250)
    parser.add_argument("--small", type=int, default=12)
    parser.add_argument("--words", type=float, default=20.0, help="words per shot")
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--size", default="360x640")
    parser.add_argument("--keep", metavar="DIR", help="make the studio in DIR and keep it")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory(prefix="storynb-bench-long-") as folder:
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
        studio = os.path.join(args.keep or folder, "studio.db")
        print(f"{args.size}, {args.fps} fps, offline providers, as-is English text, "
              f"~{args.words:g} words a shot")
        small = run_child(studio, "small", args.small, args.words, args.fps, args.size)
        big = run_child(studio, "big", args.shots, args.words, args.fps, args.size)
        rerun = run_child(studio, "big", args.shots, args.words, args.fps, args.size, rerun=True)
    for label, r in (("small", small), ("big", big)):
        print(f"{label:>6}: {r['shots']:>3} shots, {r['video_s']:7.1f} s of video, run "
              f"{r['seconds']:7.1f} s = {r['seconds'] / r['shots']:.3f} s/shot "
              f"({r['seconds'] / r['video_s']:.3f} s per video second), peak RSS "
              f"{r['peak_mb']:.0f} MB (ffmpeg children peak {r['children_peak_mb']:.0f} MB)")
    ratio = (big["seconds"] / big["shots"]) / (small["seconds"] / small["shots"])
    ratio_video = (big["seconds"] / big["video_s"]) / (small["seconds"] / small["video_s"])
    print(f"per-shot time ratio big/small: {ratio:.2f}x (target <= 1.2x); "
          f"per video second: {ratio_video:.2f}x")
    print(f"peak RSS of the {big['shots']}-shot run: {big['peak_mb']:.0f} MB (target < 800 MB)")
    print(f"rerun: {rerun['seconds']:.2f} s inside the run call, {rerun['process_s']:.2f} s "
          f"with process start (target < 2 s), peak RSS {rerun['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
