"""Image-to-video services with asynchronous task APIs: one generic submit → poll → download
adapter, and on it Runway, Kling (self-signed JWT) and DashScope Wan.

- The task id is stored (table `provider_tasks`, by provider and job key) the moment the service
  gives it, so a retry or a restarted run resumes polling the same task instead of paying for a
  new one. A task is submitted again only after it failed or its result was lost.
- Poll errors (a 5xx, a timeout, a 429) are retried here, politely, without resubmitting.
- The result file is fetched the moment the task succeeds (its URL expires). If the URL has
  already expired, the same task is read again for a fresh signed URL, as often as needed
  (param `refetch_max`); a task that succeeded is never submitted again. Only when the service
  no longer has the result is the task given up, and then its cost is recorded (it was billed).
- Polls start about 1 s apart and back off (×1.5, ±25 % jitter, up to `poll_max`).
- What each model accepts (durations, resolutions, ratios, camera control) comes from the
  capabilities table (storynb/data/capabilities.json); the shot's length is rounded up to the
  nearest duration the model makes, and every change is noted on the call.
- The downloaded video is fitted to the project's clip: scaled and cropped to its size, retimed
  to its fps, cut or held on the last frame to exactly round(duration_s*fps) frames, no audio,
  the subtitle burned in like the local renderer does.
- The project's structured camera movement becomes the service's camera control where the model,
  mode and duration support it (Kling `camera_control` type "simple", per the table) and words in
  the prompt otherwise (Runway, Wan, most Kling models).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..files import atomic_path
from ..settings import closest_ratio
from . import capabilities
from .base import (AuthError, BadRequest, ContentPolicy, ProviderError, QuotaExhausted,
                   RateLimited, TaskFailed, Transient, VideoRequest)
from .http import CALL, ExpiredAsset, HTTPAdapter, b64_image, data_uri

WAITING = {"pending", "throttled", "queued", "submitted", "queueing", "preparing", "in_queue",
           "starting", "inqueue", "running", "processing", "dreaming", "in_progress", "inprogress"}
SUCCEEDED = {"succeeded", "completed", "succeed", "success", "complete"}
FAILED = {"failed", "fail", "cancelled", "canceled", "aborted", "unknown", "error", "expired"}

# storynb movement → prompt words (services without structured camera control)
CAMERA_WORDS = {
    "static": "static camera, locked-off shot, no camera movement",
    "zoom_in": "the camera {adv}zooms in",
    "zoom_out": "the camera {adv}zooms out",
    "pan_left": "the camera {adv}pans left",
    "pan_right": "the camera {adv}pans right",
    "tilt_up": "the camera {adv}tilts up",
    "tilt_down": "the camera {adv}tilts down",
    "dolly_in": "the camera {adv}pushes in toward the subject",
    "dolly_out": "the camera {adv}pulls back away from the subject",
}
# storynb movement → Kling camera_control "simple" axis and sign. Kling's own names: `tilt` turns
# about the vertical axis (a film pan), `pan` about the horizontal axis (a film tilt). The zoom
# sign (negative = narrower field of view) is a param (`zoom_sign`) because sources disagree.
KLING_AXES = {"zoom_in": ("zoom", -1), "zoom_out": ("zoom", 1), "dolly_in": ("zoom", -1),
              "dolly_out": ("zoom", 1), "pan_left": ("tilt", -1), "pan_right": ("tilt", 1),
              "tilt_up": ("pan", 1), "tilt_down": ("pan", -1)}


def camera_words(movement: str, params: dict, table: dict | None = None) -> str:
    table = {**CAMERA_WORDS, **(table or {})}
    speed = float((params or {}).get("speed", 1.0) or 1.0)
    adv = "slowly " if speed < 0.9 else "quickly " if speed > 1.4 else "smoothly "
    return table.get(movement, movement.replace("_", " ")).format(adv=adv)


def kling_camera(movement: str, params: dict, zoom_sign: int = 1) -> dict | None:
    if movement not in KLING_AXES:
        return None
    axis, sign = KLING_AXES[movement]
    if axis == "zoom":
        sign *= zoom_sign
    amount = float((params or {}).get("intensity", 0.15)) * float((params or {}).get("speed", 1.0))
    value = max(1, min(10, round(amount * 40)))
    config = {k: 0 for k in ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")}
    config[axis] = sign * value
    return {"type": "simple", "config": config}


def pick_duration(wanted: float, allowed) -> float:
    """The shortest allowed duration (a list, or {"min", "max", "step"}) that covers `wanted`."""
    return capabilities.snap_duration(wanted, allowed)


class ResultLost(TaskFailed):
    """A task that succeeded (and was billed) whose result can no longer be fetched."""


@dataclass
class TaskState:
    state: str  # waiting | succeeded | failed
    url: str = ""
    message: str = ""
    retryable: bool = False
    units: dict = field(default_factory=dict)
    error: ProviderError | None = None


class TaskAdapter(HTTPAdapter):
    """Generic submit → poll → download. Subclasses write `submit` and `status`.

    Params: durations (overrides the table: a list, or {"min", "max", "step"}; the shortest that
    covers the shot is asked for) or duration (always this one), poll_interval/poll_max (seconds;
    the first poll at once, then about poll_interval apart, ×1.5 per poll with ±25 % jitter),
    task_timeout, poll_errors (poll failures in a row before the attempt gives up; the task is
    resumed, not resubmitted, by the next attempt), refetch_max (how many times an expired result
    URL is renewed by reading the same task), camera_words, capabilities (merged over the table)."""

    kind = "image2video"
    default_concurrency = 2
    default_params = {"poll_interval": 1.0, "poll_max": 20.0, "task_timeout": 1200,
                      "poll_errors": 6, "refetch_max": 20}

    # what a service implements ---------------------------------------------------------
    async def submit(self, request: VideoRequest, service_seconds: float) -> str:
        raise NotImplementedError

    async def status(self, task_id: str) -> TaskState:
        raise NotImplementedError

    def prompt_for(self, request: VideoRequest) -> str:
        words = camera_words(request.movement, request.params, self.params.get("camera_words"))
        prompt = (request.prompt or "").strip()
        return f"{prompt}. {words}" if prompt else words

    default_model = ""

    def capabilities(self) -> dict:
        return capabilities.for_model(self.type, self.model or self.default_model,
                                      self.params.get("capabilities"))

    def service_seconds(self, request: VideoRequest, caps: dict, context=None) -> float:
        """The clip length to ask for: `duration` if set, else the shot's length rounded up to
        the nearest the model makes (the clip is then cut to the shot)."""
        if self.params.get("duration"):
            return float(self.params["duration"])
        spec = self.params.get("durations") or caps.get("durations") or [5]
        seconds = pick_duration(request.duration_s, spec)
        if seconds < request.duration_s - 1e-6:
            capabilities.note_warning(context, f"the shot is {request.duration_s:g} s but "
                                               f"{self.model or self.default_model} makes at most "
                                               f"{seconds:g} s: the last frame is held")
        capabilities.note_change(context, "duration", round(float(request.duration_s), 3), seconds,
                                 "the nearest duration the model makes that covers the shot")
        return seconds

    # the flow ---------------------------------------------------------------------------
    async def animate(self, request: VideoRequest, out_path: Path) -> None:
        context = CALL.get()
        caps = self.capabilities()
        if caps.get("removed"):
            raise BadRequest(f"{self.name}: {caps['removed']} (storynb.providers.capabilities; "
                             f"`storynb providers edit {self.name} --model ...`)")
        capabilities.note_warning(context, caps.get("warning"))
        seconds = self.service_seconds(request, caps, context)
        task_id = self._resume(context)
        if task_id is None:
            task_id = await self.submit(request, seconds)
            self._store(context, task_id, "submitted")
        if context is not None:
            context.note["task_id"] = task_id
        raw = Path(str(out_path) + ".download.mp4")
        try:
            state = await self._wait(task_id)
            self._units(context, state, seconds)
            await self._fetch(task_id, state, raw, context, seconds)
            await asyncio.to_thread(fit_video, raw, request, out_path)
            self._store(context, task_id, "done")
        except ResultLost:
            raise  # stored as "expired", its cost recorded
        except (TaskFailed, ContentPolicy) as exc:
            if getattr(exc, "billed", False) and context is not None:  # e.g. Runway SAFETY.INPUT
                context.units.setdefault("seconds", seconds)
                context.billed = True
            self._store(context, task_id, "failed")
            raise
        finally:
            raw.unlink(missing_ok=True)

    async def _fetch(self, task_id: str, state: "TaskState", raw: Path, context, seconds: float) -> None:
        """Download the result at once; an expired URL is renewed by reading the same task again
        (services sign a fresh URL on every read), never by submitting a new task."""
        refetches = 0
        while True:
            try:
                await self.download(state.url, raw, what="video")
                return
            except ExpiredAsset as exc:
                refetches += 1
                if context is not None:
                    context.note["url_renewals"] = refetches
                if refetches > int(self.params.get("refetch_max", 20)):
                    self._lost(context, task_id, state, seconds)
                    raise ResultLost(f"{self.name}: task {task_id} succeeded but its result URL "
                                     f"stayed expired after {refetches - 1} renewals ({exc}); it was "
                                     "billed, and is not submitted again", retryable=False) from None
            await self.sleep(min(0.25 * (refetches - 1), 5.0))  # at once first: URLs may live < 1 s
            try:
                state = await self._wait(task_id)
            except TaskFailed as exc:  # the service no longer has the task (e.g. after 24 h)
                self._lost(context, task_id, state, seconds)
                raise ResultLost(f"{self.name}: task {task_id} succeeded but its result is gone "
                                 f"({exc}); it was billed, and is not submitted again",
                                 retryable=False) from None

    def _lost(self, context, task_id: str, state: "TaskState", seconds: float) -> None:
        """A task that was paid for but whose video cannot be fetched: record its cost."""
        self._units(context, state, seconds)
        if context is not None:
            context.billed = True
        self._store(context, task_id, "expired")

    async def _wait(self, task_id: str) -> TaskState:
        interval = float(self.params.get("poll_interval", 1.0))
        cap = float(self.params.get("poll_max", 20.0))
        deadline = time.monotonic() + float(self.params.get("task_timeout", 1200))
        errors = 0
        while True:
            try:
                state = await self.status(task_id)
                errors = 0
            except (Transient, RateLimited) as exc:  # poll again; never resubmit for this
                errors += 1
                if errors >= int(self.params.get("poll_errors", 6)):
                    raise
                await self.sleep(exc.retry_after if exc.retry_after is not None else interval)
                continue
            if state.state == "succeeded":
                if not state.url:
                    raise TaskFailed(f"{self.name}: task {task_id} succeeded without a result URL",
                                     retryable=True)
                return state
            if state.state == "failed":
                raise state.error or TaskFailed(f"{self.name}: task {task_id} failed: {state.message}",
                                                retryable=state.retryable)
            if time.monotonic() > deadline:
                raise Transient(f"{self.name}: task {task_id} still running after "
                                f"{self.params.get('task_timeout')} s; the next run resumes it")
            await self.sleep(interval * random.uniform(0.75, 1.25))
            interval = min(interval * 1.5, cap)

    async def check(self) -> dict:
        return {"capabilities": capabilities.summary(self.capabilities())}

    # task ids survive a restart ---------------------------------------------------------
    def _resume(self, context) -> str | None:
        if context is None or not context.job_key or context.tasks is None:
            return None
        return context.tasks.find(self.name, context.job_key)

    def _store(self, context, task_id: str, status: str) -> None:
        if context is None or not context.job_key or context.tasks is None:
            return
        context.tasks.save(self.name, context.job_key, task_id, status)

    @staticmethod
    def _units(context, state: TaskState, seconds: float) -> None:
        if context is not None:
            context.units.setdefault("seconds", seconds)
            context.units.update(state.units)


def fit_video(src: Path, request: VideoRequest, out_path: Path) -> None:
    """Fit a service's video to the project's clip (see the module docstring)."""
    from ..files import ffmpeg_exe

    width, height, fps = request.width, request.height, request.fps
    frames = max(1, round(request.duration_s * fps))
    chain = (f"[0:v]scale={width}:{height}:force_original_aspect_ratio=increase,"
             f"crop={width}:{height},setsar=1,fps={fps},"
             f"tpad=stop_mode=clone:stop_duration={request.duration_s + 1:.3f}")
    inputs = ["-i", str(src)]
    caption = None
    if request.subtitle:
        from ..render.subtitles import caption_top, find_font, render_caption

        image = render_caption(request.subtitle, width, request.font_path or find_font(request.subtitle))
        top = caption_top(width, height, image.height)
        fd, caption = tempfile.mkstemp(suffix=".png")
        os.close(fd)
        image.save(caption)
        inputs += ["-i", caption]
        chain += f"[base];[base][1:v]overlay=0:{top}:format=auto"
    chain += ",format=yuv420p[v]"
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *inputs,
           "-filter_complex", chain, "-map", "[v]", "-frames:v", str(frames), "-an",
           "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
           "-r", str(fps), "-movflags", "+faststart", "-f", "mp4"]
    try:
        with atomic_path(out_path, suffix=".mp4") as tmp:
            done = subprocess.run([*cmd, str(tmp)], capture_output=True, text=True, errors="replace")
            if done.returncode != 0:
                raise Transient(f"the downloaded video could not be read: {done.stderr.strip()[-300:]}")
    finally:
        if caption:
            os.unlink(caption)


def _state(value) -> str:
    value = str(value or "").strip().lower()
    if value in SUCCEEDED:
        return "succeeded"
    if value in FAILED:
        return "failed"
    return "waiting"


# Runway ------------------------------------------------------------------------------------
class Runway(TaskAdapter):
    """`runway`: POST /v1/image_to_video, GET /v1/tasks/{id} (header X-Runway-Version). Camera
    movement goes into promptText. Durations and ratios per model from the capabilities table
    (gen4_turbo: any whole number of seconds from 2 to 10). Params: api_version, ratios,
    durations, seed."""

    type = "runway"
    default_model = "gen4_turbo"
    default_url = "https://api.dev.runwayml.com"
    default_params = {**TaskAdapter.default_params, "api_version": "2024-11-06"}

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "X-Runway-Version": str(self.params.get("api_version"))}

    async def submit(self, request: VideoRequest, service_seconds: float) -> str:
        caps = self.capabilities()
        context = CALL.get()
        ratios = self.params.get("ratios") or caps.get("ratios") or ["1280:720", "720:1280"]
        body = {"model": self.model or self.default_model,
                "promptImage": data_uri(request.image_path, max_bytes=5_000_000),
                "promptText": self.prompt_for(request)[:1000],
                "ratio": closest_ratio(request.width, request.height, ratios),
                "duration": int(service_seconds)}
        if self.params.get("seed") is not None:
            if caps.get("seed", True):
                body["seed"] = int(self.params["seed"])
            else:
                capabilities.note_change(context, "seed", self.params["seed"], None,
                                         f"{body['model']} does not take a seed")
        data = await self.request("POST", "/v1/image_to_video", json_body=body)
        if not data.get("id"):
            raise Transient(f"{self.name}: the answer has no task id")
        return str(data["id"])

    async def status(self, task_id: str) -> TaskState:
        data = await self.request("GET", f"/v1/tasks/{task_id}")
        state = _state(data.get("status"))
        if state == "succeeded":
            output = data.get("output") or []
            return TaskState("succeeded", url=output[0] if output else "")
        if state == "failed":
            code = str(data.get("failureCode") or "")
            message = f"{self.name}: task {task_id} {data.get('status')}: {data.get('failure') or ''} {code}".strip()
            if code.startswith("SAFETY.INPUT"):
                error = ContentPolicy(message)
                error.billed = True  # input moderation failures are not refunded (Runway docs)
                return TaskState("failed", error=error)
            retryable = code.startswith("INTERNAL") or code.startswith("SAFETY.OUTPUT")
            return TaskState("failed", message=message, error=TaskFailed(message, retryable=retryable))
        return TaskState("waiting")

    async def check(self) -> dict:
        data = await self.request("GET", "/v1/organization", timeout=min(self.timeout, 20))
        return {"credit_balance": (data or {}).get("creditBalance"), **await super().check()}


# Kling -------------------------------------------------------------------------------------
KLING_CODES = {
    range(1000, 1005): AuthError, range(1100, 1101): AuthError, range(1101, 1103): QuotaExhausted,
    range(1103, 1104): AuthError, range(1200, 1204): BadRequest, range(1300, 1302): ContentPolicy,
    range(1302, 1304): RateLimited, range(1304, 1305): AuthError, range(5000, 5003): Transient,
}


def jwt_hs256(access_key: str, secret_key: str, *, lifetime: int = 1800,
              clock=time.time) -> str:
    """A Kling API token: an HS256 JWT with iss = the access key, valid `lifetime` seconds."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    issued = int(clock())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64(json.dumps({"iss": access_key, "exp": issued + lifetime, "nbf": issued - 5},
                             separators=(",", ":")).encode())
    signature = hmac.new(secret_key.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


class Kling(TaskAdapter):
    """`kling`: POST /v1/videos/image2video, GET /v1/videos/image2video/{task_id}. The key is
    `ACCESS_KEY:SECRET_KEY`; each request carries a fresh 30-minute JWT. Errors come as a body
    `code` (sometimes with HTTP 200). Params: mode (std|pro), durations, camera_control ("auto":
    structured control only where the capabilities table lists the model, mode and duration,
    e.g. kling-v1-5 pro 5 s; prompt words otherwise; "on"; "off"), zoom_sign, cfg_scale (left
    out for models that do not take it, e.g. kling-v2.x)."""

    type = "kling"
    default_model = "kling-v1"
    default_url = "https://api-singapore.klingai.com"
    default_params = {**TaskAdapter.default_params, "mode": "std", "camera_control": "auto",
                      "zoom_sign": 1}

    def headers(self) -> dict[str, str]:
        key = self.key()
        access, _, secret = key.partition(":")
        if not secret:
            raise AuthError(f"{self.name}: the key must be ACCESS_KEY:SECRET_KEY")
        return {"Authorization": f"Bearer {jwt_hs256(access, secret)}"}

    def _uses_control(self, caps: dict, mode: str, seconds: float) -> bool:
        setting = str(self.params.get("camera_control", "auto"))
        if setting == "auto":
            return any(str(combo.get("mode", mode)) == mode
                       and float(combo.get("duration", seconds)) == float(seconds)
                       for combo in caps.get("camera_control") or [] if isinstance(combo, dict))
        return setting == "on"

    def answer(self, response, expect: str = "json"):
        if expect == "json":  # Kling puts its error code in the body, with HTTP 200 or 4xx
            try:
                data = json.loads(response.content or b"null")
            except (json.JSONDecodeError, UnicodeDecodeError):
                data = None
            if isinstance(data, dict) and data.get("code") not in (0, None):
                raise kling_error(self.name, data, response.status_code, response.headers)
        return super().answer(response, expect)

    async def submit(self, request: VideoRequest, service_seconds: float) -> str:
        caps = self.capabilities()
        context = CALL.get()
        wanted_mode = str(self.params.get("mode", "std"))
        mode = capabilities.snap_choice(wanted_mode, caps.get("modes") or [])
        capabilities.note_change(context, "mode", wanted_mode, mode, "a mode the model offers")
        body = {"model_name": self.model or self.default_model,
                "image": b64_image(request.image_path, max_bytes=10_000_000),
                "mode": mode, "duration": str(int(service_seconds))}
        control = kling_camera(request.movement, request.params, int(self.params.get("zoom_sign", 1)))
        if control and self._uses_control(caps, mode, service_seconds):
            body["camera_control"] = control
            body["prompt"] = (request.prompt or "")[:2500]
        else:
            if control:
                capabilities.note_change(
                    context, "camera_control", request.movement, "prompt words",
                    f"{body['model_name']} {mode} {int(service_seconds)} s has no camera control")
            body["prompt"] = self.prompt_for(request)[:2500]
        if self.params.get("cfg_scale") is not None:
            if caps.get("cfg_scale", True):
                body["cfg_scale"] = self.params["cfg_scale"]
            else:
                capabilities.note_change(context, "cfg_scale", self.params["cfg_scale"], None,
                                         f"{body['model_name']} does not take cfg_scale")
        if self.params.get("negative_prompt"):
            body["negative_prompt"] = self.params["negative_prompt"]
        data = await self.request("POST", "/v1/videos/image2video", json_body=body)
        task_id = (data.get("data") or {}).get("task_id")
        if not task_id:
            raise Transient(f"{self.name}: the answer has no task_id")
        return str(task_id)

    async def status(self, task_id: str) -> TaskState:
        data = (await self.request("GET", f"/v1/videos/image2video/{task_id}")).get("data") or {}
        state = _state(data.get("task_status"))
        units = {}
        if data.get("final_unit_deduction") not in (None, ""):
            try:
                units["units"] = float(data["final_unit_deduction"])
            except (TypeError, ValueError):
                pass
        if state == "succeeded":
            videos = (data.get("task_result") or {}).get("videos") or []
            return TaskState("succeeded", url=videos[0].get("url", "") if videos else "", units=units)
        if state == "failed":
            message = f"{self.name}: task {task_id} failed: {data.get('task_status_msg') or ''}"
            return TaskState("failed", message=message, retryable=True,
                             error=TaskFailed(message, retryable=True))
        return TaskState("waiting")

    async def check(self) -> dict:
        data = await self.request("GET", "/v1/videos/image2video",
                                  params={"pageNum": 1, "pageSize": 1}, timeout=min(self.timeout, 20))
        return {"tasks_listed": len(data.get("data") or []), **await super().check()}


def kling_error(name: str, data: dict, status: int, headers) -> ProviderError:
    from .http import retry_after

    code = int(data.get("code") or 0)
    message = f"{name}: Kling code {code}: {data.get('message', '')}"[:500]
    for codes, cls in KLING_CODES.items():
        if code in codes:
            if cls is RateLimited:
                return RateLimited(message, retry_after=retry_after(headers) or 1.0, status=status)
            return cls(message, status=status)
    return Transient(message, status=status) if status >= 500 else BadRequest(message, status=status)


# DashScope Wan ------------------------------------------------------------------------------
class DashScopeWan(TaskAdapter):
    """`dashscope_wan`: POST /api/v1/services/aigc/video-generation/video-synthesis with
    X-DashScope-Async: enable, GET /api/v1/tasks/{id}. Camera movement goes into the prompt
    (prompt_extend is off by default so it is kept verbatim). Resolutions, durations and the body
    per model from the capabilities table (wan2.2-i2v-plus: 480P/1080P; wan2.7: `input.media[]`).
    Params: resolution (a wish, snapped to the model's nearest), durations, prompt_extend,
    watermark, seed."""

    type = "dashscope_wan"
    default_model = "wan2.2-i2v-flash"
    default_url = "https://dashscope.aliyuncs.com"
    default_params = {**TaskAdapter.default_params, "resolution": "720P",
                      "prompt_extend": False, "watermark": False}

    async def submit(self, request: VideoRequest, service_seconds: float) -> str:
        caps = self.capabilities()
        context = CALL.get()
        wanted = str(self.params.get("resolution", "720P")).upper()
        resolution = capabilities.snap_resolution(wanted, caps.get("resolutions") or [])
        capabilities.note_change(context, "resolution", wanted, resolution,
                                 f"{self.model or self.default_model} makes {', '.join(caps.get('resolutions') or [])}")
        image = data_uri(request.image_path, max_bytes=10_000_000)
        prompt = self.prompt_for(request)[:800]
        if caps.get("body") == "media":  # wan2.7: the inputs are a list of typed media
            inputs = {"prompt": prompt, "media": [{"type": "first_frame", "url": image}]}
        else:
            inputs = {"prompt": prompt, "img_url": image}
        body: dict[str, Any] = {
            "model": self.model or self.default_model, "input": inputs,
            "parameters": {"resolution": resolution, "duration": int(service_seconds),
                           "prompt_extend": bool(self.params.get("prompt_extend", False)),
                           "watermark": bool(self.params.get("watermark", False))}}
        if self.params.get("seed") is not None and caps.get("seed", True):
            body["parameters"]["seed"] = int(self.params["seed"])
        data = await self.request("POST", "/api/v1/services/aigc/video-generation/video-synthesis",
                                  json_body=body, headers={"X-DashScope-Async": "enable"})
        task_id = (data.get("output") or {}).get("task_id")
        if not task_id:
            raise Transient(f"{self.name}: the answer has no task_id")
        return str(task_id)

    async def status(self, task_id: str) -> TaskState:
        data = await self.request("GET", f"/api/v1/tasks/{task_id}")
        output = data.get("output") or {}
        state = _state(output.get("task_status"))
        usage = data.get("usage") or {}
        units = {"seconds": float(usage["duration"])} if usage.get("duration") else {}
        if state == "succeeded":
            return TaskState("succeeded", url=output.get("video_url", ""), units=units)
        if state == "failed":
            code = str(output.get("code") or "")
            message = (f"{self.name}: task {task_id} {output.get('task_status')}: "
                       f"{code} {output.get('message') or ''}").strip()
            if "DataInspection" in code or "IPInfringement" in code:
                return TaskState("failed", error=ContentPolicy(message))
            return TaskState("failed", message=message, retryable=True,
                             error=TaskFailed(message, retryable=True))
        return TaskState("waiting")

    async def check(self) -> dict:
        """No ping route: read a task that does not exist; 401/403 means the key is refused."""
        try:
            await self.request("GET", "/api/v1/tasks/00000000-0000-0000-0000-000000000000",
                               timeout=min(self.timeout, 20))
        except (BadRequest, TaskFailed):
            pass
        return {"key_accepted": True, **await super().check()}
