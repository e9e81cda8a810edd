"""`storynb batch`: a CSV of topics becomes projects, videos and executed report notebooks; a
rerun does nothing that is done; bad input is refused before any work."""
import csv
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("papermill")

TOPICS = ("topic,style,shots,seed\n"
          "A lighthouse keeper befriends a lost whale,warm,4,7\n"
          "A robot learns to paint the sea,whimsical,4,8\n"
          "\"A fox, a crow and a wheel of cheese\",suspense,4,9\n")


def batch(studio: Path, topics: Path, out: Path, *extra: str):
    return subprocess.run([sys.executable, "-m", "storynb.cli", "--studio", str(studio), "batch",
                           str(topics), "--out", str(out), "--size", "144x256", "--fps", "12",
                           "--concurrency", "2", *extra],
                          capture_output=True, text=True, timeout=900)


def calls(studio: Path) -> int:
    with sqlite3.connect(studio) as conn:
        return conn.execute("select count(*) from calls").fetchone()[0]


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    topics = root / "topics.csv"
    topics.write_text(TOPICS, encoding="utf-8")
    studio, out = root / "studio.db", root / "out"
    first = batch(studio, topics, out)
    return root, studio, topics, out, first


def test_three_topics_make_three_videos_and_three_executed_notebooks(ran):
    from storynb.render.compose import probe

    root, studio, topics, out, first = ran
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    with open(out / "summary.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["topic"] for r in rows] == ["A lighthouse keeper befriends a lost whale",
                                          "A robot learns to paint the sea",
                                          "A fox, a crow and a wheel of cheese"]
    assert {r["status"] for r in rows} == {"done"}
    assert len({r["project_id"] for r in rows}) == 3
    for row in rows:
        video, notebook = Path(row["video"]), Path(row["notebook"])
        assert video.parent.parent == out and video.parent == notebook.parent
        info = probe(video)
        assert info["video_codec"] == "h264" and (info["width"], info["height"]) == (144, 256)
        assert info["duration"] > 4
        document = json.loads(notebook.read_text(encoding="utf-8"))
        assert document["metadata"]["papermill"]["parameters"]["project_id"] == int(row["project_id"])
        outputs = [o for c in document["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
        assert not [o for o in outputs if o["output_type"] == "error"]
        text = json.dumps(outputs)
        assert row["topic"].replace('"', '\\"') in text          # the title
        assert "data:image/jpeg;base64," in text                  # thumbnails
        assert "<video" in text and "video.mp4" in text           # the video
        assert "calls, $" in text                                 # calls and cost
        assert int(row["calls"]) > 0


def test_a_second_run_makes_no_calls_and_executes_no_notebook(ran):
    root, studio, topics, out, first = ran
    assert first.returncode == 0
    before = calls(studio)
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*/report.ipynb")}
    assert len(stamps) == 3
    again = batch(studio, topics, out)
    assert again.returncode == 0, again.stderr[-3000:]
    assert calls(studio) == before
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/report.ipynb")} == stamps
    with sqlite3.connect(studio) as conn:
        assert conn.execute("select count(*) from projects").fetchone()[0] == 3


def test_a_new_row_only_adds_that_topic(ran):
    root, studio, topics, out, first = ran
    assert first.returncode == 0
    more = root / "more.csv"
    more.write_text(TOPICS + "A paper boat crosses a puddle ocean,epic,4,10\n", encoding="utf-8")
    with sqlite3.connect(studio) as conn:
        old = conn.execute("select count(*) from calls where project_id <= 3").fetchone()[0]
    result = batch(studio, more, out, "--no-notebooks")
    assert result.returncode == 0, result.stderr[-3000:]
    with sqlite3.connect(studio) as conn:
        assert conn.execute("select count(*) from projects").fetchone()[0] == 4
        assert conn.execute("select count(*) from calls where project_id <= 3").fetchone()[0] == old


def test_bad_topic_files_are_refused_before_any_work(tmp_path):
    studio = tmp_path / "studio.db"
    cases = {"no-topic.csv": ("title\nA whale\n", "no 'topic' column"),
             "unknown.csv": ("topic,colour\nA whale,blue\n", "unknown column(s) ['colour']"),
             "empty-row.csv": ("topic,style\n,warm\n", "row 1 has no topic"),
             "bad-shots.csv": ("topic,shots\nA whale,many\n", "shots must be a whole number"),
             "bad-aspect.csv": ("topic,aspect\nA whale,4:3\n", "row 1: aspect '4:3'")}
    for name, (body, message) in cases.items():
        path = tmp_path / name
        path.write_text(body, encoding="utf-8")
        result = batch(studio, path, tmp_path / "out")
        assert result.returncode == 2, (name, result.stderr)
        assert message in result.stderr, (name, result.stderr)
    missing = batch(studio, tmp_path / "nope.csv", tmp_path / "out")
    assert missing.returncode == 2 and "no topics file" in missing.stderr
    with sqlite3.connect(studio) as conn:
        assert conn.execute("select count(*) from calls").fetchone()[0] == 0


def test_a_shared_budget_stops_new_work_and_a_larger_one_continues(tmp_path, monkeypatch):
    from fakes.helpers import make_studio
    from fakes.servers import OpenAIFake

    from storynb.batch import batch_cost, run_batch

    studio = make_studio(tmp_path, monkeypatch)
    topics = tmp_path / "topics.csv"
    topics.write_text(TOPICS, encoding="utf-8")
    out = tmp_path / "out"
    with OpenAIFake(key="sk-img-key-1234567890") as server:
        studio.providers.add("img", "text2image", "openai_images", url=server.url + "/v1",
                             key="sk-img-key-1234567890", model="gpt-image-1",
                             price={"per_call": 0.04}, concurrency=1)
        settings = {"size": (144, 256), "fps": 12, "providers": {"text2image": "img"}}
        table = run_batch(studio, topics, out, concurrency=1, budget=0.10, notebooks=False,
                          defaults=settings)
        spent = batch_cost(studio, str(out.resolve()))
        assert 0.10 <= spent <= 0.10 + 0.04 + 1e-9  # at most the one image in flight
        assert list(table["status"]) == ["budget", "budget", "budget"]
        assert "budget" in table["error"][1]
        assert len(server.hits("images")) == round(spent / 0.04)
        table = run_batch(studio, topics, out, concurrency=1, budget=1.0, notebooks=False,
                          defaults=settings)
        assert list(table["status"]) == ["done", "done", "done"]
        assert len(server.hits("images")) == 12  # 4 shots x 3 topics, none bought twice


def test_the_shipped_report_is_what_build_py_writes():
    import importlib.util

    import nbformat

    from storynb.batch import report_template

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("storynb_build_report", root / "notebooks" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert report_template().read_text(encoding="utf-8") == nbformat.writes(build.report_notebook()) + "\n"
    cells = build.report_notebook().cells
    assert cells[0].metadata["tags"] == ["parameters"]
