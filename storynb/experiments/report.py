"""Reading prompt experiments: the cases × arms matrix, per-arm statistics, paired tests against
the baseline, pairwise verdicts, and the report `storynb ab show` prints and the Prompt lab shows."""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..errors import InvalidInput
from .stats import mean_ci, paired
from .host import Host

METRICS = ("output", "pass", "pass_rate", "tokens_in", "tokens_out", "latency_ms", "cost",
           "rating", "judge_score")
SCORES = ("pass_rate", "judge_score", "rating")
BOUNDS = {"pass_rate": (0.0, 1.0), "judge_score": (1.0, 10.0), "rating": (1.0, 5.0)}


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
    scores: Any = None  # one output at a time: each judge's mean score per arm, side by side

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
            delta_columns = [c for c in getattr(self.deltas, "columns", []) if str(c).startswith("Δ ")]
            if delta_columns and self.deltas[delta_columns].notna().any().any():
                lines += ["", f"paired by case: mean {self.metric} per arm, and Δ from the baseline "
                          f"{h['baseline']}:", self.deltas.to_string(index=False)]
            if self.scores is not None and len(self.scores):
                lines += ["", "scores one output at a time (1–10), per judge: mean [95% CI] n",
                          self.scores.to_string(index=False)]
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


class Reading(Host):
    """ABTests' reading methods (a mixin)."""

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
        data: dict[tuple[str, str], dict[str, Any]] = {}
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
        table: dict[str, dict[str, Any]] = {}
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
                mean, low, high, n = mean_ci(pd.to_numeric(ok[name], errors="coerce").tolist(),
                                             BOUNDS[name])
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
            raw = list(self.db.table("ab_judgments").rows_where("experiment = ? and kind = 'pair'",
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
        judged: dict = {}
        for j in self.db.table("ab_judgments").rows_where("experiment = ? and kind = 'score'",
                                                          [experiment], order_by="id"):
            if j["run_a"] in ids and j["score"] is not None:
                judged[(j["label"], j["run_a"])] = (j["arm_a"], j["score"])  # the newest round
        by_judge: dict = {}
        for (label, _run), (arm, score) in judged.items():
            by_judge.setdefault(label, {}).setdefault(arm, []).append(score)
        judge_rows = []
        for label, arms in by_judge.items():
            row = {"judge": label}
            for arm in labels:
                mean, low, high, n = mean_ci(arms.get(arm, []), BOUNDS["judge_score"])
                row[arm] = f"{mean:.3g} {_pm(mean, low, high, bare=True)} n={n}" if n else "–"
            judge_rows.append(row)
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
                      pd.DataFrame(pair_rows), pair_tests, costs, deltas, pd.DataFrame(judge_rows))

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
