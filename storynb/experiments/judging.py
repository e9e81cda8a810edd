"""Judging prompt experiments: one output at a time (1–10, the heuristic checker or an LLM),
blind pairwise (both positions, one fixed rubric, a flipped verdict is a tie), blind human
rating; every judge's verdicts kept side by side with their history and cost."""
from __future__ import annotations

import hashlib
import json
import random

from ..aio import run_sync
from ..db import now
from ..errors import InvalidInput
from ..prompts import render
from ..providers.base import LLMRequest
from ..routing import call
from ..runner import job_key
from .heuristic import HEURISTIC_JUDGE, heuristic_judge
from .host import Host

JUDGE_PROMPT = """You are reviewing the output of a prompt template for a story-video tool.

The template (stage: {{ stage }}):
---
{{ template }}
---
The variables it was rendered with: {{ variables }}

The model's output:
---
{{ output }}
---
Score the output from 1 (unusable) to 10 (excellent) for how well it does what the template
asks, and suggest concrete changes to the TEMPLATE that would make outputs better.
Answer with JSON only: {"score": <1-10>, "strengths": "...", "suggestions": "..."}"""
RUBRIC = ("Which output is better for a narrated story video? Judge, in this order: "
          "(1) it keeps the brief: the topic's people, places and events, and the expected traits; "
          "(2) a clear arc with a satisfying ending; (3) vivid, concrete, natural language that reads "
          "well aloud; (4) a fitting length with no repetition. The order in which the outputs are "
          "shown means nothing. Answer tie when neither is clearly better.")
PAIRWISE_PROMPT = """You are judging two outputs written for the same brief. Blind pairwise comparison.

Brief: {{ brief }}
{% if traits %}Expected traits: {{ traits }}
{% endif %}
Rubric: {{ rubric }}

Output 1:
<<<
{{ first }}
>>>

Output 2:
<<<
{{ second }}
>>>

Answer with JSON only: {"winner": "1" or "2" or "tie", "reason": "one or two sentences"}"""


class Judging(Host):
    """ABTests' judging methods (a mixin)."""

    # human and judge scores ------------------------------------------------------------
    def rate(self, run_id: int, rating: int, note: str = "") -> dict:
        """A person's rating of one output, 1 (bad) to 5 (great), with an optional note."""
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise InvalidInput(f"a rating is a whole number from 1 to 5, not {rating!r}")
        if not isinstance(note, str) or len(note) > 2000:
            raise InvalidInput("the note must be text of at most 2000 characters")
        self._row(run_id)
        self.db.table("ab_runs").update(run_id, {"rating": rating, "rating_note": note.strip(),
                                           "rated": now()})
        return self._row(run_id)

    def blind(self, experiment: str, *, seed: int | None = None) -> list[dict]:
        """Groups for blind human rating: per case and sample, the arms' outputs in a random
        order, with neither arm labels nor judge scores. Reveal with `results()` after rating."""
        frame = self.results(experiment)
        frame = frame[frame["status"] == "ok"]
        rng = random.Random(seed)
        groups = []
        for (_case, sample), part in frame.groupby(["case_id", "sample"], sort=False):
            runs = [{"id": int(r["id"]), "output": r["output"]} for _, r in part.iterrows()]
            rng.shuffle(runs)
            groups.append({"topic": part["topic"].iloc[0], "sample": int(sample), "runs": runs})
        rng.shuffle(groups)
        return groups

    def judge(self, experiment: str, *, provider: str | None = None, redo: bool = False):
        """Score every output one at a time (1–10) and suggest template changes.

        Without `provider`: the offline heuristic checker (rules; labelled, not an AI). With an
        LLM provider: that model, at temperature 0. Each judge's scores are kept in
        `ab_judgments` side by side; `redo=True` adds a new round (the old one stays as history).
        The run's `judge_score` column shows the latest judge's score."""
        rows = [r for r in self._current_rows(experiment) if r["status"] == "ok"]
        pinned = self._experiment_row(experiment, missing_ok=True) or {}
        if provider:
            generator = self.studio.provider("llm", pinned["provider"]) if pinned.get("provider") else None
            llm = self._judge_provider(provider, generator, what="the judge")
            label = f"LLM judge: {llm.name} ({getattr(llm, 'model', '')})"
        else:
            llm, label = None, HEURISTIC_JUDGE
        name = llm.name if llm else "heuristic"
        done = {r["run_a"] for r in self.db.table("ab_judgments").rows_where(
            "experiment = ? and kind = 'score' and judge = ?", [experiment, name])}
        todo = [r for r in rows if redo or r["id"] not in done]
        offline = bool(pinned.get("offline"))
        if llm is None:
            for row in todo:
                score, notes = heuristic_judge(row)
                if offline:
                    notes = ("(offline: the draft writer ignores wording, so editing the template "
                             "cannot change these)\n" + notes)
                self._store_score(experiment, row, name, label, "", score, notes, 0.0, [])
        else:
            run_sync(self._llm_judge(experiment, llm, label, todo))
        return self.results(experiment)

    def _store_score(self, experiment, row, name, label, model, score, notes, cost, call_ids):
        self.db.table("ab_judgments").insert({
            "experiment": experiment, "kind": "score", "judge": name, "label": label, "model": model,
            "key": row["key"], "run_a": row["id"], "arm_a": row["arm"], "topic": row["topic"],
            "sample": row.get("sample") or 0, "score": score, "reason": notes[:4000], "cost": cost,
            "call_ids": json.dumps(call_ids), "created": now()})
        self.db.table("ab_runs").update(row["id"], {"judge": label, "judge_score": score,
                                              "judge_notes": notes[:4000]})

    async def _llm_judge(self, experiment, llm, label, rows: list[dict]) -> None:
        from ..stages.common import extract_json

        for row in rows:
            template = self.db.table("prompt_templates").get(row["template_id"])
            values = {"stage": row["stage"], "template": template["body"],
                      "variables": row["variables"], "output": row["output"]}
            prompt = render(JUDGE_PROMPT, values, label="judge prompt")
            request = LLMRequest(task="judge", prompt=prompt, variables=values, json=True,
                                 params={"temperature": 0, "seed": 0})
            call_id = None
            try:
                result, call_id = await call(self.studio, llm, "complete", request, project_id=None,
                                             stage="ab:judge", job_key=row["key"])
                data, _ = extract_json(result.text)
                score = float(data.get("score"))
                if not 1 <= score <= 10:
                    raise ValueError(f"score {score} is not between 1 and 10")
                notes = "\n".join(f"{k}: {data[k]}" for k in ("strengths", "suggestions") if data.get(k))
            except Exception as exc:
                self.db.table("ab_runs").update(row["id"], {"judge": label, "judge_score": None,
                                                      "judge_notes": f"the judge failed: {exc}"[:2000]})
                continue
            cost = self._cost([call_id])
            self._store_score(experiment, row, llm.name, label, getattr(llm, "model", ""), score,
                              notes, cost, [call_id])

    def pairwise(self, experiment: str, *, judge: str | None = None, arms: tuple | None = None,
                 redo: bool = False):
        """Blind pairwise judging: for each case and sample, the baseline's output against each
        other arm's, shown to the judge twice with the positions swapped, under one fixed rubric.
        A verdict that flips with the position counts as a tie (and is marked inconsistent).
        The judge must be another model than the generator (at temperature 0); without one, the
        heuristic checker compares scores (labelled, not an AI). Returns the judgments."""
        rows = [r for r in self._current_rows(experiment) if r["status"] == "ok"]
        pinned = self._experiment_row(experiment, missing_ok=True) or {}
        labels = self._order(experiment, [r["arm"] for r in rows])
        if arms:
            unknown = [a for a in arms if a not in labels]
            if unknown or len(arms) != 2:
                raise InvalidInput(f"arms is two of {labels}; not {list(arms)}")
            pairs = [tuple(arms)]
        else:
            base = self._baseline(experiment, labels)
            pairs = [(base, other) for other in labels if other != base]
        if not pairs:
            raise InvalidInput("pairwise judging needs two arms with outputs")
        if judge:
            generator = self.studio.provider("llm", pinned["provider"]) if pinned.get("provider") else None
            llm = self._judge_provider(judge, generator, what="the pairwise judge")
            name, label = llm.name, f"LLM judge: {llm.name} ({getattr(llm, 'model', '')})"
        else:
            llm, name, label = None, "heuristic", HEURISTIC_JUDGE
        by = {}
        for r in rows:  # the newest run per (arm, case, sample)
            by[(r["arm"], r["case_id"], r["sample"] or 0)] = r
        work = []
        rubric_key = hashlib.sha256((RUBRIC + PAIRWISE_PROMPT).encode()).hexdigest()[:12]
        for a, b in pairs:
            for (arm, case, sample), ra in by.items():
                if arm != a or (b, case, sample) not in by:
                    continue
                rb = by[(b, case, sample)]
                key = job_key("ab-pair", judge=name, model=getattr(llm, "model", ""),
                              a=ra["id"], b=rb["id"], rubric=rubric_key)
                if not redo and self.db.table("ab_judgments").count_where("key = ?", [key]):
                    continue
                work.append((key, ra, rb))
        if llm is None:
            for key, ra, rb in work:
                sa, sb = heuristic_judge(ra)[0], heuristic_judge(rb)[0]
                verdict = "1" if sa > sb else "2" if sb > sa else "tie"
                swapped = "2" if sb < sa else "1" if sb > sa else "tie"
                self._store_pair(experiment, key, name, label, "", ra, rb, verdict, swapped,
                                 f"rule scores {sa:g} vs {sb:g}", 0.0, [])
        else:
            run_sync(self._llm_pairs(experiment, llm, name, label, work))
        return self.judgments(experiment, kind="pair")

    async def _llm_pairs(self, experiment, llm, name, label, work) -> None:
        from ..stages.common import extract_json

        def parse(text):
            data, _ = extract_json(text)
            winner = str((data or {}).get("winner", "")).strip().lower() if isinstance(data, dict) else ""
            if winner not in ("1", "2", "tie"):
                raise ValueError('answer {"winner": "1" | "2" | "tie", "reason": …}')
            return winner, str(data.get("reason") or "")

        for key, ra, rb in work:
            answers, call_ids, reasons = [], [], []
            try:
                for first, second in ((ra, rb), (rb, ra)):
                    values = {"brief": first["topic"], "traits": first.get("traits") or "",
                              "rubric": RUBRIC, "first": first["output"], "second": second["output"]}
                    request = LLMRequest(task="judge", prompt=render(PAIRWISE_PROMPT, values,
                                                                     label="pairwise judge prompt"),
                                         variables=values, json=True,
                                         params={"temperature": 0, "seed": 0},
                                         validate=lambda t: parse(t))
                    result, call_id = await call(self.studio, llm, "complete", request,
                                                 project_id=None, stage="ab:judge", job_key=key)
                    call_ids.append(call_id)
                    winner, reason = parse(result.text)
                    answers.append(winner)
                    reasons.append(reason)
            except Exception as exc:
                self.db.table("ab_judgments").insert({
                    "experiment": experiment, "kind": "pair", "judge": name, "label": label,
                    "model": getattr(llm, "model", ""), "key": key + "-failed", "run_a": ra["id"],
                    "run_b": rb["id"], "arm_a": ra["arm"], "arm_b": rb["arm"], "topic": ra["topic"],
                    "sample": ra.get("sample") or 0, "winner": None, "consistent": None,
                    "reason": f"the judge failed: {exc}"[:2000], "cost": self._cost(call_ids),
                    "call_ids": json.dumps(call_ids), "created": now()})
                continue
            # answers[0]: 1 = a; answers[1] was asked with b first: 1 = b
            self._store_pair(experiment, key, name, label, getattr(llm, "model", ""), ra, rb,
                             answers[0], answers[1], " | ".join(reasons), self._cost(call_ids),
                             call_ids)

    def _store_pair(self, experiment, key, name, label, model, ra, rb, first, second, reason,
                    cost, call_ids) -> None:
        pick1 = {"1": ra["arm"], "2": rb["arm"], "tie": "tie"}[first]
        pick2 = {"1": rb["arm"], "2": ra["arm"], "tie": "tie"}[second]
        consistent = pick1 == pick2
        self.db.table("ab_judgments").insert({
            "experiment": experiment, "kind": "pair", "judge": name, "label": label, "model": model,
            "key": key, "run_a": ra["id"], "run_b": rb["id"], "arm_a": ra["arm"], "arm_b": rb["arm"],
            "topic": ra["topic"], "sample": ra.get("sample") or 0, "first": pick1, "second": pick2,
            "winner": pick1 if consistent else "tie", "consistent": int(consistent),
            "reason": (reason if consistent else
                       f"the verdict flipped with the position ({pick1} / {pick2}): a tie. {reason}")[:4000],
            "cost": cost, "call_ids": json.dumps(call_ids), "created": now()})

    def judgments(self, experiment: str, *, kind: str | None = None, history: bool = False):
        """Every judge's verdicts (pairwise: kind="pair"; one output at a time: kind="score"),
        the newest round per judge and pair unless `history=True`."""
        import pandas as pd

        self._rows(experiment)
        where, args = "experiment = ?", [experiment]
        if kind:
            where, args = where + " and kind = ?", args + [kind]
        rows = list(self.db.table("ab_judgments").rows_where(where, args, order_by="id"))
        if not history:
            newest = {}
            for r in rows:
                newest[(r["kind"], r["judge"], r["run_a"], r["run_b"])] = r
            rows = sorted(newest.values(), key=lambda r: r["id"])
        columns = ["id", "kind", "judge", "label", "arm_a", "arm_b", "topic", "sample", "first",
                   "second", "winner", "consistent", "score", "reason", "cost", "created"]
        return pd.DataFrame(rows, columns=columns)
