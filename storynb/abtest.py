"""A/B runs of prompt template versions: the same topics through two or more versions of a
stage's template, every output stored in `ab_runs` with its tokens, latency and cost, a human
rating and an optional judge's score, so a comparison can be re-read later in any kernel.

    ab = ABTests(studio)
    ab.run("hopeful-ending", "rewrite", [("my-set", 1), ("my-set", 2)],
           topics=["A lighthouse keeper befriends a lost whale", "一只想看海的小猫"])
    ab.compare("hopeful-ending")          # topics × (arm, metric), side by side
    ab.rate(run_id, 4, "warmer, but the ending drags")
    ab.judge("hopeful-ending")            # offline: a heuristic checker (clearly not an AI)
    ab.judge("hopeful-ending", provider="my-llm")   # an LLM judge, labelled with its name

Runs already made (same experiment, template version, variables, provider) are skipped, like
the pipeline's work; `repeat=True` asks again.
"""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

from .aio import run_sync
from .db import now
from .errors import InvalidInput, NotFound
from .prompts import render
from .providers.base import LLMRequest
from .runner import job_key

LLM_STAGES = ("rewrite", "storyboard", "camera")
METRICS = ("output", "tokens_in", "tokens_out", "latency_ms", "cost", "rating", "judge_score")
HEURISTIC_JUDGE = "heuristic checker (offline rules, not an AI)"
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


@dataclass(frozen=True)
class Arm:
    """One side of a comparison: a template version, plus variables it overrides."""

    label: str
    template: dict
    set_name: str
    variables: dict


class ABTests:
    """A/B experiments over prompt template versions, stored in the studio database."""

    def __init__(self, studio):
        self.studio = studio
        self.db = studio.db

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
        set_name = self.db["prompt_sets"].get(template["set_id"])["name"]
        if label is None:
            label = f"{set_name} v{template['version']}"
            if overrides:
                label += " · " + ", ".join(f"{k}={v}" for k, v in sorted(overrides.items()))
        return Arm(str(label), template, set_name, overrides)

    # running ---------------------------------------------------------------------------
    def run(self, experiment: str, stage: str, arms: Iterable, topics: Iterable[str] | None = None,
            *, inputs: Iterable[dict] | None = None, variables: dict | None = None,
            provider: str | None = None, repeat: bool = False, concurrency: int = 2):
        """Run every arm over every topic (or every dict of `inputs`); returns `results()`.

        Variables are, in order of precedence: the arm's own, then the input's (`topic` for a
        topic), then `variables`, then the stage's usual defaults (language from the topic,
        style "warm", length "short" …)."""
        experiment = _name(experiment)
        if stage not in LLM_STAGES:
            raise InvalidInput(f"A/B runs compare LLM stages: {', '.join(LLM_STAGES)}; not {stage!r}")
        arm_list = [self._arm(stage, spec) for spec in arms]
        if len(arm_list) < 1:
            raise InvalidInput("give at least one arm (two or more to compare)")
        if len({a.label for a in arm_list}) != len(arm_list):
            raise InvalidInput("two arms have the same label: give them different labels")
        items = [{"topic": t} for t in (topics or [])] + [dict(i) for i in (inputs or [])]
        if not items:
            raise InvalidInput("give some topics (or inputs) to run the arms on")
        for item in items:
            if not isinstance(item.get("topic", ""), str) or not str(item.get("topic", "x")).strip():
                raise InvalidInput("a topic is empty")
        llm = self.studio.provider("llm", provider)
        jobs = []
        for item in items:
            for arm in arm_list:
                values = {**_defaults(stage, item), **(variables or {}), **item, **arm.variables}
                jobs.append((arm, item, values))
        run_sync(self._run_all(experiment, stage, llm, jobs, repeat, max(1, int(concurrency))))
        return self.results(experiment)

    async def _run_all(self, experiment, stage, llm, jobs, repeat, concurrency) -> None:
        gate = asyncio.Semaphore(concurrency)

        async def one(arm: Arm, item: dict, values: dict) -> None:
            key = job_key("ab", experiment=experiment, template_id=arm.template["id"],
                          variables=values, provider=llm.name, model=getattr(llm, "model", ""))
            if not repeat and self.db["ab_runs"].count_where(
                    "experiment = ? and key = ? and status = 'ok'", [experiment, key]):
                return
            row = {"experiment": experiment, "stage": stage, "arm": arm.label, "key": key,
                   "template_id": arm.template["id"], "set_name": arm.set_name,
                   "version": arm.template["version"],
                   "topic": str(item.get("topic") or item.get("story", ""))[:4000],
                   "variables": json.dumps(values, ensure_ascii=False, default=str),
                   "provider": llm.name, "model": getattr(llm, "model", ""), "created": now()}
            async with gate:
                try:
                    prompt = render(arm.template["body"], values,
                                    label=f"{stage} template v{arm.template['version']}")
                    system = render(arm.template["system"] or "", values,
                                    label=f"{stage} system prompt") or None
                    row["prompt"] = prompt
                    request = LLMRequest(task=stage, prompt=prompt, variables=values,
                                         json=stage != "rewrite", system=system)
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
            self.db["ab_runs"].insert(row)

        await asyncio.gather(*(one(*job) for job in jobs))

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

    def judge(self, experiment: str, *, provider: str | None = None, redo: bool = False):
        """Score every output of an experiment and suggest template changes.

        Without `provider` this is the offline heuristic checker (rules about length, the topic's
        words, paragraphs, repetition and JSON); it is labelled as such and is not an AI. With an
        LLM provider's name, that model is asked to judge, and its name is stored with each score."""
        rows = self._rows(experiment)
        llm = self.studio.provider("llm", provider) if provider else None
        todo = [r for r in rows if r["status"] == "ok" and (redo or r["judge_score"] is None)]
        if llm is None:
            for row in todo:
                score, notes = heuristic_judge(row)
                self.db["ab_runs"].update(row["id"], {"judge": HEURISTIC_JUDGE, "judge_score": score,
                                                      "judge_notes": notes})
        else:
            run_sync(self._llm_judge(llm, todo))
        return self.results(experiment)

    async def _llm_judge(self, llm, rows: list[dict]) -> None:
        from .stages.common import extract_json

        label = f"LLM judge: {llm.name} ({getattr(llm, 'model', '')})"
        for row in rows:
            template = self.db["prompt_templates"].get(row["template_id"])
            values = {"stage": row["stage"], "template": template["body"],
                      "variables": row["variables"], "output": row["output"]}
            prompt = render(JUDGE_PROMPT, values, label="judge prompt")
            request = LLMRequest(task="judge", prompt=prompt, variables=values, json=True)
            try:
                result, _ = await self.studio.call(llm, "complete", request, project_id=None,
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
            self.db["ab_runs"].update(row["id"], {"judge": label, "judge_score": score,
                                                  "judge_notes": notes[:4000]})

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

    def experiments(self):
        import pandas as pd

        return pd.DataFrame(list(self.db.query(
            "select experiment, stage, count(distinct arm) as arms, count(distinct topic) as topics, "
            "count(*) as runs, min(created) as started from ab_runs group by experiment, stage "
            "order by started")), columns=["experiment", "stage", "arms", "topics", "runs", "started"])

    def results(self, experiment: str):
        """One row per run (newest run per arm and topic last)."""
        import pandas as pd

        columns = ["id", "arm", "topic", "status", "output", "tokens_in", "tokens_out",
                   "latency_ms", "cost", "rating", "rating_note", "judge_score", "judge",
                   "judge_notes", "error", "set_name", "version", "template_id", "provider",
                   "model", "created"]
        frame = pd.DataFrame(self._rows(experiment), columns=columns)
        frame["latency_ms"] = frame["latency_ms"].astype(float).round(1)
        return frame

    def compare(self, experiment: str, metrics: Iterable[str] = METRICS):
        """Topics down, (arm, metric) across: the arms' outputs and numbers side by side.
        The newest run of each arm and topic is shown."""
        metrics = list(metrics)
        unknown = set(metrics) - set(METRICS)
        if unknown:
            raise InvalidInput(f"unknown metric(s) {sorted(unknown)}: use {', '.join(METRICS)}")
        frame = self.results(experiment)
        latest = frame.sort_values("id").groupby(["topic", "arm"], sort=False).tail(1)
        wide = latest.pivot(index="topic", columns="arm", values=metrics)
        wide = wide.swaplevel(0, 1, axis=1)
        arms = list(dict.fromkeys(frame["arm"]))
        topics = list(dict.fromkeys(frame["topic"]))
        wide = wide.reindex(columns=[(a, m) for a in arms for m in metrics]).reindex(topics)
        wide.columns.names = ["arm", "metric"]
        return wide

    def summary(self, experiment: str):
        """Per arm: runs, failures, mean tokens, latency, cost, rating and judge score."""
        frame = self.results(experiment)
        frame = frame.assign(failed=(frame["status"] != "ok").astype(int))
        numeric = ["tokens_in", "tokens_out", "latency_ms", "cost", "rating", "judge_score"]
        for column in numeric:
            frame[column] = frame[column].astype(float)
        out = frame.groupby("arm", sort=False).agg(
            runs=("id", "count"), failed=("failed", "sum"),
            **{c: (c, "mean") for c in numeric})
        return out.round({"tokens_in": 1, "tokens_out": 1, "latency_ms": 1, "cost": 6, "rating": 2,
                          "judge_score": 2})


# ---------------------------------------------------------------------------------- helpers
def _name(experiment: Any) -> str:
    if not isinstance(experiment, str) or not experiment.strip() or len(experiment) > 120:
        raise InvalidInput("an experiment needs a name of 1 to 120 characters")
    return experiment.strip()


def _defaults(stage: str, item: dict) -> dict:
    from .project import detect_language

    sample = str(item.get("topic") or item.get("story") or "")
    language = detect_language(sample) if sample else "en"
    if stage == "rewrite":
        return {"language": language, "style": "warm", "length": "short", "audience": ""}
    if stage == "storyboard":
        return {"language": language, "shots": 6, "fps": 24}
    return {"language": language}


_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]+|[\u4e00-\u9fff]")
_STOP = {"the", "a", "an", "and", "or", "of", "to", "in", "on", "at", "for", "with", "who", "that",
         "is", "are", "was", "his", "her", "their", "its", "from", "by", "during", "into"}

def heuristic_judge(row: dict) -> tuple[float, str]:
    """A score from 1 to 10 and suggestions, from simple rules (no model). Transparent on
    purpose: each point lost is named in the notes."""
    output = row.get("output") or ""
    variables = json.loads(row.get("variables") or "{}")
    stage = row.get("stage") or "rewrite"
    score, notes = 10.0, []
    if stage in ("storyboard", "camera"):
        from .stages.common import extract_json

        try:
            data, repairs = extract_json(output)
        except ValueError as exc:
            return 1.0, f"- the answer is not usable JSON ({exc}); ask for JSON only, with an example"
        if repairs:
            score -= 1
            notes.append(f"- the JSON needed repairs ({', '.join(repairs)}): say 'JSON only, no "
                         "code fences' in the template")
        items = data.get("shots") if isinstance(data, dict) else data
        if not isinstance(items, list) or not items:
            return 2.0, "- the JSON has no list of shots: show the exact shape in the template"
        wanted = variables.get("shots")
        if stage == "storyboard" and isinstance(wanted, int) and len(items) != wanted:
            score -= 2
            notes.append(f"- {len(items)} shots instead of {wanted}: repeat the count near the end")
        missing = sum(1 for i in items if not isinstance(i, dict) or not str(
            i.get("narration" if stage == "storyboard" else "movement", "")).strip())
        if missing:
            score -= min(4, missing)
            notes.append(f"- {missing} shot(s) lack a {'narration' if stage == 'storyboard' else 'movement'}")
    else:
        topic = str(variables.get("topic") or row.get("topic") or "")
        zh = bool(re.search(r"[\u4e00-\u9fff]", output))
        size = len(re.findall(r"[\u4e00-\u9fff]", output)) if zh else len(output.split())
        target = {"short": (80, 400), "medium": (250, 800), "long": (500, 1600)}.get(
            variables.get("length"), (120, 400))
        if zh:
            target = (target[0] * 2, target[1] * 2)
        if size < target[0]:
            score -= 2
            notes.append(f"- {size} {'characters' if zh else 'words'}, short for a "
                         f"{variables.get('length', 'short')} story: state a length range")
        elif size > target[1]:
            score -= 1
            notes.append(f"- {size} {'characters' if zh else 'words'}, long for a "
                         f"{variables.get('length', 'short')} story")
        words = {w.lower() for w in _WORD.findall(topic)} - _STOP
        if words:
            found = {w for w in words if w in output.lower()}
            share = len(found) / len(words)
            if share < 0.5:
                score -= 2
                notes.append(f"- only {len(found)} of the topic's {len(words)} key words appear: "
                             "ask the template to keep the topic's people and places")
        paragraphs = [p for p in re.split(r"\n\s*\n", output.strip()) if p.strip()]
        if not 3 <= len(paragraphs) <= 6:
            score -= 1
            notes.append(f"- {len(paragraphs)} paragraph(s): ask for 3 to 6")
        sentences = [s.strip() for s in re.split(r"(?<=[.!?。！？])\s*", output) if s.strip()]
        if sentences and len(set(sentences)) < len(sentences):
            score -= 2
            notes.append("- some sentences repeat word for word")
    score = max(1.0, min(10.0, score))
    return score, "\n".join(notes) or "- no problems found by the rules"
