"""An OpenAI images service that also answers POST /v1/images/edits (multipart, `image[]` parts)
and keeps, per edit request, the prompt and the SHA-256 of every input image it was sent."""
from __future__ import annotations

import base64
import hashlib
import time
from email import policy
from email.parser import BytesParser

from .servers import OpenAIFake, tiny_png


def parse_multipart(content_type: str, body: bytes) -> list[tuple[str, str | None, bytes]]:
    """(field name, file name, bytes) for every part of a multipart/form-data body."""
    message = BytesParser(policy=policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        parts.append((name, part.get_filename(), part.get_payload(decode=True) or b""))
    return parts


class OpenAIImageEditsFake(OpenAIFake):
    def setup(self):
        super().setup()
        self.edits: list[dict] = []  # one per request: prompt, field, image hashes, other fields
        self.route("POST", r"/v1/images/edits", "edits", self.edit)

    def edit(self, request):
        content_type = request.headers.get("Content-Type") or request.headers.get("content-type") or ""
        if not content_type.startswith("multipart/form-data"):
            return 400, {"error": {"message": "images/edits takes multipart/form-data",
                                   "type": "invalid_request_error"}}
        parts = parse_multipart(content_type, request.body)
        fields = {n: v.decode() for n, f, v in parts if f is None}
        images = [(n, hashlib.sha256(v).hexdigest()) for n, f, v in parts if f is not None]
        if not fields.get("prompt") or not images:
            return 400, {"error": {"message": "prompt and image are required",
                                   "type": "invalid_request_error"}}
        self.edits.append({"prompt": fields["prompt"], "fields": fields,
                           "field_names": [n for n, _ in images],
                           "images": [h for _, h in images]})
        shade = hashlib.sha256(fields["prompt"].encode()).digest()[:3]
        return 200, {"created": int(time.time()),
                     "data": [{"b64_json": base64.b64encode(tiny_png(color=tuple(shade))).decode()}]}
