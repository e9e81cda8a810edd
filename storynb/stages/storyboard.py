"""Stage 2 — storyboard (分镜): story → ordered shots, from the LLM's JSON answer, validated."""
from __future__ import annotations

import json
import math
import re

from pydantic import BaseModel, Field, ValidationError, field_validator

from ..errors import StageFailed
from ..prompts import render
from ..providers.base import LLMRequest
from ..routing import call
from ..runner import Job, job_key
from ..text import seconds_to_say
from .common import ask_llm, extract_json, provider_identity, story_row, take, template

# Field names models use for a shot, by the storyboard field they mean (compared after lower-casing,
# dropping a unit in brackets and turning spaces and hyphens into underscores). The first name
# of each list is the canonical one; `description` is special (see _normalise).
FIELD_NAMES = {
    "sequence": ("sequence", "seq", "shot", "shot_number", "shot_no", "shot_id", "shot_index",
                 "scene_number", "scene_no", "scene_id", "number", "no", "num", "index", "order",
                 "id", "序号", "镜号", "镜头号", "镜头序号", "编号", "分镜号", "场次", "顺序"),
    "scene": ("scene", "scene_description", "setting", "visual", "visual_description",
              "shot_description", "action", "场景", "画面", "画面描述", "场景描述", "镜头描述", "分镜描述"),
    "narration": ("narration", "narrator", "voiceover", "voice_over", "vo", "text", "line", "lines",
                  "dialogue", "narrative", "script", "caption", "subtitle", "旁白", "解说", "台词",
                  "配音", "文案", "旁白文案", "字幕", "解说词"),
    "image_prompt": ("image_prompt", "prompt", "visual_prompt", "image", "image_description",
                     "t2i_prompt", "sd_prompt", "text_to_image_prompt", "imageprompt", "提示词",
                     "文生图提示词", "图像提示词", "画面提示词", "绘画提示词", "生图提示词"),
    "negative_prompt": ("negative_prompt", "negative", "negative_prompts", "负面提示词", "反向提示词"),
    "duration_s": ("duration_s", "duration", "duration_seconds", "seconds", "secs", "length",
                   "time", "时长", "持续时间", "秒数", "时间"),
}
_CANONICAL = {name: field for field, names in FIELD_NAMES.items() for name in names}
# Where models put the list of shots in an object, in order of preference.
LIST_KEYS = ("shots", "scenes", "storyboard", "shot_list", "frames", "panels", "镜头", "分镜",
             "镜头列表", "分镜列表", "场景", "items", "data", "result")
# How far the number of shots may be from the number asked for before a repair is requested.
COUNT_TOLERANCE = 0.25


class ShotSpec(BaseModel):
    scene: str = ""
    narration: str = Field(min_length=1)
    image_prompt: str = ""
    negative_prompt: str = ""
    duration_s: float | None = None

    @field_validator("narration", "scene", "image_prompt", "negative_prompt", mode="before")
    @classmethod
    def _text(cls, value):
        return "" if value is None else str(value).strip()


def reading_seconds(text: str, language: str) -> float:
    """How long narration takes to read aloud, plus a breath, in half seconds (2–10 s)."""
    seconds = reading_seconds_raw(text, language)
    return min(15.0, max(2.0, math.ceil((seconds + 0.5) * 2) / 2))


def default_shot_count(story: str, language: str) -> int:
    """About 8 seconds of narration per shot, 4 to 12 shots."""
    seconds = reading_seconds_raw(story, language)
    return max(4, min(12, round(seconds / 8)))


def reading_seconds_raw(text: str, language: str) -> float:
    return seconds_to_say(text, language == "zh")


def shot_tolerance(wanted: int) -> int:
    """How many shots more or fewer than asked are accepted (a quarter, at least one)."""
    return max(1, int(wanted * COUNT_TOLERANCE))


def parse_storyboard(text: str, language: str, wanted: int | None = None) -> tuple[list[dict], list[str]]:
    """The shots in an LLM answer, in order, with the repairs that were needed. Raises ValueError
    saying what is wrong (quoting it) when the answer cannot be used safely — among others when
    `wanted` shots were asked for and the answer has more or fewer than the tolerance allows.

    Repairs: broken JSON (see extract_json); the shot list under another key (`scenes` …) or
    other field names (`scene_number`, `description`, `visual_prompt`, 序号, 旁白, 时长 …);
    shots listed out of order (sorted by their sequence numbers); exact duplicates (dropped);
    missing scene, image prompt or duration (filled from the narration)."""
    data, repairs = extract_json(text)
    items = _shot_list(data, repairs)
    listed = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, str) and item.strip():
            item = {"narration": item}
            repairs.append(f"shot {number}: given as plain text, used as its narration")
        if not isinstance(item, dict):
            raise ValueError(f"shot {number} is not an object: {json.dumps(item, ensure_ascii=False)[:160]}")
        listed.append(_normalise(item, number, repairs))
    listed = _in_order(listed, repairs)
    shots = []
    seen: dict[tuple, int] = {}
    for position, (item, sequence) in enumerate(listed, start=1):
        number = sequence if sequence is not None else position
        try:
            spec = ShotSpec(**{k: v for k, v in item.items() if k in ShotSpec.model_fields})
        except ValidationError as exc:
            problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"shot {number} is unusable ({problem}): "
                             f"{json.dumps(item, ensure_ascii=False)[:200]}") from None
        shot = spec.model_dump()
        same = tuple(" ".join(str(shot[k]).split()).casefold()
                     for k in ("scene", "narration", "image_prompt"))
        if same in seen:
            repairs.append(f"shot {number} repeats shot {seen[same]} word for word: dropped")
            continue
        seen[same] = number
        if not shot["scene"]:
            shot["scene"] = shot["narration"][:80]
            repairs.append(f"shot {number}: no scene, used the narration")
        if not shot["image_prompt"]:
            shot["image_prompt"] = shot["scene"]
            repairs.append(f"shot {number}: no image prompt, used the scene")
        needed = reading_seconds(shot["narration"], language)
        if shot["duration_s"] is None or not 0.5 <= shot["duration_s"] <= 60:
            shot["duration_s"] = needed
            repairs.append(f"shot {number}: duration missing or out of range, estimated from the narration")
        elif shot["duration_s"] < needed - 1:
            repairs.append(f"shot {number}: {shot['duration_s']} s is too short to read its narration; "
                           f"lengthened to {needed} s")
            shot["duration_s"] = needed
        shots.append(shot)
    numbers = [seq for _, seq in listed]
    if len(shots) != len(listed) or numbers != list(range(1, len(listed) + 1)):
        if any(n is not None for n in numbers):
            repairs.append(f"renumbered the shots 1–{len(shots)}")
    if wanted:
        slack = shot_tolerance(wanted)
        if abs(len(shots) - wanted) > slack:
            raise ValueError(f"the storyboard has {len(shots)} shot(s) but {wanted} were asked for "
                             f"(between {max(1, wanted - slack)} and {wanted + slack} are accepted): "
                             f"answer with {wanted} shots")
        if len(shots) != wanted:
            repairs.append(f"{len(shots)} shots instead of the {wanted} asked for (within the "
                           f"tolerance of {slack}): kept as they are")
    return shots, repairs


def _shot_list(data, repairs: list[str]) -> list:
    """The list of shots in the parsed answer: the answer itself, or a list under a known key
    (one level of nesting allowed: {"storyboard": {"shots": [...]}})."""
    for depth in range(3):
        if isinstance(data, list):
            if not data:
                break
            return data
        if not isinstance(data, dict):
            break
        lowered = {str(k).strip().lower(): v for k, v in data.items()}
        found = next((k for k in LIST_KEYS if k in lowered
                      and isinstance(lowered[k], (list, dict)) and lowered[k]), None)
        named = next((k for k in LIST_KEYS if k in lowered), None)
        if found is None and named is not None and not isinstance(lowered[named], dict):
            break  # "shots" is there but is text, empty …
        if found is None:
            lists = [k for k, v in data.items() if isinstance(v, list) and v
                     and all(isinstance(i, dict) for i in v)]
            if len(lists) == 1:
                found = str(lists[0]).strip().lower()
                repairs.append(f"took the shots from the list under {lists[0]!r}")
            elif depth == 0 and _looks_like_shot(data):
                repairs.append("the answer is a single shot, not a list")
                return [data]
            else:
                raise ValueError(f"the JSON has no \"shots\" list; its keys are {sorted(map(str, data))[:8]}")
        elif found != "shots":
            repairs.append(f"read the shots from {found!r}")
        data = lowered[found]
    if isinstance(data, dict):
        data = next((v for k, v in data.items() if str(k).strip().lower() in LIST_KEYS), data)
    raise ValueError(f"\"shots\" must be a non-empty list, got: {json.dumps(data, ensure_ascii=False)[:160]}")


def _looks_like_shot(item: dict) -> bool:
    return any(_CANONICAL.get(_key(k)) == "narration" for k in item)


def _key(name) -> str:
    name = re.sub(r"[（(][^)）]*[)）]", "", str(name)).strip().lower()
    return re.sub(r"[\s\-]+", "_", name)


def _normalise(item: dict, number: int, repairs: list[str]) -> tuple[dict, int | None]:
    """(the shot's fields under storyboard names, its sequence number or None)."""
    fields: dict = {}
    description = None
    for name, value in item.items():
        key = _key(name)
        if key == "description" or key == "描述":
            description = value
            continue
        field = _CANONICAL.get(key)
        if field and field not in fields:
            fields[field] = value
    if description is not None:  # the seed's format: a description and no narration
        if "scene" not in fields:
            fields["scene"] = description
        if "narration" not in fields:
            fields["narration"] = description
            repairs.append(f"shot {number}: no narration, its description is read aloud")
    if "duration_s" in fields:
        fields["duration_s"] = _seconds(fields["duration_s"])
    for name in ("scene", "narration", "image_prompt", "negative_prompt"):
        if isinstance(fields.get(name), list):  # lines given as a list
            fields[name] = " ".join(str(v) for v in fields[name] if v is not None)
    return fields, _sequence(fields.pop("sequence", None))


def _sequence(value) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value) if float(value).is_integer() else None
    found = re.search(r"\d+", str(value))
    return int(found.group()) if found else None


def _seconds(value) -> float | None:
    """A duration as seconds: 4, 4.5, "4s", "4 秒", "约4秒", "0:04", "4-5 seconds" (the first)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    text = str(value).strip()
    clock = re.fullmatch(r"(\d+):(\d{1,2}(?:\.\d+)?)", text)
    if clock:
        return int(clock.group(1)) * 60 + float(clock.group(2))
    found = re.search(r"\d+(?:\.\d+)?", text)
    if not found:
        return None
    seconds = float(found.group())
    return seconds / 1000 if re.search(r"\d\s*ms\b|毫秒", text) else seconds


def _in_order(listed: list[tuple[dict, int | None]], repairs: list[str]) -> list[tuple[dict, int | None]]:
    """Shots sorted by their sequence numbers when every shot has one (ties keep the listed
    order); as listed otherwise."""
    numbers = [seq for _, seq in listed]
    if not listed or any(n is None for n in numbers):
        if any(n is not None for n in numbers):
            repairs.append("some shots have no sequence number: kept the order they are listed in")
            return [(item, None) for item, _ in listed]
        return listed
    ordered = sorted(listed, key=lambda pair: pair[1] or 0)  # every shot has a number here
    if [seq for _, seq in ordered] != numbers:
        repairs.append("shots were listed out of order: sorted by their sequence numbers "
                       f"({', '.join(map(str, numbers))})")
    repeated = sorted({n for n in numbers if n is not None and numbers.count(n) > 1})
    if repeated:
        repairs.append(f"sequence number(s) {', '.join(map(str, repeated))} used twice: kept "
                       "both shots in the order listed")
    return ordered


async def _ask_again(project, tpl: dict, values: dict, key: str, answer: str, problem: str, check):
    """One repair request through the same call path: the prompt, the unusable answer and what
    is wrong with it."""
    prompt = render(tpl["body"], values, label=f"storyboard template v{tpl['version']}")
    system = render(tpl["system"] or "", values, label="storyboard system prompt") or None
    prompt += (f"\n\nYour previous answer cannot be used: {problem}.\nPrevious answer:\n"
               f"{answer[:6000]}\n\nReply again with only the corrected JSON.")
    request = LLMRequest(task="storyboard", prompt=prompt, variables={**values, "repair": problem},
                         json=True, system=system, validate=check)
    return await call(project.studio, project.provider("llm"), "complete", request,
                      project_id=project.id, stage="storyboard", job_key=key,
                      describe={"system": system, "prompt": prompt})


def story_for(project) -> str:
    return project.story() or project.row["topic"]


def plan(project) -> list[Job]:
    from ..longform import wants_chunks

    if wants_chunks(project):  # a long story is storyboarded chunk by chunk (storynb.longform)
        return []
    tpl = template(project, "storyboard")
    row = project.row
    story = story_for(project)
    wanted = row["shots_wanted"] or default_shot_count(story, row["language"])
    values = {"story": story, "shots": wanted, "language": row["language"], "fps": row["fps"]}
    key = job_key("storyboard", **values, template_id=tpl["id"],
                  **provider_identity(project.provider("llm")), take=take(project, "storyboard"))

    has_shots = bool(project.shots())
    made_before = project.db["storyboards"].count_where("project_id = ?", [project.id])
    if has_shots and not made_before:
        return []  # a storyboard made by hand: nothing for the model to do
    fresh = bool(project.db["storyboards"].count_where(
        "project_id = ? and key = ?", [project.id, key]))
    if has_shots and not fresh and row["shots_edited"]:
        raise StageFailed(
            "the story (or the storyboard settings) changed since the shots were made, and the "
            "shots have hand edits. To make a new storyboard from the story, replacing the shots: "
            "project.rollback('storyboard') (CLI: storynb rollback ID storyboard). "
            "To keep your shots as they are: project.skip('storyboard').")

    def done() -> bool:
        return fresh and has_shots

    def check(text: str):
        return parse_storyboard(text, row["language"], wanted)

    async def run() -> None:
        # Adapters that honour `validate` ask the model once more themselves when the answer
        # cannot be used (wrong shot count included); for the others the stage does it here.
        result, call_id = await ask_llm(project, "storyboard", tpl, values, key=key, want_json=True,
                                        validate=check)
        try:
            shots, repairs = check(result.text)
        except ValueError as problem:
            result, call_id = await _ask_again(project, tpl, values, key, result.text, str(problem),
                                               check)
            try:
                shots, repairs = check(result.text)
            except ValueError as exc:
                raise ValueError(f"the storyboard answer cannot be used, also after one repair "
                                 f"request: {exc}") from None
            repairs = [f"asked the model once more ({problem})"] + repairs
        project.replace_shots(shots)
        project.db["storyboards"].insert({
            "project_id": project.id, "key": key, "story_id": (story_row(project) or {}).get("id"),
            "template_id": tpl["id"], "call_id": call_id, "raw": result.text,
            "repairs": json.dumps(repairs, ensure_ascii=False)})

    return [Job("storyboard", key, "storyboard", run, done, limit=project.provider("llm").name,
               cap=project.provider("llm").concurrency)]
