"""Long form: a chapter becomes a project of many shots, storyboarded chunk by chunk."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from storynb import Studio
from storynb import longform
from storynb.errors import InvalidInput
from storynb.providers.offline import DraftWriter

from tests.conftest import ffprobe

DATA = Path(__file__).parent / "data"
ZH = (DATA / "chapter_zh.txt").read_text(encoding="utf-8")
EN = (DATA / "chapter_en.txt").read_text(encoding="utf-8")
TINY = {"size": (90, 160), "fps": 4, "seed": 5}


def storynb(*args, studio, stdin=None):
    return subprocess.run([sys.executable, "-m", "storynb.cli", "--studio", str(studio), *args],
                          capture_output=True, text=True, input=stdin, timeout=600)


def bare(text: str) -> str:
    """The words of a text, without whitespace and scene-break marks."""
    text = "\n".join(line for line in text.splitlines() if not longform.SCENE_BREAK.match(line.strip()))
    return re.sub(r"\s+", "", text)


def narrated(project) -> list[str]:
    return [s["narration"] for s in project.shots()]


def test_cli_text_as_is_narrates_every_sentence_of_a_chinese_chapter_once_in_order(tmp_path):
    source = tmp_path / "chapter.txt"
    source.write_text(ZH, encoding="utf-8")
    out = storynb("run", "--text", str(source), "--as-is", "--stage", "rewrite", "--stage",
                  "storyboard", "--size", "90x160", "--fps", "4", studio=tmp_path / "s.db")
    assert out.returncode == 0, out.stderr
    studio = Studio(tmp_path / "s.db")
    project = studio.project(1)
    assert project.row["language"] == "zh" and project.row["as_is"] == 1
    shots = project.shots()
    assert len(shots) >= 60
    assert [s["seq"] for s in shots] == list(range(1, len(shots) + 1))
    assert bare("".join(narrated(project))) == bare(ZH)  # no gap, no repeat, in order
    assert project.story() == ZH.strip()  # as-is: no rewrite
    chunks = studio.db["chunks"].count_where("project_id = ? and kind = 'storyboard'", [project.id])
    assert chunks >= 4  # one job per chunk
    titles = list(project.chapters()["title"])
    assert titles == ["第一章 雨夜渡口", "第二章 沈氏药铺", "第三章 周府深院"]
    assert shots[0]["narration"] == "第一章 雨夜渡口"  # a heading is a shot of its own
    # a sentence is never split across two shots at a chunk border (or anywhere)
    sentences = [p.text for p in longform.pieces_of(ZH, True)]
    joined = "\n".join(narrated(project))
    assert all(sentence in joined for sentence in sentences)
    again = storynb("run", "--text", str(source), "--as-is", "--stage", "rewrite", "--stage",
                    "storyboard", "--size", "90x160", "--fps", "4", studio=tmp_path / "s.db")
    assert again.returncode == 0 and "continuing" in again.stderr
    assert "storyboard: skipped (0 ran" in again.stderr
    estimate = storynb("estimate", "1", studio=tmp_path / "s.db")
    assert estimate.returncode == 0, estimate.stderr


def test_english_text_from_stdin_as_is_and_paged_shots(tmp_path):
    out = storynb("run", "--text", "-", "--as-is", "--stage", "rewrite", "--stage", "storyboard",
                  "--size", "90x160", "--fps", "4", studio=tmp_path / "s.db", stdin=EN)
    assert out.returncode == 0, out.stderr
    project = Studio(tmp_path / "s.db").project(1)
    count = project.shot_count()
    assert 60 <= count <= 300
    assert " ".join(" ".join(narrated(project)).split()) == " ".join(
        " ".join(line for line in EN.splitlines()).split())
    assert [t.split(":")[0] for t in project.chapters()["title"]] == [
        "Chapter One", "Chapter Two", "Chapter Three", "Chapter Four"]
    page = storynb("shots", "1", "--page", "3", "--limit", "7", studio=tmp_path / "s.db")
    assert page.returncode == 0, page.stderr
    rows = [line for line in page.stdout.splitlines()[1:] if line.strip()]
    assert [int(line.split()[0]) for line in rows] == list(range(15, 22))
    assert f"shots 15–21 of {count}" in page.stderr
    beyond = storynb("shots", "1", "--page", "999", studio=tmp_path / "s.db")
    assert beyond.returncode == 2 and f"has {count} shots" in beyond.stderr
    # the same pages from Python
    assert [s["seq"] for s in project.shots(offset=14, limit=7)] == list(range(15, 22))
    assert list(project.storyboard(offset=count - 2, limit=50)["seq"]) == [count - 1, count]


def test_adaptation_condenses_to_the_target_length_and_keeps_the_chapters(studio):
    project = studio.create_project("", text=EN, target_length=1500, **TINY)
    report = project.run(["rewrite", "storyboard"])
    assert report.status == "done", report.summary()
    story = project.story()
    words = len(story.split())
    assert 1200 <= words <= 1800, words
    assert story.count("Chapter ") >= 4
    rewrites = studio.db["chunks"].count_where("project_id = ? and kind = 'rewrite'", [project.id])
    assert rewrites >= 3
    calls = project.calls()
    assert (calls.stage == "rewrite").sum() == rewrites  # one call per part
    assert project.shot_count() >= 20
    assert bare("".join(narrated(project))) == bare(story)
    # run again: every part, the join, every chunk and the assembly are skipped
    again = project.run(["rewrite", "storyboard"])
    assert [r.ran for r in again.stages] == [0, 0], again.summary()


class FlakyWriter:
    """The draft writer, except that it fails part 3 of a storyboard while broken."""

    name, kind, model = "flaky-writer", "llm", "flaky"

    def __init__(self):
        self.broken, self.prompts = True, []
        self.inner = DraftWriter()

    async def complete(self, request):
        self.prompts.append(request.prompt)
        if self.broken and request.task == "storyboard" and request.variables.get("part") == 3:
            raise RuntimeError("the writer lost part 3")
        return await self.inner.complete(request)


def test_a_failed_chunk_is_retried_alone_and_continuity_is_carried(studio):
    writer = FlakyWriter()
    studio.register(writer)
    project = studio.create_project("", text=ZH, as_is=True, providers={"llm": "flaky-writer"},
                                    **TINY)
    report = project.run(["rewrite", "storyboard"])
    assert report.status == "failed"
    board = report.stages[1]
    assert board.failed == 1 and board.ran >= 3 and "lost part 3" in report.summary()
    assert project.shot_count() == 0  # nothing half-assembled
    asked = len(writer.prompts)
    writer.broken = False
    report = project.run(["rewrite", "storyboard"])
    assert report.status == "done", report.summary()
    assert len(writer.prompts) == asked + 1  # only part 3 was asked again
    board = report.stages[1]
    assert board.ran == 3  # part 3, the assembly and the characters step; the finished parts were skipped
    parts = [p for p in writer.prompts if "第 2 部分" in p]
    # part 2 knows the characters so far and the shot before it
    first_part_last = [s for s in project.shots() if s["narration"] in parts[0]]
    assert "林远" in parts[0] and "上一部分的最后一个镜头" in parts[0]
    assert first_part_last and "镜头 " in parts[0]
    seqs = [s["seq"] for s in project.shots()]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 60


def test_whole_video_and_a_video_per_chapter_from_the_cli(tmp_path):
    source = tmp_path / "story.txt"
    source.write_text("Chapter 1\n\nThe fox ran across the frozen field. The hen hid in the barn. "
                      "The farmer woke up.\n\nChapter 2\n\nThe sun rose over the hill. "
                      "The hen laid a golden egg.\n", encoding="utf-8")
    out = storynb("run", "--text", str(source), "--as-is", "--chapters", "--size", "64x112",
                  "--fps", "4", studio=tmp_path / "s.db")
    assert out.returncode == 0, out.stderr
    full = Path(out.stdout.strip().splitlines()[-1])
    listing = storynb("chapters", "1", studio=tmp_path / "s.db")
    assert listing.returncode == 0, listing.stderr
    paths = [Path(line.split()[-1]) for line in listing.stdout.splitlines()]
    assert len(paths) == 2 and all(p.exists() for p in paths)
    assert ["Chapter 1" in listing.stdout.splitlines()[0], "Chapter 2" in listing.stdout.splitlines()[1]] == [True, True]
    seconds = [float(ffprobe(p)["format"]["duration"]) for p in (full, *paths)]
    assert abs(seconds[0] - sum(seconds[1:])) < 0.5
    assert all(s["codec_type"] in ("video", "audio") for s in ffprobe(paths[1])["streams"])
    assert Path(paths[0]).with_suffix(".srt").read_text(encoding="utf-8").count("-->") >= 2
    studio = Studio(tmp_path / "s.db")
    project = studio.project(1)
    assert project.video_path() == str(full)  # the whole video stays the project's video
    assert list(project.chapter_videos()["title"]) == ["Chapter 1", "Chapter 2"]
    again = storynb("export", "1", "--chapters", studio=tmp_path / "s.db")
    assert again.returncode == 0 and again.stdout.split() == [str(full), *map(str, paths)]


def test_limits_and_long_pastes(studio):
    with pytest.raises(InvalidInput, match="200,000"):
        studio.create_project("", text="字" * 200_001)
    with pytest.raises(InvalidInput, match="from 4 to 300"):
        studio.create_project("a topic", shots=301)
    with pytest.raises(InvalidInput, match="as_is needs a source text"):
        studio.create_project("a topic", as_is=True)
    with pytest.raises(InvalidInput, match="target_length"):
        studio.create_project("", text=EN, target_length=10)
    pasted = studio.create_project(EN)  # a topic over 4,000 characters is a source text
    assert pasted.row["source_text"] == EN.strip() and len(pasted.row["topic"]) <= 40
    assert studio.create_project("a topic", shots=300).row["shots_wanted"] == 300
    with pytest.raises(InvalidInput, match="offset"):
        pasted.shots(offset=-1)


def test_a_topic_project_with_many_shots_is_chunked_and_a_short_one_is_not(studio):
    many = studio.create_project("A lighthouse keeper befriends a lost whale", length="long",
                                 shots=40, **TINY)
    assert many.run(["rewrite", "storyboard"]).status == "done"
    assert many.shot_count() == 40
    assert studio.db["chunks"].count_where("project_id = ?", [many.id]) >= 1
    few = studio.create_project("A lighthouse keeper befriends a lost whale", shots=6, **TINY)
    assert few.run(["rewrite", "storyboard"]).status == "done"
    assert few.shot_count() == 6
    assert studio.db["chunks"].count_where("project_id = ?", [few.id]) == 0


def test_chunking_cuts_at_headings_and_scene_breaks():
    pieces = longform.pieces_of(ZH, True)
    chunks = longform.split_chunks(pieces, True)
    assert all(c.pieces[0].heading for c in chunks if c.chapter != chunks[chunks.index(c) - 1].chapter)
    assert sum(len(c.pieces) for c in chunks) == len(pieces)
    counts = longform.shot_counts(chunks, True, 250)
    assert sum(counts) == 250
    text = "\n\n".join(["One. Two. Three."] * 3) + "\n\n* * *\n\n" + "Four. Five."
    units = longform.pieces_of(text, False)
    assert [u.text for u in units] == ["One.", "Two.", "Three."] * 3 + ["Four.", "Five."]
    assert units[-1].para - units[-3].para == 2  # the scene break is a deeper cut


def test_a_bundle_keeps_the_chunk_answers(studio, tmp_path):
    project = studio.create_project("", text=EN, as_is=True, **TINY)
    assert project.run(["rewrite", "storyboard"]).status == "done"
    path = project.export_bundle(tmp_path / "long.zip")
    other = Studio(tmp_path / "other" / "studio.db")
    copy = other.import_bundle(path)
    assert other.db["chunks"].count_where("project_id = ?", [copy.id]) == \
        studio.db["chunks"].count_where("project_id = ?", [project.id])
    report = copy.run(["rewrite", "storyboard"])
    assert [r.ran for r in report.stages] == [0, 0], report.summary()
    assert copy.storyboard().equals(project.storyboard())


def test_chapters_without_headings_are_groups_of_chunks_and_chinese_is_condensed(studio):
    plain = "\n".join(line for line in EN.splitlines() if not longform.is_heading(line))
    project = studio.create_project("", text=plain, as_is=True, **TINY)
    assert project.run(["rewrite", "storyboard"]).status == "done"
    chapters = project.chapters()
    assert len(chapters) >= 2 and list(chapters["title"])[:2] == ["part 1", "part 2"]
    assert chapters["first_seq"].iloc[0] == 1 and chapters["last_seq"].iloc[-1] == project.shot_count()
    short = studio.create_project("", text=ZH, target_length=2000, **TINY)
    assert short.run(["rewrite"]).status == "done"
    story = short.story()
    assert 1600 <= longform.weight(story, True) <= 2400
    assert story.startswith("第一章 雨夜渡口") and "第三章 周府深院" in story
