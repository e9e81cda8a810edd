"""Text-to-image adapters: OpenAI-style image generation, Stable Diffusion WebUI (AUTOMATIC1111 /
Forge `txt2img`) and ComfyUI (an API-format workflow with placeholders; submit, wait, fetch).

Each writes one PNG. The project's size is a wish: services that only make certain sizes get
the supported size closest in shape (the camera-motion stage crops to the project's frame).
What each OpenAI image model takes (sizes, response_format, quality, style) comes from the
capabilities table; GPT-image answers carry `usage` tokens, which are billed and recorded.
"""
from __future__ import annotations

import copy
import json
import time
import uuid
from pathlib import Path

from . import capabilities
from .base import BadRequest, ImageRequest, TaskFailed, Transient
from .http import CALL, HTTPAdapter, decode_b64, save_png
from ..settings import closest_size as closest_size  # (the adapters and their tests use it by this name)
from .references import openai_edit, openai_takes_references

OPENAI_SIZES = {"dall-e-2": ["256x256", "512x512", "1024x1024"],
                "dall-e-3": ["1024x1024", "1792x1024", "1024x1792"],
                "default": ["1024x1024", "1536x1024", "1024x1536"]}


def _scaled(width: int, height: int, max_side: int, multiple: int = 8) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    return (max(multiple, round(width * scale / multiple) * multiple),
            max(multiple, round(height * scale / multiple) * multiple))


class OpenAIImages(HTTPAdapter):
    """`openai_images`: POST /images/generations; answers in b64_json or as a URL (fetched at once).
    Params: size (else the supported size closest to the project's shape), sizes, quality,
    style, response_format ("b64_json" asked of dall-e models; GPT-image models always send it),
    negative_in_prompt (true: the negative prompt is appended as "Avoid: …")."""

    kind = "text2image"
    type = "openai_images"
    default_url = "https://api.openai.com/v1"
    default_concurrency = 2
    default_params = {"negative_in_prompt": True}
    key_required = False  # local servers (Ollama's images route) need none; a cloud API answers 401

    def capabilities(self) -> dict:
        return capabilities.for_model(self.type, self.model or "dall-e-2", self.params.get("capabilities"))

    async def generate(self, request: ImageRequest, out_path: Path) -> None:
        params = self.params
        context = CALL.get()
        caps = self.capabilities()
        capabilities.note_warning(context, caps.get("warning"))
        sizes = params.get("sizes") or caps.get("sizes") or OPENAI_SIZES["default"]
        prompt = request.prompt
        if request.negative_prompt and params.get("negative_in_prompt", True):
            prompt = f"{prompt}\n\nAvoid: {request.negative_prompt}"
        body = {"model": self.model, "prompt": prompt, "n": 1,
                "size": params.get("size") or closest_size(request.width, request.height, sizes)}
        if params.get("quality"):
            allowed = caps.get("quality")
            if allowed == []:
                capabilities.note_change(context, "quality", params["quality"], None,
                                         f"{self.model} takes no quality")
            else:
                quality = capabilities.snap_choice(params["quality"], allowed or [])
                capabilities.note_change(context, "quality", params["quality"], quality,
                                         f"{self.model} offers {', '.join(allowed or [])}")
                body["quality"] = quality
        if params.get("style"):
            if caps.get("style", True):
                body["style"] = params["style"]
            else:
                capabilities.note_change(context, "style", params["style"], None,
                                         f"{self.model} does not take style")
        for name in ("background", "output_format", "moderation"):
            if params.get(name):
                body[name] = params[name]
        if caps.get("response_format", self.model.startswith("dall-e")):
            body["response_format"] = params.get("response_format", "b64_json")
        elif params.get("response_format"):
            capabilities.note_change(context, "response_format", params["response_format"], None,
                                     f"{self.model} always answers b64_json")
        if request.reference_images and openai_takes_references(self.model):  # the characters
            data = await openai_edit(self, request, body)  # POST /images/edits, image[] parts
        else:
            data = await self.request("POST", "/images/generations", json_body=body)
        if context is not None:  # the image is paid for from here on, even if it cannot be used
            context.billed = True
            usage = (data or {}).get("usage") or {}
            if isinstance(usage, dict) and (usage.get("input_tokens") or usage.get("output_tokens")):
                context.tokens_in = int(usage.get("input_tokens") or 0)
                context.tokens_out = int(usage.get("output_tokens") or 0)
                details = usage.get("input_tokens_details") or {}
                if isinstance(details, dict) and details.get("image_tokens"):
                    context.units["input_image_tokens"] = int(details["image_tokens"])
        items = (data or {}).get("data") or []
        if not items or not isinstance(items[0], dict):
            raise Transient(f"{self.name}: the answer has no image")
        item = items[0]
        if item.get("b64_json"):
            save_png(decode_b64(self.name, item["b64_json"]), out_path)
        elif item.get("url"):
            tmp = Path(str(out_path) + ".download")
            try:
                await self.download(item["url"], tmp, what="image")
                save_png(tmp.read_bytes(), out_path)
            finally:
                tmp.unlink(missing_ok=True)
        else:
            raise Transient(f"{self.name}: the answer has neither b64_json nor url")

    async def check(self) -> dict:
        data = await self.request("GET", "/models", timeout=min(self.timeout, 20))
        return {"models": len((data or {}).get("data") or []),
                "capabilities": capabilities.summary(self.capabilities())}


class SDWebUI(HTTPAdapter):
    """`sdwebui`: AUTOMATIC1111 / Forge `POST /sdapi/v1/txt2img` (server started with --api).
    The key, if set, is `user:password` for --api-auth (HTTP Basic). `model` picks the checkpoint
    (override_settings.sd_model_checkpoint). Params: steps, cfg_scale, sampler_name, scheduler,
    max_side (the longest side asked for, default 1024; sizes are multiples of 8), extra."""

    kind = "text2image"
    type = "sdwebui"
    default_url = "http://127.0.0.1:7860"
    default_concurrency = 1  # the WebUI makes one image at a time
    default_params = {"cfg_scale": 7, "sampler_name": "DPM++ 2M", "max_side": 1024}
    key_required = False

    def headers(self) -> dict[str, str]:
        import base64

        key = self.key()
        if not key:
            return {}
        return {"Authorization": "Basic " + base64.b64encode(key.encode()).decode()}

    _models: tuple[float, list[dict]] | None = None

    async def _checkpoints(self) -> list[dict]:
        """The server's checkpoints (GET /sdapi/v1/sd-models), read again after 5 minutes."""
        if self._models is None or time.monotonic() - self._models[0] > 300:
            data = await self.request("GET", "/sdapi/v1/sd-models", timeout=min(self.timeout, 20))
            self._models = (time.monotonic(), [m for m in data or [] if isinstance(m, dict)])
        return self._models[1]

    async def checkpoint(self) -> dict | None:
        """The server's entry for `model`, matched by title ("name.safetensors [hash]"),
        model_name, file name or title without the hash. A1111 silently ignores a checkpoint
        it does not have and paints with the loaded one, so an unknown name is an error here."""
        if not self.model:
            return None
        models = await self._checkpoints()
        found = _match_checkpoint(self.model, models)
        if found is None:
            self._models = None  # maybe just added on the server: ask again next time
            names = ", ".join(sorted(m.get("model_name") or m.get("title") or "?" for m in models)[:20])
            raise BadRequest(f"{self.name}: the WebUI has no checkpoint {self.model!r} (it would "
                             f"silently use the loaded one); it has: {names or 'none'}. "
                             f"`storynb providers edit {self.name} --model NAME`")
        return found

    async def generate(self, request: ImageRequest, out_path: Path) -> None:
        params = self.params
        found = await self.checkpoint()
        width, height = _scaled(request.width, request.height, int(params.get("max_side", 1024)))
        body = {"prompt": request.prompt, "negative_prompt": request.negative_prompt,
                "seed": request.seed, "steps": int(params.get("steps", request.steps)),
                "cfg_scale": params.get("cfg_scale", 7), "width": width, "height": height,
                "sampler_name": params.get("sampler_name", "DPM++ 2M"), "batch_size": 1,
                "n_iter": 1, "send_images": True, "save_images": False}
        if params.get("scheduler"):
            body["scheduler"] = params["scheduler"]
        if self.model:
            body["override_settings"] = {"sd_model_checkpoint": self.model}
        body.update(params.get("extra") or {})
        data = await self.request("POST", "/sdapi/v1/txt2img", json_body=body)
        images = (data or {}).get("images") or []
        if not images or not isinstance(images[0], str):
            raise Transient(f"{self.name}: the answer has no image")
        save_png(decode_b64(self.name, images[0]), out_path)
        used = _info(data).get("sd_model_name")
        context = CALL.get()
        if found and used and used not in (found.get("model_name"), found.get("title")) and context:
            capabilities.note_warning(context, f"asked for checkpoint {self.model!r}, the WebUI "
                                               f"reports it painted with {used!r}")

    async def check(self) -> dict:
        self._models = None
        models = await self._checkpoints()
        return {"models": len(models),
                "model_listed": (_match_checkpoint(self.model, models) is not None) if self.model else None}


def _info(data) -> dict:
    """A1111's `info` is a JSON string."""
    try:
        info = json.loads((data or {}).get("info") or "{}")
    except (TypeError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _match_checkpoint(name: str, models: list[dict]) -> dict | None:
    wanted = name.strip().lower()
    for model in models:
        title = str(model.get("title") or "")
        filename = str(model.get("filename") or "").replace("\\", "/").rsplit("/", 1)[-1]
        candidates = {title, title.split(" [")[0], str(model.get("model_name") or ""), filename,
                      filename.rsplit(".", 1)[0], title.split(" [")[0].rsplit(".", 1)[0],
                      str(model.get("hash") or ""), str(model.get("sha256") or "")[:10]}
        if wanted in {c.strip().lower() for c in candidates if c}:
            return model
    return None


# ComfyUI's default text-to-image graph in API format, with placeholders.
DEFAULT_WORKFLOW = {
    "3": {"class_type": "KSampler", "inputs": {
        "seed": "{{seed}}", "steps": "{{steps}}", "cfg": 7, "sampler_name": "euler",
        "scheduler": "normal", "denoise": 1, "model": ["4", 0], "positive": ["6", 0],
        "negative": ["7", 0], "latent_image": ["5", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "{{model}}"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": "{{width}}", "height": "{{height}}",
                                                        "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{negative_prompt}}", "clip": ["4", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "storynb", "images": ["8", 0]}},
}


def fill_workflow(workflow: dict, values: dict) -> dict:
    """Replace placeholders: a string that is exactly "{{name}}" becomes the value (keeping its
    type: numbers stay numbers); placeholders inside longer strings are replaced as text."""
    def fill(node):
        if isinstance(node, dict):
            return {k: fill(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fill(v) for v in node]
        if isinstance(node, str) and "{{" in node:
            stripped = node.strip()
            if stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1:
                name = stripped[2:-2].strip()
                if name in values:
                    return values[name]
            for name, value in values.items():
                node = node.replace("{{" + name + "}}", str(value)).replace("{{ " + name + " }}", str(value))
            return node
        return node
    return fill(copy.deepcopy(workflow))


class ComfyUI(HTTPAdapter):
    """`comfyui`: POST /prompt with the workflow (param `workflow`: API-format JSON, a dict or a
    JSON string, with placeholders {{prompt}} {{negative_prompt}} {{seed}} {{width}} {{height}}
    {{steps}} {{model}}), poll GET /history/{id}, fetch GET /view. Params: poll_interval,
    task_timeout, output_key ("images"), max_side."""

    kind = "text2image"
    type = "comfyui"
    default_url = "http://127.0.0.1:8188"
    default_concurrency = 1
    default_params = {"poll_interval": 1.0, "task_timeout": 600, "output_key": "images",
                      "max_side": 1024}
    key_required = False

    def workflow(self) -> dict:
        flow = self.params.get("workflow") or DEFAULT_WORKFLOW
        if isinstance(flow, str):
            try:
                flow = json.loads(flow)
            except json.JSONDecodeError as exc:
                raise BadRequest(f"{self.name}: the workflow is not valid JSON: {exc}") from None
        return flow

    async def generate(self, request: ImageRequest, out_path: Path) -> None:
        params = self.params
        width, height = _scaled(request.width, request.height, int(params.get("max_side", 1024)))
        graph = fill_workflow(self.workflow(), {
            "prompt": request.prompt, "negative_prompt": request.negative_prompt,
            "seed": request.seed, "width": width, "height": height,
            "steps": int(params.get("steps", request.steps)), "model": self.model})
        data = await self.request("POST", "/prompt",
                                  json_body={"prompt": graph, "client_id": uuid.uuid4().hex})
        prompt_id = data.get("prompt_id")
        if data.get("node_errors"):
            if not prompt_id:
                raise BadRequest(f"{self.name}: the workflow was rejected: "
                                 f"{json.dumps(data['node_errors'])[:400]}")
            # ComfyUI queues a prompt when at least one output is valid and answers 200 with the
            # invalid nodes: the job runs on the GPU, so wait for it, with a warning
            capabilities.note_warning(CALL.get(), "ComfyUI queued the workflow with node errors: "
                                                  + json.dumps(data["node_errors"])[:400])
        if not prompt_id:
            raise Transient(f"{self.name}: /prompt answered without a prompt_id")
        entry = await self._wait(prompt_id)
        image = self._first_output(entry)
        content = await self.request("GET", "/view", expect="bytes", params={
            "filename": image.get("filename", ""), "subfolder": image.get("subfolder", ""),
            "type": image.get("type", "output")})
        save_png(content, out_path)

    async def _wait(self, prompt_id: str) -> dict:
        interval = float(self.params.get("poll_interval", 1.0))
        deadline = time.monotonic() + float(self.params.get("task_timeout", 600))
        while True:
            history = await self.request("GET", f"/history/{prompt_id}")
            entry = (history or {}).get(prompt_id)
            if entry:
                status = entry.get("status") or {}
                if status.get("status_str") == "error":
                    raise TaskFailed(f"{self.name}: the workflow failed: {_comfy_error(status)}",
                                     retryable=False)
                if status.get("completed", True) and entry.get("outputs"):
                    return entry
            if time.monotonic() > deadline:
                raise Transient(f"{self.name}: the workflow did not finish within "
                                f"{self.params.get('task_timeout')} s")
            await self.sleep(interval)
            interval = min(interval * 1.5, 5.0)

    def _first_output(self, entry: dict) -> dict:
        key = self.params.get("output_key", "images")
        for output in (entry.get("outputs") or {}).values():
            items = output.get(key) if isinstance(output, dict) else None
            if items:
                return items[0]
        raise TaskFailed(f"{self.name}: the workflow finished without an output under {key!r}")

    async def check(self) -> dict:
        data = await self.request("GET", "/system_stats", timeout=min(self.timeout, 20))
        return {"devices": len((data or {}).get("devices") or [])}


def _comfy_error(status: dict) -> str:
    for kind, data in status.get("messages") or []:
        if kind == "execution_error" and isinstance(data, dict):
            return f"{data.get('node_type', '')}: {data.get('exception_message', '')}"[:400]
    return "execution_error"
