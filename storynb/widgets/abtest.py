"""Rating panel for A/B runs: the arms' outputs side by side per topic, a 1–5 rating under each
(stored with the run through `ABTests.rate`), and the judge's score and notes when there are any."""
from __future__ import annotations

import html

import ipywidgets as W

from ..errors import InvalidInput
from .base import STYLE, Panel, integer

RATINGS = [("–", 0), ("1", 1), ("2", 2), ("3", 3), ("4", 4), ("5", 5)]


class RatingPanel(Panel):
    name = "abtest"
    title = "Rate the outputs"

    def __init__(self, ab, experiment: str, **kwargs):
        self.ab = ab
        self.experiment = experiment
        super().__init__(ab.studio, **kwargs)
        self.redraw()

    def refresh(self) -> None:
        frame = self.ab.results(self.experiment)
        latest = frame.sort_values("id").groupby(["topic", "arm"], sort=False).tail(1)
        arms = list(dict.fromkeys(frame["arm"]))
        rows = []
        for topic in dict.fromkeys(frame["topic"]):
            cards = []
            for arm in arms:
                match = latest[(latest["topic"] == topic) & (latest["arm"] == arm)]
                if len(match):
                    cards.append(self._card(match.iloc[0].to_dict()))
            rows.append(W.VBox([W.HTML(f"<b>{html.escape(str(topic)[:200])}</b>"),
                                W.HBox(cards, layout=W.Layout(align_items="stretch"))]))
        self.body.children = [W.HTML(STYLE), *rows]

    def _card(self, run: dict) -> W.VBox:
        rating = W.ToggleButtons(options=RATINGS, value=int(run["rating"]) if run["rating"] == run["rating"]
                                 and run["rating"] is not None else 0,
                                 style={"button_width": "34px"}, tooltips=["not rated"] + [""] * 5)
        run_id = int(run["id"])
        rating.observe(lambda c: self.action(self._rate)(run_id, c["new"]), names="value")
        numbers = (f"{int(run['tokens_in'] or 0)} → {int(run['tokens_out'] or 0)} tokens · "
                   f"{(run['latency_ms'] or 0):.0f} ms · cost {(run['cost'] or 0):.4f}")
        judge = ""
        if run.get("judge_score") == run.get("judge_score") and run.get("judge_score") is not None:
            judge = (f"<div class='storynb-caption'><b>{html.escape(str(run['judge']))}</b>: "
                     f"{run['judge_score']:.0f}/10<br>{html.escape(str(run['judge_notes'] or ''))}"
                     .replace("\n", "<br>") + "</div>")
        body = run["output"] if run["status"] == "ok" else f"failed: {run['error']}"
        card = W.VBox([W.HTML(f"<b>{html.escape(run['arm'])}</b> <span class='storynb-caption'>"
                              f"run #{run_id}</span>"),
                       W.HTML(f"<div class='storynb-pre' style='max-height:220px'>"
                              f"{html.escape(str(body))}</div>"),
                       W.HTML(f"<span class='storynb-caption'>{numbers}</span>{judge}"), rating],
                      layout=W.Layout(flex="1 1 0", min_width="260px"))
        card.add_class("storynb-card")
        return card

    def _rate(self, run_id: int, value) -> None:
        value = integer(value, "rating", 0, 5)
        if value == 0:
            raise InvalidInput("pick 1 to 5 (a rating cannot be removed, only changed)")
        self.ab.rate(run_id, value)
        self.ok(f"run #{run_id} rated {value}")
