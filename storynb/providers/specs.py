"""The shapes of a provider's settings that the registry checks and the router reads: a route
setting (which providers serve a kind, and how they share the calls) and a price table.
Pure functions over plain values (no database, no router)."""
from __future__ import annotations

from ..errors import InvalidInput
from ..settings import PRICE_KEYS, STRATEGIES


def parse_route_spec(spec) -> tuple[list[str], str]:
    """A project's `providers` setting for one kind: "name", ["a", "b"], or
    {"providers": ["a", "b"], "strategy": "weighted"}. Returns (names, strategy)."""
    if spec is None or spec == "":
        return [], "round_robin"
    if isinstance(spec, str):
        return [spec], "round_robin"
    if isinstance(spec, (list, tuple)):
        names, strategy = list(spec), "round_robin"
    elif isinstance(spec, dict):
        unknown = set(spec) - {"providers", "strategy"}
        if unknown:
            raise InvalidInput(f"unknown route field(s) {sorted(unknown)}: use providers, strategy")
        names = spec.get("providers") or []
        names = [names] if isinstance(names, str) else list(names)
        strategy = spec.get("strategy") or "round_robin"
    else:
        raise InvalidInput(f"a route is a provider name, a list of names or "
                           f"{{'providers': [...], 'strategy': ...}}, not {spec!r}")
    if strategy not in STRATEGIES:
        raise InvalidInput(f"unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
    if not all(isinstance(n, str) and n for n in names):
        raise InvalidInput(f"provider names must be non-empty text: {names!r}")
    return list(dict.fromkeys(names)), strategy


def check_price(price) -> dict:
    if price is None:
        return {}
    if not isinstance(price, dict):
        raise InvalidInput(f"price must be a dict like {{'per_call': 0.04}}, not {price!r}")
    unknown = set(price) - set(PRICE_KEYS)
    if unknown:
        raise InvalidInput(f"unknown price field(s) {sorted(unknown)}: use {', '.join(PRICE_KEYS)}")
    for key, value in price.items():
        if key != "currency" and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or value < 0):
            raise InvalidInput(f"price {key} must be a number ≥ 0, not {value!r}")
    return dict(price)
