"""Test cases: a versioned dataset of topics with expected traits and assertions, in the studio.

    cases = CaseSets(studio)
    cases.save("twists-en", [{"topic": "A lighthouse keeper befriends a lost whale",
                              "traits": "ends with a twist",
                              "assert": [{"type": "contains", "value": "whale"}]}],
               language="en", note="first cut")          # version 1; saving again makes version 2
    cases.get("twists-en")                                # the newest version, or version=1

Every save that changes the cases is a new version; old versions stay, and each run records the
case set and version it came from. Two sets ship with the package: `stories-en` and `stories-zh`.
"""
from __future__ import annotations

import builtins
import hashlib
import json
from typing import Any

from ..db import now
from ..errors import InvalidInput, NotFound
from . import assertions as A

SHIPPED = {
    "stories-en": ("en", "Story topics in English with traits every rewrite should keep", [
        {"topic": "A lighthouse keeper befriends a lost whale during a storm",
         "traits": "keeps the keeper and the whale; a storm; a hopeful ending",
         "assert": [{"type": "contains", "value": "whale"}, {"type": "contains", "value": "storm"}]},
        {"topic": "A robot in a flooded city learns to paint",
         "traits": "the robot paints; the flood is visible",
         "assert": [{"type": "contains", "value": "robot"}, {"type": "contains", "value": "paint"}]},
        {"topic": "Two rival bakers must share one oven on the night of the festival",
         "traits": "rivalry turns into cooperation",
         "assert": [{"type": "contains", "value": "oven"}]},
    ]),
    "stories-zh": ("zh", "中文故事主题，附每次改写都应保留的要素", [
        {"topic": "一只想看海的小猫偷偷跟着渔船出发了",
         "traits": "小猫、渔船、第一次看到大海",
         "assert": [{"type": "contains", "value": "小猫"}, {"type": "contains", "value": "海"}]},
        {"topic": "老街上的修表匠收到一块会倒着走的怀表",
         "traits": "修表匠、倒着走的怀表、时间的意味",
         "assert": [{"type": "contains", "value": "表"}]},
        {"topic": "山村小学的孩子们第一次用望远镜看月亮",
         "traits": "孩子们、望远镜、月亮",
         "assert": [{"type": "contains", "value": "月亮"}]},
    ]),
}


def case_id(case: dict) -> str:
    """A stable id for a case: its topic (and other inputs), so versions can be compared."""
    inputs = {k: case[k] for k in ("topic", "story", "variables") if k in case}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:12]


def normalize(cases, where: str = "cases") -> list[dict]:
    """Check a list of cases: each has a topic (or, for storyboard/camera, a `story`/`shots`
    input), optional `language`, `traits` (text), `assert` (assertions) and `variables`."""
    from ..project import detect_language

    if not isinstance(cases, (list, tuple)) or not cases:
        raise InvalidInput(f"{where}: give a non-empty list of cases (dicts with a 'topic')")
    out, seen = [], set()
    for i, raw in enumerate(cases):
        if isinstance(raw, str):
            raw = {"topic": raw}
        if not isinstance(raw, dict):
            raise InvalidInput(f"{where}[{i}]: a case is a dict with a 'topic' (or a topic string)")
        unknown = set(raw) - {"topic", "story", "shots", "language", "traits", "assert", "variables", "id"}
        if unknown:
            raise InvalidInput(f"{where}[{i}]: unknown field(s) {sorted(unknown)}; a case has topic, "
                               "story, shots, language, traits, assert, variables")
        case = dict(raw)
        sample = str(case.get("topic") or case.get("story") or "")
        if not sample.strip() and "shots" not in case:
            raise InvalidInput(f"{where}[{i}]: the case has no topic (or story) text")
        if case.get("language") not in (None, "en", "zh"):
            raise InvalidInput(f"{where}[{i}]: language is 'en' or 'zh', not {case['language']!r}")
        case["language"] = case.get("language") or (detect_language(sample) if sample else "en")
        if not isinstance(case.get("traits", ""), str):
            raise InvalidInput(f"{where}[{i}]: traits is a text describing what a good output has")
        if not isinstance(case.get("variables", {}), dict):
            raise InvalidInput(f"{where}[{i}]: variables is a dict")
        case["assert"] = A.validate(case.get("assert"), f"{where}[{i}].assert")
        case["id"] = case_id(case)
        if case["id"] in seen:
            raise InvalidInput(f"{where}[{i}]: the same case twice ({sample[:60]!r})")
        seen.add(case["id"])
        out.append(case)
    return out


class CaseSets:
    """Versioned case sets in the studio (`ab_case_sets`)."""

    def __init__(self, studio):
        self.studio = studio
        self.db = studio.db

    def install_defaults(self) -> None:
        for name, (language, description, cases) in SHIPPED.items():
            if not self.db.table("ab_case_sets").count_where("name = ?", [name]):
                self.save(name, cases, language=language, description=description,
                          note="shipped default")

    def save(self, name: str, cases, *, language: str | None = None, description: str = "",
             note: str = "") -> dict:
        """Save a new version of a case set (or return the newest one when nothing changed)."""
        if not isinstance(name, str) or not name.strip() or len(name) > 80:
            raise InvalidInput("a case set needs a name of 1 to 80 characters")
        name = name.strip()
        cases = normalize(cases)
        languages = {c["language"] for c in cases}
        language = language or (languages.pop() if len(languages) == 1 else "mixed")
        current = self._newest(name)
        body = json.dumps(cases, ensure_ascii=False, sort_keys=True)
        if current and current["cases"] == body:
            return self._decode(current)
        row = {"name": name, "version": (current["version"] + 1) if current else 1,
               "language": language, "description": description or (current or {}).get(
                   "description") or "", "cases": body, "note": note, "created": now()}
        row["id"] = self.db.table("ab_case_sets").insert(row).last_pk
        return self._decode(row)

    def get(self, name: str, version: int | None = None) -> dict:
        self.install_defaults()
        where, args = "name = ?", list[Any]([name])
        if version is not None:
            where, args = where + " and version = ?", args + [int(version)]
        rows = list(self.db.table("ab_case_sets").rows_where(where, args, order_by="version desc",
                                                             limit=1))
        if not rows:
            names = ", ".join(sorted({r["name"] for r in self.db.table("ab_case_sets").rows})) or "none"
            raise NotFound(f"no case set {name!r}" + (f" version {version}" if version else "")
                           + f"; the case sets are: {names}")
        return self._decode(rows[0])

    def list(self):
        import pandas as pd

        self.install_defaults()
        rows = list(self.db.query(
            "select name, max(version) as version, language, description from ab_case_sets "
            "group by name order by name"))
        for row in rows:
            row["cases"] = len(self.get(row["name"])["cases"])
        return pd.DataFrame(rows, columns=["name", "version", "language", "cases", "description"])

    def versions(self, name: str) -> builtins.list[dict]:
        return [self._decode(r) for r in self.db.table("ab_case_sets").rows_where(
            "name = ?", [name], order_by="version")]

    def _newest(self, name: str) -> dict | None:
        rows = list(self.db.table("ab_case_sets").rows_where("name = ?", [name], order_by="version desc",
                                                       limit=1))
        return rows[0] if rows else None

    @staticmethod
    def _decode(row: dict) -> dict:
        return {**row, "cases": json.loads(row["cases"])}
