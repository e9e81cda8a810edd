"""Small, exact statistics for prompt experiments, written out so each number can be checked.

- **Mean ± 95 % confidence interval**: Student's t interval (mean ± t·s/√n). With 3 to 30
  samples per arm a bootstrap interval is too narrow to be honest, and the t quantiles are a
  fixed table (below), so numpy is all that is needed — no scipy.
- **Paired test**: the exact two-sided **sign test** on per-topic deltas (the same topics run
  through both arms). It assumes nothing about the scale of the score (pass rates, 1–10 judge
  scores and 1–5 ratings are all ordinal at best) and states what it counts: "v2 beats v1 on 7 of
  9 topics". With few topics it cannot reach significance, and the result says so (the smallest
  p that n topics can give is 2/2ⁿ).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# two-sided 95 % Student t quantiles, t_{0.975, df} for df = 1..30 (standard table values)
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def t975(df: int) -> float:
    if df < 1:
        raise ValueError("a t interval needs at least two values")
    if df <= 30:
        return _T975[df - 1]
    if df <= 60:
        return 2.042 + (2.000 - 2.042) * (df - 30) / 30
    if df <= 120:
        return 2.000 + (1.980 - 2.000) * (df - 60) / 60
    return 1.960


def mean_ci(values, bounds: tuple[float, float] | None = None
            ) -> tuple[float | None, float | None, float | None, int]:
    """(mean, low, high, n) of the finite values; the interval is None with fewer than 2, and
    clipped to `bounds` (a score's possible range) when given."""
    data = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    n = len(data)
    if n == 0:
        return None, None, None, 0
    mean = float(data.mean())
    if n < 2:
        return mean, None, None, 1
    half = t975(n - 1) * float(data.std(ddof=1)) / math.sqrt(n)
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return mean, low, high, n


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign test p-value; ties are left out (the usual convention)."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


@dataclass
class Paired:
    """Candidate vs baseline over the same topics (one mean per arm per topic)."""

    baseline: str
    candidate: str
    topics: int
    wins: int
    losses: int
    ties: int
    mean_delta: float | None
    p: float
    metric: str
    unit: str = "topics"
    prefix: str = ""

    @property
    def win_rate(self) -> float | None:
        """Wins over topics, a tie counting half."""
        return (self.wins + 0.5 * self.ties) / self.topics if self.topics else None

    def sentence(self) -> str:
        return self.prefix + self._sentence()

    def _sentence(self) -> str:
        if not self.topics:
            return (f"{self.candidate} vs {self.baseline}: no {self.unit} where both have a "
                    f"{self.metric} yet")
        verdict = "beats" if self.wins > self.losses else ("loses to" if self.losses > self.wins
                                                          else "ties with")
        count = self.wins if self.wins >= self.losses else self.losses
        text = (f"{self.candidate} {verdict} {self.baseline} on {count} of {self.topics} "
                f"{self.unit}" if verdict != "ties with" else
                f"{self.candidate} ties with {self.baseline}: {self.wins} wins and "
                f"{self.losses} losses over {self.topics} {self.unit}")
        extra = [f"{self.ties} tied"] if self.ties and verdict != "ties with" else []
        extra.append(f"win rate {self.win_rate:.2f} with ties as half")
        if self.mean_delta is not None:
            extra.append(f"mean Δ {self.metric} {self.mean_delta:+.3g}")
        text += f" ({', '.join(extra)})" if extra else ""
        text += f", sign test p = {self.p:.3g} (two-sided, paired by {self.unit[:-1]})"
        decided = self.wins + self.losses
        floor = 2 / 2 ** decided if decided else 1.0
        if self.p < 0.05:
            text += ": significant at 0.05"
        elif floor >= 0.05:
            text += (f": not significant; {decided} decided {self.unit} can never reach "
                     f"p < 0.05 (the smallest possible p is {min(floor, 1.0):.3g}), add {self.unit}")
        else:
            text += ": not significant at 0.05"
        return text


def paired(baseline: str, candidate: str, per_topic: dict[str, dict[str, float]],
           metric: str, *, unit: str = "topics") -> Paired:
    """`per_topic`: {topic: {arm: mean score}}; only topics where both arms have a score count."""
    deltas = [scores[candidate] - scores[baseline] for scores in per_topic.values()
              if scores.get(candidate) is not None and scores.get(baseline) is not None]
    wins = sum(1 for d in deltas if d > 1e-12)
    losses = sum(1 for d in deltas if d < -1e-12)
    ties = len(deltas) - wins - losses
    return Paired(baseline, candidate, len(deltas), wins, losses, ties,
                  float(np.mean(deltas)) if deltas else None, sign_test(wins, losses), metric,
                  unit)
