"""A hostile OpenAI-shaped service that echoes the caller's Authorization header back: in response
headers on every answer, and inside long error bodies (deep inside, and right where an error
message would be cut for display). Used to prove that a key never leaks through logs, errors or
the call log."""
from __future__ import annotations

import collections
import json

from .servers import FakeServer


class EchoKeyFake(FakeServer):
    """/v1/chat/completions and /v1/models. `shapes` is a queue of answers for the chat route:
    "json-500" (a JSON error whose message carries the key at several depths), "html-502" (a
    non-JSON error page), "bad-json" (HTTP 200 that is not JSON), "ok" (a normal answer).
    /v1/models answers 401 with the key in the message. Every answer echoes the header."""

    def setup(self):
        super().setup()
        self.shapes: collections.deque = collections.deque()
        self.route("POST", r"/v1/chat/completions", "chat", self.chat)
        self.route("GET", r"/v1/models", "models", self.models)

    def authorized(self, request):  # the whole point is to answer whatever was sent
        return True

    @staticmethod
    def _echo(request) -> dict:
        auth = request.headers.get("authorization", "")
        return {"X-Echo-Authorization": auth, "WWW-Authenticate": f'Bearer realm="api", error="{auth}"'}

    @staticmethod
    def _buried(auth: str, cut: int) -> str:
        """Text with the header placed across position `cut` (where a display would truncate),
        once more after 50 kB of filler, and at the very end."""
        head = "E" * (cut - 20)
        return f"{head}{auth} … " + "x" * 50_000 + f" you sent {auth} " + "y" * 3000 + auth

    def chat(self, request):
        shape = self.shapes.popleft() if self.shapes else "ok"
        auth = request.headers.get("authorization", "")
        echo = self._echo(request)
        if shape == "json-500":
            body = {"error": {"message": self._buried(auth, 400), "type": "server_error",
                              "code": f"bad_auth {auth}"}}
            return 500, {**echo, "Content-Type": "application/json"}, json.dumps(body).encode()
        if shape == "html-502":
            return 502, {**echo, "Content-Type": "text/html"}, \
                ("<html><body>" + self._buried(auth, 300) + "</body></html>").encode()
        if shape == "bad-json":
            return 200, {**echo, "Content-Type": "application/json"}, \
                ("{not json " + self._buried(auth, 110)).encode()
        body = {"id": "chatcmpl-1", "object": "chat.completion", "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "fine"},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
        return 200, {**echo, "Content-Type": "application/json"}, json.dumps(body).encode()

    def models(self, request):
        auth = request.headers.get("authorization", "")
        body = {"error": {"message": "Incorrect API key provided: " + self._buried(auth, 400),
                          "type": "invalid_request_error", "code": "invalid_api_key"}}
        return 401, {**self._echo(request), "Content-Type": "application/json"}, json.dumps(body).encode()
