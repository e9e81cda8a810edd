"""The improvement loop: an LLM critic (labelled) proposes a revised template from the failures
and critiques, saved as a suggested version and queued as the next run's arm; and the
regression gate for CI."""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass

from ..aio import run_sync
from ..db import now
from ..errors import InvalidInput, NotFound
from ..prompts import declared_variables, render
from ..providers.base import LLMRequest
from ..routing import call
from .host import Host

CRITIC_PROMPT = """You improve prompt templates for a story-video tool (stage: {{ stage }}).

The current template (Jinja2; keep every {{ '{{' }} variable {{ '}}' }} it uses, add no new ones):
<<<TEMPLATE
{{ template }}
TEMPLATE>>>

Failures and critiques of its outputs across {{ runs }} runs:
{{ findings }}

Propose a revised template that fixes these problems. Change only what the evidence supports.
Answer with JSON only: {"template": "the full revised template", "rationale": "what you changed and why"}"""


@dataclass
class Regression:
    passed: bool
    message: str
    baseline: str
    candidate: str
    metric: str
    baseline_mean: float | None
    candidate_mean: float | None


class Improving(Host):
    """ABTests' improvement and regression methods (a mixin)."""

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
        base = self.db.table("prompt_templates").get(mine[0]["template_id"])
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
        result, call_id = run_sync(call(self.studio, llm, "complete", request, project_id=None,
                                         stage="ab:critic", job_key=f"critic:{experiment}:{base['id']}"))
        data = parse(result.text)
        body = data["template"].strip()
        new_vars = set(declared_variables(body)) - set(declared_variables(base["body"]))
        if new_vars:
            raise InvalidInput(f"the critic's template uses new variable(s) {sorted(new_vars)} that "
                               "the stage does not give; nothing was saved")
        if body == base["body"].strip():
            raise InvalidInput("the critic proposed no change to the template; nothing was saved")
        base_set = self.db.table("prompt_sets").get(base["set_id"])
        companion = f"{base_set['name']}~suggested"
        if not self.db.table("prompt_sets").count_where("name = ?", [companion]):
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
        row["id"] = self.db.table("ab_suggestions").insert(row).last_pk
        return row

    def _findings(self, experiment, arm, rows) -> list[str]:
        found = []
        for r in rows:
            for c in json.loads(r.get("checks") or "[]"):
                if c.get("pass") is False:
                    found.append(f"failed {c['name']} on {r['topic'][:60]!r}: {c.get('reason', '')}")
            if r.get("rating_note"):
                found.append(f"a reader rated it {r['rating']}/5: {r['rating_note']}")
        for j in self.db.table("ab_judgments").rows_where("experiment = ? and kind = 'pair'", [experiment]):
            if arm in (j["arm_a"], j["arm_b"]) and j["winner"] not in (arm, None):
                found.append(f"lost a blind comparison ({j['label']}): {j['reason']}")
        for j in self.db.table("ab_judgments").rows_where("experiment = ? and kind = 'score'", [experiment]):
            if j["arm_a"] == arm and j["reason"] and "no problems" not in j["reason"]:
                found.append(f"{j['label']} scored {j['score']:g}/10: {j['reason']}")
        return list(dict.fromkeys(found))

    def suggestions(self, experiment: str | None = None):
        import pandas as pd

        where, args = ("experiment = ?", [experiment]) if experiment else (None, [])
        rows = list(self.db.table("ab_suggestions").rows_where(where, args, order_by="id"))
        return pd.DataFrame(rows, columns=["id", "experiment", "label", "critic", "status",
                                           "rationale", "diff", "cost", "created"])

    def _queued(self, experiment: str) -> list[dict]:
        return list(self.db.table("ab_suggestions").rows_where(
            "experiment = ? and status = 'queued'", [experiment], order_by="id"))

    def adopt(self, suggestion_id: int) -> dict:
        """Make a suggested template the newest version of the set it came from."""
        if not self.db.table("ab_suggestions").count_where("id = ?", [suggestion_id]):
            raise NotFound(f"no suggestion #{suggestion_id}")
        s = self.db.table("ab_suggestions").get(suggestion_id)
        base = self.db.table("prompt_templates").get(s["base_template_id"])
        new = self.db.table("prompt_templates").get(s["template_id"])
        saved = self.studio.prompts.edit(base["set_id"], base["stage"], new["body"],
                                         system=new["system"], note=f"adopted suggestion #{suggestion_id}")
        self.db.table("ab_suggestions").update(suggestion_id, {"status": "adopted"})
        return saved

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
