"""Routing strategies, limits, retries, failover and cool-down, with in-memory providers (the
HTTP adapters are tested against fake servers in test_provider_*.py)."""
import asyncio
import random
import time

import pytest

from storynb import InvalidInput, Studio
from storynb.providers.base import (AuthError, BadRequest, LLMRequest, LLMResult, QuotaExhausted,
                                    RateLimited, Transient)
from storynb.routing import Member, Policy, Route, Router, call, parse_route_spec


class Echo:
    """An LLM that answers its name, optionally after a delay, failing as scripted."""

    kind = "llm"

    def __init__(self, name, delay=0.0, faults=()):
        self.name, self.model, self.delay = name, name, delay
        self.faults = list(faults)
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.times = []

    async def complete(self, request):
        self.calls += 1
        self.times.append(time.monotonic())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.faults:
                fault = self.faults.pop(0)
                if fault is not None:
                    raise fault
            return LLMResult(text=self.name, tokens_in=3, tokens_out=2, model=self.name)
        finally:
            self.in_flight -= 1


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def __call__(self):
        return self.now

    async def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


REQ = LLMRequest(task="rewrite", prompt="hello")


@pytest.fixture
def studio(tmp_path):
    return Studio(tmp_path / "studio.db")


def route_of(studio, providers, strategy="round_robin", **member_fields):
    members = [Member(provider=p, **member_fields.get(p.name, {})) for p in providers]
    return Route(studio, "llm", members, strategy)


def run_calls(studio, route, n, *, concurrent=False):
    async def main():
        if concurrent:
            return await asyncio.gather(*(call(studio, route, "complete", REQ, project_id=None,
                                                      stage="rewrite") for _ in range(n)))
        return [await call(studio, route, "complete", REQ, project_id=None, stage="rewrite")
                for _ in range(n)]
    return [result.text for result, _ in asyncio.run(main())]


def test_route_spec_forms_and_errors():
    assert parse_route_spec(None) == ([], "round_robin")
    assert parse_route_spec("a") == (["a"], "round_robin")
    assert parse_route_spec(["a", "b", "a"]) == (["a", "b"], "round_robin")
    assert parse_route_spec({"providers": ["a", "b"], "strategy": "weighted"}) == (["a", "b"], "weighted")
    with pytest.raises(InvalidInput, match="strategy"):
        parse_route_spec({"providers": ["a"], "strategy": "fastest"})
    with pytest.raises(InvalidInput, match="unknown route field"):
        parse_route_spec({"provider": ["a"]})


def test_round_robin_alternates_exactly(studio):
    a, b = Echo("a"), Echo("b")
    served = run_calls(studio, route_of(studio, [a, b]), 1000)
    assert served == ["a", "b"] * 500


def test_weighted_three_to_one_within_five_percent(studio):
    studio.router.rng = random.Random(7)
    a, b = Echo("a"), Echo("b")
    route = route_of(studio, [a, b], "weighted", a={"weight": 3}, b={"weight": 1})
    served = run_calls(studio, route, 1000)
    share = served.count("a") / 1000
    assert 0.70 <= share <= 0.80, share
    assert studio.db["calls"].count == 1000  # every routed call is a row


def test_random_uses_every_member(studio):
    studio.router.rng = random.Random(3)
    providers = [Echo(n) for n in "abc"]
    served = run_calls(studio, route_of(studio, providers, "random"), 300)
    assert all(60 <= served.count(n) <= 140 for n in "abc")


def test_least_loaded_sends_the_next_call_to_the_fewest_in_flight(studio):
    slow, fast = Echo("slow", delay=0.2), Echo("fast", delay=0.01)
    route = route_of(studio, [slow, fast], "least_loaded",
                     slow={"concurrency": 8}, fast={"concurrency": 8})
    router = studio.router
    router.in_flight["slow"] = 3  # three calls already in flight on `slow`
    assert router.choose(route).name == "fast"
    router.in_flight.clear()

    async def jobs():  # like the runner: a few jobs in flight at a time
        gate = asyncio.Semaphore(4)

        async def one():
            async with gate:
                result, _ = await call(studio, route, "complete", REQ, project_id=None, stage="rewrite")
                return result.text
        return await asyncio.gather(*(one() for _ in range(40)))
    served = asyncio.run(jobs())
    assert served.count("fast") > 2 * served.count("slow")  # the fast one frees up sooner

    # Sequentially, with nothing in flight, least_loaded takes turns on ties.
    router.in_flight.clear()
    assert run_calls(studio, route, 4) in (["slow", "fast"] * 2, ["fast", "slow"] * 2)


def test_priority_tiers_fall_back_only_when_needed(studio):
    main, spare = Echo("main"), Echo("spare")
    route = route_of(studio, [spare, main], main={"priority": 0}, spare={"priority": 1})
    assert run_calls(studio, route, 3) == ["main"] * 3
    main.faults = [AuthError("main: key refused")]
    assert run_calls(studio, route, 2) == ["spare", "spare"]  # main cools down after the 401
    assert studio.router.cooling_left("main") > 0


def test_concurrency_cap_per_provider(studio):
    a = Echo("a", delay=0.05)
    route = route_of(studio, [a], a={"concurrency": 2})
    run_calls(studio, route, 8, concurrent=True)
    assert a.max_in_flight == 2


def test_rpm_limit_spaces_calls(studio):
    a = Echo("a")
    route = route_of(studio, [a], a={"rpm": 600, "concurrency": 8})  # one call per 0.1 s
    started = time.monotonic()
    run_calls(studio, route, 5, concurrent=True)
    gaps = [t2 - t1 for t1, t2 in zip(a.times, a.times[1:])]
    assert min(gaps) >= 0.09  # not called again until its window allows
    assert time.monotonic() - started >= 0.36


def test_rpd_is_persisted_and_fails_over(tmp_path):
    path = tmp_path / "studio.db"
    studio = Studio(path)
    capped, other = Echo("capped"), Echo("other")
    studio.register(capped)
    studio.register(other)
    studio.db["providers"].insert({"kind": "llm", "name": "capped", "type": "local", "rpd": 3,
                                   "weight": 1.0, "priority": 0, "active": 1, "builtin": 0})
    route = studio.route("llm", ["capped"])
    assert run_calls(studio, route, 3) == ["capped"] * 3
    with pytest.raises(Exception, match="requests per day"):
        run_calls(studio, route, 1)
    assert capped.calls == 3

    restarted = Studio(path)  # a new process: the count is in the database
    restarted.register(capped)
    restarted.register(other)
    route = restarted.route("llm", {"providers": ["capped", "other"], "strategy": "round_robin"})
    assert run_calls(restarted, route, 4) == ["other"] * 4
    assert capped.calls == 3
    assert restarted.providers.get("capped")["used_today"] == 3


def test_rate_limited_retries_after_retry_after_then_succeeds(studio):
    clock = FakeClock()
    studio.router = Router(clock=clock, sleep=clock.sleep)
    a = Echo("a", faults=[RateLimited("429", retry_after=2.5), Transient("503"), None])
    assert run_calls(studio, route_of(studio, [a]), 1) == ["a"]
    assert clock.slept[0] == 2.5  # Retry-After honoured
    assert 0.5 <= clock.slept[1] <= 1.0  # then exponential backoff with jitter: 0.5·2^1·[0.5, 1]
    rows = list(studio.db.query("select status, error_class, attempt from calls order by id"))
    assert [(r["status"], r["error_class"], r["attempt"]) for r in rows] == [
        ("failed", "RateLimited", 1), ("failed", "Transient", 2), ("ok", None, 3)]


def test_persistent_rate_limit_cools_down_and_fails_over(studio):
    clock = FakeClock()
    studio.router = Router(clock=clock, sleep=clock.sleep, policy=Policy(cooldown_short=30))
    a = Echo("a", faults=[RateLimited("429")] * 3)
    b = Echo("b")
    assert run_calls(studio, route_of(studio, [a, b]), 1) == ["b"]
    assert a.calls == 3 and studio.router.cooling_left("a") == pytest.approx(30)
    assert run_calls(studio, route_of(studio, [a, b]), 2) == ["b", "b"]  # a is cooling down
    clock.now += 31
    assert run_calls(studio, route_of(studio, [a, b]), 2) == ["a", "b"]


def test_quota_and_bad_request_classes(studio):
    clock = FakeClock()
    studio.router = Router(clock=clock, sleep=clock.sleep)
    broke = Echo("broke", faults=[QuotaExhausted("broke: insufficient_quota")])
    fine = Echo("fine")
    assert run_calls(studio, route_of(studio, [broke, fine]), 1) == ["fine"]
    assert broke.calls == 1  # never retried
    assert studio.router.cooling_left("broke") >= 3600

    picky = Echo("picky", faults=[BadRequest("picky: HTTP 400: prompt too long")])
    other = Echo("other")
    with pytest.raises(BadRequest, match="prompt too long"):
        run_calls(studio, route_of(studio, [picky, other]), 1)
    assert other.calls == 0  # the same request would fail anywhere: no failover


def test_a_short_cool_down_is_waited_out(studio):
    clock = FakeClock()
    studio.router = Router(clock=clock, sleep=clock.sleep)
    a = Echo("a")
    studio.router.cooldown("a", 12, "rate limited")
    assert run_calls(studio, route_of(studio, [a]), 1) == ["a"]
    assert clock.slept == [12]


def test_all_providers_out_gives_a_clear_error(studio):
    clock = FakeClock()
    studio.router = Router(clock=clock, sleep=clock.sleep)
    a = Echo("a", faults=[AuthError("a: HTTP 401 invalid_api_key")])
    b = Echo("b", faults=[QuotaExhausted("b: HTTP 402")])
    with pytest.raises(QuotaExhausted) as info:
        run_calls(studio, route_of(studio, [a, b]), 1)
    text = str(info.value)
    assert "no llm provider could do this" in text and "a failed" in text and "HTTP 402" in text


def test_unknown_exceptions_are_not_retried(studio):
    a = Echo("a", faults=[RuntimeError("the painter ran out of paint")])
    b = Echo("b")
    with pytest.raises(RuntimeError, match="out of paint"):
        run_calls(studio, route_of(studio, [a, b]), 1)
    assert a.calls == 1 and b.calls == 0


def test_project_routes_and_keys(studio, make_project=None):
    a, b = Echo("a"), Echo("b")
    studio.register(a)
    studio.register(b)
    project = studio.create_project("A lighthouse keeper befriends a whale", shots=4, size=(144, 256))
    default = project.provider("llm")
    assert default.name == "draft-writer" and default.single
    assert project.provider("llm").identity() == {
        "provider": "draft-writer", "model": default.model, "provider_params": {}}
    project.update(providers={"llm": {"providers": ["a", "b"], "strategy": "weighted"}})
    route = project.provider("llm")
    assert route.strategy == "weighted" and [m.name for m in route.members] == ["a", "b"]
    same_set = studio.route("llm", {"providers": ["b", "a"], "strategy": "least_loaded"})
    assert same_set.identity() == route.identity()  # the key: the member set, not order or strategy
    with pytest.raises(Exception, match="no llm provider named 'nope'"):
        project.update(providers={"llm": ["a", "nope"]})


def test_a_provider_that_keeps_failing_cools_down(studio):
    clock = FakeClock()
    studio.router = Router(clock=clock, sleep=clock.sleep, policy=Policy(failures_to_cool=3,
                                                                         cooldown_failures=30))
    flaky = Echo("flaky", faults=[Transient("flaky: HTTP 503")] * 3)
    steady = Echo("steady")
    route = route_of(studio, [flaky, steady])
    assert run_calls(studio, route, 1) == ["steady"]  # 503, 503, 503 → cool down, fail over
    assert flaky.calls == 3 and studio.router.cooling_left("flaky") == pytest.approx(30)
    assert "keeps failing" in studio.router.cooling["flaky"][1]


def test_http_answers_are_classified():
    from storynb.providers.http import classify, retry_after

    def kind(status, body=b"", headers=None):
        return type(classify("svc", status, headers or {}, body)).__name__

    assert kind(429, b'{"error": {"code": "rate_limit_exceeded", "message": "slow down"}}') == "RateLimited"
    assert kind(429, b'{"error": {"type": "insufficient_quota", "message": "You exceeded your '
                     b'current quota"}}') == "QuotaExhausted"
    assert kind(429, b'{"code": "Throttling.AllocationQuota", "message": "You exceeded your current '
                     b'quota (insufficient_quota)"}') == "RateLimited"  # DashScope's per-minute throttle
    assert kind(402, b'{"error": {"message": "Insufficient Balance"}}') == "QuotaExhausted"
    assert kind(403, b'{"error": {"type": "exceeded_current_quota_error", "message": "balance '
                     b'is not enough"}}') == "QuotaExhausted"
    assert kind(401, b'{"error": {"code": "invalid_api_key"}}') == "AuthError"
    assert kind(400, b'{"error": {"code": "content_policy_violation"}}') == "ContentPolicy"
    assert kind(400, b'{"code": "DataInspectionFailed", "message": "inappropriate"}') == "ContentPolicy"
    assert kind(404, b'{"error": {"message": "model not found"}}') == "BadRequest"
    assert kind(422, b'{"detail": [{"msg": "field required"}]}') == "BadRequest"
    for status in (408, 409, 500, 502, 503, 504, 529):
        assert kind(status, b"<html>oops</html>") == "Transient"
    assert retry_after({"retry-after": "7"}) == 7.0
    assert retry_after({"retry-after-ms": "1500"}) == 1.5
    assert 0 <= retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) <= 0.0
    assert retry_after({}) is None
    error = classify("svc", 429, {"retry-after": "3"}, b"{}")
    assert error.retry_after == 3.0 and error.status == 429
