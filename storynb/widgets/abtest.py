"""Prompt lab: prompt experiments in a panel (the app's "Prompt lab" tab).

- `PromptLabPanel`: run an experiment (arms, case set, provider, samples, temperature, seed),
  read the same report `storynb ab show` prints (warnings, pass/fail matrix, statistics, paired
  tests, blind pairwise verdicts), judge pairwise, see the rendered prompt next to each output
  with a diff between arms, and ask an LLM critic for a revised template.
- `BlindRatingPanel`: blind human rating — for each case and sample the outputs in a random
  order as "Output 1, 2 …", no arm labels, no judge scores; labels appear once the ratings are
  saved. (`RatingPanel` is the same panel, under its old name.)
All of it calls `storynb.experiments.ABTests`; nothing here decides anything."""
from __future__ import annotations

import html
import logging
import random
import threading
import traceback

import ipywidgets as W

from ..errors import InvalidInput, StorynbError
from ..experiments import ABTests
from .base import Panel, integer, number, stage_title, text
from .i18n import t, translate
from .rewrite import diff_html

RATINGS = [("–", 0), ("1", 1), ("2", 2), ("3", 3), ("4", 4), ("5", 5)]
LAB_STYLE = """<style>
.storynb-ab-report { font-family: monospace; font-size: 12px; white-space: pre; overflow: auto;
  background: #f6f8fa; padding: 8px; border-radius: 4px; max-height: 520px; }
.storynb-ab-warning { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px;
  padding: 6px 10px; font-size: 13px; }
</style>"""
HEURISTIC = "heuristic checker (not an AI)"  # the value of that judge choice (its label: promptlab.heuristic)
log = logging.getLogger("storynb.widgets")


def _experiments(ab) -> list[str]:
    return list(ab.experiments()["experiment"])


class BlindRatingPanel(Panel):
    """Rate outputs without knowing which arm wrote them; labels show only after saving."""

    name = "abtest"
    title = "Blind rating"

    def __init__(self, ab, experiment: str, *, seed: int | None = None, **kwargs):
        self.ab = ab if isinstance(ab, ABTests) else ABTests(ab)
        self.experiment = experiment
        self.seed = seed if seed is not None else random.SystemRandom().randrange(1 << 30)
        self.groups: list[dict] = []
        self.index = 0
        self.revealed = False
        self.ratings: dict[int, W.ToggleButtons] = {}
        super().__init__(self.ab.studio, **kwargs)
        self.redraw()

    def refresh(self) -> None:
        if not self.groups:
            self.groups = self.ab.blind(self.experiment, seed=self.seed)
        if not self.groups:
            self.body.children = [W.HTML(f"<i>{html.escape(t('promptlab.nothing_to_rate'))}</i>")]
            return
        group = self.groups[self.index]
        self.ratings = {}
        cards = []
        labels = {}
        if self.revealed:
            frame = self.ab.results(self.experiment)
            labels = {int(r["id"]): r for _, r in frame.iterrows()}
        for n, run in enumerate(group["runs"], 1):
            rating = W.ToggleButtons(options=RATINGS, value=0, style={"button_width": "34px"})
            rating.add_class(f"storynb-blind-rating-{n}")
            self.ratings[run["id"]] = rating
            head = f"<b>{html.escape(t('promptlab.output_n', n=n))}</b>"
            if self.revealed and run["id"] in labels:
                row = labels[run["id"]]
                rated = row["rating"] == row["rating"] and row["rating"] is not None
                note = t("promptlab.rated", n=int(row["rating"])) if rated else t("promptlab.not_rated")
                head += (f" <span class='storynb-blind-label'>= {html.escape(str(row['arm']))}"
                         f" ({note})</span>")
                if rated:
                    rating.value = int(row["rating"])
            card = W.VBox([W.HTML(head), W.HTML(f"<div class='storynb-story' style='max-height:260px;"
                                                f"overflow:auto'>{html.escape(str(run['output']))}</div>"),
                           rating], layout=W.Layout(flex="1 1 0", min_width="240px"))
            card.add_class("storynb-card")
            card.add_class("storynb-blind-card")
            cards.append(card)
        save = self.button(t("promptlab.save_ratings"), self.save, style="primary")
        save.disabled = self.revealed
        nav = W.HBox([self.button("◀", lambda: self.go(-1)),
                      W.HTML("<span class='storynb-caption'>" + html.escape(t(
                          "promptlab.group", i=self.index + 1, n=len(self.groups), topic=str(group["topic"])[:120],
                          sample=group["sample"] + 1)) + "</span>"),
                      self.button("▶", lambda: self.go(1)), save])
        self.body.children = [W.HTML(f"<span class='storynb-help'>{html.escape(t('promptlab.blind_help'))}</span>"),
                              nav, W.HBox(cards, layout=W.Layout(flex_flow="row wrap"))]

    def go(self, delta: int) -> None:
        self.index = min(max(0, self.index + delta), len(self.groups) - 1)
        self.revealed = False
        self.redraw()

    def save(self) -> None:
        chosen = {run_id: integer(w.value, "rating", 0, 5) for run_id, w in self.ratings.items()}
        if not any(chosen.values()):
            raise InvalidInput(t("promptlab.pick_rating"))
        for run_id, value in chosen.items():
            if value:
                self.ab.rate(run_id, value)
        self.revealed = True
        self.redraw()
        self.ok(t("promptlab.ratings_saved", n=sum(1 for v in chosen.values() if v)))


RatingPanel = BlindRatingPanel


class PromptLabPanel(Panel):
    """Prompt experiments: run, read the report, judge, diff prompts, rate blind, improve."""

    name = "promptlab"
    title = "Prompt lab"

    def __init__(self, source=None, **kwargs):
        super().__init__(source, **kwargs)
        self.ab = ABTests(self.session.studio)
        self.pick = W.Dropdown(description=t("promptlab.experiment"), layout=W.Layout(width="420px"))
        self.pick.add_class("storynb-ab-pick")
        self.on_value(self.pick, self.redraw)
        self.report = W.HTML()
        self.report.add_class("storynb-ab-report-box")
        self.warnings = W.HTML()
        self.detail = W.VBox()
        # the run form
        self.name_w = W.Text(description=t("promptlab.name"), placeholder=t("promptlab.name_placeholder"))
        self.stage_w = W.Dropdown(description=t("promptlab.stage"),
                                  options=[(stage_title(s), s) for s in ("rewrite", "storyboard", "camera")])
        self.arms_w = W.Text(description=t("promptlab.arms"), placeholder="default-en:1, my-set:2")
        self.cases_w = W.Dropdown(description=t("promptlab.cases"))
        self.provider_w = W.Dropdown(description=t("promptlab.model"))
        self.samples_w = W.BoundedIntText(value=1, min=1, max=20, description=t("promptlab.samples"))
        self.temperature_w = W.Text(description=t("promptlab.temperature"), placeholder=t("promptlab.providers_own"),
                                    tooltip=t("promptlab.temperature_tip"))
        self.seed_w = W.IntText(value=1, description=t("promptlab.seed"))
        self.judge_w = W.Dropdown(description=t("promptlab.judge"))
        for widget, css in ((self.name_w, "name"), (self.stage_w, "stage"), (self.arms_w, "arms"),
                            (self.cases_w, "cases"), (self.provider_w, "provider"),
                            (self.samples_w, "samples"), (self.temperature_w, "temperature"),
                            (self.seed_w, "seed"), (self.judge_w, "judge")):
            widget.add_class(f"storynb-ab-{css}")
        form = W.VBox([W.HBox([self.name_w, self.stage_w, self.arms_w]),
                       W.HBox([self.cases_w, self.provider_w, self.samples_w]),
                       W.HBox([self.temperature_w, self.seed_w,
                               self.button(t("promptlab.run"), self.run, style="success")])])
        self.form = W.Accordion(children=[form], titles=(t("promptlab.new_run"),))
        self.form.selected_index = None
        self.body.children = [W.HTML(LAB_STYLE), W.HBox([self.pick, self.button("↻", self.redraw)]),
                              self.form, self.warnings, self.report,
                              W.HBox([self.judge_w,
                                      self.button(t("promptlab.judge_pairwise"), self.judge),
                                      self.button(t("promptlab.suggest"), self.suggest)]),
                              self.detail]
        self.redraw()

    # drawing ---------------------------------------------------------------------------
    def refresh(self) -> None:
        names = _experiments(self.ab)
        with self.quiet():
            current = self.pick.value
            self.pick.options = names
            self.pick.value = current if current in names else (names[-1] if names else None)
            self.cases_w.options = [(t("promptlab.no_cases"), "")] + [
                (f"{r['name']} v{r['version']} ({r['language']}, {r['cases']})", r["name"])
                for _, r in self.ab.cases.list().iterrows()]
            llms = list(self.session.studio.providers.frame("llm")["name"])
            self.provider_w.options = llms
            self.judge_w.options = [(t("promptlab.heuristic"), HEURISTIC)] + [
                (n, n) for n in llms if n != "draft-writer"]
            for widget in (self.cases_w, self.provider_w, self.judge_w):
                values = [o[1] if isinstance(o, tuple) else o for o in widget.options]
                if widget.value not in values and values:
                    widget.value = values[1] if widget is self.cases_w and len(values) > 1 else values[0]
        if not self.pick.value:
            self.report.value = f"<i>{html.escape(t('promptlab.none_yet'))}</i>"
            self.warnings.value = ""
            self.detail.children = []
            return
        report = self.ab.report(self.pick.value)
        self.warnings.value = "".join(f"<div class='storynb-ab-warning'>⚠ {html.escape(w)}</div>"
                                      for w in report.warnings)
        self.report.value = f"<div class='storynb-ab-report'>{html.escape(report.text())}</div>"
        self.detail.children = [self._outputs(self.pick.value)]

    def _outputs(self, experiment: str) -> W.Widget:
        """Per case: each arm's rendered prompt next to its output, and the prompts' diff."""
        frame = self.ab.results(experiment)
        arms = self.ab.arm_order(experiment, frame["arm"])
        topics = list(dict.fromkeys(frame["topic"]))
        topic_w = W.Dropdown(options=[(x[:80], x) for x in topics], description=t("promptlab.case"),
                             layout=W.Layout(width="480px"))
        a_w = W.Dropdown(options=arms, value=arms[0], description=t("promptlab.diff"))
        b_w = W.Dropdown(options=arms, value=arms[-1], description=t("promptlab.against"))
        box = W.VBox()

        def draw():
            topic = topic_w.value
            cards = []
            for arm in arms:
                part = frame[(frame["arm"] == arm) & (frame["topic"] == topic) & (frame["sample"] == 0)]
                if not len(part):
                    continue
                row = part.iloc[-1]
                out = row["output"] if row["status"] == "ok" else \
                    t("promptlab.failed", error=translate(row["error"] or ""))
                card = W.VBox([W.HTML(f"<b>{html.escape(arm)}</b> <span class='storynb-caption'>"
                                      f"{html.escape(str(row['pass'] or t('promptlab.not_checked')))} · "
                                      f"{html.escape(t('promptlab.sample_1'))}</span>"),
                               W.HTML(f"<span class='storynb-caption'>{html.escape(t('promptlab.rendered'))}</span>"
                                      f"<div class='storynb-pre' style='max-height:160px'>"
                                      f"{html.escape(str(row['prompt'] or ''))}</div>"),
                               W.HTML(f"<span class='storynb-caption'>{html.escape(t('promptlab.output'))}</span>"
                                      f"<div class='storynb-story' style='max-height:220px;overflow:auto'>"
                                      f"{html.escape(str(out))}</div>")],
                              layout=W.Layout(flex="1 1 0", min_width="260px"))
                card.add_class("storynb-card")
                card.add_class("storynb-ab-output")
                cards.append(card)
            diff = self.ab.prompt_diff(experiment, a_w.value, b_w.value, topic) \
                if a_w.value != b_w.value else t("promptlab.two_arms")
            box.children = [W.HBox(cards, layout=W.Layout(flex_flow="row wrap")),
                            W.HTML(diff_html(diff) if diff.startswith("---") else
                                   f"<i>{html.escape(diff)}</i>")]

        for w in (topic_w, a_w, b_w):
            w.observe(lambda _c: self.action(draw)(), names="value")
        draw()
        rate = self.button(t("promptlab.rate_blind"), lambda: self._blind(experiment))
        self._blind_box = W.VBox()
        return W.VBox([W.HTML(f"<b>{html.escape(t('promptlab.outputs'))}</b>"),
                       W.HBox([topic_w, a_w, b_w], layout=W.Layout(flex_flow="row wrap")),
                       box, rate, self._blind_box])

    def _blind(self, experiment: str) -> None:
        self._blind_box.children = [BlindRatingPanel(self.ab, experiment, show_title=False)]

    # actions ---------------------------------------------------------------------------
    def _background(self, note: str, work, done) -> None:
        """Run `work(ab)` in a worker thread (its own database connection) when the panel lives
        in a kernel, so the page stays responsive; then `done(result)` on the kernel's thread.
        Without a running loop (a plain script) it runs inline."""
        if getattr(self, "_busy", False):
            raise InvalidInput(t("promptlab.busy"))
        if self.session._loop is None:
            done(work(self.ab))
            return
        self._busy = True
        self.info(t("common.ellipsis", text=note))
        studio = self.session.studio.for_thread()

        def finish(result, error):
            self._busy = False
            if error:
                self.error(error)
            else:
                self.action(done)(result)

        def target():
            try:
                result = work(ABTests(studio))
            except StorynbError as exc:
                self.session.call_main(finish, None, str(exc))
            except Exception as exc:
                log.error("storynb prompt lab: %s", traceback.format_exc())
                self.session.call_main(finish, None, f"{type(exc).__name__}: {exc}")
            else:
                self.session.call_main(finish, result, None)
            finally:
                studio.close()

        threading.Thread(target=target, name="storynb-prompt-lab", daemon=True).start()

    def run(self) -> None:
        name = text(self.name_w.value, t("promptlab.name_field"), max_len=120, required=True)
        arms = []
        for part in text(self.arms_w.value, "arms", required=True).split(","):
            bits = part.strip().split(":")
            if len(bits) != 2 or not bits[1].strip().isdigit():
                raise InvalidInput(t("promptlab.bad_arm", arm=repr(part.strip())))
            arms.append((bits[0].strip(), int(bits[1])))
        temperature = None
        if self.temperature_w.value.strip():
            try:
                temperature = number(float(self.temperature_w.value), "temperature", 0, 2)
            except ValueError:
                raise InvalidInput(t("promptlab.bad_temperature")) from None
        if not self.cases_w.value:
            raise InvalidInput(t("promptlab.pick_cases"))
        settings = dict(cases=self.cases_w.value, provider=self.provider_w.value or None,
                        samples=integer(self.samples_w.value, "samples", 1, 20),
                        temperature=temperature, seed=integer(self.seed_w.value, "seed", 0, 2**31))
        stage = self.stage_w.value

        def work(ab):
            import warnings

            with warnings.catch_warnings(record=True):
                warnings.simplefilter("always")
                ab.run(name, stage, arms, **settings)

        def done(_result):
            self.redraw()
            with self.quiet():
                self.pick.value = name
            self.redraw()
            self.ok(t("promptlab.exp_done", name=repr(name)))

        self._background(t("promptlab.running", name=repr(name)), work, done)

    def judge(self) -> None:
        experiment = self.pick.value
        if not experiment:
            raise InvalidInput(t("promptlab.pick_experiment"))
        judge = None if self.judge_w.value == HEURISTIC else self.judge_w.value
        label = t("promptlab.heuristic") if self.judge_w.value == HEURISTIC else self.judge_w.value

        def done(_result):
            self.redraw()
            self.ok(t("promptlab.judged", name=repr(experiment), judge=label))

        self._background(t("promptlab.judging", name=repr(experiment)),
                         lambda ab: ab.pairwise(experiment, judge=judge), done)

    def suggest(self) -> None:
        experiment = self.pick.value
        if not experiment:
            raise InvalidInput(t("promptlab.pick_experiment"))
        if self.judge_w.value == HEURISTIC:
            raise InvalidInput(t("promptlab.pick_critic"))
        critic = self.judge_w.value

        def done(row):
            self.redraw()
            self.detail.children = [W.HTML(html.escape(t("promptlab.proposed", critic=row["critic"],
                                                         label=row["label"], why=row["rationale"]))),
                                    W.HTML(diff_html(row["diff"])), *self.detail.children]
            self.ok(t("promptlab.suggestion_saved", id=row["id"], label=row["label"]))

        self._background(t("promptlab.asking_critic"), lambda ab: ab.suggest(experiment, critic=critic), done)
