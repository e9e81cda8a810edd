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
import json
import random
import warnings
from dataclasses import dataclass
from typing import Any, Iterable, Literal, overload

from ..aio import run_sync
from ..db import now
from ..errors import InvalidInput, NotFound
from ..prompts import render
from ..providers.base import LLMRequest
from ..routing import call as call_provider
from ..runner import job_key
from . import assertions as A
from .cases import CaseSets, normalize
from .improve import Improving
from .judging import Judging
from .report import Reading

LLM_STAGES = ("rewrite", "storyboard", "camera")
OFFLINE_NOTE = ("every arm goes to the offline draft writer ({name}), which writes from the "
                "variables and ignores the prompt's wording: wording changes cannot show here. "
                "Only structural assertions ({structural}) run; content assertions are skipped. "
                "Use a real model (provider=…) to compare wording.")


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


class ABTests(Judging, Improving, Reading):
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
            if not self.db.table("prompt_templates").count_where("id = ?", [spec]):
                raise NotFound(f"no prompt template with id {spec}")
            template = self.db.table("prompt_templates").get(spec)
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
        prompt_set = self.db.table("prompt_sets").get(template["set_id"])
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
            self.db.table("ab_suggestions").update(s["id"], {"status": "tested"})
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
        row = self.studio.providers.stored(llm.name) or {}
        from ..providers.offline import DraftWriter

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
        if row is None and self.db.table("ab_runs").count_where("experiment = ?", [experiment]):
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
        self.db.table("ab_experiments").upsert({**values, "created": (row or {}).get("created") or now()},
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
            found = None if repeat else list(self.db.table("ab_runs").rows_where(
                "experiment = ? and key = ? and status = 'ok'", [experiment, key],
                order_by="id desc", limit=1))
            async with gate:
                if found:  # skipped: only the checks are brought up to date (cheap, no generation)
                    row = found[0]
                    checks = await self._checks(row, checks_wanted, offline, llm,
                                                json.loads(row.get("checks") or "[]"))
                    passed, checked = A.summarize(checks)
                    self.db.table("ab_runs").update(row["id"], {"checks": A.dumps(checks), "passed": passed,
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
                    result, call_id = await call_provider(
                        self.studio, llm, "complete", request, project_id=None, stage=f"ab:{stage}",
                        job_key=key, describe={"system": system, "prompt": prompt})
                except Exception as exc:  # a failed run is a row too
                    row.update(status="failed", error=str(exc)[:2000])
                    self.db.table("ab_runs").insert(row)
                    return
                call = self.db.table("calls").get(call_id) if call_id else {}
                row.update(status="ok", output=result.text, tokens_in=result.tokens_in,
                           tokens_out=result.tokens_out, latency_ms=call.get("latency_ms"),
                           cost=call.get("cost") or 0.0, call_id=call_id)
                checks = await self._checks(row, checks_wanted, offline, llm, [])
                passed, checked = A.summarize(checks)
                row.update(checks=A.dumps(checks), passed=passed, checked=checked)
                self.db.table("ab_runs").insert(row)

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
            result, call_id = await call_provider(self.studio, judge, "complete", request,
                                                  project_id=None, stage="ab:judge",
                                                  job_key=row.get("key", ""))
            ok, reason = A.parse_rubric_answer(result.text)
            cost = (self.db.table("calls").get(call_id).get("cost") or 0.0) if call_id else 0.0
            return {"type": "llm-rubric", "name": name, "pass": ok, "reason": reason,
                    "judge": judge.name, "cost": cost}
        except Exception as exc:
            return {"type": "llm-rubric", "name": name, "pass": None,
                    "reason": f"the judge failed: {exc}"[:300]}

    # reading ---------------------------------------------------------------------------
    def _row(self, run_id: int) -> dict:
        if isinstance(run_id, bool) or not isinstance(run_id, int) or \
                not self.db.table("ab_runs").count_where("id = ?", [run_id]):
            raise NotFound(f"no A/B run with id {run_id!r}")
        return self.db.table("ab_runs").get(run_id)

    def _rows(self, experiment: str) -> list[dict]:
        rows = list(self.db.table("ab_runs").rows_where("experiment = ?", [experiment], order_by="id"))
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
            pinned_config = pinned.get("config")
            if not pinned_config:
                return rows
            config = pinned_config
        return [r for r in rows if r.get("config") == config]

    @overload
    def _experiment_row(self, experiment: str, *, missing_ok: Literal[False] = False) -> dict: ...

    @overload
    def _experiment_row(self, experiment: str, *, missing_ok: bool) -> dict | None: ...

    def _experiment_row(self, experiment: str, *, missing_ok: bool = False) -> dict | None:
        if self.db.table("ab_experiments").count_where("name = ?", [experiment]):
            return self.db.table("ab_experiments").get(experiment)
        if missing_ok:
            return None
        rows = self._rows(experiment)
        return {"name": experiment, "stage": rows[-1]["stage"], "provider": rows[-1]["provider"],
                "model": rows[-1]["model"], "params": "{}", "samples": 1, "offline": 0,
                "warnings": "[]"}

    def arm_order(self, experiment: str, labels) -> list[str]:
        """The arms among `labels` in the order they were given (the first is the baseline)."""
        return self._order(experiment, labels)

    def _order(self, experiment: str, labels) -> list[str]:
        """Arms in the order they were given (the first is the default baseline)."""
        row = self._experiment_row(experiment, missing_ok=True) or {}
        known = json.loads(row.get("arms") or "[]")
        labels = list(dict.fromkeys(labels))
        return [a for a in known if a in labels] + [a for a in labels if a not in known]

    def _baseline(self, experiment: str, labels: list[str]) -> str:
        row = self._experiment_row(experiment, missing_ok=True) or {}
        labels = self._order(experiment, labels)
        baseline = row.get("baseline")
        return baseline if isinstance(baseline, str) and baseline in labels else labels[0]

    def set_baseline(self, experiment: str, arm: str) -> None:
        labels = self._order(experiment, [r["arm"] for r in self._rows(experiment)])
        if arm not in labels:
            raise InvalidInput(f"no arm {arm!r}; the arms are {labels}")
        self._experiment_row(experiment)
        self.db.table("ab_experiments").update(experiment, {"baseline": arm})

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


# ---------------------------------------------------------------------------------- helpers
def _name(experiment: Any) -> str:
    if not isinstance(experiment, str) or not experiment.strip() or len(experiment) > 120:
        raise InvalidInput("an experiment needs a name of 1 to 120 characters")
    return experiment.strip()


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
