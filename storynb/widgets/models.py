"""Models panel: the providers (keys masked: only a hint such as "set, ends …abcd" ever reaches
the page), test connection, turn a provider on or off, add one, and usage and cost as a chart.

Provider management (`studio.providers`) and usage (`studio.usage`) are the engine's; this panel
only shows them and calls them.
"""
from __future__ import annotations

import html
import threading

import ipywidgets as W

from ..settings import KINDS
from .base import Panel, choice, html_table, number, text
from .i18n import t, translate

SHOWN = ["name", "kind", "type", "model", "url", "key", "active", "weight", "priority", "rpm",
         "rpd", "used_today"]
MAX_DAYS = 30


# ------------------------------------------------------------------------------ data
def providers_list(studio, kind: str | None = None) -> list[dict]:
    """Providers as the registry shows them (a key is only ever a hint: "set, ends …abcd")."""
    return studio.providers.list(kind)


def usage_frame(studio, days: int = MAX_DAYS):
    """Calls, tokens, latency and cost per provider per day (the engine's `studio.usage`)."""
    frame = studio.usage(by=["day", "provider"])
    days_kept = sorted(frame["day"].unique())[-days:]
    return frame[frame["day"].isin(days_kept)].reset_index(drop=True)


def bar_chart(frame, value: str, *, title: str, width: int = 640, height: int = 200) -> str:
    """A stacked bar chart (days × providers) as inline SVG: no plotting library needed."""
    if frame is None or not len(frame):
        return f"<p class='storynb-help'>{html.escape(t('models.no_calls', title=title))}</p>"
    if not float(frame[value].sum()):
        return (f"<p class='storynb-help'><b>{html.escape(title)}</b>: "
                f"{html.escape(t('models.nothing_recorded'))}</p>")
    pivot = frame.pivot_table(index="day", columns="provider", values=value, aggfunc="sum",
                              fill_value=0).sort_index()
    palette = ["#1f6feb", "#1a7f37", "#bc4c00", "#8250df", "#cf222e", "#0a7ea4", "#9a6700",
               "#57606a"]
    days, providers = list(pivot.index), list(pivot.columns)
    top = float(pivot.sum(axis=1).max()) or 1.0
    left, bottom, plot_h = 48, 36, height - 60
    slot = (width - left - 10) / max(1, len(days))
    bar_w = max(4.0, min(40.0, slot * 0.7))
    full = height + 18 * ((len(providers) + 3) // 4)
    parts = [f"<svg class='storynb-chart' width='{width}' height='{full}' viewBox='0 0 {width} {full}' "
             "style='max-width: 100%; height: auto' "  # shrinks on a phone
             f"xmlns='http://www.w3.org/2000/svg' font-family='sans-serif' font-size='11'>",
             f"<text x='{left}' y='14' font-size='13' font-weight='bold'>{html.escape(title)}</text>",
             f"<line x1='{left}' y1='{20 + plot_h}' x2='{width - 10}' y2='{20 + plot_h}' stroke='#888'/>",
             f"<text x='{left - 4}' y='26' text-anchor='end'>{_short(top)}</text>",
             f"<text x='{left - 4}' y='{20 + plot_h}' text-anchor='end'>0</text>"]
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar_w) / 2
        y = 20.0 + plot_h
        for j, provider in enumerate(providers):
            v = float(pivot.loc[day, provider])
            if v <= 0:
                continue
            h = plot_h * v / top
            y -= h
            parts.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{bar_w:.1f}' height='{h:.1f}' "
                         f"fill='{palette[j % len(palette)]}'><title>{html.escape(str(provider))} "
                         f"{html.escape(day)}: {_short(v)}</title></rect>")
        if len(days) <= 12 or i % max(1, len(days) // 8) == 0:
            parts.append(f"<text x='{x + bar_w / 2:.1f}' y='{height - bottom + 30}' "
                         f"text-anchor='middle'>{html.escape(day[5:])}</text>")
    for j, provider in enumerate(providers):
        x, y = left + (j % 4) * 150, height + 4 + 18 * (j // 4)
        parts.append(f"<rect x='{x}' y='{y}' width='10' height='10' fill='{palette[j % len(palette)]}'/>"
                     f"<text x='{x + 14}' y='{y + 9}'>{html.escape(str(provider))}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _short(v: float) -> str:
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 1:
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return f"{v:.4f}".rstrip("0").rstrip(".") or "0"


# ------------------------------------------------------------------------------ the panel
class ModelsPanel(Panel):
    name = "models"
    title = "Models"

    def __init__(self, source=None, **kwargs):
        super().__init__(source, **kwargs)
        self.table = W.HTML()
        self.table.add_class("storynb-providers")
        self.provider = W.Dropdown(options=[], description=t("models.provider"))
        self.test_b = self.button(t("models.test"), self.test)
        self.toggle_b = self.button(t("models.toggle"), self.toggle)
        self.result = W.HTML()
        self.usage_table = W.HTML()
        self.cost_chart = W.HTML()
        self.calls_chart = W.HTML()
        self.body.children = [
            W.HTML(f"<p class='storynb-help'>{html.escape(t('models.help'))}</p>"),
            self.table,
            W.HBox([self.provider, self.test_b, self.toggle_b],
                   layout=W.Layout(flex_flow="row wrap")),
            self.message, self.result]
        self.children = [*self.header, self.body]  # the message sits under the buttons
        self.body.children += (self._add_form(),)
        self.body.children += (W.HTML(f"<b>{html.escape(t('models.usage'))}</b>"), self.cost_chart,
                               self.calls_chart,
                               self.usage_table)
        self.session.on("run", lambda what: what == "end" and self.mark_dirty())
        self.redraw()

    def _add_form(self) -> W.Widget:
        adapter_types = self.session.studio.providers.types

        self.add_name = W.Text(description=t("models.name"), placeholder="my-deepseek")
        self.add_kind = W.Dropdown(options=[(t(f"project.kind_{k}"), k) for k in KINDS], value="llm",
                                   description=t("models.kind"))
        self.add_type = W.Dropdown(options=list(adapter_types("llm")), description=t("models.adapter"))
        self.add_kind.observe(lambda c: setattr(self.add_type, "options",
                                                list(adapter_types(c["new"])) if c["new"] in KINDS
                                                else []), names="value")
        self.add_url = W.Text(description=t("models.url"), placeholder="https://api.deepseek.com/v1")
        self.add_model = W.Text(description=t("models.model"), placeholder="deepseek-chat")
        # Typed by the user in the page; cleared as soon as it is stored, never sent back.
        self.add_key = W.Password(description=t("models.key"), placeholder=t("models.key_placeholder"))
        self.add_weight = W.FloatText(value=1.0, description=t("models.weight"))
        self.add_b = self.button(t("models.add"), self.add, style="primary")
        for w in (self.add_name, self.add_kind, self.add_type, self.add_url, self.add_model,
                  self.add_key, self.add_weight):
            w.style.description_width = "70px"
        return W.Accordion([W.VBox([
            W.HBox([self.add_name, self.add_kind, self.add_type], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.add_url, self.add_model], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.add_key, self.add_weight, self.add_b],
                   layout=W.Layout(flex_flow="row wrap"))])],
            titles=(t("models.add_title"),), selected_index=None)

    def refresh(self) -> None:
        rows = providers_list(self.session.studio)
        shown = []
        for r in rows:
            kind = r.get("kind", "")
            shown.append({**{c: r.get(c, "") for c in SHOWN},
                          "kind": t(f"project.kind_{kind}") if kind in KINDS else kind,
                          "type": t("common.by_offline") if r.get("type") == "local" else r.get("type", ""),
                          "model": translate(str(r.get("model") or "")),
                          "active": t("models.on") if r.get("active") else t("models.off"),
                          "key": r.get("key") or ("—" if r.get("builtin") else t("models.not_set"))})
        columns = [c for c in SHOWN if any(c in r for r in rows)]
        self.table.value = html_table(shown, columns, headers={c: t(f"models.col_{c}") for c in columns})
        keep = self.provider.value
        names = [r["name"] for r in rows]
        self.provider.options = names
        if names:
            self.provider.value = keep if keep in names else names[0]
        frame = usage_frame(self.session.studio)
        self.cost_chart.value = bar_chart(frame, "cost", title=t("models.cost_per_day"))
        self.calls_chart.value = bar_chart(frame, "calls", title=t("models.calls_per_day"))
        if len(frame):
            totals = frame.groupby("provider", as_index=False).agg(
                calls=("calls", "sum"), failed=("failed", "sum"), tokens_in=("tokens_in", "sum"),
                tokens_out=("tokens_out", "sum"), latency_ms=("latency_ms", "mean"),
                cost=("cost", "sum"))
            totals["latency_ms"] = totals["latency_ms"].round(0)
            totals["cost"] = totals["cost"].round(4)
            self.usage_table.value = html_table(totals.to_dict("records"), list(totals.columns),
                                                headers={c: t(f"models.col_{c}") for c in totals.columns})
        else:
            self.usage_table.value = ""

    # actions ---------------------------------------------------------------------------
    def _name(self) -> str:
        return choice(self.provider.value, t("models.provider"),
                      [r["name"] for r in providers_list(self.session.studio)])

    def test(self) -> None:
        name = self._name()
        self.info(t("models.testing", name=name))
        self.test_b.disabled = True
        studio_path = self.session.studio.path

        def work():  # its own studio connection, off the kernel's thread
            from ..studio import Studio

            try:
                twin = Studio(studio_path)
                try:
                    result = twin.providers.test(name)
                finally:
                    twin.close()
            except Exception as exc:
                result = {"provider": name, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
            self.session.call_main(self._tested, result)

        threading.Thread(target=work, daemon=True, name=f"storynb-test-{name}").start()

    def _tested(self, result: dict) -> None:
        self.test_b.disabled = False
        if result.get("ok"):
            self.ok(t("models.connected", name=result["provider"], ms=f"{result.get('latency_ms', 0):.0f}"))
        else:
            self.error(t("models.not_connected", name=result["provider"],
                         error=f"{result.get('error_class', 'error')}: {result.get('error', '')}"[:400]))

    def toggle(self) -> None:
        name = self._name()
        registry = self.session.studio.providers
        current = registry.get(name)
        registry.activate(name, not current["active"])
        self.refresh()
        self.ok(t("models.now_off" if current["active"] else "models.now_on", name=name))

    def add(self) -> None:
        registry = self.session.studio.providers
        key = self.add_key.value
        self.add_key.value = ""  # never kept in the page
        name = text(self.add_name.value, t("models.name"), max_len=64, required=True)
        kind = choice(self.add_kind.value, t("models.kind"), KINDS)
        adapter = choice(self.add_type.value, t("models.adapter"), list(registry.types(kind)))
        url = text(self.add_url.value, t("models.url"), max_len=500)
        model = text(self.add_model.value, t("models.model"), max_len=200)
        weight = number(self.add_weight.value, t("models.weight"), 0.0, 1000.0)
        key = text(key, t("models.key"), max_len=1000) or None
        registry.add(name, kind, adapter, url=url, key=key, model=model, weight=weight)
        self.add_name.value = self.add_url.value = self.add_model.value = ""
        self.refresh()
        self.ok(t("models.added", name=name))
