"""Stage 4 — camera (运镜): one movement per shot, chosen by the LLM from scene and narration.
Movements set by hand (source 'user') are kept."""
from __future__ import annotations

import json
from typing import Any

from ..db import now, writing
from ..errors import InvalidInput, NotFound, StageFailed
from ..prompts import DATA_DIR
from ..runner import Job, job_key
from .common import ask_llm, extract_json, provider_identity, take, template


def _move(movement: str, params: dict):
    from ..render.motion import CameraMove

    return CameraMove.from_params(movement, params or {})


def parse_camera(text: str, sequences: list[int]) -> tuple[dict[int, tuple[str, dict]], list[str]]:
    """Movement per shot sequence from an LLM answer; shots it left out hold still (a repair)."""
    data, repairs = extract_json(text)
    items = data.get("shots") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValueError(f"the camera answer has no \"shots\" list: {json.dumps(data, ensure_ascii=False)[:160]}")
    chosen: dict[int, tuple[str, dict]] = {}
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ValueError(f"camera entry {position} is not an object: {item!r:.120}")
        seq: Any = item.get("sequence", item.get("seq", position))
        try:
            move = _move(str(item.get("movement", "")), item.get("params") or {})
        except (ValueError, TypeError) as exc:
            raise ValueError(f"camera entry {position} ({json.dumps(item, ensure_ascii=False)[:160]}): {exc}") from None
        chosen[int(seq)] = (move.movement, move.to_params())
    for seq in sequences:
        if seq not in chosen:
            chosen[seq] = ("static", _move("static", {}).to_params())
            repairs.append(f"shot {seq}: no movement in the answer, holds still")
    return chosen, repairs


def plan(project) -> list[Job]:
    """One LLM call for the shots whose movement is missing or out of date. Each shot's movement
    is keyed by its own scene and narration, so adding, moving or editing one shot does not
    change the others' movements (nor re-render their clips). Movements set by hand stay."""
    shots = project.shots()
    if not shots:
        raise StageFailed("the project has no shots: run the storyboard stage or add shots by hand")
    tpl = template(project, "camera")
    llm = project.provider("llm")
    common = {"template_id": tpl["id"], **provider_identity(llm), "take": take(project, "camera"),
              "language": project.row["language"]}
    shot_keys = {s["id"]: job_key("camera", scene=s["scene"], narration=s["narration"], **common)
                 for s in shots}
    db = project.db

    def stale() -> list[dict]:
        current = {r["shot_id"]: r for r in db.query(
            f"select shot_id, source, key from camera where shot_id in ({','.join('?' * len(shots))})",
            [s["id"] for s in shots])}
        return [s for s in shots if not (r := current.get(s["id"]))
                or (r["source"] != "user" and r["key"] != shot_keys[s["id"]])]

    todo = stale()
    listed = [{"sequence": s["seq"], "scene": s["scene"], "narration": s["narration"]} for s in shots]
    values = {"shots": listed, "language": project.row["language"]}
    key = job_key("camera", shots=sorted(shot_keys[s["id"]] for s in todo), **common)

    async def run() -> None:
        sequences = [s["seq"] for s in shots]
        result, _ = await ask_llm(project, "camera", tpl, values, key=key, want_json=True,
                                  validate=lambda text: parse_camera(text, sequences))
        chosen, _repairs = parse_camera(result.text, sequences)
        with writing(db):
            for shot in stale():  # the whole storyboard is context; only these are written
                movement, params = chosen[shot["seq"]]
                db["camera"].delete_where("shot_id = ?", [shot["id"]])
                db["camera"].insert({"project_id": project.id, "shot_id": shot["id"],
                                     "movement": movement, "params": json.dumps(params),
                                     "source": "llm", "key": shot_keys[shot["id"]], "created": now()})

    job = Job("camera", key, "camera moves", run, lambda: not stale(), limit=llm.name,
              cap=llm.concurrency)
    job.pending_shots = lambda: [s["id"] for s in stale()]  # what a run would redo (storynb.usage)
    return [job]


# presets ---------------------------------------------------------------------------------
def _install_presets(db) -> None:
    if db["camera_presets"].count_where("builtin = 1"):
        return
    for item in json.loads((DATA_DIR / "camera_presets.json").read_text(encoding="utf-8")):
        db["camera_presets"].insert({**item, "params": json.dumps(item["params"]), "builtin": 1},
                                    replace=True)


def presets(db) -> list[dict]:
    _install_presets(db)
    return [{**p, "params": json.loads(p["params"])} for p in db["camera_presets"].rows_where(order_by="name")]


def preset(db, name: str) -> dict:
    for item in presets(db):
        if item["name"] == name:
            return item
    raise NotFound(f"no camera preset {name!r}; presets: {', '.join(p['name'] for p in presets(db))}")


def add_preset(db, name: str, movement: str, params: dict | None = None, description: str = "") -> dict:
    """Add (or replace) a user preset; built-in presets cannot be overwritten."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("a camera preset needs a name")
    try:
        move = _move(movement, params or {})
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    _install_presets(db)
    if db["camera_presets"].count_where("name = ? and builtin = 1", [name]):
        raise InvalidInput(f"{name!r} is a built-in preset: choose another name")
    row = {"name": name, "movement": move.movement, "params": json.dumps(move.to_params()),
           "description": description, "builtin": 0}
    db["camera_presets"].insert(row, replace=True)
    return {**row, "params": move.to_params()}
