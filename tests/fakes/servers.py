"""The fake services (see the package docstring for the fault format)."""
from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import io
import itertools
import json
import re
import subprocess
import threading
import time
import uuid
import wave
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@lru_cache(maxsize=None)
def tiny_png(width: int = 64, height: int = 96, color=(200, 120, 40)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


@lru_cache(maxsize=None)
def tiny_mp4(seconds: float = 1.0, size: str = "96x64", fps: int = 12, color: str = "") -> bytes:
    """A real H.264 MP4 (with an audio track, as services often send) made by ffmpeg: a test
    pattern, or a plain colour (hex RRGGBB)."""
    import imageio_ffmpeg

    source = (f"color=c=0x{color}:size={size}:rate={fps}:duration={seconds}" if color else
              f"testsrc2=size={size}:rate={fps}:duration={seconds}")
    out = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi",
         "-i", source, "-f", "lavfi",
         "-i", f"sine=duration={seconds}", "-shortest", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-movflags", "frag_keyframe+empty_moov", "-f", "mp4", "pipe:1"],
        capture_output=True, check=True)
    return out.stdout


@lru_cache(maxsize=None)
def tiny_wav(seconds: float = 0.5, rate: int = 24000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\x00\x01" * int(seconds * rate))
    return buffer.getvalue()


class Request:
    def __init__(self, method, path, query, headers, body):
        self.method, self.path, self.query, self.headers, self.body = method, path, query, headers, body
        self.time = time.monotonic()
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None


class FakeServer:
    """A threaded HTTP server with a route table, queued faults and a request log."""

    def __init__(self, *, latency: float = 0.0, key: str | None = None):
        self.routes: list[tuple[str, re.Pattern, str, object]] = []
        self.faults: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self.requests: list[tuple[str, Request]] = []
        self.latency = latency
        self.key = key  # when set, requests must carry `Authorization: Bearer <key>`
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.asset_hits: collections.Counter = collections.Counter()
        self.expire_urls = 0  # the next N asset URLs issued answer 403 (expired)
        self.url_ttl: float | None = None  # every asset URL answers 403 this long after it is issued
        self._issued: dict[str, float] = {}
        self._expired: set[str] = set()
        self._counter = itertools.count(1)
        self.setup()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    # life --------------------------------------------------------------------------------
    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def setup(self) -> None:
        self.route("GET", r"/assets/(?P<name>[^/?]+)", "asset", self.asset)

    def route(self, method: str, pattern: str, name: str, handler) -> None:
        self.routes.append((method, re.compile(f"^{pattern}$"), name, handler))

    def fail(self, route: str, *faults: dict) -> None:
        self.faults[route].extend(faults)

    def hits(self, route: str) -> list[Request]:
        return [r for name, r in self.requests if name == route]

    # assets ------------------------------------------------------------------------------
    def issue(self, name: str) -> str:
        """A signed-looking URL for an asset; expired at once while `expire_urls` > 0."""
        token = f"{next(self._counter)}-{uuid.uuid4().hex[:8]}"
        with self.lock:
            self._issued[token] = time.monotonic()
            if self.expire_urls > 0:
                self.expire_urls -= 1
                self._expired.add(token)
        return f"{self.url}/assets/{name}?token={token}"

    def asset(self, request: Request, name: str):
        token = request.query.get("token", [""])[0]
        self.asset_hits[name] += 1
        issued = self._issued.get(token)
        if token in self._expired or (self.url_ttl is not None and issued is not None
                                      and time.monotonic() - issued > self.url_ttl):
            return 403, {"Content-Type": "application/xml"}, b"<Error><Code>AccessDenied</Code>" \
                b"<Message>Request has expired</Message></Error>"
        if name.endswith(".png"):
            return 200, {"Content-Type": "image/png"}, tiny_png()
        if name.endswith(".mp4"):
            colour = re.match(r"video-([0-9a-f]{6})\.mp4$", name)
            return 200, {"Content-Type": "video/mp4"}, tiny_mp4(color=colour.group(1) if colour else "")
        return 404, {}, b"not found"

    # plumbing ----------------------------------------------------------------------------
    def authorized(self, request: Request) -> bool:
        return self.key is None or request.headers.get("authorization") == f"Bearer {self.key}"

    def unauthorized(self):
        return 401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                               "code": "invalid_api_key"}}

    def _dispatch(self, method: str, raw_path: str, headers: dict, body: bytes):
        parsed = urlparse(raw_path)
        request = Request(method, parsed.path, parse_qs(parsed.query, keep_blank_values=True),
                          headers, body)
        for route_method, pattern, name, handler in self.routes:
            match = pattern.match(parsed.path)
            if route_method == method and match:
                with self.lock:
                    self.requests.append((name, request))
                    fault = self.faults[name].popleft() if self.faults[name] else None
                return name, request, fault, (lambda h=handler, m=match: h(request, **m.groupdict()))
        return None, request, None, lambda: (404, {"error": {"message": f"no route {method} {parsed.path}"}})

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes (keep-alive)

            def log_message(self, *args):
                pass

            def _serve(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                name, request, fault, call = server._dispatch(method, self.path, headers, body)
                with server.lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    if server.latency:
                        time.sleep(server.latency)
                    if fault is not None:
                        if fault.get("sleep"):
                            time.sleep(fault["sleep"])
                        if fault.get("drop"):
                            self.close_connection = True
                            self.connection.shutdown(2)
                            return
                        if "raw" in fault or "json" in fault or "status" in fault:
                            status = fault.get("status", 200)
                            payload = fault["raw"] if "raw" in fault else json.dumps(fault.get("json", {})).encode()
                            return self._send(status, {"Content-Type": "application/json",
                                                       **fault.get("headers", {})}, payload)
                    if name not in (None, "asset") and not server.authorized(request):
                        status, answer = server.unauthorized()
                        return self._send(status, {"Content-Type": "application/json"},
                                          json.dumps(answer).encode())
                    result = call()
                    if len(result) == 3:
                        status, hdrs, payload = result
                    else:
                        status, answer = result
                        hdrs, payload = {"Content-Type": "application/json"}, json.dumps(answer).encode()
                    self._send(status, hdrs, payload)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def _send(self, status, headers, payload: bytes):
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

            def do_DELETE(self):
                self._serve("DELETE")

        return Handler


class OpenAIFake(FakeServer):
    """/v1/chat/completions, /v1/models, /v1/images/generations, /v1/audio/speech.

    `replies` is a queue of chat answers: a string (the content), or a dict with any of
    content, reasoning_content, refusal, finish_reason, usage. Without one it echoes JSON."""

    def setup(self):
        super().setup()
        self.replies: collections.deque = collections.deque()
        self.image_mode = "b64_json"  # or "url"
        self.route("POST", r"/v1/chat/completions", "chat", self.chat)
        self.route("GET", r"/v1/models", "models", self.models)
        self.route("POST", r"/v1/images/generations", "images", self.images)
        self.route("POST", r"/v1/audio/speech", "speech", self.speech)

    def chat(self, request):
        body = request.json or {}
        if not body.get("model") or not body.get("messages"):
            return 400, {"error": {"message": "model and messages are required",
                                   "type": "invalid_request_error"}}
        reply = self.replies.popleft() if self.replies else '{"ok": true}'
        reply = {"content": reply} if isinstance(reply, str) else dict(reply)
        message = {"role": "assistant", "content": reply.get("content"),
                   "refusal": reply.get("refusal")}
        if "reasoning_content" in reply:
            message["reasoning_content"] = reply["reasoning_content"]
        return 200, {"id": f"chatcmpl-{uuid.uuid4().hex[:10]}", "object": "chat.completion",
                     "created": int(time.time()), "model": body["model"],
                     "choices": [{"index": 0, "message": message,
                                  "finish_reason": reply.get("finish_reason", "stop")}],
                     "usage": reply.get("usage", {"prompt_tokens": 11, "completion_tokens": 7,
                                                  "total_tokens": 18})}

    def models(self, request):
        return 200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]}

    def images(self, request):
        body = request.json or {}
        if not body.get("prompt"):
            return 400, {"error": {"message": "prompt is required", "type": "invalid_request_error"}}
        if self.image_mode == "url":
            return 200, {"created": int(time.time()), "data": [{"url": self.issue("image.png")}]}
        shade = hashlib.sha256(body["prompt"].encode()).digest()[:3]  # a picture per prompt
        return 200, {"created": int(time.time()),
                     "data": [{"b64_json": base64.b64encode(tiny_png(color=tuple(shade))).decode()}],
                     "usage": {"input_tokens": 10, "output_tokens": 100, "total_tokens": 110}}

    def speech(self, request):
        body = request.json or {}
        if not body.get("input"):
            return 400, {"error": {"message": "input is required"}}
        return 200, {"Content-Type": "audio/wav"}, tiny_wav()


class SDWebUIFake(FakeServer):
    """/sdapi/v1/txt2img and /sdapi/v1/sd-models, with optional HTTP Basic auth (--api-auth)."""

    def __init__(self, *, auth: str | None = None, **kw):
        self.auth = auth
        super().__init__(**kw)

    def setup(self):
        super().setup()
        self.route("POST", r"/sdapi/v1/txt2img", "txt2img", self.txt2img)
        self.route("GET", r"/sdapi/v1/sd-models", "models", self.models)

    def authorized(self, request):
        if self.auth is None:
            return True
        return request.headers.get("authorization") == "Basic " + base64.b64encode(self.auth.encode()).decode()

    def unauthorized(self):
        return 401, {"detail": "Incorrect username or password"}

    def txt2img(self, request):
        body = request.json or {}
        if body.get("width", 0) % 8 or body.get("height", 0) % 8:
            return 422, {"detail": [{"loc": ["body", "width"], "msg": "not a multiple of 8"}]}
        info = {"prompt": body.get("prompt"), "seed": body.get("seed"), "all_seeds": [body.get("seed")],
                "width": body.get("width"), "height": body.get("height")}
        return 200, {"images": [base64.b64encode(tiny_png()).decode()], "parameters": body,
                     "info": json.dumps(info)}

    def models(self, request):
        return 200, [{"title": "dreamshaper_8.safetensors [abc]", "model_name": "dreamshaper_8"}]


class ComfyUIFake(FakeServer):
    """/prompt, /history/{id} (empty for `polls_before_done` polls), /view, /system_stats."""

    def setup(self):
        super().setup()
        self.polls_before_done = 2
        self.fail_prompts = 0  # the next N workflows end in execution_error
        self.prompts: dict[str, dict] = {}
        self.route("POST", r"/prompt", "prompt", self.prompt)
        self.route("GET", r"/history/(?P<pid>[^/]+)", "history", self.history)
        self.route("GET", r"/view", "view", self.view)
        self.route("GET", r"/system_stats", "stats", self.stats)

    def prompt(self, request):
        graph = (request.json or {}).get("prompt")
        if not isinstance(graph, dict) or not graph:
            return 400, {"error": {"type": "no_prompt", "message": "No prompt provided"}, "node_errors": {}}
        if "{{" in json.dumps(graph):
            return 400, {"error": {"type": "prompt_outputs_failed_validation", "message": "bad input"},
                         "node_errors": {"x": {"errors": ["unfilled placeholder"]}}}
        pid = uuid.uuid4().hex
        failing = self.fail_prompts > 0
        self.fail_prompts -= 1 if failing else 0
        self.prompts[pid] = {"graph": graph, "polls": 0, "fail": failing}
        return 200, {"prompt_id": pid, "number": len(self.prompts), "node_errors": {}}

    def history(self, request, pid):
        entry = self.prompts.get(pid)
        if entry is None:
            return 200, {}
        entry["polls"] += 1
        if entry["polls"] <= self.polls_before_done:
            return 200, {}
        if entry["fail"]:
            return 200, {pid: {"outputs": {}, "status": {"status_str": "error", "completed": False,
                         "messages": [["execution_error", {"node_type": "KSampler",
                                                           "exception_message": "CUDA out of memory"}]]}}}
        return 200, {pid: {"prompt": [1, pid, entry["graph"], {}, ["9"]],
                           "outputs": {"9": {"images": [{"filename": f"{pid}.png", "subfolder": "",
                                                         "type": "output"}]}},
                           "status": {"status_str": "success", "completed": True, "messages": []}}}

    def view(self, request):
        if not request.query.get("filename", [""])[0].endswith(".png"):
            return 404, {}, b""
        return 200, {"Content-Type": "image/png"}, tiny_png()

    def stats(self, request):
        return 200, {"system": {"os": "posix"}, "devices": [{"name": "cpu", "type": "cpu"}]}


class _TaskFake(FakeServer):
    """A submit → poll task state machine. Each new task takes the next script from
    `task_scripts` (a list of statuses, the last one terminal), else `default_script`."""

    default_script: list = []

    def setup(self):
        super().setup()
        self.task_scripts: collections.deque = collections.deque()
        self.tasks: dict[str, dict] = {}

    def new_task(self, body) -> str:
        task_id = str(uuid.uuid4())
        script = list(self.task_scripts.popleft() if self.task_scripts else self.default_script)
        self.tasks[task_id] = {"script": script, "step": 0, "body": body}
        return task_id

    def advance(self, task_id: str) -> str | None:
        task = self.tasks.get(task_id)
        if task is None:
            return None
        status = task["script"][min(task["step"], len(task["script"]) - 1)]
        task["step"] += 1
        return status

    @property
    def submits(self) -> int:
        return len(self.tasks)


# runwayml/sdk-python types/image_to_video_create_params.py (gen3a_turbo removed 2026-06)
RUNWAY_DURATIONS = {"gen4_turbo": tuple(range(2, 11)), "gen4.5": tuple(range(2, 11)),
                    "veo3.1": (4, 6, 8), "veo3.1_fast": (4, 6, 8), "veo3": (8,), "gen3a_turbo": ()}


class RunwayFake(_TaskFake):
    default_script = ["PENDING", "THROTTLED", "RUNNING", "SUCCEEDED"]

    def setup(self):
        super().setup()
        self.route("POST", r"/v1/image_to_video", "submit", self.submit)
        self.route("GET", r"/v1/tasks/(?P<task_id>[^/]+)", "task", self.task)
        self.route("GET", r"/v1/organization", "org", self.org)

    def authorized(self, request):
        return super().authorized(request)

    def submit(self, request):
        if request.headers.get("x-runway-version") != "2024-11-06":
            return 400, {"error": "You must provide a valid X-Runway-Version header"}
        body = request.json or {}
        if not str(body.get("promptImage", "")).startswith(("data:image/", "https://")):
            return 400, {"error": "promptImage must be an HTTPS URL or a data URI"}
        allowed = RUNWAY_DURATIONS.get(body.get("model"), (5, 10))  # per the SDK's types
        if not allowed:
            return 400, {"error": f"Invalid model: {body.get('model')}"}
        if body.get("duration") not in allowed:
            return 400, {"error": f"duration must be one of {list(allowed)}"}
        return 200, {"id": self.new_task(body)}

    def task(self, request, task_id):
        status = self.advance(task_id)
        if status is None:
            return 404, {"error": "Task not found"}
        base = {"id": task_id, "createdAt": "2026-01-01T00:00:00.000Z"}
        if status == "SUCCEEDED":  # a video per input image (its colour from the image's hash)
            image = str(self.tasks[task_id]["body"].get("promptImage", ""))
            colour = hashlib.sha256(image.encode()).hexdigest()[:6] if image else ""
            name = f"video-{colour}.mp4" if colour else "video.mp4"
            return 200, {**base, "status": "SUCCEEDED", "output": [self.issue(name)]}
        if status.startswith("FAILED"):
            code = status.split(":", 1)[1] if ":" in status else "INTERNAL"
            return 200, {**base, "status": "FAILED", "failure": "generation failed", "failureCode": code}
        if status == "RUNNING":
            return 200, {**base, "status": "RUNNING", "progress": 0.5}
        return 200, {**base, "status": status}

    def org(self, request):
        return 200, {"creditBalance": 1000, "tier": {"maxMonthlyCreditSpend": 10000}}


class KlingFake(_TaskFake):
    """Verifies the HS256 JWT (iss, exp, nbf, signature) on every request."""

    default_script = ["submitted", "processing", "succeed"]

    def __init__(self, *, access_key: str, secret_key: str, **kw):
        self.access_key, self.secret_key = access_key, secret_key
        super().__init__(**kw)

    def setup(self):
        super().setup()
        self.route("POST", r"/v1/videos/image2video", "submit", self.submit)
        self.route("GET", r"/v1/videos/image2video/(?P<task_id>[^/]+)", "task", self.task)
        self.route("GET", r"/v1/videos/image2video", "list", self.list)

    def authorized(self, request):
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return False
        try:
            head, payload, signature = header[7:].split(".")
            expected = hmac.new(self.secret_key.encode(), f"{head}.{payload}".encode(), hashlib.sha256).digest()
            pad = lambda s: s + "=" * (-len(s) % 4)
            if not hmac.compare_digest(base64.urlsafe_b64decode(pad(signature)), expected):
                return False
            claims = json.loads(base64.urlsafe_b64decode(pad(payload)))
            header_fields = json.loads(base64.urlsafe_b64decode(pad(head)))
        except Exception:
            return False
        now = time.time()
        return (header_fields.get("alg") == "HS256" and claims.get("iss") == self.access_key
                and claims.get("exp", 0) > now and claims.get("nbf", now + 1) <= now)

    def unauthorized(self):
        return 401, {"code": 1002, "message": "Authorization is invalid", "request_id": "r"}

    def submit(self, request):
        body = request.json or {}
        if not body.get("image") or str(body["image"]).startswith("data:"):
            return 400, {"code": 1201, "message": "image must be a URL or raw base64", "request_id": "r"}
        if body.get("duration") not in ("5", "10"):
            return 400, {"code": 1201, "message": "duration must be \"5\" or \"10\"", "request_id": "r"}
        control = body.get("camera_control")
        if control and control.get("type") == "simple":
            nonzero = [v for v in control["config"].values() if v]
            if len(nonzero) != 1 or not -10 <= nonzero[0] <= 10:
                return 400, {"code": 1201, "message": "simple camera control needs one axis", "request_id": "r"}
        task_id = self.new_task(body)
        return 200, {"code": 0, "message": "SUCCEED", "request_id": "r",
                     "data": {"task_id": task_id, "task_status": "submitted", "created_at": 1, "updated_at": 1}}

    def task(self, request, task_id):
        status = self.advance(task_id)
        if status is None:
            return 404, {"code": 1203, "message": "task not found", "request_id": "r"}
        data = {"task_id": task_id, "task_status": status, "created_at": 1, "updated_at": 2}
        if status == "succeed":
            data["task_result"] = {"videos": [{"id": "v1", "url": self.issue("video.mp4"), "duration": "5.1"}]}
            data["final_unit_deduction"] = "1"
        if status == "failed":
            data["task_status_msg"] = "internal error during generation"
        return 200, {"code": 0, "message": "SUCCEED", "request_id": "r", "data": data}

    def list(self, request):
        return 200, {"code": 0, "message": "SUCCEED", "request_id": "r", "data": []}


class DashScopeFake(_TaskFake):
    default_script = ["PENDING", "RUNNING", "SUCCEEDED"]

    def setup(self):
        super().setup()
        self.route("POST", r"/api/v1/services/aigc/video-generation/video-synthesis", "submit", self.submit)
        self.route("GET", r"/api/v1/tasks/(?P<task_id>[^/]+)", "task", self.task)

    def unauthorized(self):
        return 401, {"code": "InvalidApiKey", "message": "Invalid API-key provided.", "request_id": "r"}

    def submit(self, request):
        if request.headers.get("x-dashscope-async") != "enable":
            return 403, {"code": "AccessDenied", "message": "current user api does not support "
                         "synchronous calls", "request_id": "r"}
        body = request.json or {}
        if not (body.get("input") or {}).get("img_url"):
            return 400, {"code": "InvalidParameter", "message": "img_url is required", "request_id": "r"}
        task_id = self.new_task(body)
        return 200, {"output": {"task_status": "PENDING", "task_id": task_id}, "request_id": "r"}

    def task(self, request, task_id):
        status = self.advance(task_id)
        if status is None:
            return 200, {"request_id": "r", "output": {"task_id": task_id, "task_status": "UNKNOWN"}}
        output = {"task_id": task_id, "task_status": status.split(":")[0]}
        answer = {"request_id": "r", "output": output}
        if status == "SUCCEEDED":
            output["video_url"] = self.issue("video.mp4")
            answer["usage"] = {"duration": 5, "video_count": 1, "SR": 720}
        if status.startswith("FAILED"):
            output["code"] = status.split(":", 1)[1] if ":" in status else "InternalError"
            output["message"] = "task failed"
        return 200, answer
