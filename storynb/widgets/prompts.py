"""Prompts panel: prompt sets, each stage's template and its versions, a new version from an
edit, restoring an older version, and a test render of the editor's text (saved or not) with
one form field per variable the stage gives (the exact prompt, before any model is called).

Built-in sets stay as shipped: the engine saves an edit of one in its copy (Prompts.edit), and
the panel then shows that copy."""
from __future__ import annotations

import html
import json
from typing import Any

import ipywidgets as W

from ..errors import InvalidInput
from ..prompts import PROMPT_STAGES, PromptError, check_variables, copy_name, render, sample_variables
from .base import Panel, choice, text
from .i18n import LANGUAGES, t, translate

MAX_TEMPLATE = 20000
MAX_VALUE = 60000


class VariableField:
    """One form field for one template variable: a number, a line, a text, a list of lines, or
    (for a list of records, such as the camera stage's shots) that variable's value as JSON."""

    def __init__(self, name: str, value: Any):
        self.name = name
        label = translate(name, "engine.var_")  # the template's own name is the tooltip
        if isinstance(value, bool):
            value = str(value)
        if isinstance(value, int):
            self.kind = "int"
            self.widget: W.Widget = W.IntText(value=value, description=label)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            self.kind = "lines"
            self.widget = W.Textarea(value="\n".join(value), description=label,
                                     placeholder=t("prompts.one_per_line"),
                                     layout=W.Layout(width="98%", height="70px"))
        elif isinstance(value, (list, dict)):
            self.kind = "json"
            self.widget = W.Textarea(value=json.dumps(value, ensure_ascii=False, indent=1),
                                     description=label, placeholder=t("prompts.as_json"),
                                     layout=W.Layout(width="98%", height="110px"))
        elif isinstance(value, str) and (len(value) > 70 or "\n" in value):
            self.kind = "text"
            self.widget = W.Textarea(value=value, description=label,
                                     layout=W.Layout(width="98%", height="80px"))
        else:
            self.kind = "line"
            self.widget = W.Text(value=str(value), description=label, layout=W.Layout(width="98%"))
        self.widget.style.description_width = "110px"
        self.widget.tooltip = name
        self.widget.add_class("storynb-var")
        self.widget.add_class(f"storynb-var-{name}")

    def value(self) -> Any:
        raw = self.widget.value
        if self.kind == "int":
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise InvalidInput(t("prompts.bad_number", name=self.name))
            return raw
        value = text(raw, self.name, max_len=MAX_VALUE)
        if self.kind == "lines":
            return [line.strip() for line in value.splitlines() if line.strip()]
        if self.kind == "json":
            try:
                return json.loads(value or "[]")
            except json.JSONDecodeError as exc:
                raise InvalidInput(t("prompts.bad_json", name=self.name, error=exc.msg,
                                     line=exc.lineno)) from None
        return value


class PromptsPanel(Panel):
    name = "prompts"
    title = "Prompts"

    def __init__(self, source=None, **kwargs):
        self.title = t("prompts.title")
        super().__init__(source, **kwargs)
        self.fields: list[VariableField] = []
        self.sets = W.Dropdown(options=[], description=t("prompts.set"))
        self.on_value(self.sets, self._load)
        self.set_info = W.HTML()
        self.set_info.add_class("storynb-set-info")
        self.default_b = self.button(t("prompts.make_default"), self.make_default)
        self.attach_b = self.button(t("prompts.attach"), self.attach)
        self.delete_b = self.button(t("prompts.delete"), self.delete_set, style="danger")
        self.new_name = W.Text(description=t("prompts.new_set"), placeholder=t("prompts.name"))
        self.new_language = W.Dropdown(options=[(label, code) for code, label in LANGUAGES.items()],
                                       value="en", description=t("prompts.language"))
        self.copy_from = W.Dropdown(options=[], description=t("prompts.copy_from"))
        self.create_b = self.button(t("prompts.create"), self.create_set)
        # templates -------------------------------------------------------------------------
        self.stage = W.ToggleButtons(options=[(t(f"prompts.stage_{s}"), s) for s in PROMPT_STAGES],
                                     value="rewrite", description=t("prompts.stage"))
        self.stage.add_class("storynb-prompt-stage")
        self.on_value(self.stage, self._load)
        self.version = W.Dropdown(options=[], description=t("prompts.version"))
        self.version.add_class("storynb-prompt-version")
        self.on_value(self.version, self._show_version)
        self.body_t = W.Textarea(layout=W.Layout(width="98%", height="200px"))
        self.body_t.add_class("storynb-template-body")
        self.system_t = W.Textarea(placeholder=t("prompts.no_system"),
                                   layout=W.Layout(width="98%", height="60px"))
        self.system_t.add_class("storynb-template-system")
        self.note = W.Text(description=t("prompts.note"), placeholder=t("prompts.note_hint"),
                           layout=W.Layout(width="60%"))
        self.save_b = self.button(t("prompts.save"), self.save, style="primary")
        self.restore_b = self.button(t("prompts.restore"), self.restore,
                                     tooltip=t("prompts.restore_tip"))
        self.builtin_hint = W.HTML()
        self.variables_box = W.VBox()
        self.variables_box.add_class("storynb-variables")
        self.render_b = self.button(t("prompts.test_render"), self.test_render)
        self.rendered = W.HTML()
        for w in (self.sets, self.new_name, self.new_language, self.copy_from, self.version,
                  self.note):
            w.style.description_width = "90px"
        self.body.children = [
            W.HBox([self.sets, self.default_b, self.attach_b, self.delete_b],
                   layout=W.Layout(flex_flow="row wrap")),
            self.set_info,
            W.HBox([self.new_name, self.new_language, self.copy_from, self.create_b],
                   layout=W.Layout(flex_flow="row wrap")),
            W.HTML("<hr>"), self.stage,
            W.HBox([self.version, self.restore_b], layout=W.Layout(flex_flow="row wrap")),
            W.HTML(f"<b>{html.escape(t('prompts.template'))}</b> <span class='storynb-caption'>"
                   f"{html.escape(t('prompts.template_help'))}</span>"), self.body_t,
            W.HTML(f"<b>{html.escape(t('prompts.system'))}</b>"), self.system_t,
            W.HBox([self.note, self.save_b], layout=W.Layout(flex_flow="row wrap")),
            self.builtin_hint,
            W.HTML(f"<b>{html.escape(t('prompts.test_render'))}</b> <span class='storynb-caption'>"
                   f"{html.escape(t('prompts.render_help'))}</span>"),
            self.variables_box, W.HBox([self.render_b]), self.rendered]
        self.redraw()

    # drawing ---------------------------------------------------------------------------
    def _set_ids(self) -> list[int]:
        return [s["id"] for s in self.session.studio.prompt_sets()]

    def _option(self, row: dict) -> str:
        marks = [LANGUAGES.get(row["language"], row["language"])]
        if row["is_default"]:
            marks.append(t("prompts.default_mark"))
        if row["builtin"]:
            marks.append(t("prompts.builtin_mark"))
        return f"{row['name']} ({', '.join(marks)})"

    def refresh(self) -> None:
        sets = self.session.studio.prompt_sets()
        options = [(self._option(s), s["id"]) for s in sets]
        keep = self.sets.value
        project = self.session.project
        if keep not in [v for _, v in options]:
            keep = project.row["prompt_set_id"] if project is not None else (
                options[0][1] if options else None)
        with self.quiet():
            self.sets.options = options
            self.copy_from.options = [(t("prompts.empty"), 0)] + options
            self.copy_from.value = keep or 0
            if keep is not None:
                self.sets.value = keep
        self._load()

    def _load(self) -> None:
        set_id = self.sets.value
        if set_id is None:
            return
        prompts = self.session.studio.prompts
        chosen = prompts.get_set(set_id)
        notes = [html.escape(chosen["description"] or "")]
        if chosen["builtin"]:
            notes.append(html.escape(t("prompts.builtin_info")))
        if self.session.project is not None and self.session.project.row["prompt_set_id"] == set_id:
            notes.append(html.escape(t("prompts.used_by_project")))
        self.set_info.value = ("<span class='storynb-caption'>"
                               + " · ".join(n for n in notes if n) + "</span>")
        self.builtin_hint.value = ("<span class='storynb-caption storynb-builtin-hint'>"
                                   + html.escape(t("prompts.builtin_hint", name=chosen["name"],
                                                    copy=copy_name(chosen)))
                                   + "</span>") if chosen["builtin"] else ""
        self.delete_b.disabled = bool(chosen["builtin"])
        versions = prompts.versions(set_id, self.stage.value)
        with self.quiet():
            self.version.options = [(f"v{v['version']} · {v['created'][:16].replace('T', ' ')}"
                                     f"{' · ' + translate(v['note']) if v['note'] else ''}", v["version"])
                                    for v in versions]
            if versions:
                self.version.value = versions[-1]["version"]
        self._show_version()

    def _show_version(self) -> None:
        set_id, stage = self.sets.value, self.stage.value
        if set_id is None:
            return
        prompts = self.session.studio.prompts
        tpl = prompts.template(set_id, stage, self.version.value, missing_ok=True) \
            if self.version.value is not None else None
        self.body_t.value = tpl["body"] if tpl else ""
        self.system_t.value = (tpl["system"] or "") if tpl else ""
        current = [v for _, v in self.version.options]
        self.restore_b.disabled = not current or self.version.value == current[-1]
        self.fields = [VariableField(name, value)
                       for name, value in sample_variables(stage, self.session.project).items()]
        self.variables_box.children = [f.widget for f in self.fields]
        self.rendered.value = ""

    # actions ---------------------------------------------------------------------------
    def _set(self) -> int:
        return choice(self.sets.value, t("prompts.set"), self._set_ids())

    def _stage(self) -> str:
        return choice(self.stage.value, t("prompts.stage"), PROMPT_STAGES)

    def _template(self) -> tuple[str, str]:
        """The editor's template and system prompt, as typed (saved or not)."""
        body = text(self.body_t.value, t("prompts.template"), max_len=MAX_TEMPLATE, required=True)
        system = text(self.system_t.value, t("prompts.system"), max_len=MAX_TEMPLATE)
        return body, system

    def save(self) -> None:
        body, system = self._template()
        note = text(self.note.value, t("prompts.note"), max_len=200)
        stage = self._stage()
        check = sample_variables(stage, self.session.project)
        try:  # a template that cannot render with the stage's values would fail every run
            check_variables(stage, body, system)
            for label, template in ((t("prompts.template"), body), (t("prompts.system"), system)):
                render(template, check, label=label)
        except PromptError as exc:
            raise InvalidInput(t("prompts.not_saved", error=exc)) from None
        self._saved(self.session.studio.prompts.edit(self._set(), stage, body,
                                                     system=system, note=note))
        self.note.value = ""

    def restore(self) -> None:
        """Make the version chosen in the Version list the current one (as a new version)."""
        set_id, stage = self._set(), self._stage()
        versions = [v for _, v in self.version.options]
        version = choice(self.version.value, t("prompts.version"), versions)
        if version == versions[-1]:
            raise InvalidInput(t("prompts.already_current", version=version))
        row = self.session.studio.prompts.restore(set_id, stage, version)
        self._saved(row, restored=version)

    def _saved(self, row: dict, restored: int | None = None) -> None:
        stage = t(f"prompts.stage_{row['stage']}")
        if row.get("copied_from"):
            with self.quiet():
                self.sets.value = None
            self.refresh()
            with self.quiet():
                self.sets.value = row["set_id"]
            self._load()
            self.ok(t("prompts.copied", builtin=row["copied_from"], copy=row["set_name"],
                      stage=stage, version=row["version"]))
            return
        self._load()
        if restored is not None:
            self.ok(t("prompts.restored", stage=stage, old=restored, version=row["version"]))
        else:
            self.ok(t("prompts.saved", stage=stage, version=row["version"]))

    def test_render(self) -> None:
        """Render what is in the editor now, saved or not, with the form's values."""
        stage = self._stage()
        body, system = self._template()
        values = {f.name: f.value() for f in self.fields}
        try:
            check_variables(stage, body, system)
            out = render(body, values, label=t("prompts.template"))
            system_out = render(system, values, label=t("prompts.system")) if system else ""
        except PromptError as exc:
            raise InvalidInput(str(exc)) from None
        shown = (f"[system]\n{system_out}\n\n[prompt]\n{out}" if system_out else out)
        self.rendered.value = ("<div class='storynb-pre storynb-rendered'>" + html.escape(shown)
                               + "</div>")
        self.ok(t("prompts.rendered", count=len(out)))

    def make_default(self) -> None:
        self.session.studio.prompts.set_default(self._set())
        self.refresh()
        self.ok(t("prompts.default_changed"))

    def attach(self) -> None:
        project = self.session.require()
        project.update(prompt_set=self._set())
        self._load()
        self.session.changed("prompts", source=self)
        self.ok(t("prompts.attached", project=project.id))

    def delete_set(self) -> None:
        set_id = self._set()
        chosen = self.session.studio.prompts.get_set(set_id)
        if chosen["builtin"]:
            raise InvalidInput(t("prompts.builtin_stays"))
        self.session.studio.prompts.delete_set(set_id)
        with self.quiet():
            self.sets.value = None
        self.refresh()
        self.ok(t("prompts.deleted", name=chosen["name"]))

    def create_set(self) -> None:
        name = text(self.new_name.value, t("prompts.new_set"), max_len=80, required=True)
        language = choice(self.new_language.value, t("prompts.language"), list(LANGUAGES))
        source = self.copy_from.value
        copy_from = choice(source, t("prompts.copy_from"), self._set_ids()) if source else None
        set_id = self.session.studio.prompts.create_set(name, language, copy_from=copy_from)
        self.new_name.value = ""
        with self.quiet():
            self.sets.value = None
        self.refresh()
        self.sets.value = set_id
        self.ok(t("prompts.created", name=name))
