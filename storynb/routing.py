"""Routing: which provider serves a call, within which limits, and what an error makes us do.

A project stage has a *route*: a list of provider names and a strategy
(`round_robin`, `random`, `weighted`, `least_loaded`). Every provider call of the engine goes
through `Router.call`, which for each attempt:

1. chooses a member: active, not cooling down, not out of its daily requests, not already failed
   for this job; among those the lowest `priority` number forms the tier the strategy picks from
   (round_robin: in turn; random: uniform; weighted: by `weight`; least_loaded: fewest calls in
   flight, ties in turn). When every candidate is cooling down for a short while, it waits.
2. waits for the member's concurrency slot (a semaphore per provider per event loop) and then its
   requests-per-minute limiter (aiolimiter, one per provider per event loop, no bursts: calls
   are spaced 60/rpm seconds apart), and reserves one of its requests for the day (a row in
   `provider_usage` per provider and UTC day, so a restart does not reset it).
3. calls the adapter and records the attempt as a row in `calls` (provider, project, stage,
   tokens, latency, status, error class, redacted error, cost) whatever the outcome.

What an error class makes the router do:

| class          | same provider again                 | next provider | cool down                        |
|----------------|-------------------------------------|---------------|----------------------------------|
| RateLimited    | yes, after Retry-After or backoff   | after retries | Retry-After or `cooldown_short`  |
| Transient      | yes, exponential backoff + jitter   | after retries | after `failures_to_cool` in a row |
| QuotaExhausted | no                                  | yes           | `cooldown_long`                  |
| AuthError      | no                                  | yes           | `cooldown_long`                  |
| ContentPolicy  | no                                  | yes           | no                               |
| InvalidOutput  | no (the adapter already repaired once) | yes        | no                               |
| TaskFailed     | once if the service says retryable  | yes           | no                               |
| BadRequest     | no                                  | no: the same request fails anywhere | no                 |
| anything else  | no                                  | no (a bug or bad input, shown as is) | no                |

A job that runs out of providers raises the last error; the runner records it against the shot.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from .db import now, writing
from .errors import InvalidInput
from .providers.base import (AuthError, BadRequest, ContentPolicy, InvalidOutput, ProviderError,
                             QuotaExhausted, RateLimited, TaskFailed, Transient)
from .providers.http import CALL, CallContext, Spool, TaskStore
from .providers.specs import check_price, parse_route_spec  # noqa: F401  (routing's own API too)
from .secrets import redact
from .settings import STRATEGIES

# Calls are spaced 5 % wider than 60/rpm: what a loaded machine adds between a call's turn and
# the moment it reaches the service must not bring two calls closer than the limit.
PACING_MARGIN = 0.05


class DBTaskStore(TaskStore):
    """Task ids in the studio's `provider_tasks` table."""

    def __init__(self, db):
        self.db = db

    def find(self, provider: str, job_key: str) -> str | None:
        rows = list(self.db.query(
            "select task_id from provider_tasks where provider = ? and job_key = ? and "
            "status in ('submitted', 'done') order by id desc limit 1", [provider, job_key]))
        return rows[0]["task_id"] if rows else None

    def save(self, provider: str, job_key: str, task_id: str, status: str) -> None:
        found = list(self.db.query("select id from provider_tasks where provider = ? and task_id = ?",
                                   [provider, task_id]))
        if found:
            self.db["provider_tasks"].update(found[0]["id"], {"status": status, "updated": now()})
        else:
            self.db["provider_tasks"].insert({"provider": provider, "job_key": job_key,
                                              "task_id": task_id, "status": status,
                                              "created": now(), "updated": now()})


class NoProviderAvailable(ProviderError):
    """Every provider of a route is inactive, cooling down or out of its daily requests."""


@dataclass
class Member:
    """A provider as the router sees it: the object that does the work and its limits."""

    provider: Any
    weight: float = 1.0
    priority: int = 0
    rpm: int | None = None
    rpd: int | None = None
    concurrency: int = 2
    active: bool = True
    price: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.provider.name


def identity_of(provider) -> dict:
    """What of a provider goes into a job key (see storynb.stages.common.provider_identity)."""
    identity = getattr(provider, "identity", None)
    if callable(identity):
        return identity()
    return {"provider": provider.name, "model": getattr(provider, "model", ""),
            "provider_params": getattr(provider, "params", {})}


class Route:
    """The providers a project stage may use and how to choose among them. It quacks like a
    provider (name, kind, model, params, concurrency) so the stages and the runner treat a route
    of one exactly like that provider: its name, key and cap are the provider's own."""

    def __init__(self, studio, kind: str, members: list[Member], strategy: str = "round_robin"):
        if strategy not in STRATEGIES:
            raise InvalidInput(f"unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
        if not members:
            raise InvalidInput(f"a {kind} route needs at least one provider")
        self.studio = studio
        self.kind = kind
        self.members = members
        self.strategy = strategy

    @property
    def single(self) -> bool:
        return len(self.members) == 1

    @property
    def name(self) -> str:
        return self.members[0].name if self.single else "|".join(m.name for m in self.members)

    @property
    def model(self) -> str:
        return getattr(self.members[0].provider, "model", "") if self.single else \
            "|".join(str(getattr(m.provider, "model", "")) for m in self.members)

    @property
    def params(self) -> dict:
        return getattr(self.members[0].provider, "params", {}) if self.single else {}

    @property
    def concurrency(self) -> int:
        """The runner's cap for the route: enough jobs in flight to fill every member."""
        return sum(max(1, m.concurrency) for m in self.members if m.active) or 1

    def identity(self) -> dict:
        """The key of a route is the set of its members (name, model, params), not the member that
        happened to serve a call and not the strategy: any member's answer is acceptable, and
        changing weights, limits or the strategy redoes nothing. A route of one provider has
        exactly that provider's identity, so the offline defaults keep their keys."""
        if self.single:
            return identity_of(self.members[0].provider)
        return {"provider": "route",
                "members": sorted((identity_of(m.provider) for m in self.members),
                                  key=lambda d: d["provider"])}

    def __repr__(self) -> str:
        return f"<Route {self.kind} {[m.name for m in self.members]} {self.strategy}>"

    # a route can be called like a provider (outside a project: no project id, stage = kind)
    async def _direct(self, method, request, out_path=None):
        result, _ = await call(self.studio, self, method, request, project_id=None, stage=self.kind,
                               out_path=out_path)
        return result

    async def complete(self, request):
        return await self._direct("complete", request)

    async def generate(self, request, out_path):
        return await self._direct("generate", request, out_path)

    async def animate(self, request, out_path):
        return await self._direct("animate", request, out_path)

    async def speak(self, request, out_path):
        return await self._direct("speak", request, out_path)


@dataclass
class Policy:
    """The retry/failover/cool-down numbers (seconds). Tests shrink them."""

    attempts_per_provider: int = 3     # for RateLimited and Transient
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    max_retry_after: float = 60.0      # a longer Retry-After cools the provider down instead
    cooldown_short: float = 15.0       # after rate limiting without a Retry-After
    cooldown_long: float = 3600.0      # quota exhausted, key refused
    cooldown_failures: float = 30.0    # after `failures_to_cool` failures in a row
    failures_to_cool: int = 3
    max_wait_for_cooldown: float = 120.0  # wait this long for a cooling provider, else fail


class Router:
    """Process-wide routing state (in-flight counts, cool-downs, round-robin positions) shared
    by every thread of a studio; semaphores and rpm limiters are made per event loop."""

    def __init__(self, *, policy: Policy | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep=None, rng: random.Random | None = None,
                 today: Callable[[], str] | None = None):
        self.policy = policy or Policy()
        self.clock = clock
        self.sleep = sleep or asyncio.sleep
        self.rng = rng or random.Random()
        self.today = today or (lambda: datetime.now(timezone.utc).date().isoformat())
        self._lock = threading.Lock()
        self.in_flight: dict[str, int] = {}
        self.cooling: dict[str, tuple[float, str]] = {}  # name -> (until, reason)
        self.failures: dict[str, int] = {}
        self._turn: dict[tuple, int] = {}
        self._per_loop: dict[tuple, Any] = {}

    # state -------------------------------------------------------------------------------
    def cooldown(self, name: str, seconds: float, reason: str) -> None:
        with self._lock:
            until = self.clock() + seconds
            if until > self.cooling.get(name, (0.0, ""))[0]:
                self.cooling[name] = (until, reason)

    def cooling_left(self, name: str) -> float:
        until, _ = self.cooling.get(name, (0.0, ""))
        return max(0.0, until - self.clock())

    def reset(self, name: str | None = None) -> None:
        """Forget cool-downs and failure counts (for one provider, e.g. after its key is edited)."""
        with self._lock:
            for table in (self.cooling, self.failures):
                if name is None:
                    table.clear()
                else:
                    table.pop(name, None)

    def _loop_object(self, kind: str, name: str, value: int, make):
        loop = asyncio.get_running_loop()
        key = (id(loop), kind, name, value)
        with self._lock:
            found = self._per_loop.get(key)
            if found is None or found[0] is not loop:
                found = (loop, make())
                self._per_loop[key] = found
        return found[1]

    def semaphore(self, member: Member) -> asyncio.Semaphore:
        return self._loop_object("sem", member.name, member.concurrency,
                                 lambda: asyncio.Semaphore(max(1, member.concurrency)))

    # choosing ----------------------------------------------------------------------------
    def choose(self, route: Route, exclude: set[str] | frozenset[str] = frozenset()) -> Member | None:
        """The member for the next attempt (None if every candidate is unavailable now)."""
        with self._lock:
            candidates = [m for m in route.members if m.active and m.name not in exclude
                          and self.cooling.get(m.name, (0.0, ""))[0] <= self.clock()]
            if not candidates:
                return None
            tier = min(m.priority for m in candidates)
            candidates = [m for m in candidates if m.priority == tier]
            key = (route.kind, tuple(m.name for m in route.members))
            if route.strategy == "random":
                chosen = self.rng.choice(candidates)
            elif route.strategy == "weighted":
                weights = [max(0.0, float(m.weight or 0)) for m in candidates]
                chosen = (self.rng.choices(candidates, weights=weights)[0] if sum(weights) > 0
                          else self.rng.choice(candidates))
            else:
                turn = self._turn.get(key, 0)
                order = candidates[turn % len(candidates):] + candidates[:turn % len(candidates)]
                if route.strategy == "least_loaded":
                    chosen = min(order, key=lambda m: self.in_flight.get(m.name, 0))
                else:
                    chosen = order[0]
                self._turn[key] = (candidates.index(chosen) + 1) % len(candidates)
            self.in_flight[chosen.name] = self.in_flight.get(chosen.name, 0) + 1
            return chosen

    def _release(self, member: Member) -> None:
        with self._lock:
            self.in_flight[member.name] = max(0, self.in_flight.get(member.name, 0) - 1)

    def _shortest_wait(self, route: Route, exclude: set[str]) -> float | None:
        waits = [self.cooling_left(m.name) for m in route.members
                 if m.active and m.name not in exclude]
        return min(waits) if waits else None

    # requests per day --------------------------------------------------------------------
    def reserve_day(self, db, member: Member) -> bool:
        """Count one request against the member's daily limit; False when it is used up."""
        if not member.rpd:
            return True
        day = self.today()
        db.execute("insert or ignore into provider_usage (provider, day, requests) values (?, ?, 0)",
                   [member.name, day])
        cursor = db.execute("update provider_usage set requests = requests + 1 "
                            "where provider = ? and day = ? and requests < ?",
                            [member.name, day, int(member.rpd)])
        return cursor.rowcount == 1

    def used_today(self, db, name: str) -> int:
        row = db.execute("select requests from provider_usage where provider = ? and day = ?",
                         [name, self.today()]).fetchone()
        return row[0] if row else 0

    # calling -----------------------------------------------------------------------------
    async def call(self, studio, route: Route, method: str, request, *, project_id, stage: str,
                   job_key: str = "", out_path: Path | None = None, describe: dict | None = None,
                   store: Callable[[Path], str] | None = None):
        """Serve one job through the route; returns (result, call_id of the successful attempt)."""
        policy = self.policy
        failed_here: set[str] = set()
        last_error: BaseException | None = None
        attempt = 0
        request_json = json.dumps(describe or _describe_request(request), ensure_ascii=False,
                                  default=str)
        while True:
            member = self.choose(route, failed_here)
            if member is None:
                wait = self._shortest_wait(route, failed_here)
                if wait is not None and 0 < wait <= policy.max_wait_for_cooldown:
                    await self.sleep(wait)
                    continue
                raise self._exhausted(route, failed_here, last_error)
            tries = 0
            while True:
                tries += 1
                attempt += 1
                try:
                    outcome = await self._attempt(studio, route, member, method, request,
                                                  project_id=project_id, stage=stage,
                                                  job_key=job_key, out_path=out_path,
                                                  request_json=request_json, attempt=attempt,
                                                  store=store)
                except _DayUsedUp:
                    failed_here.add(member.name)
                    self._release(member)
                    break
                except BaseException as exc:
                    self._release(member)
                    last_error = exc
                    _redact_args(exc)
                    action, delay = self._decide(member, exc, tries)
                    if action == "stop":
                        raise
                    if action == "retry":
                        await self.sleep(delay)
                        with self._lock:
                            self.in_flight[member.name] = self.in_flight.get(member.name, 0) + 1
                        continue
                    failed_here.add(member.name)
                    break
                else:
                    self._release(member)
                    return outcome

    def _exhausted(self, route: Route, failed_here: set[str], last_error) -> BaseException:
        if last_error is not None and len(route.members) == 1:
            return last_error
        reasons = []
        for m in route.members:
            if not m.active:
                reasons.append(f"{m.name} is inactive")
            elif m.name in failed_here:
                left = self.cooling_left(m.name)
                reasons.append(f"{m.name} failed" if left == 0 else
                               f"{m.name} failed ({self.cooling[m.name][1]}; cools down for {left:.0f} s)")
            elif self.cooling_left(m.name) > 0:
                reasons.append(f"{m.name} cools down for {self.cooling_left(m.name):.0f} s "
                               f"({self.cooling.get(m.name, (0, ''))[1]})")
        text = f"no {route.kind} provider could do this: " + "; ".join(reasons)
        if last_error is not None:
            text += f". Last error: {redact(last_error)}"
            if isinstance(last_error, ProviderError):
                error = type(last_error)(text, status=last_error.status)
                return error
        return NoProviderAvailable(text)

    def _decide(self, member: Member, exc: BaseException, tries: int) -> tuple[str, float]:
        """(action, delay): action is retry | failover | stop."""
        policy = self.policy
        if isinstance(exc, RateLimited):
            wait = exc.retry_after
            if wait is not None and wait > policy.max_retry_after:
                self.cooldown(member.name, wait, "rate limited")
                return "failover", 0.0
            if tries < policy.attempts_per_provider:
                return "retry", wait if wait is not None else self._backoff(tries)
            self.cooldown(member.name, wait or policy.cooldown_short, "rate limited")
            return "failover", 0.0
        if isinstance(exc, (QuotaExhausted, AuthError)):
            reason = "quota exhausted" if isinstance(exc, QuotaExhausted) else "key refused"
            self.cooldown(member.name, policy.cooldown_long, reason)
            return "failover", 0.0
        if isinstance(exc, BadRequest):
            return "stop", 0.0
        if isinstance(exc, (ContentPolicy, InvalidOutput)):
            return "failover", 0.0
        if isinstance(exc, TaskFailed):
            return ("retry", self._backoff(tries)) if exc.retryable and tries < 2 else ("failover", 0.0)
        if isinstance(exc, Transient) or (isinstance(exc, ProviderError) and exc.retryable):
            with self._lock:
                self.failures[member.name] = self.failures.get(member.name, 0) + 1
                failures = self.failures[member.name]
            if failures >= policy.failures_to_cool:
                self.cooldown(member.name, policy.cooldown_failures, "keeps failing")
                with self._lock:
                    self.failures[member.name] = 0
                return "failover", 0.0
            if tries < policy.attempts_per_provider:
                wait = exc.retry_after if exc.retry_after is not None else self._backoff(tries)
                return "retry", min(wait, policy.max_retry_after)
            return "failover", 0.0
        return "stop", 0.0

    def _backoff(self, tries: int) -> float:
        """Exponential backoff with jitter: base·2^(n-1), capped, times 0.5–1.0."""
        policy = self.policy
        return min(policy.backoff_cap, policy.backoff_base * 2 ** (tries - 1)) * self.rng.uniform(0.5, 1.0)

    async def pace(self, studio, member: Member) -> None:
        """Requests per minute, for every process of the studio: a call may go when its
        provider's last call (in any process) is 60/rpm seconds old. The slot is taken at the
        moment the call goes, not reserved ahead, so a call delayed after its turn cannot end
        up too close to the next one."""
        if not member.rpm:
            return  # no requests-per-minute limit
        interval = pacing_interval(member.rpm)
        remote = getattr(getattr(studio, "executor", None), "pace", None)
        if remote is not None:  # workers on other machines: Redis holds the provider's turn
            await remote(member.name, interval)
            return
        db = studio.db
        while True:
            with writing(db):
                found = db.execute("select next_at from provider_pacing where provider = ?",
                                   [member.name]).fetchone()
                current = time.time()
                due = found[0] if found else 0.0
                if current >= due:
                    db.execute("insert into provider_pacing (provider, next_at) values (?, ?) on "
                               "conflict (provider) do update set next_at = excluded.next_at",
                               [member.name, current + interval])
                    return
            await asyncio.sleep(min(due - current, interval) + 0.001)

    async def _attempt(self, studio, route: Route, member: Member, method: str, request, *,
                       project_id, stage, job_key, out_path, request_json, attempt, store=None):
        db = studio.db
        async with self.semaphore(member):
            if member.rpm and not getattr(member.provider, "paces_itself", False):
                await self.pace(studio, member)
            if not self.reserve_day(db, member):
                self.cooldown(member.name, _seconds_to_utc_midnight(), "requests per day used up")
                raise _DayUsedUp()
            spool = Spool(studio.path.parent / "spool", job_key) if job_key else None
            context = CallContext(job_key=job_key, provider=member.name, tasks=DBTaskStore(db),
                                  spool=spool)
            if member.rpm and getattr(member.provider, "paces_itself", False):
                context.pace = lambda: self.pace(studio, member)
                context.pace_interval = pacing_interval(member.rpm)
            token = CALL.set(context)
            started = time.perf_counter()
            row = {"provider": member.name, "kind": getattr(member.provider, "kind", route.kind),
                   "project_id": project_id, "stage": stage, "job_key": job_key,
                   "request": request_json, "tokens_in": 0, "tokens_out": 0, "cost": 0.0,
                   "attempt": attempt, "route": None if route.single else route.name,
                   "worker": getattr(studio, "worker_name", None) or worker_name(),
                   "created": now()}
            try:
                result = await execute(studio, member.provider, method, request, out_path, context)
            except BaseException as exc:
                row.update(status="failed", error=redact(str(exc) or type(exc).__name__)[:2000],
                           error_class=type(exc).__name__,
                           latency_ms=(time.perf_counter() - started) * 1000)
                if context.note:
                    row["response"] = json.dumps(context.note)
                if context.billed or context.tokens_in or context.tokens_out:
                    # billed, then rejected (invalid JSON, truncated …): the cost still counts
                    row.update(tokens_in=context.tokens_in, tokens_out=context.tokens_out,
                               cost=cost_of(member.price, context.tokens_in, context.tokens_out,
                                            context.units, request))
                row["worker"] = context.note.pop("worker", None) or row["worker"]
                _insert_call(db, row)
                if spool is not None:
                    spool.clear()  # a retry asks again rather than replaying a rejected answer
                raise
            finally:
                CALL.reset(token)
        with self._lock:
            self.failures[member.name] = 0
        row.update(status="ok", latency_ms=(time.perf_counter() - started) * 1000)
        row["worker"] = context.note.pop("worker", None) or row["worker"]
        if hasattr(result, "text") and hasattr(result, "tokens_in"):
            row.update(response=result.text, tokens_in=result.tokens_in,
                       tokens_out=result.tokens_out)
        elif out_path is not None and Path(out_path).exists():
            note = {"file_bytes": Path(out_path).stat().st_size, **context.note, **context.units}
            if isinstance(result, (int, float, str)) and not isinstance(result, bool):
                note["result"] = result
            if store is not None:  # the paid result is in the media store before it is recorded
                note["media"] = store(Path(out_path))
            row["response"] = json.dumps(note)
            row.update(tokens_in=context.tokens_in, tokens_out=context.tokens_out)  # GPT-image usage
        row["cost"] = cost_of(member.price, row["tokens_in"], row["tokens_out"], context.units,
                              request)
        call_id = _insert_call(db, row)
        if spool is not None:
            spool.clear()
        return result, call_id


async def execute(studio, provider, method: str, request, out_path, context):
    """Carry out one provider call: here, or through the studio's executor (Celery workers)."""
    executor = getattr(studio, "executor", None)
    if executor is not None and executor.accepts(provider, method, request):
        return await executor.execute(studio, provider, method, request, out_path, context)
    args = (request,) if out_path is None else (request, out_path)
    return await getattr(provider, method)(*args)


def worker_name() -> str:
    """Who made a call: this process (host:pid)."""
    return f"inline@{socket.gethostname()}:{os.getpid()}"


def pacing_interval(rpm: float) -> float:
    return 60.0 / rpm * (1 + PACING_MARGIN)


def _insert_call(db, row: dict) -> int:
    """One row in `calls` (a plain INSERT: this runs for every attempt, on the event loop)."""
    columns = list(row)
    cursor = db.execute(f"insert into calls ({', '.join(columns)}) values "
                        f"({', '.join('?' * len(columns))})", [row[c] for c in columns])
    return cursor.lastrowid


class _DayUsedUp(Exception):
    pass


def _redact_args(exc: BaseException) -> None:
    """Exceptions leave the router with every string argument redacted."""
    try:
        exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
    except Exception:
        pass


def _seconds_to_utc_midnight() -> float:
    current = datetime.now(timezone.utc)
    midnight = (current + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - current).total_seconds()


def cost_of(price: dict, tokens_in: int, tokens_out: int, units: dict, request=None) -> float:
    """The cost of one successful call from a provider's price table:
    per_call + per_1k_tokens·(in+out)/1000 + per_1k_input·in/1000 + per_1k_output·out/1000
    + per_second·seconds of video (the service's, else the request's) + per_unit·service units
    + per_1k_characters·characters spoken/1000."""
    if not price:
        return 0.0
    p = {k: float(v) for k, v in price.items() if k != "currency" and v is not None}
    seconds = units.get("seconds")
    if seconds is None and request is not None and hasattr(request, "duration_s"):
        seconds = request.duration_s
    characters = units.get("characters")
    if characters is None and request is not None and hasattr(request, "text") \
            and not hasattr(request, "prompt"):
        characters = len(request.text)
    total = p.get("per_call", 0.0)
    total += p.get("per_1k_tokens", 0.0) * (tokens_in + tokens_out) / 1000
    cached = min(float(units.get("cached_tokens") or 0), tokens_in) if "per_1k_cached_input" in p else 0
    total += p.get("per_1k_input", 0.0) * (tokens_in - cached) / 1000
    total += p.get("per_1k_cached_input", 0.0) * cached / 1000  # cache hits (DeepSeek, OpenAI)
    total += p.get("per_1k_output", 0.0) * tokens_out / 1000
    total += p.get("per_second", 0.0) * float(seconds or 0)
    total += p.get("per_unit", 0.0) * float(units.get("units") or 0)
    total += p.get("per_1k_characters", 0.0) * float(characters or 0) / 1000
    return round(total, 6)


def _describe_request(request) -> dict:
    if hasattr(request, "__dataclass_fields__"):
        return {k: getattr(request, k) for k in request.__dataclass_fields__
                if not callable(getattr(request, k))}
    return {"request": str(request)}


async def call(studio, provider, method: str, request, *, project_id: int | None, stage: str,
               job_key: str = "", out_path: Path | None = None, describe: dict | None = None,
               store=None) -> tuple[Any, int]:
    """Call a provider (or a route of providers) through the studio's router: limits, retries,
    failover, and one row in `calls` per attempt. Returns (result, call_id). What the stages
    and experiments use; a user calls `studio.route(kind, name).complete(request)`."""
    if not isinstance(provider, Route):
        row = provider_row(studio.db, provider.name) or {}
        provider = Route(studio, getattr(provider, "kind", "other"), [Member(
            provider=provider, rpm=row.get("rpm"), rpd=row.get("rpd"),
            concurrency=int(row.get("concurrency") or getattr(provider, "concurrency", 2) or 2),
            price=json.loads(row.get("price") or "{}"))])
    return await studio.router.call(studio, provider, method, request, project_id=project_id,
                                    stage=stage, job_key=job_key, out_path=out_path,
                                    describe=describe, store=store)


def served_by(db, call_id: int) -> str:
    """The provider that made a call (a route's member that served it)."""
    return db.execute("select provider from calls where id = ?", [call_id]).fetchone()[0]


def provider_row(db, name: str) -> dict | None:
    """A provider's row in the `providers` table (None: no such row)."""
    cursor = db.execute("select * from providers where name = ?", [name])
    found = cursor.fetchone()
    return dict(zip([c[0] for c in cursor.description], found)) if found else None
