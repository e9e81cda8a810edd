"""Stage 3 — images (文生图): one image per shot from its prompt; candidates are kept."""
from __future__ import annotations

import json

from ..db import now, writing
from ..errors import StageFailed
from ..prompts import render
from ..providers.base import ImageRequest
from ..routing import served_by
from ..characters import for_image
from ..runner import Job, job_key
from .common import produce, provider_identity, record_failure, take

STEPS = 20


def final_prompt(tpl: dict | None, row: dict, shot: dict) -> str:
    """The shot's image prompt wrapped by the prompt set's image template (a style suffix …)."""
    if not tpl:
        return shot["image_prompt"]
    return render(tpl["body"], {"image_prompt": shot["image_prompt"], "style": row["style"] or "",
                                "scene": shot["scene"]}, label=f"image template v{tpl['version']}")


def plan(project) -> list[Job]:
    shots = project.shots()
    if not shots:
        raise StageFailed("the project has no shots: run the storyboard stage or add shots by hand")
    provider = project.provider("text2image")
    row = project.row
    tpl = project.studio.prompts.template(row["prompt_set_id"], "image", missing_ok=True)
    extra_seed = take(project, "images")
    return [_job(project, provider, row, shot, final_prompt(tpl, row, shot), extra_seed)
            for shot in shots]


def _job(project, provider, row, shot, prompt, extra_seed) -> Job:
    db, media = project.db, project.studio.media
    # the characters the shot shows: locked descriptions, reference images, painter looks
    prompt, references, looks, ref_names = for_image(project, shot, prompt)
    request = ImageRequest(prompt=prompt, negative_prompt=shot["negative_prompt"] or "",
                           width=row["width"], height=row["height"],
                           seed=(shot["seed"] + extra_seed) % (1 << 31), steps=STEPS,
                           caption=shot["scene"], reference_images=references, characters=looks)
    keyed = {k: v for k, v in request.__dict__.items() if k not in ("reference_images", "characters")}
    extra = {"references": ref_names, "characters": looks} if looks else {}  # shots without: old keys
    key = job_key("images", **keyed, **extra, **provider_identity(provider))

    def done() -> bool:
        found = list(db["images"].rows_where("key = ? and status = 'done'", [key],
                                             order_by=f"shot_id = {int(shot['id'])} desc", limit=1))
        if not found or not media.exists(found[0]["media"]):
            return False
        _adopt(db, shot, found[0], request.prompt)
        return True

    async def run() -> None:
        _, call_id, name = await produce(project, provider, "generate", request, stage="images",
                                         key=key, ext="png")
        with writing(db):
            db.execute("update images set chosen = 0 where shot_id = ?", [shot["id"]])
            db["images"].delete_where("key = ? and status = 'failed'", [key])
            db["images"].insert({
                "project_id": project.id, "shot_id": shot["id"], "key": key, "media": name,
                "thumb": media.thumbnail(name), "prompt": request.prompt,
                "params": json.dumps({k: v for k, v in request.__dict__.items() if k != "prompt"},
                                     default=str),
                "provider": served_by(project.db, call_id), "chosen": 1, "status": "done", "retries": 0,
                "created": now()})

    def failed(message: str) -> None:
        record_failure(db, "images", key, message, {
            "project_id": project.id, "shot_id": shot["id"], "prompt": request.prompt,
            "provider": provider.name, "chosen": 0})

    return Job("images", key, f"shot {shot['seq']} image", run, done, shot_id=shot["id"],
               limit=provider.name, cap=provider.concurrency, on_failure=failed)


def _adopt(db, shot: dict, image: dict, prompt: str) -> None:
    """Reuse a finished image for this shot. The user's pick is kept when it was made from the
    same prompt or picked after the shot's last edit; otherwise this image becomes the chosen one."""
    chosen = list(db["images"].rows_where("shot_id = ? and chosen = 1", [shot["id"]], limit=1))
    if chosen and chosen[0]["status"] == "done" and (
            chosen[0]["prompt"] == prompt
            or (chosen[0]["picked_at"] or "") >= (shot["updated"] or "")):
        return  # same prompt, or the user picked it after the shot's last edit
    with writing(db):
        db.execute("update images set chosen = 0 where shot_id = ?", [shot["id"]])
        if image["shot_id"] == shot["id"]:
            db["images"].update(image["id"], {"chosen": 1})
        else:  # the same picture was made for another shot (or a deleted one): link a copy
            copy = {k: v for k, v in image.items() if k != "id"}
            db["images"].insert({**copy, "project_id": shot["project_id"], "shot_id": shot["id"],
                                 "chosen": 1, "created": now()})
