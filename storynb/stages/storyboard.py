"""Stage 2 — storyboard (分镜): story → ordered shots, from the LLM's JSON answer, validated."""
from __future__ import annotations

import json
import math
import re

from pydantic import BaseModel, Field, ValidationError, field_validator

from ..runner import Job, job_key
from .common import ask_llm, extract_json, provider_identity, take, template

ALIASES = {"description": "scene", "场景": "scene", "画面": "scene", "旁白": "narration",
           "text": "narration", "prompt": "image_prompt", "提示词": "image_prompt",
           "duration": "duration_s", "seconds": "duration_s", "时长": "duration_s"}


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
    if language == "zh":
        return len(re.findall(r"[\u4e00-\u9fff]", text)) / 4.5
    return len(text.split()) / 2.6


def parse_storyboard(text: str, language: str) -> tuple[list[dict], list[str]]:
    """The shots in an LLM answer, with the repairs that were needed. Raises ValueError
    quoting the bad part when the answer cannot be used safely."""
    data, repairs = extract_json(text)
    if isinstance(data, dict):
        items = data.get("shots", data.get("镜头"))
        if items is None:
            raise ValueError(f"the JSON has no \"shots\" list; its keys are {sorted(data)[:8]}")
    else:
        items = data
    if not isinstance(items, list) or not items:
        raise ValueError(f"\"shots\" must be a non-empty list, got: {json.dumps(items, ensure_ascii=False)[:160]}")
    shots = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ValueError(f"shot {number} is not an object: {json.dumps(item, ensure_ascii=False)[:160]}")
        item = {ALIASES.get(k, k): v for k, v in item.items()}
        item.pop("sequence", None), item.pop("seq", None)
        extra = set(item) - set(ShotSpec.model_fields)
        for name in extra:
            item.pop(name)
        try:
            spec = ShotSpec(**item)
        except ValidationError as exc:
            problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"shot {number} is unusable ({problem}): "
                             f"{json.dumps(item, ensure_ascii=False)[:200]}") from None
        shot = spec.model_dump()
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
    return shots, repairs


def story_for(project) -> str:
    return project.story() or project.row["topic"]


def plan(project) -> list[Job]:
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
        raise ValueError(
            "the story (or the storyboard settings) changed since the shots were made, and the "
            "shots have hand edits. To make a new storyboard from the story, replacing the shots: "
            "project.rollback('storyboard') (CLI: storynb rollback ID storyboard). "
            "To keep your shots as they are: project.skip('storyboard').")

    def done() -> bool:
        return fresh and has_shots

    async def run() -> None:
        result, call_id = await ask_llm(project, "storyboard", tpl, values, key=key, want_json=True,
                                        validate=lambda text: parse_storyboard(text, row["language"]))
        shots, repairs = parse_storyboard(result.text, row["language"])
        project.replace_shots(shots)
        project.db["storyboards"].insert({
            "project_id": project.id, "key": key, "story_id": (project._story_row() or {}).get("id"),
            "template_id": tpl["id"], "call_id": call_id, "raw": result.text,
            "repairs": json.dumps(repairs, ensure_ascii=False)})

    return [Job("storyboard", key, "storyboard", run, done, limit=project.provider("llm").name,
               cap=project.provider("llm").concurrency)]
