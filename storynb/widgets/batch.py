"""Batch panel: many topics at once (storynb.batch). Paste or upload a CSV with a `topic` column
(optional settings per row), start it, and follow the summary table as projects finish; each
row links its video and its report notebook. Batches live in `batches/<name>/` beside the
studio (a visitor of the app cannot write anywhere else); running one again resumes it."""
from __future__ import annotations

import html
import re
import threading
from pathlib import Path

import ipywidgets as W

from ..errors import InvalidInput
from .base import Panel, html_table, integer, number, status_word, text
from .i18n import t, translate

MAX_TOPICS = 50  # what one batch from the app may ask for (the CLI has no such limit)
EXAMPLE = "topic,style\nA lighthouse keeper befriends a lost whale,warm\nA robot learns to paint,whimsical\n"


def batch_root(studio) -> Path:
    return Path(studio.path).parent / "batches"


class BatchPanel(Panel):
    name = "batch"
    title = "Batch"

    def __init__(self, source=None, **kwargs):
        super().__init__(source, **kwargs)
        self.batch_name = W.Text(value="batch-1", description=t("batch.name"), layout=W.Layout(width="260px"))
        self.topics = W.Textarea(value=EXAMPLE, placeholder=t("batch.topics_placeholder"),
                                 layout=W.Layout(width="100%", height="140px"))
        self.upload = W.FileUpload(accept=".csv,text/csv", multiple=False, description=t("batch.load"))
        self.upload.observe(lambda _c: self.action(self._loaded)(), names="value")
        self.concurrency = W.BoundedIntText(value=2, min=1, max=4, description=t("batch.at_once"),
                                            layout=W.Layout(width="150px"))
        self.budget = W.BoundedFloatText(value=0, min=0, max=10000, step=0.5,
                                         description=t("batch.budget"), layout=W.Layout(width="170px"),
                                         tooltip=t("batch.budget_tip"))
        self.notebooks = W.Checkbox(value=True, description=t("batch.notebooks"), indent=False)
        self.start_b = self.button(t("batch.run"), self.start_batch, style="success")
        self.refresh_b = self.button(t("project.refresh"), self.redraw)
        self.table = W.HTML()
        self.table.add_class("storynb-batch-summary")
        self.past = W.Dropdown(description=t("batch.batches"), layout=W.Layout(width="360px"))
        self.on_value(self.past, self._show_past)
        self._thread: threading.Thread | None = None
        self.body.children = [
            W.HTML(f"<span class='storynb-help'>{t('batch.help', column='<code>topic</code>')}</span>"),
            W.HBox([self.batch_name, self.upload], layout=W.Layout(flex_flow="row wrap")),
            self.topics,
            W.HBox([self.concurrency, self.budget, self.notebooks, self.start_b, self.refresh_b],
                   layout=W.Layout(align_items="center", flex_flow="row wrap")),
            self.message, self.past, self.table]
        self.children = [*self.header, self.body]  # the message sits under the run button
        self.redraw()

    # reading -------------------------------------------------------------------------------
    def _folder(self) -> Path:
        name = text(self.batch_name.value, t("batch.name"), max_len=60, required=True)
        if not re.fullmatch(r"[\w\-\u4e00-\u9fff]+", name):
            raise InvalidInput(t("batch.bad_name"))
        return batch_root(self.session.studio) / name

    def refresh(self) -> None:
        from ..batch import batches, summary

        studio = self.session.studio
        known = [b for b in batches(studio)["batch"] if Path(b).parent == batch_root(studio)]
        with self.quiet():
            self.past.options = [Path(b).name for b in known]
            try:
                current = self._folder().name
            except InvalidInput:
                current = None
            self.past.value = current if current in self.past.options else None
        try:
            folder = self._folder()
        except InvalidInput as exc:
            self.table.value = f"<span class='storynb-help'>{html.escape(str(exc))}</span>"
            return
        frame = summary(studio, folder) if folder.exists() else None
        if frame is None or not len(frame):
            self.table.value = f"<span class='storynb-help'>{html.escape(t('batch.not_run'))}</span>"
            return
        rows = []
        for row in frame.to_dict("records"):
            rows.append({**row, "topic": row["topic"][:60], "status": status_word(str(row["status"])),
                         "video": Path(row["video"]).name if row["video"] else "",
                         "notebook": (f"{Path(row['notebook']).parent.name}/report.ipynb"
                                      if row["notebook"] else ""),
                         "cost": f"${row['cost']:.4f}", "error": translate(row["error"] or "")[:120]})
        done = int((frame["status"] == "done").sum())
        columns = ["row", "topic", "project_id", "status", "calls", "cost", "video", "notebook", "error"]
        self.table.value = (f"<b>{html.escape(t('batch.n_done', done=done, total=len(frame)))}</b> · "
                            f"{html.escape(str(folder))}"
                            + html_table(rows, columns, headers={c: t(f"batch.col_{c}") for c in columns}))

    def _show_past(self) -> None:
        if self.past.value:
            self.batch_name.value = self.past.value
            topics = self._folder() / "topics.csv"
            if topics.exists():
                self.topics.value = topics.read_text(encoding="utf-8")[:200_000]
            self.redraw()

    def _loaded(self) -> None:
        files = self.upload.value
        if not files:
            return
        item = files[0]
        if item["size"] > 1_000_000:
            raise InvalidInput(t("batch.too_big"))
        self.topics.value = bytes(item["content"]).decode("utf-8-sig")
        self.ok(t("batch.loaded", name=item["name"]))

    # running -------------------------------------------------------------------------------
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start_batch(self) -> None:
        from ..batch import read_topics

        if self.running():
            raise InvalidInput(t("batch.already"))
        folder = self._folder()
        body = text(self.topics.value, t("batch.topics"), max_len=200_000, required=True)
        concurrency = integer(self.concurrency.value, t("batch.at_once"), 1, 4)
        budget = number(self.budget.value, t("batch.budget"), 0, 10000) or None
        folder.mkdir(parents=True, exist_ok=True)
        topics = folder / "topics.csv"
        topics.write_text(body.rstrip("\n") + "\n", encoding="utf-8")
        items = read_topics(topics)  # checked here, so a bad table is an error at once
        if len(items) > MAX_TOPICS:
            raise InvalidInput(t("batch.too_many", n=len(items), limit=MAX_TOPICS))
        studio, notebooks = self.session.studio, bool(self.notebooks.value)

        def work():
            from ..batch import run_batch

            worker = studio.for_thread()
            try:
                run_batch(worker, topics, folder, concurrency=concurrency, budget=budget,
                          notebooks=notebooks,
                          on_progress=lambda _item: self.session.call_main(self.redraw))
                self.session.call_main(self.ok, t("batch.finished", name=folder.name))
            except Exception as exc:  # shown in the panel, not lost on a thread
                self.session.call_main(self.error, t("batch.failed", name=folder.name, error=exc))
            finally:
                worker.close()
                self.session.call_main(self._buttons)

        self._thread = threading.Thread(target=work, name=f"storynb-batch-{folder.name}",
                                        daemon=True)
        self._thread.start()
        self._buttons()
        self.info(t("batch.started", name=folder.name, n=len(items), at_once=concurrency))

    def _buttons(self) -> None:
        self.start_b.disabled = self.running()
        self.redraw()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running batch (for scripts and tests); True when it has finished."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running()
