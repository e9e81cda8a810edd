"""Reference images (a shot's characters, storynb.characters) in each image API's own form.

`ImageRequest.reference_images` holds the files; an adapter that can take input images turns
them into its request here, one function per API, so the adapters stay small:

- OpenAI images (`openai_images`): `POST /images/edits`, multipart, the references as repeated
  `image[]` parts (GPT-image models take up to 16; dall-e-2 takes one, as `image`; dall-e-3 has no
  edits, so it gets the prompt alone, which already carries the locked descriptions).

What the other adapters need (their files are owned elsewhere; see the issue 12 report):
Runway `referenceImages: [{uri, tag}]` with `@tag` in the prompt (text_to_image), Kling's
multi-image input (`image_list`), A1111 an IP-Adapter unit through ControlNet's `alwayson_scripts`
(a configured param), ComfyUI a LoadImage node wired into a configured IP-Adapter node. Until
then they fall back to the locked descriptions in the prompt.
"""
from __future__ import annotations

import mimetypes
from pathlib import Path

OPENAI_MAX_IMAGES = 16


def openai_takes_references(model: str) -> bool:
    return not model.startswith("dall-e-3")


async def openai_edit(adapter, request, body: dict) -> dict:
    """POST /images/edits with the request's reference images; returns the parsed answer."""
    paths = [Path(p) for p in request.reference_images]
    if adapter.model.startswith("dall-e-2"):
        paths, field = paths[:1], "image"
    else:
        paths, field = paths[:OPENAI_MAX_IMAGES], "image[]"
    files = []
    for path in paths:
        kind = mimetypes.guess_type(path.name)[0] or "image/png"
        files.append((field, (path.name, path.read_bytes(), kind)))
    form = {k: str(v) for k, v in body.items() if k not in ("style",) and v is not None}
    return await adapter.request("POST", "/images/edits", files=files, data=form)
