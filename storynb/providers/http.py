"""What the HTTP adapters share: a configured provider's settings, requests with timeouts, and the
translation of a service's answer (status, headers, body) into one of the error classes in base.py.

Adapters never retry: the router (storynb.routing) is the only retry loop, so a 429 is retried
once per policy, not once per layer.
"""
from __future__ import annotations

import asyncio
import base64
import contextvars
import email.utils
import json
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..secrets import Secret, redact
from ..files import write_bytes
from .base import (AuthError, BadRequest, ContentPolicy, ProviderError, QuotaExhausted,
                   RateLimited, Transient)
from .urls import MAX_REDIRECTS, UnsafeURL, check_request

CONTENT_CODES = ("content_policy", "content_filter", "moderation", "safety", "datainspection",
                 "ipinfringement", "sensitive", "refus")
OPERATIONAL_PARAMS = {"poll_interval", "poll_max", "task_timeout", "poll_errors", "refetch_max"}
QUOTA_CODES = ("insufficient_quota", "quota_exceeded", "billing", "insufficient_balance",
               "arrearage", "balance")


class TaskStore:
    """Where submitted asynchronous tasks are remembered, so a restart, a retry or another worker
    resumes polling a task instead of paying for a new one. The studio's store is the
    `provider_tasks` table; a Celery worker uses one shared through the broker."""

    def find(self, provider: str, job_key: str) -> str | None:
        """The task id of a submitted (or finished) task for this job, if any."""
        raise NotImplementedError

    def save(self, provider: str, job_key: str, task_id: str, status: str) -> None:
        """Remember a task's id and status (submitted, done, failed, expired)."""
        raise NotImplementedError


@dataclass
class CallContext:
    """What the router tells an adapter about the call in progress: the job key, where task ids
    are kept (async adapters store them under the job key), and what the adapter reports back:
    units for the cost (seconds of video, service units, characters), notes for the call row,
    and billed tokens. Adapters set tokens as soon as a service reports usage, so an answer
    that was billed but then rejected (invalid JSON, truncated) still records its tokens and cost."""

    job_key: str
    provider: str
    tasks: TaskStore | None = None
    units: dict = field(default_factory=dict)
    note: dict = field(default_factory=dict)
    tokens_in: int = 0
    tokens_out: int = 0
    billed: bool = False  # the service charged for this attempt even if it then failed
    spool: "Spool | None" = None
    # Requests per minute: awaited right before each request that may cost money is sent (set
    # by the router when the provider has an rpm limit), so the spacing holds on the wire.
    pace: Any = None
    pace_interval: float | None = None  # seconds between this provider's requests


class Spool:
    """Answers that arrived for a job but are not yet recorded. Each successful answer to a
    request that may cost money (anything but a GET, and result downloads) is written here the
    moment it arrives; the router clears the spool once the attempt is recorded. A process
    killed in between leaves the answer here, and the next run replays it instead of paying
    for the same request again."""

    def __init__(self, root: Path, job_key: str):
        import hashlib

        # the folder is named by a hash of the key: a key that came from a broker message or a
        # bundle never becomes a path
        self.dir = Path(root) / hashlib.sha256(job_key.encode("utf-8")).hexdigest()[:32]

    @staticmethod
    def fingerprint(*parts) -> str:
        import hashlib

        blob = json.dumps(parts, sort_keys=True, default=repr, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:40]

    def get(self, fingerprint: str) -> bytes | None:
        try:
            return (self.dir / fingerprint).read_bytes()
        except OSError:
            return None

    def put(self, fingerprint: str, content: bytes) -> None:
        write_bytes(self.dir / fingerprint, content)

    def clear(self) -> None:
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)


CALL: contextvars.ContextVar[CallContext | None] = contextvars.ContextVar("storynb_call", default=None)


@dataclass
class Config:
    """One provider's settings (a row of the `providers` table, with the key decrypted)."""

    name: str
    kind: str
    type: str
    url: str = ""
    key: Secret | None = field(default=None, repr=False)
    model: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    timeout: float = 120.0
    concurrency: int | None = None


class HTTPAdapter:
    """Base class of the HTTP adapters: name/kind/model/params/concurrency as the engine expects."""

    kind = ""
    type = ""
    default_concurrency = 4
    default_url = ""
    default_params: dict[str, Any] = {}
    key_required = True
    paces_itself = True  # rpm pacing happens right before each paid request (see CallContext.pace)

    def __init__(self, config: Config):
        self.config = config
        self.name = config.name
        self.model = config.model
        self.params = {**self.default_params, **(config.params or {})}
        self.url = (config.url or self.default_url).rstrip("/")
        self.timeout = float(config.timeout or 120.0)
        self.concurrency = int(config.concurrency or self.default_concurrency)
        self._key = config.key
        self._clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.sleep = asyncio.sleep  # injectable for tests (polling without waiting)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {redact(self.url)} model={self.model!r}>"

    def identity(self) -> dict:
        """What goes into a job key: name, model and the params that shape the output (the
        user's params, less the ones that only change how we wait)."""
        return {"provider": self.name, "model": self.model,
                "provider_params": {k: v for k, v in (self.config.params or {}).items()
                                    if k not in OPERATIONAL_PARAMS}}

    # transport -------------------------------------------------------------------------
    def key(self) -> str:
        if self._key is None or not self._key:
            if self.key_required:
                raise AuthError(f"{self.name}: no API key is set: "
                                f"`storynb providers edit {self.name} --key-stdin`")
            return ""
        return self._key.reveal()

    def headers(self) -> dict[str, str]:
        key = self.key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def client(self) -> httpx.AsyncClient:
        """This adapter's client on the running event loop (connections are reused; each loop
        gets its own client, dropped with the loop)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(timeout=self._timeout(None), follow_redirects=True,
                                       verify=ssl_context(), max_redirects=MAX_REDIRECTS,
                                       event_hooks={"request": [self._check_url]},
                                       limits=httpx.Limits(max_keepalive_connections=32))
            self._clients[loop] = client
        return client

    async def _check_url(self, request: httpx.Request) -> None:
        """Every request and every redirect hop passes the URL policy (storynb.providers.urls)."""
        await check_request(self.name, self.url, request.url)

    def _timeout(self, seconds: float | None) -> httpx.Timeout:
        return httpx.Timeout(seconds or self.timeout, connect=min(10.0, seconds or self.timeout))

    async def request(self, method: str, path: str, *, json_body: Any = None,
                      headers: dict | None = None, timeout: float | None = None,
                      expect: str = "json", params: dict | None = None, files=None, data=None):
        """One HTTP request; returns the parsed JSON (or bytes with expect='bytes') of a 2xx
        answer and raises the matching ProviderError subclass otherwise."""
        url = path if path.startswith("http") else f"{self.url}{path}"
        all_headers = {**self.headers(), **(headers or {})}
        context = CALL.get()
        spool = context.spool if context is not None and method.upper() != "GET" else None
        mark = Spool.fingerprint(method.upper(), url, json_body, params, data,
                                 sorted(files) if isinstance(files, dict) else files) if spool is not None else ""
        if spool is not None:
            kept = spool.get(mark)
            if kept is not None:  # paid for before a crash: replay it
                return self.answer(httpx.Response(200, content=kept,
                                                  request=httpx.Request(method, url)), expect)
        client = self.client()  # made before the pacing wait: its first use loads TLS settings
        if context is not None and context.pace is not None and method.upper() != "GET":
            _load_transport()
            await context.pace()
        try:
            response = await client.request(
                method, url, json=json_body, headers=all_headers, params=params, files=files,
                data=data, timeout=self._timeout(timeout))
        except httpx.TimeoutException as exc:
            raise Transient(f"{self.name}: no answer within {timeout or self.timeout:g} s "
                            f"({type(exc).__name__})") from None
        except (httpx.TooManyRedirects, httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise bad_url(self.name, url, exc) from None
        except httpx.HTTPError as exc:
            raise Transient(f"{self.name}: connection failed: {redact(exc) or type(exc).__name__}") from None
        if spool is not None and 200 <= response.status_code < 300:
            spool.put(mark, response.content)
        return self.answer(response, expect)

    def answer(self, response: httpx.Response, expect: str = "json"):
        if response.status_code >= 400:
            raise classify(self.name, response.status_code, response.headers, response.content)
        if expect == "bytes":
            return response.content
        body = parse_json(self.name, response.content)
        problem = body_error(body)
        if problem is not None:  # HTTP 200 with an error inside
            code, _ = _error_fields(body)
            status = problem[0] or status_from_text(f"{code} {problem[1]}")
            raise classify(self.name, status, response.headers, response.content, body=body)
        return body

    async def download(self, url: str, out_path: Path, *, what: str = "result") -> int:
        """Fetch a result file at once (result URLs expire). Expired or missing → ExpiredAsset."""
        context = CALL.get()
        spool = context.spool if context is not None else None
        mark = Spool.fingerprint("DOWNLOAD", url) if spool is not None else ""
        kept = spool.get(mark) if spool is not None else None
        if kept:
            Path(out_path).write_bytes(kept)
            return len(kept)
        try:
            response = await self.client().get(url)
        except httpx.TimeoutException:
            raise Transient(f"{self.name}: downloading the {what} timed out") from None
        except (httpx.TooManyRedirects, httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise bad_url(self.name, url, exc, what) from None
        except httpx.HTTPError as exc:
            raise Transient(f"{self.name}: downloading the {what} failed: {redact(exc)}") from None
        if response.status_code in (401, 403, 404, 410):
            raise ExpiredAsset(f"{self.name}: the {what} URL answered {response.status_code} "
                               "(expired or removed)", status=response.status_code)
        if response.status_code >= 400:
            raise classify(self.name, response.status_code, response.headers, response.content)
        if not response.content:
            raise Transient(f"{self.name}: the {what} download was empty")
        if spool is not None:
            spool.put(mark, response.content)
        Path(out_path).write_bytes(response.content)
        return len(response.content)


_ssl_context = None


def _load_transport() -> None:
    """httpx loads its async network backend (anyio) on a process's first request, which takes
    0.1–0.3 s; a paced request loads it before its turn so it leaves on time."""
    import anyio._backends._asyncio  # noqa: F401
    import httpcore._backends.anyio  # noqa: F401




def ssl_context():
    """One TLS context for every client: building one loads the CA bundle (tens of ms of CPU
    that would otherwise stall the event loop on every call)."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = httpx.create_ssl_context()
    return _ssl_context


def bad_url(name: str, url: str, exc: Exception, what: str = "request") -> UnsafeURL:
    if isinstance(exc, httpx.TooManyRedirects):
        return UnsafeURL(f"{name}: the {what} was redirected more than {MAX_REDIRECTS} times")
    return UnsafeURL(f"{name}: the {what} URL {redact(str(url))[:120]!r} cannot be used: "
                     f"{redact(exc)}; check the provider's URL (`storynb providers edit {name} --url …`)")


class ExpiredAsset(Transient):
    """A result URL that no longer serves its file."""


def parse_json(name: str, content: bytes):
    try:
        return json.loads(content.decode("utf-8", errors="replace").strip() or "null")
    except json.JSONDecodeError as exc:
        excerpt = redact(content.decode("utf-8", errors="replace"))[:120]  # redact, then cut
        raise Transient(f"{name}: the answer is not valid JSON ({exc.msg} at {exc.pos}; "
                        f"{len(content)} bytes, starts {excerpt!r})") from None


def body_error(body) -> tuple[int | None, str] | None:
    """(status, message) when a 2xx body carries an error: {"error": {...}} (OpenAI-style),
    a flat {"object": "error"} (vLLM), or a non-zero Kling `code`/MiniMax `base_resp`."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("error"), dict) and not body.get("choices") and not body.get("data"):
        return None, str(body["error"].get("message", ""))
    if body.get("object") == "error":
        return body.get("code") if isinstance(body.get("code"), int) else None, str(body.get("message"))
    base = body.get("base_resp")
    if isinstance(base, dict) and base.get("status_code") not in (0, None):
        return None, str(base.get("status_msg"))
    return None


def status_from_text(text: str) -> int:
    """The HTTP status an error body means when it came with HTTP 200."""
    text = text.lower()
    if "rate" in text and "limit" in text or "throttl" in text or "overload" in text:
        return 429
    if any(c in text for c in QUOTA_CODES):
        return 402
    if "auth" in text or "api_key" in text or "api key" in text or "permission" in text:
        return 401
    if any(c in text for c in CONTENT_CODES):
        return 400
    if "invalid" in text or "not_found" in text or "not found" in text or "bad_request" in text:
        return 400
    return 500


def retry_after(headers) -> float | None:
    """Seconds from `retry-after-ms`, `retry-after` (seconds or an HTTP date) or `x-ratelimit-reset`."""
    if headers is None:
        return None
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                when = email.utils.parsedate_to_datetime(value)
                return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None
    return None


def _error_fields(body) -> tuple[str, str]:
    """(code-ish text, message) from the error shapes services use."""
    if not isinstance(body, dict):
        return "", redact(str(body or ""))[:300]
    err = body.get("error")
    if isinstance(err, dict):
        code = " ".join(str(err.get(k) or "") for k in ("code", "type"))
        return code, str(err.get("message") or err.get("details") or "")
    if isinstance(err, str):  # A1111: {"error": "RuntimeError", "detail": "..."}
        return err, str(body.get("detail") or body.get("errors") or "")
    code = " ".join(str(body.get(k) or "") for k in ("code", "type", "failureCode"))
    message = body.get("message") or body.get("detail") or body.get("msg") or ""
    if isinstance(message, (list, dict)):
        message = json.dumps(message, ensure_ascii=False)
    base = body.get("base_resp")
    if isinstance(base, dict):
        code, message = str(base.get("status_code")), str(base.get("status_msg"))
    return code, str(message)


def classify(name: str, status: int, headers, content: bytes, *, body=None) -> ProviderError:
    """The error class for an HTTP answer (see the table in storynb.routing)."""
    if body is None:
        try:
            body = json.loads(content.decode("utf-8", errors="replace") or "null")
        except (json.JSONDecodeError, AttributeError):
            body = redact((content or b"").decode("utf-8", errors="replace"))[:300] if content else ""
    code, message = _error_fields(body)
    code, message = redact(code)[:200], redact(message)  # redact the whole text before cutting it
    lowered = f"{code} {message}".lower()
    text = redact(f"{name}: HTTP {status}" + (f" {code.strip()}" if code.strip() else "")
                  + (f": {message[:400]}" if message else ""))
    wait = retry_after(headers)
    if status == 429:
        if "throttling" not in lowered and any(c in lowered for c in QUOTA_CODES):
            return QuotaExhausted(text, status=status)
        return RateLimited(text, retry_after=wait, status=status)
    if status == 402:
        return QuotaExhausted(text, status=status)
    if status in (401, 403):
        if any(c in lowered for c in QUOTA_CODES):
            return QuotaExhausted(text, status=status)
        return AuthError(text, status=status)
    if status in (408, 409, 425) or status >= 500:
        return Transient(text, retry_after=wait, status=status)
    if any(c in lowered for c in CONTENT_CODES):
        return ContentPolicy(text, status=status)
    return BadRequest(text, status=status)


def data_uri(path: Path, *, max_bytes: int = 5_000_000, fmt: str = "JPEG") -> str:
    """An image as a data: URI, re-encoded as JPEG (smaller than PNG) under max_bytes."""
    return f"data:image/{fmt.lower()};base64," + b64_image(path, max_bytes=max_bytes, fmt=fmt)


def b64_image(path: Path, *, max_bytes: int = 5_000_000, fmt: str = "JPEG") -> str:
    import io

    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("RGB")
        quality = 92
        while True:
            buffer = io.BytesIO()
            img.save(buffer, fmt, quality=quality)
            if buffer.tell() * 4 / 3 <= max_bytes or quality <= 40:
                return base64.b64encode(buffer.getvalue()).decode("ascii")
            quality -= 15
            if quality <= 55:
                img = img.resize((img.width * 3 // 4, img.height * 3 // 4))


def save_png(data: bytes, out_path: Path) -> None:
    """Write image bytes as PNG (services answer PNG, JPEG or WebP)."""
    import io

    from PIL import Image

    if data[:8] == b"\x89PNG\r\n\x1a\n":
        Path(out_path).write_bytes(data)
        return
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.convert("RGB").save(out_path, "PNG")
    except Exception:
        raise Transient(f"the service sent {len(data)} bytes that are not an image") from None


def decode_b64(name: str, text: str) -> bytes:
    if "," in text[:100] and text.startswith("data:"):
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text, validate=False)
    except (ValueError, TypeError):
        raise Transient(f"{name}: the image in the answer is not valid base64") from None
