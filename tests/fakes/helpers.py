"""Shared setup for the provider tests: a studio whose master key lives in the test's folder
and whose router waits milliseconds instead of seconds."""
from __future__ import annotations

import asyncio

from storynb import Studio
from storynb.routing import Policy, Router

FAST = Policy(attempts_per_provider=3, backoff_base=0.01, backoff_cap=0.05, max_retry_after=5,
              cooldown_short=0.3, cooldown_long=600, cooldown_failures=0.3, failures_to_cool=5,
              max_wait_for_cooldown=2)


def make_studio(tmp_path, monkeypatch) -> Studio:
    monkeypatch.setenv("STORYNB_KEY_FILE", str(tmp_path / "keys" / "secret.key"))
    monkeypatch.delenv("STORYNB_SECRET_KEY", raising=False)
    studio = Studio(tmp_path / "studio.db")
    studio.router = Router(policy=FAST)
    return studio


def run(coro):
    return asyncio.run(coro)


def fast_polls(studio, name: str) -> None:
    """Make an async adapter poll without waiting."""
    adapter = studio.provider(studio.providers.get(name)["kind"], name)

    async def no_wait(seconds):
        await asyncio.sleep(0)
    adapter.sleep = no_wait


def calls(studio, provider: str | None = None) -> list[dict]:
    where, args = ("where provider = ?", [provider]) if provider else ("", [])
    return list(studio.db.query(f"select * from calls {where} order by id", args))
