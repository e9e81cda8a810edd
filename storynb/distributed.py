"""Scale-out: provider calls carried out by Celery workers (Redis broker) on any machine that
sees the studio's media folder.

The coordinator (the process that runs the project) keeps the studio and the router: it plans
and records every job, chooses the provider, holds concurrency caps and paces requests per
minute, then hands each provider call to a worker as a self-contained *spec*: the provider's
settings (its key still encrypted; workers hold the master key in $STORYNB_SECRET_KEY), the
request with its files named by media hash, and where the answer goes. The worker writes the
output into the content-addressed media store and answers with metadata.

Exactly once, with workers that die: every dispatch has an id. A worker claims it in Redis
(`storynb:claim:<id>`, renewed every few seconds while it works) and stores the answer under
`storynb:result:<id>` before acknowledging the message (acks_late). If the claim lapses without
an answer (the worker was killed), the coordinator sends the same dispatch again; a worker that
later receives a copy of a dispatch that already has an answer returns that answer without
doing the work again.

Queues: `api` (HTTP calls, many in flight) and `render` (local renders, one per core).
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from .errors import InvalidInput
from .media import place
from .providers.http import TaskStore

TASK = "storynb.execute"
CLAIM_TTL_S = float(os.environ.get("STORYNB_CLAIM_TTL", 15))  # a dead worker's job is resent
CLAIM_RENEW_S = CLAIM_TTL_S / 3                                 # after this long
RESULT_TTL_S = 86400
RENDER_METHODS = {"animate", "compose"}
REQUEST_TYPES = ("LLMRequest", "ImageRequest", "VideoRequest", "SpeechRequest", "ExportRequest")


def celery_app(broker: str):
    from celery import Celery

    app = Celery("storynb", broker=broker)
    app.conf.update(
        task_acks_late=True,               # a message is acknowledged after the work is stored
        task_reject_on_worker_lost=True,   # a worker that dies mid-task gives it back
        worker_prefetch_multiplier=1,      # no worker hoards jobs another one could do
        task_serializer="json", accept_content=["json"], task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        task_default_queue="api",
        worker_hijack_root_logger=False,
    )
    app.task(name=TASK, bind=True)(_execute_task)
    return app


def _redis(broker: str):
    import redis

    return redis.Redis.from_url(broker)


# specs: what crosses the wire ---------------------------------------------------------------
def encode(value: Any, media_root: Path) -> Any:
    """JSON for a request: dataclasses by type name, files inside the media store by name."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name), media_root)
                  for f in dataclasses.fields(value) if not callable(getattr(value, f.name))}
        return {"__type__": type(value).__name__, **fields}
    if isinstance(value, Path):
        try:
            relative = value.resolve().relative_to(media_root.resolve())
            return {"__media__": relative.name}
        except ValueError:
            return {"__path__": str(value)}
    if isinstance(value, (list, tuple)):
        return [encode(v, media_root) for v in value]
    if isinstance(value, dict):
        return {k: encode(v, media_root) for k, v in value.items()}
    return value


def decode(value: Any, media) -> Any:
    if isinstance(value, list):
        return [decode(v, media) for v in value]
    if not isinstance(value, dict):
        return value
    if "__media__" in value:
        return media.path(value["__media__"])
    if "__path__" in value:
        return Path(value["__path__"])
    if "__type__" in value:
        cls = _request_class(value["__type__"])
        fields = {f.name: f for f in dataclasses.fields(cls)}
        args = {}
        for name, raw in value.items():
            if name in fields:
                decoded = decode(raw, media)
                args[name] = tuple(decoded) if isinstance(decoded, list) and \
                    "tuple" in str(fields[name].type) else decoded
        return cls(**args)
    return {k: decode(v, media) for k, v in value.items()}


def _request_class(name: str):
    from .providers import base
    from .stages.export import ExportRequest

    if name not in REQUEST_TYPES:
        raise ValueError(f"unknown request type {name!r}")
    return ExportRequest if name == "ExportRequest" else getattr(base, name)


def provider_spec(studio, provider) -> dict | None:
    """How a worker rebuilds a provider: a built-in by name, or the provider's row (key still
    encrypted). None for objects that exist only in this process."""
    from .stages.export import COMPOSITOR

    name = getattr(provider, "name", "")
    if provider is COMPOSITOR:
        return {"builtin": name}
    if name in studio.builtin_names and studio.registered(name) is provider:
        return {"builtin": name}
    if studio.registered(name) is not None:
        return None  # registered in this process only
    row = studio.providers.stored(name)
    return {"row": row} if row else None


# the coordinator's side ---------------------------------------------------------------------
class CeleryExecutor:
    """Carries out provider calls on Celery workers (set as `studio.executor`)."""

    def __init__(self, broker: str, media_root: Path, *, slots: int = 8):
        self.broker = broker
        self.slots = slots  # local renders in flight at once (spread over the workers)
        self.app = celery_app(broker)
        self.redis = _redis(broker)
        self.media_root = Path(media_root)
        try:
            self.redis.ping()
        except Exception as exc:
            raise InvalidInput(f"cannot reach the Celery broker at {broker}: {exc}. Start "
                               "redis-server (Debian: apt-get install redis-server) or fix the "
                               "URL") from None

    def __repr__(self) -> str:
        return f"<CeleryExecutor {self.broker}>"

    def accepts(self, provider, method: str, request) -> bool:
        return getattr(request, "validate", None) is None  # a check written in Python stays here

    async def execute(self, studio, provider, method: str, request, out_path, context):
        spec_provider = provider_spec(studio, provider)
        if spec_provider is None:  # a provider object of this process: call it here
            args = (request,) if out_path is None else (request, out_path)
            return await getattr(provider, method)(*args)
        spec = {"id": uuid.uuid4().hex, "provider": spec_provider, "method": method,
                "request": encode(request, self.media_root), "job_key": context.job_key,
                "ext": Path(out_path).suffix.lstrip(".") if out_path else None}
        if context.pace_interval:  # the worker takes the provider's turn right before sending
            spec["pace"] = {"provider": context.provider, "interval": context.pace_interval}
        elif context.pace is not None:
            await context.pace()
        answer = await asyncio.to_thread(self._dispatch, spec)
        context.units.update(answer.get("units") or {})
        context.note.update(answer.get("note") or {})
        context.note["worker"] = answer.get("worker")
        context.tokens_in = answer.get("tokens_in") or 0
        context.tokens_out = answer.get("tokens_out") or 0
        context.billed = bool(answer.get("billed"))
        for task in answer.get("tasks") or []:  # task ids the worker submitted, for the record
            if context.tasks is not None:
                context.tasks.save(task["provider"], task["job_key"], task["task_id"], task["status"])
        if answer.get("error"):
            raise _rebuild_error(answer["error"])
        if out_path is not None and answer.get("media"):
            place(studio.media.path(answer["media"]), Path(out_path))
        return _result_from(method, answer.get("result"))

    def _dispatch(self, spec: dict) -> dict:
        queue = "render" if spec["method"] in RENDER_METHODS else "api"
        dispatch = spec["id"]
        self.app.send_task(TASK, args=[spec], queue=queue, task_id=dispatch)
        claimed_once = False
        lapsed_since = None
        unclaimed_since = time.monotonic()
        while True:
            found = self.redis.blpop([f"storynb:done:{dispatch}"], timeout=1)
            if found:
                return json.loads(self.redis.get(f"storynb:result:{dispatch}") or b"{}")
            if self.redis.exists(f"storynb:claim:{dispatch}"):
                claimed_once, lapsed_since = True, None
                continue
            if not claimed_once:
                # Still queued (workers are busy), or taken from the queue by a worker that died
                # before claiming it: such a message waits out the broker's visibility timeout (an
                # hour), so a dispatch neither queued nor claimed for a claim's lifetime is resent.
                if time.monotonic() - unclaimed_since < CLAIM_TTL_S:
                    continue
                if self._queued(queue, dispatch):
                    unclaimed_since = time.monotonic()
                    continue
            else:
                lapsed_since = lapsed_since or time.monotonic()
                if time.monotonic() - lapsed_since < 1.0:
                    continue
            # the worker died: send it again (a copy that turns up later finds the answer stored)
            self.app.send_task(TASK, args=[spec], queue=queue, task_id=dispatch)
            claimed_once, lapsed_since, unclaimed_since = False, None, time.monotonic()

    def _queued(self, queue: str, dispatch: str) -> bool:
        """Whether a dispatch's message still waits in the broker's queue (a Redis list)."""
        needle = dispatch.encode()
        return any(needle in message for message in self.redis.lrange(queue, 0, -1))

    async def pace(self, provider: str, interval: float) -> None:
        """Take a provider's next turn (requests per minute) in Redis, shared by every worker."""
        await redis_pace(self.redis, provider, interval)

    def ping(self, queue: str = "api") -> dict:
        """A no-op job through a worker (how `make bench` measures queue overhead)."""
        spec = {"id": uuid.uuid4().hex, "provider": None, "method": "ping", "request": None,
                "job_key": "", "ext": None}
        return self._dispatch(spec) if queue == "api" else self._dispatch({**spec, "method": "ping"})


def _result_from(method: str, value):
    if method == "complete" and isinstance(value, dict):
        from .providers.base import LLMResult

        return LLMResult(**{k: v for k, v in value.items() if k in ("text", "tokens_in",
                                                                     "tokens_out", "model")})
    return value


def _rebuild_error(error: dict) -> BaseException:
    from .providers import base

    cls = getattr(base, error.get("class") or "", None)
    message = error.get("message") or "the worker failed"
    if isinstance(cls, type) and issubclass(cls, base.ProviderError):
        exc = cls(message)
        for name in ("status", "retry_after", "retryable"):
            if error.get(name) is not None:
                try:
                    setattr(exc, name, error[name])
                except AttributeError:
                    pass
        return exc
    return RuntimeError(f"{error.get('class')}: {message}")


# A provider's next free moment, checked and taken in one step on the Redis server's clock (so
# workers on machines whose clocks differ still agree). Returns 0 when the turn was taken, else
# the seconds to wait before asking again.
_TAKE_TURN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local due = tonumber(redis.call('GET', KEYS[1]) or '0')
if now >= due then
  redis.call('SET', KEYS[1], tostring(now + tonumber(ARGV[1])), 'EX', 86400)
  return '0'
end
return tostring(due - now)
"""


async def redis_pace(client, provider: str, interval: float) -> None:
    while True:
        wait = float(await asyncio.to_thread(client.eval, _TAKE_TURN, 1,
                                             f"storynb:pace:{provider}", interval))
        if wait <= 0:
            return
        await asyncio.sleep(min(wait, interval) + 0.001)


# the worker's side ---------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


class RedisTaskStore(TaskStore):
    """Submitted video tasks remembered in Redis, so a redelivered job resumes the same task."""

    def __init__(self, client):
        self.client = client
        self.seen: list[dict] = []

    def find(self, provider: str, job_key: str) -> str | None:
        value = self.client.hget(f"storynb:tasks:{provider}", job_key)
        return value.decode() if value else None

    def save(self, provider: str, job_key: str, task_id: str, status: str) -> None:
        if status in ("submitted", "done"):
            self.client.hset(f"storynb:tasks:{provider}", job_key, task_id)
        else:
            self.client.hdel(f"storynb:tasks:{provider}", job_key)
        self.seen.append({"provider": provider, "job_key": job_key, "task_id": task_id,
                          "status": status})


def _execute_task(task, spec: dict) -> None:
    """The Celery task: claim the dispatch, do the work once, store the answer, then ack."""
    client = _WORKER["redis"]
    dispatch = spec["id"]
    result_key, claim_key = f"storynb:result:{dispatch}", f"storynb:claim:{dispatch}"
    if client.exists(result_key):  # a copy of work already done: answer again, do nothing
        client.rpush(f"storynb:done:{dispatch}", 1)
        client.expire(f"storynb:done:{dispatch}", RESULT_TTL_S)
        return
    holder = f"{_WORKER['name']} {spec['method']}"  # who is doing what, for `storynb workers`
    if not client.set(claim_key, holder, nx=True, px=int(CLAIM_TTL_S * 1000)):
        return  # another live worker has it
    stop = threading.Event()

    def renew():
        while not stop.wait(CLAIM_RENEW_S):
            client.set(claim_key, holder, px=int(CLAIM_TTL_S * 1000))

    threading.Thread(target=renew, daemon=True).start()
    try:
        answer = _work(spec, client)
    finally:
        stop.set()
    pipe = client.pipeline()
    pipe.set(result_key, json.dumps(answer, default=str), ex=RESULT_TTL_S)
    pipe.rpush(f"storynb:done:{dispatch}", 1)
    pipe.expire(f"storynb:done:{dispatch}", RESULT_TTL_S)
    pipe.delete(claim_key)
    pipe.execute()


def _work(spec: dict, client) -> dict:
    from .providers.http import CALL, CallContext, Spool

    answer: dict[str, Any] = {"worker": _WORKER["name"]}
    if spec["method"] == "ping":
        return answer
    media = _WORKER["media"]
    out = media.scratch("." + spec["ext"]) if spec.get("ext") else None
    tasks = RedisTaskStore(client)
    context = CallContext(job_key=spec.get("job_key") or "", provider="", tasks=tasks,
                          spool=Spool(media.root.parent / "spool", spec["job_key"])
                          if spec.get("job_key") else None)
    if spec.get("pace"):
        turn = spec["pace"]
        context.pace = lambda: redis_pace(client, turn["provider"], turn["interval"])
        context.pace_interval = turn["interval"]
    try:
        provider = _provider(spec["provider"])
        context.provider = provider.name
        request = decode(spec["request"], media)
        args = (request,) if out is None else (request, out)
        token = CALL.set(context)
        try:
            result = asyncio.run(getattr(provider, spec["method"])(*args))
        finally:
            CALL.reset(token)
        if out is not None and out.exists() and out.stat().st_size:
            answer["media"] = media.add(out, spec["ext"])
        if dataclasses.is_dataclass(result) and not isinstance(result, type):
            result = dataclasses.asdict(result)
        answer["result"] = result if _jsonable(result) else None
        if context.spool is not None:
            context.spool.clear()
    except BaseException as exc:  # failures travel back as data; the router decides
        answer["error"] = {"class": type(exc).__name__, "message": str(exc)[:2000],
                           "status": getattr(exc, "status", None),
                           "retry_after": getattr(exc, "retry_after", None),
                           "retryable": getattr(exc, "retryable", None)}
        if context.spool is not None:
            context.spool.clear()
    finally:
        if out is not None:
            out.unlink(missing_ok=True)
    answer.update(units=context.units, note=context.note, tokens_in=context.tokens_in,
                  tokens_out=context.tokens_out, billed=context.billed, tasks=tasks.seen)
    return answer


def _jsonable(value) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


def _provider(spec: dict):
    cache = _WORKER.setdefault("providers", {})
    key = json.dumps(spec, sort_keys=True, default=str)
    if key not in cache:
        if "builtin" in spec:
            from .stages.export import COMPOSITOR
            from .providers.registry import builtin_providers

            found = COMPOSITOR if spec["builtin"] == COMPOSITOR.name else \
                builtin_providers()[spec["builtin"]]
        else:
            from .providers.registry import build
            from .secrets import Secrets

            found = build(spec["row"], Secrets())
        cache[key] = found
    return cache[key]


def serve_celery(studio, broker: str, *, concurrency: int | None = None,
                 queues: str = "api,render", hostname: str | None = None,
                 media: str | None = None) -> int:
    """`storynb worker --broker …`: a Celery worker (threads pool) serving storynb jobs."""
    from .media import MediaStore

    root = Path(media) if media else studio.media.root
    studio.close()
    app = celery_app(broker)
    client = _redis(broker)
    try:
        client.ping()
    except Exception as exc:
        raise InvalidInput(f"cannot reach the broker at {broker}: {exc}") from None
    host = socket.gethostname()
    name = (hostname or f"storynb-{os.getpid()}@%h").replace("%h", host).replace(
        "%n", host.split(".")[0]).replace("%d", host.partition(".")[2])
    _WORKER.update(redis=client, media=MediaStore(root), name=name)
    unknown = set(queues.split(",")) - {"api", "render"}
    if unknown:
        raise InvalidInput(f"unknown queue(s) {sorted(unknown)}: use api, render")
    argv = ["worker", "--pool", "threads", "-Q", queues, "-n", name, "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "--concurrency",
            str(concurrency or os.cpu_count() or 2)]
    app.worker_main(argv=argv)
    return 0


def use_celery(studio, broker: str | None = None) -> CeleryExecutor:
    """Send this studio's provider calls to Celery workers (`--executor celery`)."""
    broker = broker or os.environ.get("STORYNB_BROKER")
    if not broker:
        raise InvalidInput("no broker: pass --broker redis://HOST:6379/0 or set $STORYNB_BROKER")
    studio.executor = CeleryExecutor(broker, studio.media.root)
    return studio.executor
