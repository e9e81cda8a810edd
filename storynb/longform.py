"""Long form: a chapter or a short novel (up to 200,000 characters) becomes hundreds of shots.

The text is cut at scene boundaries (chapter headings, scene breaks, paragraphs, then sentences)
into chunks. Each chunk is one job of its stage, keyed by what determines it, so a failed chunk
is tried again alone and finished chunks are skipped; its answer is stored in `chunks`, and
putting the shots together is a cheap last job.

- rewrite: with `as_is` the source text is the story, word for word. Otherwise each chunk is
  adapted (condensed to the target length) by the LLM (`adapt` template), then joined.
- storyboard: the narration of every shot is decided here, from the story's sentences in order
  (so nothing is left out or said twice at chunk borders, and the shot count follows the text);
  the LLM describes each chunk's shots (`storyboard_chunk` template), told what came before:
  the characters and places so far and the previous shot.
- export: with `by_chapter`, a video per chapter besides the whole one. Chapters come from the
  source's headings (第X章 / Chapter N …), else from groups of chunks.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections import Counter
from pathlib import Path

from .db import now, writing
from .errors import InvalidInput, StageFailed
from .text import EN_WORDS_PER_SECOND, ZH_CHARS_PER_SECOND, speaking_seconds, split_piece
from .longtext import (HEADING_EN, HEADING_ZH, SCENE_BREAK, Chunk, Piece, condense, is_heading,  # noqa: F401
                       is_zh, joined, pieces_of, weight)
from .runner import Job, job_key

MAX_SOURCE = 200_000  # characters of source text
MAX_SHOTS = 300  # shots a user may ask for
MAX_AUTO_SHOTS = 300  # shots the text alone may give
SHOT_SECONDS = 7.0  # narration per shot when the text decides the count
MAX_SHOT_SECONDS = 60.0
CHUNK_WEIGHT = {"zh": 900, "en": 500}  # characters (zh) or words (en) per chunk, about 24 shots
TOPIC_SHOTS = 12  # above this many shots (or with a source text) the storyboard is chunked
LONG_STORY = 4000  # characters of story above which it is chunked

def split_chunks(pieces: list[Piece], zh: bool, target: float | None = None) -> list[Chunk]:
    """Cut the pieces into chunks of about `target` weight: always before a chapter heading,
    at a scene break or paragraph end once the chunk is big enough, inside a paragraph (between
    sentences) only when it is far too big."""
    target = target or CHUNK_WEIGHT["zh" if zh else "en"]
    chunks: list[list[Piece]] = []
    current: list[Piece] = []
    size = 0.0
    for piece in pieces:
        if current:
            new_para = piece.para != current[-1].para
            scene_cut = new_para and piece.para - current[-1].para > 1
            if (piece.heading or (scene_cut and size >= 0.5 * target)
                    or (new_para and size >= target) or size >= 1.5 * target):
                chunks.append(current)
                current, size = [], 0.0
        current.append(piece)
        size += piece.weight
    if current:
        chunks.append(current)
    if len(chunks) > 1 and sum(p.weight for p in chunks[-1]) < 0.2 * target \
            and not chunks[-1][0].heading:  # a small tail joins the chunk before it
        chunks[-2].extend(chunks.pop())
    return [Chunk(i, group, group[0].chapter, zh=zh) for i, group in enumerate(chunks)]


reading_seconds = speaking_seconds  # (amount, zh) → seconds at the narration's speed (storynb.text)


def shot_counts(chunks: list[Chunk], zh: bool, wanted: int | None) -> list[int]:
    """How many shots each chunk gets: `wanted` in all, or one per ~7 s of narration (at most
    300), shared out by weight; a chapter heading is a shot of its own."""
    total_weight = sum(c.weight for c in chunks) or 1.0
    total = wanted or max(1, min(MAX_AUTO_SHOTS, round(reading_seconds(total_weight, zh) / SHOT_SECONDS)))
    total = max(total, len(chunks))
    shares = [total * c.weight / total_weight for c in chunks]
    counts = [max(1, math.floor(s)) for s in shares]
    order = sorted(range(len(chunks)), key=lambda i: counts[i] - shares[i])
    k = 0
    while sum(counts) < total and order:
        counts[order[k % len(order)]] += 1
        k += 1
    while sum(counts) > total:
        biggest = max(range(len(counts)), key=lambda i: counts[i] - shares[i])
        if counts[biggest] <= 1:
            break
        counts[biggest] -= 1
    return counts


def group_narrations(pieces: list[Piece], n: int, zh: bool) -> list[str]:
    """The chunk's sentences as n narrations of similar length, in order, each sentence once. A
    heading is a narration of its own; a sentence may be cut at a clause mark when there are
    fewer sentences than shots."""
    head: list[str] = []
    if pieces and pieces[0].heading:
        head, pieces = [pieces[0].text], pieces[1:]
        n -= 1
    if not pieces:
        return head
    n = max(1, n)
    texts = [p.text for p in pieces]
    while len(texts) < n:
        for idx in sorted(range(len(texts)), key=lambda i: -weight(texts[i], zh)):
            halves = split_piece(texts[idx], zh)
            if halves:
                texts[idx:idx + 1] = list(halves)
                break
        else:
            break
    n = min(n, len(texts))
    weights = [weight(t, zh) for t in texts]
    total = sum(weights)
    groups, start, acc = [], 0, 0.0
    for g in range(1, n):
        goal = total * g / n
        end = start + 1  # at least one sentence per shot
        acc += weights[start]
        while end < len(texts) - (n - g) and acc + weights[end] / 2 < goal:
            acc += weights[end]
            end += 1
        groups.append((start, end))
        start = end
    groups.append((start, len(texts)))
    return head + [joined(texts[i:j], zh) for i, j in groups]


# ------------------------------------------------------------------------------- continuity
_EN_NOT_NAMES = set("""The A An And But Or So Then When While If As At In On Of To For From With By
He She It They We You I His Her Its Their Our Your My Me Him Them Us This That These Those There
Here What Who Whom Whose Which Where Why How Yes No Not Now Oh Ah Well Mr Mrs Miss Dr Sir Lady Lord
Chapter Part Book Act One Two Three All Some Every Each After Before Once Only Still Yet Even
Just Perhaps Maybe Do Does Did Is Was Were Are Be Been Have Has Had Let Go Come Said God Good
Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June
July August September October November December""".split())
_ZH_NOT_NAMES = set("我们 你们 他们 她们 它们 大家 有人 没有 自己 这时 那时 于是 忽然 突然 然后 "
                    "但是 可是 只是 还是 就是 不是 一个 这个 那个 什么 怎么 为什么 所以 因为 "
                    "如果 虽然 已经 终于 仿佛 好像 似乎 一边 一面 心里 低声 大声 轻声 笑着".split())
_ZH_SAY = "说|道|问|笑|喊|叫|答|想|看着|点头|摇头|叹|皱眉|愣"


class Continuity:
    """What a chunk is told about the chunks before it: the characters and places so far (by how
    often they came up) and the previous shot. Read from the text, so every chunk's job can be
    planned, keyed and run without waiting for the others."""

    def __init__(self, zh: bool):
        self.zh = zh
        self.names: Counter = Counter()
        self.places: Counter = Counter()
        self.last_shot = ""

    def read(self, text: str) -> None:
        if self.zh:
            found = re.findall(rf"([\u4e00-\u9fff]{{2,3}}?)(?=(?:{_ZH_SAY}))", text)
            found += re.findall(r"名叫([\u4e00-\u9fff]{2,3}?)(?=[的，。,])", text)
            self.names.update(f for f in found if f not in _ZH_NOT_NAMES
                              and not set(f) & set("的了着地得么也没不是在有这那你我他她它们就都又还"))
        else:
            found = re.findall(r"(?<=[a-z,;:] )([A-Z][a-z]{2,})\b", text)
            self.names.update(f for f in found if f not in _EN_NOT_NAMES)
        self.places.update(_places(text, self.zh))

    def variables(self) -> dict:
        names = [n for n, c in self.names.most_common(12) if c >= 2][:6]
        return {"characters": names, "places": [p for p, _ in self.places.most_common(4)],
                "last_shot": self.last_shot}


@functools.lru_cache(maxsize=2)
def _place_finder(zh: bool):
    """One pattern for every place word of the draft writer's vocabulary, and its terms."""
    from .providers.offline.words import VISUALS

    terms: dict[str, str] = {}
    for term, category, en_words, zh_words in VISUALS:
        if category == "place":
            for word in (zh_words if zh else en_words):
                terms.setdefault(word if zh else word.lower(), term)
    words = sorted(terms, key=len, reverse=True)
    body = "|".join(re.escape(w) for w in words)
    pattern = re.compile(f"({body})" if zh else rf"\b({body})(?:s|es)?\b")
    return pattern, terms


def _places(text: str, zh: bool) -> list[str]:
    """The places a text names (as the draft writer's English terms), once each."""
    pattern, terms = _place_finder(zh)
    found = {terms[m.group(1) if zh else m.group(1).lower()] for m in pattern.finditer(
        text if zh else text.lower())}
    return sorted(found)


# ----------------------------------------------------------------------------- the project
def _latest_story(project) -> dict | None:
    from .stages.common import story_row  # (storynb.stages imports this module)

    return story_row(project)


def source_of(project) -> str:
    return project.row["source_text"] or ""


def wants_chunks(project, story: str | None = None) -> bool:
    """Whether the storyboard is made chunk by chunk: a project made from a source text, a
    project asking for more than 12 shots, or a story longer than 4,000 characters."""
    row = project.row
    if row["source_text"] or (row["shots_wanted"] or 0) > TOPIC_SHOTS:
        return True
    from .stages.storyboard import story_for

    return len(story if story is not None else story_for(project)) > LONG_STORY


def template(project, stage: str) -> dict:
    """The project's prompt set's template for a long-form stage (adapt, storyboard_chunk); a set
    made before these stages existed gets the shipped default for its language, as a version."""
    from .prompts import DATA_DIR

    prompts, set_id = project.studio.prompts, project.row["prompt_set_id"]
    found = prompts.template(set_id, stage, missing_ok=True)
    if found:
        return found
    language = prompts.get_set(set_id)["language"]
    path = DATA_DIR / "prompts" / f"{language if language in ('zh', 'en') else 'en'}.json"
    shipped = json.loads(path.read_text(encoding="utf-8"))["templates"][stage]
    return prompts.edit(set_id, stage, shipped["body"], system=shipped.get("system", ""),
                        note="shipped default (added for long form)")


def default_target(source: str, zh: bool) -> int:
    """Adapt at full length, up to what 300 shots of ~8 s can narrate."""
    cap = int(MAX_AUTO_SHOTS * 8 * (ZH_CHARS_PER_SECOND if zh else EN_WORDS_PER_SECOND))
    return int(min(weight(source, zh), cap))


def _chunks_of(text: str, zh: bool) -> list[Chunk]:
    return split_chunks(pieces_of(text, zh), zh)


def _chunk_row(db, project_id: int, kind: str, key: str) -> dict | None:
    rows = list(db["chunks"].rows_where("project_id = ? and kind = ? and key = ?",
                                        [project_id, kind, key], order_by="id desc", limit=1))
    return rows[0] if rows else None


def _llm_job(project, stage, key, label, run, done):
    llm = project.provider("llm")
    return Job(stage, key, label, run, done, limit=llm.name, cap=llm.concurrency)


# rewrite -----------------------------------------------------------------------------------
def _rewrite_plan(project):
    """(chunks, their keys, the join key) of a source text's adaptation."""
    from .stages.common import provider_identity, take

    row = project.row
    source = source_of(project)
    zh = row["language"] == "zh"
    chunks = _chunks_of(source, zh)
    tpl = template(project, "adapt")
    target = row["target_length"] or default_target(source, zh)
    total = sum(c.weight for c in chunks) or 1.0
    common = {"template_id": tpl["id"], **provider_identity(project.provider("llm")),
              "take": take(project, "rewrite")}
    planned = []
    previous = ""
    for chunk in chunks:
        values = {"source": chunk.text, "part": chunk.index + 1, "parts": len(chunks),
                  "target_length": max(1, round(target * chunk.weight / total)),
                  "previous": previous, "chapter": chunk.chapter, "topic": row["topic"],
                  "language": row["language"], "style": row["style"] or "",
                  "audience": row["audience"] or "", "length": row["length"] or "short"}
        key = job_key("adapt", **{k: v for k, v in values.items() if k not in ("part", "parts")},
                      **common)
        planned.append((chunk, values, key))
        previous = chunk.pieces[-1].text
    join_key = job_key("adapt-join", chunks=[k for _, _, k in planned], **common,
                       language=row["language"])
    return tpl, planned, join_key


def plan_rewrite(project) -> list[Job]:
    """The rewrite stage of a project made from a source text: the text itself (as-is), or one
    adaptation job per chunk. (Topic projects: nothing here; see stages.rewrite.)"""
    from .stages.common import ask_llm, take
    from .stages.rewrite import user_story_key

    row = project.row
    if not row["source_text"]:
        return []
    db = project.db

    def user_story() -> bool:
        latest = _latest_story(project)
        return bool(latest and latest["source"] == "user" and latest["key"] == user_story_key(project))

    if row["as_is"]:
        source = source_of(project)
        key = job_key("as-is", text=source, take=take(project, "rewrite"))

        def done() -> bool:
            return user_story() or bool(db["stories"].count_where(
                "project_id = ? and key = ?", [project.id, key]))

        async def run() -> None:
            project.add_story_version(source.strip(), source="source", key=key)
            latest = _latest_story(project)
            if latest is not None and latest["key"] != key:  # same words as the latest version: record the key
                db["stories"].update(latest["id"], {"key": key})

        return [Job("rewrite", key, "source text (as is)", run, done, limit="local", cap=1)]

    tpl, planned, _ = _rewrite_plan(project)
    if user_story():
        return []

    def job(chunk, values, key) -> Job:
        async def run() -> None:
            result, call_id = await ask_llm(project, "rewrite", tpl, values, key=key, want_json=False)
            text = result.text.strip()
            if not text:
                raise ValueError(f"the model returned nothing for part {chunk.index + 1}; run again")
            db["chunks"].insert({"project_id": project.id, "kind": "rewrite", "idx": chunk.index,
                                 "key": key, "chapter": chunk.chapter, "text": "",
                                 "result": text, "repairs": "[]", "call_id": call_id,
                                 "created": now()})

        return _llm_job(project, "rewrite", key, f"part {chunk.index + 1} of {len(planned)}", run,
                        lambda: _chunk_row(db, project.id, "rewrite", key) is not None)

    return [job(*item) for item in planned]


def plan_rewrite_join(project) -> list[Job]:
    """Join the adapted chunks into one story version (cheap: the answers are stored)."""
    from .stages.rewrite import user_story_key

    row = project.row
    if not row["source_text"] or row["as_is"]:
        return []
    latest = _latest_story(project)
    if latest and latest["source"] == "user" and latest["key"] == user_story_key(project):
        return []
    db = project.db
    tpl, planned, key = _rewrite_plan(project)

    def done() -> bool:
        return bool(db["stories"].count_where("project_id = ? and key = ?", [project.id, key]))

    async def run() -> None:
        parts, chapter = [], None
        for chunk, _, chunk_key in planned:
            found = _chunk_row(db, project.id, "rewrite", chunk_key)
            if found is None:
                raise StageFailed(f"part {chunk.index + 1} has no adaptation yet: run the rewrite stage")
            text = found["result"].strip()
            if chunk.chapter and chunk.chapter != chapter and not text.startswith(chunk.chapter):
                text = f"{chunk.chapter}\n\n{text}"  # keep the chapter headings
            chapter = chunk.chapter
            parts.append(text)
        story = "\n\n".join(parts)
        current = _latest_story(project)
        if current and current["text"] == story:
            db["stories"].update(current["id"], {"key": key})
        else:
            project.add_story_version(story, source="llm", key=key, template_id=tpl["id"])

    return [Job("rewrite", key, "join the parts", run, done, limit="local", cap=1)]


# storyboard --------------------------------------------------------------------------------
def plan_story(project, story: str) -> list[Chunk]:
    """The story's chunks with every shot's narration decided (continuous across chunks)."""
    row = project.row
    zh = row["language"] == "zh"
    chunks = _chunks_of(story, zh)
    if not chunks:
        raise StageFailed("the story is empty: run the rewrite stage or write the story by hand")
    counts = shot_counts(chunks, zh, row["shots_wanted"])
    for chunk, n in zip(chunks, counts):
        chunk.narrations = group_narrations(chunk.pieces, n, zh)
    if row["as_is"]:
        seconds = reading_seconds(sum(c.weight for c in chunks), zh)
        shots = sum(len(c.narrations) for c in chunks)
        if seconds / shots > MAX_SHOT_SECONDS:
            raise InvalidInput(
                f"the text reads for about {seconds / 60:.0f} minutes, more than {shots} shots of "
                f"at most {MAX_SHOT_SECONDS:.0f} s can carry: split it into several projects (by "
                "chapter), or turn off as-is so the rewrite condenses it (target_length)")
    return chunks


_PLANS: dict[str, tuple] = {}  # the last few chunk plans (a stage plans twice: chunks, assembly)


def _storyboard_plan(project):
    from .stages.common import provider_identity, take
    from .stages.storyboard import story_for

    row = project.row
    story = project.story() or source_of(project) or story_for(project)
    tpl = template(project, "storyboard_chunk")
    common = {"template_id": tpl["id"], **provider_identity(project.provider("llm")),
              "take": take(project, "storyboard"), "language": row["language"], "fps": row["fps"]}
    memo = hashlib.sha256(json.dumps([story, common, row["shots_wanted"], row["as_is"]],
                                     sort_keys=True, default=str).encode()).hexdigest()
    if memo not in _PLANS:
        _PLANS[memo] = (tpl, *_plan_chunks(project, story, common))
        while len(_PLANS) > 4:
            _PLANS.pop(next(iter(_PLANS)))
    return _PLANS[memo]


def _plan_chunks(project, story: str, common: dict):
    row = project.row
    chunks = plan_story(project, story)
    continuity = Continuity(row["language"] == "zh")
    planned, first = [], 1
    for chunk in chunks:
        continuity.read(chunk.text)
        context = continuity.variables()
        values = {"story": chunk.text, "narrations": chunk.narrations, "shots": len(chunk.narrations),
                  "chapter": chunk.chapter, "language": row["language"], "fps": row["fps"],
                  "part": chunk.index + 1, "parts": len(chunks), "first_seq": first,
                  "last_seq": first + len(chunk.narrations) - 1, **context}
        key = job_key("storyboard_chunk", narrations=chunk.narrations, chapter=chunk.chapter,
                      **context, **common)
        planned.append((chunk, values, key))
        continuity.last_shot = chunk.narrations[-1]
        first += len(chunk.narrations)
    assemble_key = job_key("storyboard_assemble", chunks=[k for _, _, k in planned], **common)
    return planned, assemble_key


def _guard(project, assemble_key: str) -> bool:
    """False when a hand-made storyboard stands (nothing for the model to do); raises when the
    shots have hand edits and the story changed (as the one-call storyboard does)."""
    db = project.db
    has_shots = bool(project.shot_count())
    made_before = db["storyboards"].count_where("project_id = ?", [project.id])
    if has_shots and not made_before:
        return False
    fresh = bool(db["storyboards"].count_where("project_id = ? and key = ?", [project.id, assemble_key]))
    if has_shots and not fresh and project.row["shots_edited"]:
        raise StageFailed(
            "the story (or the storyboard settings) changed since the shots were made, and the "
            "shots have hand edits. To make a new storyboard from the story, replacing the shots: "
            "project.rollback('storyboard') (CLI: storynb rollback ID storyboard). "
            "To keep your shots as they are: project.skip('storyboard').")
    return True


def plan_storyboard(project) -> list[Job]:
    """One job per chunk of a long story: its shots, described by the LLM, stored in `chunks`."""
    from .stages.common import ask_llm
    from .stages.storyboard import parse_storyboard

    if not wants_chunks(project):
        return []
    tpl, planned, assemble_key = _storyboard_plan(project)
    if not _guard(project, assemble_key):
        return []
    db, language = project.db, project.row["language"]

    def parse(text: str, narrations: list[str]):
        shots, repairs = parse_storyboard(text, language)
        if len(shots) != len(narrations):
            raise ValueError(f"the answer has {len(shots)} shots; this part needs exactly "
                             f"{len(narrations)}, one per narration given")
        for number, (shot, narration) in enumerate(zip(shots, narrations), start=1):
            if " ".join(shot["narration"].split()) != " ".join(narration.split()):
                repairs.append(f"shot {number}: narration differed from the text; the text's kept")
                shot["narration"] = narration
        return shots, repairs

    def job(chunk, values, key) -> Job:
        async def run() -> None:
            result, call_id = await ask_llm(
                project, "storyboard", tpl, values, key=key, want_json=True,
                validate=lambda text: parse(text, chunk.narrations))
            shots, repairs = parse(result.text, chunk.narrations)
            db["chunks"].insert({"project_id": project.id, "kind": "storyboard",
                                 "idx": chunk.index, "key": key, "chapter": chunk.chapter,
                                 "text": "", "result": json.dumps(shots, ensure_ascii=False),
                                 "repairs": json.dumps(repairs, ensure_ascii=False),
                                 "call_id": call_id, "created": now()})

        return _llm_job(project, "storyboard", key,
                        f"part {chunk.index + 1} of {len(planned)} ({len(chunk.narrations)} shots)",
                        run, lambda: _chunk_row(db, project.id, "storyboard", key) is not None)

    return [job(*item) for item in planned]


def plan_assemble(project) -> list[Job]:
    """Put the chunks' shots together, numbered 1…N, each knowing its chapter (cheap: the
    answers are stored; no model is called)."""
    if not wants_chunks(project):
        return []
    tpl, planned, key = _storyboard_plan(project)
    if not _guard(project, key):
        return []
    db = project.db
    fresh = bool(db["storyboards"].count_where("project_id = ? and key = ?", [project.id, key]))

    async def run() -> None:
        shots, chapters, repairs = [], [], []
        for chunk, _, chunk_key in planned:
            found = _chunk_row(db, project.id, "storyboard", chunk_key)
            if found is None:
                raise StageFailed(f"part {chunk.index + 1} has no shots yet: run the storyboard stage")
            part = json.loads(found["result"])
            shots += part
            chapters += [chunk.chapter or f"part {chunk_group(chunk.index)}"] * len(part)
            repairs += [f"part {chunk.index + 1}: {r}" for r in json.loads(found["repairs"] or "[]")]
        with writing(db):
            project.replace_shots(shots)
            _set_chapters(project, chapters)
            db["storyboards"].insert({
                "project_id": project.id, "key": key,
                "story_id": (_latest_story(project) or {}).get("id"), "template_id": tpl["id"],
                "call_id": None, "raw": json.dumps({"chunks": [k for _, _, k in planned]}),
                "repairs": json.dumps(repairs, ensure_ascii=False)})

    return [Job("storyboard", key, f"assemble {sum(len(c.narrations) for c, _, _ in planned)} shots",
                run, lambda: fresh and bool(project.shot_count()), limit="local", cap=1)]


CHUNKS_PER_CHAPTER = 4  # with no headings, a "chapter" is this many chunks (~100 shots)


def chunk_group(index: int) -> int:
    return index // CHUNKS_PER_CHAPTER + 1


def _set_chapters(project, chapters: list[str]) -> None:
    db = project.db
    for seq, chapter in enumerate(chapters, start=1):
        db.execute("update shots set chapter = ? where project_id = ? and seq = ?",
                   [chapter, project.id, seq])


# chapters and their videos -----------------------------------------------------------------
def chapters(project) -> list[dict]:
    """The project's chapters in order: title, first and last shot, shots, seconds. A shot added
    by hand belongs to the chapter of the shot before it; a project without chapters has one."""
    out: list[dict] = []
    for row in project.db.query("select seq, chapter, duration_s from shots where project_id = ? "
                                "order by seq", [project.id]):
        title = row["chapter"] or (out[-1]["title"] if out else "")
        if not out or out[-1]["title"] != title:
            out.append({"chapter": len(out) + 1, "title": title, "first_seq": row["seq"],
                        "last_seq": row["seq"], "shots": 0, "duration_s": 0.0})
        out[-1]["last_seq"] = row["seq"]
        out[-1]["shots"] += 1
        out[-1]["duration_s"] += row["duration_s"] or 0
    if len(out) == 1 and not out[0]["title"]:
        out[0]["title"] = project.row["name"]
    return out


def plan_chapter_videos(project) -> list[Job]:
    """With `by_chapter` on: one video (and .srt) per chapter, besides the whole one; made like
    the whole video (stages.export), from the chapter's shots."""
    from .stages.clips import clip_settings
    from .stages.common import produce, take
    from .stages.export import (COMPOSITOR, MIX_VERSION, ExportRequest, file_slug, finished_shots, publish,
                                sound_settings)

    row = project.row
    if not row["by_chapter"]:
        return []
    media = project.studio.media
    settings = clip_settings(project, project.shots())
    sound = sound_settings(project)
    folder = Path(project.studio.exports_dir) / f"{file_slug(row['name'])}-{project.id}-chapters"
    jobs = []
    for part in chapters(project):
        shots = project.shots(offset=part["first_seq"] - 1, limit=part["shots"])
        clips, narrations, lengths, pages, _ = finished_shots(project, shots, settings)
        texts = [s["narration"] for s in shots]
        title = part["title"]
        key = job_key("export-chapter", clips=clips, narrations=narrations, durations=lengths,
                      texts=texts, title=title, sound=sound, mix=MIX_VERSION,
                      take=take(project, "export"))
        destination = folder / f"{part['chapter']:03d}-{file_slug(title)}.mp4"
        request = ExportRequest(tuple(media.path(c) for c in clips),
                                tuple(media.path(n) if n else None for n in narrations),
                                tuple(lengths), tuple(texts), sound["loudness"],
                                media.path(sound["music"]) if sound["music"] else None,
                                sound["music_builtin"], sound["music_level_db"], int(row["seed"] or 0))
        jobs.append(_chapter_job(project, part, key, request, lengths, pages, destination,
                                 COMPOSITOR, publish, produce))
    return jobs


def _chapter_job(project, part, key, request, lengths, pages, destination, compositor, publish,
                 produce) -> Job:
    db, media = project.db, project.studio.media
    title = part["title"]

    def done() -> bool:
        found = list(db["exports"].rows_where("project_id = ? and key = ? and status = 'done'",
                                              [project.id, key], order_by="id desc", limit=1))
        if not found or not media.exists(found[0]["video"]):
            return False
        publish(media, found[0]["video"], found[0]["subtitles"], destination)
        db["exports"].update(found[0]["id"], {"path": str(destination), "chapter": title,
                                              "srt_path": str(destination.with_suffix(".srt"))})
        return True

    async def run() -> None:
        from .render.compose import cues_from_pages, write_srt

        _, _, video = await produce(project, compositor, "compose", request, stage="export",
                                    key=key, ext="mp4", describe={"chapter": title})
        srt = media.scratch(".srt")
        write_srt(cues_from_pages(lengths, pages), srt)
        subtitles = media.add(srt, "srt")
        publish(media, video, subtitles, destination)
        db["exports"].insert({"project_id": project.id, "key": key, "video": video,
                              "subtitles": subtitles, "path": str(destination),
                              "srt_path": str(destination.with_suffix(".srt")),
                              "duration_s": sum(lengths), "status": "done", "chapter": title,
                              "created": now()})

    return Job("export", key, f"chapter {part['chapter']} video", run, done,
               limit=compositor.name, cap=1)


def chapter_videos(project) -> list[dict]:
    """The latest video of each current chapter (chapter, title, path, srt_path, duration_s)."""
    out = []
    for part in chapters(project):
        rows = list(project.db["exports"].rows_where(
            "project_id = ? and chapter = ? and status = 'done'", [project.id, part["title"]],
            order_by="id desc", limit=1))
        if rows:
            out.append({"chapter": part["chapter"], "title": part["title"], "path": rows[0]["path"],
                        "srt_path": rows[0]["srt_path"], "duration_s": rows[0]["duration_s"]})
    return out


# the offline draft writer's adaptation -----------------------------------------------------
