"""Prompt experiments: two or more versions of one stage's template over the same test cases,
run fairly, checked by assertions, judged blind, summarised with honest statistics.

    ab = ABTests(studio)
    ab.run("twist", "rewrite", [("my-set", 1), ("my-set", 2)], cases="stories-en",
           provider="my-llm", samples=3, temperature=0.7, seed=1,
           assertions=[{"type": "llm-rubric", "value": "ends with a twist", "judge": "judge-llm"}])
    ab.matrix("twist")                     # cases × arms, pass/fail per cell
    ab.pairwise("twist", judge="judge-llm")  # blind A-vs-B, both positions, ties allowed
    print(ab.report("twist").text())       # mean ± CI, paired deltas, win rate, sign test
    ab.suggest("twist", critic="judge-llm")  # an LLM critic proposes a revised template
    ab.regress("twist", baseline="my-set v1", candidate="my-set v2").passed

Fairness: an experiment is pinned to one stage and one provider; the provider's effective
params (temperature …) and the seed are part of every run's key, so changing them runs again
instead of skipping; N samples per cell (seed, seed+1, …); arm order is shuffled per topic and
sample and the arms are interleaved. Numbers are read for the experiment's current settings
(`config`); older settings stay in the studio as history (`results(..., config="all")`).
"""
from __future__ import annotations

import asyncio
import difflib
import hashlib
import json
import random
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..aio import run_sync
from ..db import now
from ..errors import InvalidInput, NotFound
from ..prompts import declared_variables, render
from ..providers.base import LLMRequest
from ..runner import job_key
from . import assertions as A
from .cases import CaseSets, normalize
from .heuristic import HEURISTIC_JUDGE, heuristic_judge
from .stats import mean_ci, paired

LLM_STAGES = ("rewrite", "storyboard", "camera")
METRICS = ("output", "pass", "pass_rate", "tokens_in", "tokens_out", "latency_ms", "cost",
           "rating", "judge_score")
SCORES = ("pass_rate", "judge_score", "rating")
OFFLINE_NOTE = ("every arm goes to the offline draft writer ({name}), which writes from the "
                "variables and ignores the prompt's wording: wording changes cannot show here. "
                "Only structural assertions ({structural}) run; content assertions are skipped. "
                "Use a real model (provider=…) to compare wording.")
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
CRITIC_PROMPT = """You improve prompt templates for a story-video tool (stage: {{ stage }}).

The current template (Jinja2; keep every {{ '{{' }} variable {{ '}}' }} it uses, add no new ones):
<<<TEMPLATE
{{ template }}
TEMPLATE>>>

Failures and critiques of its outputs across {{ runs }} runs:
{{ findings }}

Propose a revised template that fixes these problems. Change only what the evidence supports.
Answer with JSON only: {"template": "the full revised template", "rationale": "what you changed and why"}"""


class ExperimentWarning(UserWarning):
    """Something that makes an experiment's comparison weaker than it looks."""


@dataclass(frozen=True)
class Arm:
    """One side of a comparison: a template version, plus variables it overrides."""

    label: str
    template: dict
    set_name: str
    variables: dict
    language: str = "en"


@dataclass
class Regression:
    passed: bool
    message: str
    baseline: str
    candidate: str
    metric: str
    baseline_mean: float | None
    candidate_mean: float | None


@dataclass
class Report:
    """Everything `storynb ab show` prints and the Prompt lab tab shows."""

    experiment: str
    header: dict
    warnings: list[str]
    matrix: Any
    stats: Any
    metric: str
    paired: list = field(default_factory=list)
    pairwise: Any = None
    pairwise_tests: list = field(default_factory=list)
    costs: dict = field(default_factory=dict)
    deltas: Any = None  # per case: each arm's mean score and its delta from the baseline

    def sentences(self) -> list[str]:
        return [p.sentence() for p in self.paired] + [p.sentence() for p in self.pairwise_tests]

    def text(self) -> str:
        import pandas as pd

        import textwrap

        def wrap(line: str) -> list[str]:
            return textwrap.wrap(line, 110, subsequent_indent="  ", break_on_hyphens=False) or [""]

        h = self.header
        lines = wrap(f"experiment {self.experiment}: stage {h['stage']}, provider {h['provider']} "
                     f"({h['model']}), params {h['params']}, {h['samples']} sample(s) per cell"
                     + (f", cases {h['case_set']} v{h['case_version']}" if h.get("case_set") else "")
                     + f", baseline {h['baseline']}")
        for w in self.warnings:
            lines += wrap(f"WARNING: {w}")
        with pd.option_context("display.max_colwidth", 60, "display.width", 250,
                               "display.unicode.east_asian_width", True):
            lines += ["", "pass/fail per case (rows) and arm (columns):",
                      self.matrix.to_string() if len(self.matrix) else "(no runs)",
                      "", f"per arm ({self.metric} = score used for the paired test):",
                      self.stats.to_string(index=False)]
            if self.deltas is not None and len(self.deltas) and len(self.deltas.columns) > 2:
                lines += ["", f"paired by case: mean {self.metric} per arm, and Δ from the baseline "
                          f"{h['baseline']}:", self.deltas.to_string(index=False)]
            if self.pairwise is not None and len(self.pairwise):
                lines += ["", "blind pairwise judging (both positions; a flipped verdict is a tie):",
                          self.pairwise.to_string(index=False)]
        sentences = self.sentences()
        if sentences:
            lines.append("")
            for sentence in sentences:
                lines += wrap(f"- {sentence}")
        lines += ["", "cost: " + ", ".join(f"{k} {v:.6g}" for k, v in self.costs.items())]
        return "\n".join(lines)


class ABTests:
    """Prompt experiments over template versions, stored in the studio database."""

    def __init__(self, studio):
        self.studio = studio
        self.db = studio.db
        self.cases = CaseSets(studio)

    # defining arms ---------------------------------------------------------------------
    def _arm(self, stage: str, spec) -> Arm:
        """`spec`: (set, version), (set, version, {variable overrides}), a template id, or a
        dict {"set": …, "version": …, "variables": {…}, "label": …}."""
        overrides: dict = {}
        label = None
        if isinstance(spec, dict):
            overrides = dict(spec.get("variables") or {})
            label = spec.get("label")
            if "template_id" in spec:
                spec = spec["template_id"]
            else:
                spec = (spec.get("set"), spec.get("version"))
        if isinstance(spec, int) and not isinstance(spec, bool):
            template = self.db["prompt_templates"].get(spec) if self.db["prompt_templates"].count_where(
                "id = ?", [spec]) else None
            if template is None:
                raise NotFound(f"no prompt template with id {spec}")
        elif isinstance(spec, (tuple, list)) and len(spec) in (2, 3):
            if len(spec) == 3:
                overrides = {**dict(spec[2] or {}), **overrides}
            template = self.studio.prompts.template(spec[0], stage, spec[1])
        else:
            raise InvalidInput(f"an arm is (set, version), (set, version, variables), a template "
                               f"id or a dict; not {spec!r}")
        if template["stage"] != stage:
            raise InvalidInput(f"template {template['id']} is for {template['stage']!r}, not {stage!r}")
        if not isinstance(overrides, dict):
            raise InvalidInput("an arm's variables must be a dict")
        prompt_set = self.db["prompt_sets"].get(template["set_id"])
        set_name = prompt_set["name"]
        if label is None:
            label = f"{set_name} v{template['version']}"
            if overrides:
                label += " · " + ", ".join(f"{k}={v}" for k, v in sorted(overrides.items()))
        return Arm(str(label), template, set_name, overrides, prompt_set.get("language") or "en")

    # running ---------------------------------------------------------------------------
    def run(self, experiment: str, stage: str, arms: Iterable | None = None,
            topics: Iterable[str] | None = None, *, cases=None, case_version: int | None = None,
            inputs: Iterable[dict] | None = None, variables: dict | None = None,
            assertions: list | None = None, provider: str | None = None, samples: int = 1,
            temperature: float | None = None, seed: int = 1, repeat: bool = False,
            concurrency: int = 2, suggested: bool = True):
        """Run every arm over every case, `samples` times each; returns `results()`.

        Cases come from a stored case set (`cases="stories-en"`, a version with `case_version`),
        a list of case dicts, plain `topics`, or `inputs` (dicts of stage variables).
        `assertions` apply to every case, on top of each case's own. Queued suggestions for this
        experiment (see `suggest`) join as arms unless `suggested=False`."""
        experiment = _name(experiment)
        if stage not in LLM_STAGES:
            raise InvalidInput(f"A/B runs compare LLM stages: {', '.join(LLM_STAGES)}; not {stage!r}")
        if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 20:
            raise InvalidInput(f"samples is a whole number from 1 to 20, not {samples!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidInput(f"seed is a whole number, not {seed!r}")
        if temperature is not None and (isinstance(temperature, bool) or not isinstance(
                temperature, (int, float)) or not 0 <= temperature <= 2):
            raise InvalidInput(f"temperature is a number from 0 to 2, not {temperature!r}")
        arm_list = [self._arm(stage, spec) for spec in (arms or [])]
        queued = self._queued(experiment) if suggested else []
        arm_list += [self._arm(stage, {"template_id": s["template_id"], "label": s["label"]})
                     for s in queued if s["label"] not in {a.label for a in arm_list}]
        if len(arm_list) < 1:
            raise InvalidInput("give at least one arm (two or more to compare)")
        if len({a.label for a in arm_list}) != len(arm_list):
            raise InvalidInput("two arms have the same label: give them different labels")
        extra = A.validate(assertions, "assertions")
        items, case_set = self._items(cases, case_version, topics, inputs)
        llm = self.studio.provider("llm", provider)
        offline = self._offline(llm)
        for check in extra + [a for item in items for a in item["assert"]]:
            if check["type"] == "llm-rubric" and not offline:
                self._judge_provider(check.get("judge"), llm, what="an llm-rubric assertion")
        params = _effective_params(llm, temperature)
        config = job_key("ab-config", provider=llm.name, model=getattr(llm, "model", ""),
                         params=params, seed=seed, samples=samples)[:16]
        notes = self._warnings(stage, arm_list, items, llm, offline)
        self._pin(experiment, stage, llm, params, seed, samples, case_set, offline, notes, config,
                  [a.label for a in arm_list])
        for note in notes:
            warnings.warn(f"experiment {experiment!r}: {note}", ExperimentWarning, stacklevel=2)
        jobs = []
        base = list(arm_list)  # counterbalanced: a shuffled order, rotated by one per group, so
        random.Random(f"{experiment}|{seed}").shuffle(base)  # each arm goes first equally often
        group = 0
        for item in items:
            for sample in range(samples):
                shift = group % len(base)
                order = base[shift:] + base[:shift]
                group += 1
                for position, arm in enumerate(order):
                    values = {**_defaults(stage, item), **(variables or {}),
                              **item.get("variables", {}), **_inputs(item), **arm.variables}
                    jobs.append((arm, item, values, sample, position))
        run_sync(self._run_all(experiment, stage, llm, jobs, repeat, max(1, int(concurrency)),
                               params, seed, config, extra, offline))
        for s in queued:
            self.db["ab_suggestions"].update(s["id"], {"status": "tested"})
        return self.results(experiment)

    def _items(self, cases, case_version, topics, inputs) -> tuple[list[dict], tuple | None]:
        items: list[dict] = []
        case_set = None
        if isinstance(cases, str):
            stored = self.cases.get(cases, case_version)
            items += stored["cases"]
            case_set = (stored["name"], stored["version"])
        elif cases is not None:
            items += normalize(cases)
        if topics:
            if isinstance(topics, str):
                raise InvalidInput("topics is a list of topics, not one string")
            items += normalize([{"topic": t} for t in topics], "topics")
        if inputs:
            for raw in inputs:
                if not isinstance(raw, dict):
                    raise InvalidInput("each input is a dict of stage variables")
                story = raw.get("story")
                case = {"variables": {k: v for k, v in raw.items() if k not in ("topic", "story")}}
                if raw.get("topic") is not None:
                    case["topic"] = raw["topic"]
                if story is not None:
                    case["story"] = story
                if "topic" not in case and "story" not in case:
                    case["shots"] = raw.get("shots", [])
                items += normalize([case], "inputs")
        if not items:
            raise InvalidInput("give some cases, topics (or inputs) to run the arms on")
        ids = [i["id"] for i in items]
        if len(set(ids)) != len(ids):
            raise InvalidInput("the same case is given twice")
        return items, case_set

    def _offline(self, llm) -> bool:
        row = self.studio._provider_row(llm.name) or {}
        from ..providers.local import DraftWriter

        return isinstance(llm, DraftWriter) or (row.get("type") == "local" and row.get("kind") == "llm")

    def _judge_provider(self, name, generator, *, what: str):
        if not name:
            raise InvalidInput(f"{what} needs a named judge model (judge=\"provider name\")")
        judge = self.studio.provider("llm", name)
        if generator is not None and judge.name == generator.name:
            raise InvalidInput(f"{what}: the judge {name!r} is the generator itself; pick another "
                               "model so it does not grade its own work")
        if self._offline(judge):
            raise InvalidInput(f"{what}: {name!r} is the offline draft writer, which cannot judge; "
                               "name an LLM provider (or leave the judge out for the heuristic "
                               "checker, which is not an AI)")
        return judge

    def _warnings(self, stage, arms, items, llm, offline) -> list[str]:
        notes = []
        if offline:
            note = OFFLINE_NOTE.format(name=llm.name, structural=", ".join(A.STRUCTURAL))
            varying = sorted({k for a in arms for k in a.variables})
            if len(arms) > 1 and not varying:
                note = "a wording-only experiment: " + note
            elif varying:
                note += f" Arms that change variables ({', '.join(varying)}) can still differ."
            notes.append(note)
        if stage == "rewrite":
            for language in sorted({a.language for a in arms}):
                wrong = [i for i in items if i.get("topic") and i["language"] != language]
                mine = [a.label for a in arms if a.language == language]
                if wrong:
                    notes.append(
                        f"language: {', '.join(repr(m) for m in mine)} use{'s' if len(mine) == 1 else ''} "
                        f"a {language} prompt set but {len(wrong)} topic(s) are "
                        f"{wrong[0]['language']} (e.g. {wrong[0]['topic'][:40]!r}), so those stories "
                        f"are asked for in {language}. Use a {wrong[0]['language']} set, or a case set "
                        "in the set's language")
        return notes

    def _pin(self, experiment, stage, llm, params, seed, samples, case_set, offline, notes, config,
             arms):
        row = self._experiment_row(experiment, missing_ok=True)
        if row is None and self.db["ab_runs"].count_where("experiment = ?", [experiment]):
            old = list(self.db.query("select stage, provider from ab_runs where experiment = ? "
                                     "order by id desc limit 1", [experiment]))[0]
            row = {"stage": old["stage"], "provider": old["provider"]}
        if row is not None and (row["stage"] != stage or row["provider"] != llm.name):
            raise InvalidInput(
                f"experiment {experiment!r} is pinned to stage {row['stage']!r} and provider "
                f"{row['provider']!r}; this run asks for {stage!r} on {llm.name!r}. Start a new "
                "experiment (another name) so the two are not mixed")
        values = {"name": experiment, "stage": stage, "provider": llm.name,
                  "model": getattr(llm, "model", ""),
                  "params": json.dumps({**params, "seed": seed}, sort_keys=True),
                  "samples": samples, "config": config, "case_set": case_set[0] if case_set else None,
                  "case_version": case_set[1] if case_set else None, "offline": int(offline),
                  "warnings": json.dumps(notes, ensure_ascii=False), "updated": now()}
        known = json.loads((row or {}).get("arms") or "[]")
        values["arms"] = json.dumps(known + [a for a in arms if a not in known], ensure_ascii=False)
        values["baseline"] = (row or {}).get("baseline") or arms[0]
        self.db["ab_experiments"].upsert({**values, "created": (row or {}).get("created") or now()},
                                         pk="name")

    async def _run_all(self, experiment, stage, llm, jobs, repeat, concurrency, params, seed,
                       config, extra, offline) -> None:
        gate = asyncio.Semaphore(concurrency)

        async def one(arm: Arm, item: dict, values: dict, sample: int, position: int) -> None:
            request_params = {**({"temperature": params["temperature"]}
                                 if params.get("temperature") is not None else {}),
                              "seed": seed + sample}
            key = job_key("ab", experiment=experiment, template_id=arm.template["id"],
                          variables=values, provider=llm.name, model=getattr(llm, "model", ""),
                          params={**params, **request_params}, sample=sample)
            checks_wanted = extra + item["assert"]
            found = None if repeat else list(self.db["ab_runs"].rows_where(
                "experiment = ? and key = ? and status = 'ok'", [experiment, key],
                order_by="id desc", limit=1))
            async with gate:
                if found:  # skipped: only the checks are brought up to date (cheap, no generation)
                    row = found[0]
                    checks = await self._checks(row, checks_wanted, offline, llm,
                                                json.loads(row.get("checks") or "[]"))
                    passed, checked = A.summarize(checks)
                    self.db["ab_runs"].update(row["id"], {"checks": A.dumps(checks), "passed": passed,
                                                          "checked": checked, "config": config,
                                                          "position": position})
                    return
                row = {"experiment": experiment, "stage": stage, "arm": arm.label, "key": key,
                       "template_id": arm.template["id"], "set_name": arm.set_name,
                       "version": arm.template["version"],
                       "topic": str(item.get("topic") or item.get("story", "") or
                                    json.dumps(item.get("shots", []))[:200])[:4000],
                       "case_id": item["id"], "traits": item.get("traits", ""),
                       "variables": json.dumps(values, ensure_ascii=False, default=str),
                       "provider": llm.name, "model": getattr(llm, "model", ""),
                       "params": json.dumps({**params, **request_params}, sort_keys=True),
                       "sample": sample, "position": position, "config": config, "created": now()}
                try:
                    prompt = render(arm.template["body"], values,
                                    label=f"{stage} template v{arm.template['version']}")
                    system = render(arm.template["system"] or "", values,
                                    label=f"{stage} system prompt") or None
                    row["prompt"] = prompt
                    request = LLMRequest(task=stage, prompt=prompt, variables=values,
                                         json=stage != "rewrite", system=system,
                                         params=request_params)
                    result, call_id = await self.studio.call(
                        llm, "complete", request, project_id=None, stage=f"ab:{stage}",
                        job_key=key, describe={"system": system, "prompt": prompt})
                except Exception as exc:  # a failed run is a row too
                    row.update(status="failed", error=str(exc)[:2000])
                    self.db["ab_runs"].insert(row)
                    return
                call = self.db["calls"].get(call_id) if call_id else {}
                row.update(status="ok", output=result.text, tokens_in=result.tokens_in,
                           tokens_out=result.tokens_out, latency_ms=call.get("latency_ms"),
                           cost=call.get("cost") or 0.0, call_id=call_id)
                checks = await self._checks(row, checks_wanted, offline, llm, [])
                passed, checked = A.summarize(checks)
                row.update(checks=A.dumps(checks), passed=passed, checked=checked)
                self.db["ab_runs"].insert(row)

        await asyncio.gather(*(one(*job) for job in jobs))

    async def _checks(self, row: dict, wanted: list[dict], offline: bool, generator,
                      previous: list[dict]) -> list[dict]:
        """Run each assertion on a stored output. An llm-rubric result is reused when the same
        judge already checked the same instruction."""
        out = []
        old = {c["name"]: c for c in previous if c.get("type") == "llm-rubric" and c.get("pass") is not None}
        for item in wanted:
            name = A.describe(item)
            if offline and item["type"] in A.CONTENT:
                out.append({"type": item["type"], "name": name, "pass": None,
                            "reason": "skipped: the offline draft writer ignores the wording"})
            elif item["type"] != "llm-rubric":
                out.append(A.check(item, row.get("output") or "", cost=row.get("cost"),
                                   latency_ms=row.get("latency_ms")))
            elif name in old:
                out.append(old[name])
            else:
                out.append(await self._rubric(item, row, generator))
        return out

    async def _rubric(self, item: dict, row: dict, generator) -> dict:
        name = A.describe(item)
        try:
            judge = self._judge_provider(item.get("judge"), generator, what="an llm-rubric assertion")
            values = {"instruction": item["value"], "output": row.get("output") or ""}
            request = LLMRequest(task="judge", prompt=render(A.RUBRIC_CHECK, values, label="rubric check"),
                                 variables=values, json=True, params={"temperature": 0, "seed": 0},
                                 validate=A.parse_rubric_answer)
            result, call_id = await self.studio.call(judge, "complete", request, project_id=None,
                                                     stage="ab:judge", job_key=row.get("key", ""))
            ok, reason = A.parse_rubric_answer(result.text)
            cost = (self.db["calls"].get(call_id).get("cost") or 0.0) if call_id else 0.0
            return {"type": "llm-rubric", "name": name, "pass": ok, "reason": reason,
                    "judge": judge.name, "cost": cost}
        except Exception as exc:
            return {"type": "llm-rubric", "name": name, "pass": None,
                    "reason": f"the judge failed: {exc}"[:300]}

    # human and judge scores ------------------------------------------------------------
    def rate(self, run_id: int, rating: int, note: str = "") -> dict:
        """A person's rating of one output, 1 (bad) to 5 (great), with an optional note."""
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise InvalidInput(f"a rating is a whole number from 1 to 5, not {rating!r}")
        if not isinstance(note, str) or len(note) > 2000:
            raise InvalidInput("the note must be text of at most 2000 characters")
        self._row(run_id)
        self.db["ab_runs"].update(run_id, {"rating": rating, "rating_note": note.strip(),
                                           "rated": now()})
        return self._row(run_id)

    def blind(self, experiment: str, *, seed: int | None = None) -> list[dict]:
        """Groups for blind human rating: per case and sample, the arms' outputs in a random
        order, with neither arm labels nor judge scores. Reveal with `results()` after rating."""
        frame = self.results(experiment)
        frame = frame[frame["status"] == "ok"]
        rng = random.Random(seed)
        groups = []
        for (case, sample), part in frame.groupby(["case_id", "sample"], sort=False):
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
        done = {r["run_a"] for r in self.db["ab_judgments"].rows_where(
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
        self.db["ab_judgments"].insert({
            "experiment": experiment, "kind": "score", "judge": name, "label": label, "model": model,
            "key": row["key"], "run_a": row["id"], "arm_a": row["arm"], "topic": row["topic"],
            "sample": row.get("sample") or 0, "score": score, "reason": notes[:4000], "cost": cost,
            "call_ids": json.dumps(call_ids), "created": now()})
        self.db["ab_runs"].update(row["id"], {"judge": label, "judge_score": score,
                                              "judge_notes": notes[:4000]})

    async def _llm_judge(self, experiment, llm, label, rows: list[dict]) -> None:
        from ..stages.common import extract_json

        for row in rows:
            template = self.db["prompt_templates"].get(row["template_id"])
            values = {"stage": row["stage"], "template": template["body"],
                      "variables": row["variables"], "output": row["output"]}
            prompt = render(JUDGE_PROMPT, values, label="judge prompt")
            request = LLMRequest(task="judge", prompt=prompt, variables=values, json=True,
                                 params={"temperature": 0, "seed": 0})
            call_id = None
            try:
                result, call_id = await self.studio.call(llm, "complete", request, project_id=None,
                                                         stage="ab:judge", job_key=row["key"])
                data, _ = extract_json(result.text)
                score = float(data.get("score"))
                if not 1 <= score <= 10:
                    raise ValueError(f"score {score} is not between 1 and 10")
                notes = "\n".join(f"{k}: {data[k]}" for k in ("strengths", "suggestions") if data.get(k))
            except Exception as exc:
                self.db["ab_runs"].update(row["id"], {"judge": label, "judge_score": None,
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
                if not redo and self.db["ab_judgments"].count_where("key = ?", [key]):
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
                    result, call_id = await self.studio.call(llm, "complete", request,
                                                             project_id=None, stage="ab:judge",
                                                             job_key=key)
                    call_ids.append(call_id)
                    winner, reason = parse(result.text)
                    answers.append(winner)
                    reasons.append(reason)
            except Exception as exc:
                self.db["ab_judgments"].insert({
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
        self.db["ab_judgments"].insert({
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
        rows = list(self.db["ab_judgments"].rows_where(where, args, order_by="id"))
        if not history:
            newest = {}
            for r in rows:
                newest[(r["kind"], r["judge"], r["run_a"], r["run_b"])] = r
            rows = sorted(newest.values(), key=lambda r: r["id"])
        columns = ["id", "kind", "judge", "label", "arm_a", "arm_b", "topic", "sample", "first",
                   "second", "winner", "consistent", "score", "reason", "cost", "created"]
        return pd.DataFrame(rows, columns=columns)

    # improving -------------------------------------------------------------------------
    def suggest(self, experiment: str, *, critic: str, arm: str | None = None) -> dict:
        """An LLM critic (clearly labelled) reads the failures, judge reasons and rating notes of
        one arm (default: the best-scoring one) and proposes a revised template. It is saved as a
        new version in the companion set "<set>~suggested" (so projects using the set are not
        changed until you `adopt` it), marked "suggested", and queued as an arm of the next run."""
        rows = self._current_rows(experiment)
        pinned = self._experiment_row(experiment)
        llm = self._judge_provider(critic, None, what="the critic")
        labels = self._order(experiment, [r["arm"] for r in rows])
        if arm is None:
            report = self.report(experiment)
            stats = self._stats(self.results(experiment), report.metric, labels)
            ranked = stats.dropna(subset=["mean"]).sort_values("mean", ascending=False)
            arm = ranked["arm"].iloc[0] if len(ranked) else labels[0]
        if arm not in labels:
            raise InvalidInput(f"no arm {arm!r} in {experiment!r}; the arms are {labels}")
        mine = [r for r in rows if r["arm"] == arm]
        base = self.db["prompt_templates"].get(mine[0]["template_id"])
        findings = self._findings(experiment, arm, mine)
        if not findings:
            raise InvalidInput(f"arm {arm!r} has no failures, judge reasons or rating notes yet: "
                               "run assertions, judge or rate it first")
        values = {"stage": pinned["stage"], "template": base["body"], "runs": len(mine),
                  "findings": "\n".join(f"- {f}" for f in findings[:60])}

        def parse(text):
            from ..stages.common import extract_json

            data, _ = extract_json(text)
            if not isinstance(data, dict) or not isinstance(data.get("template"), str) \
                    or not data["template"].strip():
                raise ValueError('answer {"template": "…", "rationale": "…"}')
            return data

        request = LLMRequest(task="critic", prompt=render(CRITIC_PROMPT, values, label="critic prompt"),
                             variables=values, json=True, params={"temperature": 0, "seed": 0},
                             validate=parse)
        result, call_id = run_sync(self.studio.call(llm, "complete", request, project_id=None,
                                                    stage="ab:critic", job_key=f"critic:{experiment}:{base['id']}"))
        data = parse(result.text)
        body = data["template"].strip()
        new_vars = set(declared_variables(body)) - set(declared_variables(base["body"]))
        if new_vars:
            raise InvalidInput(f"the critic's template uses new variable(s) {sorted(new_vars)} that "
                               "the stage does not give; nothing was saved")
        if body == base["body"].strip():
            raise InvalidInput("the critic proposed no change to the template; nothing was saved")
        base_set = self.db["prompt_sets"].get(base["set_id"])
        companion = f"{base_set['name']}~suggested"
        if not self.db["prompt_sets"].count_where("name = ?", [companion]):
            self.studio.prompts.create_set(companion, base_set["language"],
                                           f"Suggested revisions of {base_set['name']} (not used by "
                                           "projects until adopted)")
        critic_label = f"LLM critic: {llm.name} ({getattr(llm, 'model', '')})"
        rationale = str(data.get("rationale") or "")[:2000]
        saved = self.studio.prompts.edit(companion, base["stage"], body, system=base["system"],
                                         note=f"suggested by {critic_label} from {base_set['name']} "
                                              f"v{base['version']}: {rationale}"[:4000])
        diff = "\n".join(difflib.unified_diff(base["body"].splitlines(), body.splitlines(),
                                              f"{base_set['name']} v{base['version']}",
                                              f"{companion} v{saved['version']} (suggested)",
                                              lineterm=""))
        row = {"experiment": experiment, "stage": base["stage"], "base_template_id": base["id"],
               "template_id": saved["id"], "critic": critic_label,
               "label": f"{companion} v{saved['version']} (suggested)", "rationale": rationale,
               "diff": diff, "status": "queued", "cost": self._cost([call_id]), "created": now()}
        row["id"] = self.db["ab_suggestions"].insert(row).last_pk
        return row

    def _findings(self, experiment, arm, rows) -> list[str]:
        found = []
        for r in rows:
            for c in json.loads(r.get("checks") or "[]"):
                if c.get("pass") is False:
                    found.append(f"failed {c['name']} on {r['topic'][:60]!r}: {c.get('reason', '')}")
            if r.get("rating_note"):
                found.append(f"a reader rated it {r['rating']}/5: {r['rating_note']}")
        for j in self.db["ab_judgments"].rows_where("experiment = ? and kind = 'pair'", [experiment]):
            if arm in (j["arm_a"], j["arm_b"]) and j["winner"] not in (arm, None):
                found.append(f"lost a blind comparison ({j['label']}): {j['reason']}")
        for j in self.db["ab_judgments"].rows_where("experiment = ? and kind = 'score'", [experiment]):
            if j["arm_a"] == arm and j["reason"] and "no problems" not in j["reason"]:
                found.append(f"{j['label']} scored {j['score']:g}/10: {j['reason']}")
        return list(dict.fromkeys(found))

    def suggestions(self, experiment: str | None = None):
        import pandas as pd

        where, args = ("experiment = ?", [experiment]) if experiment else (None, [])
        rows = list(self.db["ab_suggestions"].rows_where(where, args, order_by="id"))
        return pd.DataFrame(rows, columns=["id", "experiment", "label", "critic", "status",
                                           "rationale", "diff", "cost", "created"])

    def _queued(self, experiment: str) -> list[dict]:
        return list(self.db["ab_suggestions"].rows_where(
            "experiment = ? and status = 'queued'", [experiment], order_by="id"))

    def adopt(self, suggestion_id: int) -> dict:
        """Make a suggested template the newest version of the set it came from."""
        if not self.db["ab_suggestions"].count_where("id = ?", [suggestion_id]):
            raise NotFound(f"no suggestion #{suggestion_id}")
        s = self.db["ab_suggestions"].get(suggestion_id)
        base = self.db["prompt_templates"].get(s["base_template_id"])
        new = self.db["prompt_templates"].get(s["template_id"])
        saved = self.studio.prompts.edit(base["set_id"], base["stage"], new["body"],
                                         system=new["system"], note=f"adopted suggestion #{suggestion_id}")
        self.db["ab_suggestions"].update(suggestion_id, {"status": "adopted"})
        return saved

    # reading ---------------------------------------------------------------------------
    def _row(self, run_id: int) -> dict:
        if isinstance(run_id, bool) or not isinstance(run_id, int) or \
                not self.db["ab_runs"].count_where("id = ?", [run_id]):
            raise NotFound(f"no A/B run with id {run_id!r}")
        return self.db["ab_runs"].get(run_id)

    def _rows(self, experiment: str) -> list[dict]:
        rows = list(self.db["ab_runs"].rows_where("experiment = ?", [experiment], order_by="id"))
        if not rows:
            names = ", ".join(self.experiments()["experiment"]) or "none yet"
            raise NotFound(f"no A/B experiment named {experiment!r}; experiments: {names}")
        return rows

    def _current_rows(self, experiment: str, config: str = "current") -> list[dict]:
        rows = self._rows(experiment)
        if config == "all":
            return rows
        if config == "current":
            pinned = self._experiment_row(experiment, missing_ok=True) or {}
            config = pinned.get("config")
            if not config:
                return rows
        return [r for r in rows if r.get("config") == config]

    def _experiment_row(self, experiment: str, *, missing_ok: bool = False) -> dict | None:
        if self.db["ab_experiments"].count_where("name = ?", [experiment]):
            return self.db["ab_experiments"].get(experiment)
        if missing_ok:
            return None
        rows = self._rows(experiment)
        return {"name": experiment, "stage": rows[-1]["stage"], "provider": rows[-1]["provider"],
                "model": rows[-1]["model"], "params": "{}", "samples": 1, "offline": 0,
                "warnings": "[]"}

    def _order(self, experiment: str, labels) -> list[str]:
        """Arms in the order they were given (the first is the default baseline)."""
        row = self._experiment_row(experiment, missing_ok=True) or {}
        known = json.loads(row.get("arms") or "[]")
        labels = list(dict.fromkeys(labels))
        return [a for a in known if a in labels] + [a for a in labels if a not in known]

    def _baseline(self, experiment: str, labels: list[str]) -> str:
        row = self._experiment_row(experiment, missing_ok=True) or {}
        labels = self._order(experiment, labels)
        return row.get("baseline") if row.get("baseline") in labels else labels[0]

    def set_baseline(self, experiment: str, arm: str) -> None:
        labels = self._order(experiment, [r["arm"] for r in self._rows(experiment)])
        if arm not in labels:
            raise InvalidInput(f"no arm {arm!r}; the arms are {labels}")
        self._experiment_row(experiment)
        self.db["ab_experiments"].update(experiment, {"baseline": arm})

    def _cost(self, call_ids) -> float:
        ids = [i for i in call_ids if i]
        if not ids:
            return 0.0
        marks = ",".join("?" * len(ids))
        return float(self.db.execute(f"select coalesce(sum(cost), 0) from calls where id in ({marks})",
                                     ids).fetchone()[0])

    def experiments(self):
        import pandas as pd

        return pd.DataFrame(list(self.db.query(
            "select r.experiment, r.stage, max(r.provider) as provider, count(distinct r.arm) as arms, "
            "count(distinct r.topic) as topics, count(*) as runs, min(r.created) as started, "
            "coalesce(max(e.offline), 0) as offline from ab_runs r left join ab_experiments e "
            "on e.name = r.experiment group by r.experiment, r.stage order by started")),
            columns=["experiment", "stage", "provider", "arms", "topics", "runs", "started", "offline"])

    def results(self, experiment: str, *, config: str = "current"):
        """One row per run, for the experiment's current settings (config="all": every run)."""
        import pandas as pd

        columns = ["id", "arm", "topic", "sample", "position", "status", "output", "prompt",
                   "pass", "pass_rate", "passed", "checked", "checks", "tokens_in", "tokens_out",
                   "latency_ms", "cost", "rating", "rating_note", "judge_score", "judge",
                   "judge_notes", "error", "set_name", "version", "template_id", "provider",
                   "model", "params", "case_id", "traits", "key", "config", "created"]
        rows = self._current_rows(experiment, config)
        for r in rows:
            r["sample"] = r.get("sample") or 0
            r["case_id"] = r.get("case_id") or r["topic"]
            r["pass_rate"] = (r["passed"] / r["checked"]) if r.get("checked") else None
            r["pass"] = (None if not r.get("checked") else
                         "pass" if r["passed"] == r["checked"] else "fail")
        frame = pd.DataFrame(rows, columns=columns)
        frame["latency_ms"] = frame["latency_ms"].astype(float).round(1)
        frame["pass_rate"] = frame["pass_rate"].astype(float)
        return frame

    def compare(self, experiment: str, metrics: Iterable[str] = METRICS):
        """Topics down, (arm, metric) across. Numbers are means over the samples of each cell;
        `output` is sample 0's text (the newest run of it); `pass` counts passing samples."""
        metrics = list(metrics)
        unknown = set(metrics) - set(METRICS)
        if unknown:
            raise InvalidInput(f"unknown metric(s) {sorted(unknown)}: use {', '.join(METRICS)}")
        import pandas as pd

        frame = self.results(experiment)
        arms = self._order(experiment, frame["arm"])
        topics = list(dict.fromkeys(frame["topic"]))
        data = {}
        for (topic, arm), part in frame.groupby(["topic", "arm"], sort=False):
            part = part.sort_values("id")
            for metric in metrics:
                if metric == "output":
                    first = part[part["sample"] == part["sample"].min()]
                    value = first["output"].iloc[-1]
                elif metric == "pass":
                    checked = part[part["checked"].fillna(0) > 0]
                    value = (f"{int((checked['passed'] == checked['checked']).sum())}/{len(checked)}"
                             if len(checked) else None)
                else:
                    value = pd.to_numeric(part[metric], errors="coerce").mean()
                data.setdefault((arm, metric), {})[topic] = value
        wide = pd.DataFrame(data).reindex(topics)
        wide = wide.reindex(columns=pd.MultiIndex.from_tuples([(a, m) for a in arms for m in metrics],
                                                              names=["arm", "metric"]))
        return wide

    def matrix(self, experiment: str):
        """Cases down, arms across: ✓ when every sample passed every assertion, ✗ with the
        failing checks named, — when nothing was checked (e.g. offline content checks)."""
        import pandas as pd

        frame = self.results(experiment)
        arms = self._order(experiment, frame["arm"])
        table = {}
        for (topic, arm), part in frame.groupby(["topic", "arm"], sort=False):
            failed_runs = part[part["status"] != "ok"]
            checked = part[(part["status"] == "ok") & (part["checked"].fillna(0) > 0)]
            fails: dict[str, int] = {}
            for checks in checked["checks"]:
                for c in json.loads(checks or "[]"):
                    if c.get("pass") is False:
                        fails[c["name"]] = fails.get(c["name"], 0) + 1
            ok = int((checked["passed"] == checked["checked"]).sum())
            if not len(checked):
                cell = "— not checked" if not len(failed_runs) else f"✗ {len(failed_runs)} failed"
            else:
                cell = f"{'✓' if ok == len(part) else '✗'} {ok}/{len(part)}"
                if fails:
                    cell += " " + "; ".join(f"{_short(k, 40)} failed {n}×" for k, n in fails.items())
                if len(failed_runs):
                    cell += f"; {len(failed_runs)} run(s) failed"
            table.setdefault(arm, {})[_short(topic)] = cell
        out = pd.DataFrame(table).reindex(columns=arms)
        out.index.name = "case"
        return out

    def summary(self, experiment: str):
        """Per arm: runs, failures, rated and judged counts, means of tokens, latency and cost,
        and each score as mean ± 95 % CI (see storynb.experiments.stats)."""
        frame = self.results(experiment)
        return self._stats(frame, "pass_rate", self._order(experiment, frame["arm"])).drop(
            columns=["mean", "ci_low", "ci_high", "n"]).set_index("arm")

    def _stats(self, frame, metric: str, order: list[str] | None = None):
        import pandas as pd

        rows = []
        for arm in order or list(dict.fromkeys(frame["arm"])):
            part = frame[frame["arm"] == arm]
            ok = part[part["status"] == "ok"]
            row = {"arm": arm, "runs": len(part), "failed": int((part["status"] != "ok").sum()),
                   "checked": int((ok["checked"].fillna(0) > 0).sum()),
                   "rated": int(ok["rating"].notna().sum()),
                   "judged": int(ok["judge_score"].notna().sum())}
            for name in SCORES:
                mean, low, high, n = mean_ci(pd.to_numeric(ok[name], errors="coerce").tolist())
                row[name] = None if mean is None else round(mean, 3)
                row[f"{name} 95% CI"] = _pm(mean, low, high, bare=True) if n else None
                if name == metric:
                    row.update(mean=mean, ci_low=low, ci_high=high, n=n)
            for name in ("tokens_in", "tokens_out", "cost"):
                row[name] = round(float(pd.to_numeric(ok[name], errors="coerce").mean()),
                                  6 if name == "cost" else 1) if len(ok) else None
            # the median: the first call of a run pays for the connection (a cold start)
            row["latency_ms"] = round(float(pd.to_numeric(ok["latency_ms"], errors="coerce").median()),
                                      1) if len(ok) else None
            rows.append(row)
        columns = ["arm", "runs", "failed", "checked", "rated", "judged", "pass_rate",
                   "pass_rate 95% CI", "judge_score", "judge_score 95% CI", "rating",
                   "rating 95% CI", "tokens_in", "tokens_out", "latency_ms", "cost",
                   "mean", "ci_low", "ci_high", "n"]
        return pd.DataFrame(rows, columns=columns)

    def report(self, experiment: str, *, metric: str | None = None, baseline: str | None = None) -> Report:
        """Warnings, the pass/fail matrix, per-arm statistics, paired per-topic tests of each
        arm against the baseline, and the blind pairwise verdicts of every judge."""
        import pandas as pd

        frame = self.results(experiment)
        pinned = self._experiment_row(experiment)
        labels = self._order(experiment, frame["arm"])
        base = baseline or self._baseline(experiment, labels)
        if base not in labels:
            raise InvalidInput(f"no arm {base!r}; the arms are {labels}")
        if metric is None:
            metric = next((m for m in SCORES if frame[m].notna().any()), "pass_rate")
        if metric not in SCORES:
            raise InvalidInput(f"metric is one of {', '.join(SCORES)}, not {metric!r}")
        stats = self._stats(frame, metric, labels)
        ok = frame[frame["status"] == "ok"]
        per_topic: dict = {}
        for (case, arm), part in ok.groupby(["case_id", "arm"], sort=False):
            value = pd.to_numeric(part[metric], errors="coerce").mean()
            per_topic.setdefault(case, {})[arm] = None if pd.isna(value) else float(value)
        tests = [paired(base, other, per_topic, metric) for other in labels if other != base]
        names = dict(zip(ok["case_id"], ok["topic"]))
        delta_rows = []
        for case, scores in per_topic.items():
            row = {"case": _short(names.get(case, case)), **{a: _round(scores.get(a)) for a in labels}}
            for other in labels:
                if other != base:
                    both = scores.get(other) is not None and scores.get(base) is not None
                    row[f"Δ {other}"] = _round(scores[other] - scores[base]) if both else None
            delta_rows.append(row)
        deltas = pd.DataFrame(delta_rows)
        judgments = self.judgments(experiment, kind="pair")
        ids = set(frame["id"])
        pair_rows, pair_tests = [], []
        if len(judgments):
            runs = {int(r["id"]): r for _, r in frame.iterrows()}
            raw = list(self.db["ab_judgments"].rows_where("experiment = ? and kind = 'pair'",
                                                          [experiment], order_by="id"))
            newest = {}
            for j in raw:
                if j["run_a"] in ids and j["run_b"] in ids:
                    newest[(j["judge"], j["run_a"], j["run_b"])] = j
            groups: dict = {}
            for j in newest.values():
                groups.setdefault((j["label"], j["arm_a"], j["arm_b"]), []).append(j)
            for (label, a, b), items in groups.items():
                done = [j for j in items if j["winner"] is not None]
                wins = sum(j["winner"] == b for j in done)
                losses = sum(j["winner"] == a for j in done)
                ties = len(done) - wins - losses
                flips = sum(1 for j in done if not j["consistent"])
                pair_rows.append({"judge": label, "candidate": b, "baseline": a, "pairs": len(done),
                                  "wins": wins, "losses": losses, "ties": ties,
                                  "position flips": flips,
                                  "win rate": round((wins + 0.5 * ties) / len(done), 3) if done else None,
                                  "failed": len(items) - len(done),
                                  "cost": round(sum(j["cost"] or 0 for j in items), 6)})
                topic_scores: dict = {}
                for j in done:
                    case = runs[j["run_a"]]["case_id"] if j["run_a"] in runs else j["topic"]
                    delta = 1 if j["winner"] == b else -1 if j["winner"] == a else 0
                    topic_scores.setdefault(case, []).append(delta)
                per = {c: {a: 0.0, b: float(sum(v))} for c, v in topic_scores.items()}
                test = paired(a, b, per, f"net wins ({label})")
                test.mean_delta = None
                test.prefix = f"{label}, blind pairwise: " + (
                    f"{flips} of {len(done)} verdicts flipped with the position (counted as ties); "
                    if flips else "")
                pair_tests.append(test)
        judge_cost = float(self.db.execute(
            "select coalesce(sum(cost), 0) from ab_judgments where experiment = ?", [experiment]).fetchone()[0])
        rubric_cost = sum(c.get("cost") or 0 for checks in ok["checks"] for c in json.loads(checks or "[]"))
        costs = {"generation": round(float(pd.to_numeric(ok["cost"], errors="coerce").sum()), 6),
                 "judges": round(judge_cost + rubric_cost, 6),
                 "critic": round(float(self.db.execute(
                     "select coalesce(sum(cost), 0) from ab_suggestions where experiment = ?",
                     [experiment]).fetchone()[0]), 6)}
        header = {"stage": pinned["stage"], "provider": pinned["provider"], "model": pinned["model"],
                  "params": pinned.get("params") or "{}", "samples": pinned.get("samples") or 1,
                  "case_set": pinned.get("case_set"), "case_version": pinned.get("case_version"),
                  "baseline": base}
        notes = json.loads(pinned.get("warnings") or "[]")
        shown = stats.drop(columns=["mean", "ci_low", "ci_high", "n", "tokens_in"]).rename(
            columns={"latency_ms": "median ms", "tokens_out": "tokens out", "cost": "mean cost"})
        shown = shown[[c for c in shown.columns if not (c.startswith(SCORES) and shown[c].isna().all())]]
        return Report(experiment, header, notes, self.matrix(experiment), shown, metric, tests,
                      pd.DataFrame(pair_rows), pair_tests, costs, deltas)

    def prompt_diff(self, experiment: str, arm_a: str, arm_b: str, topic: str | None = None) -> str:
        """A unified diff of the prompts two arms rendered for the same case (the first case
        when `topic` is not given)."""
        frame = self.results(experiment)
        for arm in (arm_a, arm_b):
            if arm not in set(frame["arm"]):
                raise InvalidInput(f"no arm {arm!r}; the arms are {sorted(set(frame['arm']))}")
        topic = topic if topic is not None else frame["topic"].iloc[0]
        prompts = []
        for arm in (arm_a, arm_b):
            part = frame[(frame["arm"] == arm) & (frame["topic"] == topic)]
            if not len(part):
                raise InvalidInput(f"arm {arm!r} has no run for {topic[:60]!r}")
            prompts.append(str(part["prompt"].dropna().iloc[-1] if part["prompt"].notna().any() else ""))
        return "\n".join(difflib.unified_diff(prompts[0].splitlines(), prompts[1].splitlines(),
                                              arm_a, arm_b, lineterm="")) or "(the prompts are identical)"

    def regress(self, experiment: str, *, baseline: str | None = None, candidate: str | None = None,
                metric: str | None = None, tolerance: float = 0.0) -> Regression:
        """Regression mode (for CI): fails when the candidate's mean score is below the
        baseline's by more than `tolerance`. `candidate` defaults to the newest arm."""
        frame = self.results(experiment)
        labels = self._order(experiment, frame["arm"])
        baseline = baseline or self._baseline(experiment, labels)
        candidate = candidate or labels[-1]
        for arm in (baseline, candidate):
            if arm not in labels:
                raise InvalidInput(f"no arm {arm!r} in {experiment!r}; the arms are {labels}")
        if baseline == candidate:
            raise InvalidInput("the candidate is the baseline: name another arm")
        report = self.report(experiment, metric=metric, baseline=baseline)
        stats = self._stats(frame, report.metric, labels).set_index("arm")
        b, c = stats.loc[baseline, "mean"], stats.loc[candidate, "mean"]
        if b is None or c is None or b != b or c != c:
            return Regression(False, f"cannot compare: no {report.metric} for "
                              f"{baseline if b is None or b != b else candidate}", baseline,
                              candidate, report.metric, None, None)
        passed = c >= b - tolerance
        test = next((t for t in report.paired if t.candidate == candidate), None)
        message = (f"{'PASS' if passed else 'FAIL'}: {candidate} {report.metric} {c:.3g} vs "
                   f"baseline {baseline} {b:.3g} (tolerance {tolerance:g})")
        if test is not None:
            message += f"; {test.sentence()}"
        return Regression(bool(passed), message, baseline, candidate, report.metric, float(b), float(c))


# ---------------------------------------------------------------------------------- helpers
def _name(experiment: Any) -> str:
    if not isinstance(experiment, str) or not experiment.strip() or len(experiment) > 120:
        raise InvalidInput("an experiment needs a name of 1 to 120 characters")
    return experiment.strip()


def _short(text: str, size: int = 38) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= size else text[:size - 1] + "…"


def _round(value):
    return None if value is None or value != value else round(float(value), 3)


def _pm(mean, low, high, *, bare: bool = False) -> str | None:
    if mean is None or mean != mean:
        return None if not bare else "–"
    if low is None or low != low:
        return f"{mean:.3g} (n=1)" if not bare else "n=1"
    return f"{mean:.3g} ± {(high - low) / 2:.2g}" if not bare else f"[{low:.3g}, {high:.3g}]"


def _effective_params(llm, temperature) -> dict:
    """The provider's own settings that shape an answer, with the experiment's overrides."""
    own = dict(getattr(llm, "params", None) or {})
    keep = {k: own[k] for k in ("temperature", "top_p", "max_tokens", "json_mode", "extra")
            if own.get(k) is not None}
    if temperature is not None:
        keep["temperature"] = float(temperature)
    return keep


def _inputs(item: dict) -> dict:
    out = {}
    for key in ("topic", "story", "shots"):
        if key in item:
            out[key] = item[key]
    return out


def _defaults(stage: str, item: dict) -> dict:
    language = item.get("language") or "en"
    if stage == "rewrite":
        return {"language": language, "style": "warm", "length": "short", "audience": ""}
    if stage == "storyboard":
        return {"language": language, "shots": 6, "fps": 24}
    return {"language": language}
