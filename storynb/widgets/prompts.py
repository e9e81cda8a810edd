"""Prompts panel: prompt sets, each stage's template and its versions, a new version from an
edit, and a test render with variables (the exact prompt, before any model is called)."""
from __future__ import annotations

import html
import json

import ipywidgets as W

from ..errors import InvalidInput
from ..prompts import PROMPT_STAGES, PromptError, check_variables, render
from .base import Panel, choice, text

MAX_TEMPLATE = 20000
SAMPLE_STORY = ("The storm had lasted three days when the keeper saw the whale. It lay in the "
                "shallows below the lighthouse, breathing slowly, too tired to swim.")


def sample_variables(stage: str, project=None) -> dict:
    """Values to try a template with: the open project's, else a small example."""
    row = project.row if project is not None else {}
    story = (project.story() if project is not None else "") or SAMPLE_STORY
    shots = project.shots() if project is not None else []
    base = {"topic": row.get("topic") or "A lighthouse keeper befriends a lost whale",
            "language": row.get("language") or "en", "style": row.get("style") or "warm",
            "length": row.get("length") or "short", "audience": row.get("audience") or ""}
    if stage == "storyboard":
        return {"story": story, "shots": row.get("shots_wanted") or 6,
                "language": base["language"], "fps": row.get("fps") or 24}
    if stage == "camera":
        listed = [{"sequence": s["seq"], "scene": s["scene"], "narration": s["narration"]}
                  for s in shots[:6]] or [
            {"sequence": 1, "scene": "A lighthouse in a storm", "narration": SAMPLE_STORY}]
        return {"shots": listed, "language": base["language"]}
    if stage == "image":
        prompt = shots[0]["image_prompt"] if shots else "a lighthouse on black rocks, storm"
        scene = shots[0]["scene"] if shots else "A lighthouse in a storm"
        return {"image_prompt": prompt, "style": base["style"], "scene": scene}
    return base


class PromptsPanel(Panel):
    name = "prompts"
    title = "Prompts"

    def __init__(self, source=None, **kwargs):
        super().__init__(source, **kwargs)
        self.sets = W.Dropdown(options=[], description="Prompt set")
        self.on_value(self.sets, self._load)
        self.set_info = W.HTML()
        self.default_b = self.button("Make default for its language", self.make_default)
        self.attach_b = self.button("Use for the open project", self.attach)
        self.delete_b = self.button("Delete set", self.delete_set, style="danger")
        self.new_name = W.Text(description="New set", placeholder="name")
        self.new_language = W.Dropdown(options=[("English", "en"), ("中文", "zh")], value="en",
                                       description="Language")
        self.copy_from = W.Dropdown(options=[], description="Copy from")
        self.create_b = self.button("Create set", self.create_set)
        # templates -------------------------------------------------------------------------
        self.stage = W.ToggleButtons(options=list(PROMPT_STAGES), value="rewrite",
                                     description="Stage")
        self.on_value(self.stage, self._load)
        self.version = W.Dropdown(options=[], description="Version")
        self.on_value(self.version, self._show_version)
        self.body_t = W.Textarea(layout=W.Layout(width="98%", height="200px"))
        self.body_t.add_class("storynb-template-body")
        self.system_t = W.Textarea(placeholder="(no system prompt)",
                                   layout=W.Layout(width="98%", height="60px"))
        self.note = W.Text(description="Note", placeholder="what changed and why",
                           layout=W.Layout(width="60%"))
        self.save_b = self.button("Save as a new version", self.save, style="primary")
        self.restore_b = self.button("Restore this version", self.restore,
                                     tooltip="make the version chosen above the current one")
        self.declared = W.HTML()
        self.variables = W.Textarea(layout=W.Layout(width="98%", height="120px"))
        self.variables.add_class("storynb-variables")
        self.render_b = self.button("Test render", self.test_render)
        self.rendered = W.HTML()
        for w in (self.sets, self.new_name, self.new_language, self.copy_from, self.version,
                  self.note):
            w.style.description_width = "80px"
        self.body.children = [
            W.HBox([self.sets, self.default_b, self.attach_b, self.delete_b],
                   layout=W.Layout(flex_flow="row wrap")),
            self.set_info,
            W.HBox([self.new_name, self.new_language, self.copy_from, self.create_b],
                   layout=W.Layout(flex_flow="row wrap")),
            W.HTML("<hr>"), self.stage, self.version,
            W.HTML("<b>Template</b> <span class='storynb-caption'>(Jinja2: {{ topic }} … an "
                   "undefined variable is an error that names it)</span>"), self.body_t,
            W.HTML("<b>System prompt</b>"), self.system_t,
            W.HBox([self.note, self.save_b, self.restore_b], layout=W.Layout(flex_flow="row wrap")),
            W.HTML("<b>Test render</b> <span class='storynb-caption'>variables as JSON; "
                   "no model is called</span>"), self.declared, self.variables, W.HBox([self.render_b]),
            self.rendered]
        self.redraw()

    # drawing ---------------------------------------------------------------------------
    def _set_ids(self) -> list[int]:
        return [s["id"] for s in self.session.studio.prompt_sets()]

    def refresh(self) -> None:
        sets = self.session.studio.prompt_sets()
        options = [(f"{s['name']} ({s['language']}{', default' if s['is_default'] else ''})",
                    s["id"]) for s in sets]
        keep = self.sets.value
        project = self.session.project
        if keep not in [v for _, v in options]:
            keep = project.row["prompt_set_id"] if project is not None else (
                options[0][1] if options else None)
        with self.quiet():
            self.sets.options = options
            self.copy_from.options = [("(empty)", 0)] + options
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
        users = "" if self.session.project is None or \
            self.session.project.row["prompt_set_id"] != set_id else " · used by the open project"
        self.set_info.value = (f"<span class='storynb-caption'>{html.escape(chosen['description'] or '')}"
                               f"{' · built in' if chosen['builtin'] else ''}{users}</span>")
        versions = prompts.versions(set_id, self.stage.value)
        with self.quiet():
            self.version.options = [(f"v{v['version']} · {v['created'][:16].replace('T', ' ')}"
                                     f"{' · ' + v['note'] if v['note'] else ''}", v["version"])
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
        declared = json.loads(tpl["variables"]) if tpl else []
        self.declared.value = ("<span class='storynb-caption'>declared: "
                               + html.escape(", ".join(declared) or "none") + "</span>")
        self.variables.value = json.dumps(sample_variables(stage, self.session.project),
                                          ensure_ascii=False, indent=1)
        self.rendered.value = ""

    # actions ---------------------------------------------------------------------------
    def _set(self) -> int:
        return choice(self.sets.value, "prompt set", self._set_ids())

    def _stage(self) -> str:
        return choice(self.stage.value, "stage", PROMPT_STAGES)

    def save(self) -> None:
        body = text(self.body_t.value, "the template", max_len=MAX_TEMPLATE, required=True)
        system = text(self.system_t.value, "the system prompt", max_len=MAX_TEMPLATE)
        note = text(self.note.value, "the note", max_len=200)
        self._save(body, system, note)

    def restore(self) -> None:
        """Make the version shown in the Version list the current one (as a new version)."""
        set_id, stage = self._set(), self._stage()
        versions = [v for _, v in self.version.options]
        version = choice(self.version.value, "version", versions)
        if version == versions[-1]:
            raise InvalidInput(f"v{version} is already the current version")
        tpl = self.session.studio.prompts.template(set_id, stage, version)
        self._save(tpl["body"], tpl["system"] or "", f"restored v{version}")

    def _save(self, body: str, system: str, note: str) -> None:
        """Save a new version (a template that uses a variable its stage does not give is
        refused). A built-in set stays as it was shipped: the edit goes into a copy, which is
        then shown."""
        set_id, stage = self._set(), self._stage()
        check_variables(stage, body, system)  # before a copy is made: the engine checks again
        prompts = self.session.studio.prompts
        chosen = prompts.get_set(set_id)
        users = "" if self.session.project is None or \
            self.session.project.row["prompt_set_id"] != set_id else " · used by the open project"
        self.set_info.value = (f"<span class='storynb-caption'>{html.escape(chosen['description'] or '')}"
                               f"{' · built in' if chosen['builtin'] else ''}{users}</span>")
        versions = prompts.versions(set_id, self.stage.value)
        with self.quiet():
            self.version.options = [(f"v{v['version']} · {v['created'][:16].replace('T', ' ')}"
                                     f"{' · ' + v['note'] if v['note'] else ''}", v["version"])
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
        declared = json.loads(tpl["variables"]) if tpl else []
        self.declared.value = ("<span class='storynb-caption'>declared: "
                               + html.escape(", ".join(declared) or "none") + "</span>")
        self.variables.value = json.dumps(sample_variables(stage, self.session.project),
                                          ensure_ascii=False, indent=1)
        self.rendered.value = ""

    # actions ---------------------------------------------------------------------------
    def _set(self) -> int:
        return choice(self.sets.value, "prompt set", self._set_ids())

    def _stage(self) -> str:
        return choice(self.stage.value, "stage", PROMPT_STAGES)

    def save(self) -> None:
        body = text(self.body_t.value, "the template", max_len=MAX_TEMPLATE, required=True)
        system = text(self.system_t.value, "the system prompt", max_len=MAX_TEMPLATE)
        note = text(self.note.value, "the note", max_len=200)
        self._save(body, system, note)

    def restore(self) -> None:
        """Make the version shown in the Version list the current one (as a new version)."""
        set_id, stage = self._set(), self._stage()
        versions = [v for _, v in self.version.options]
        version = choice(self.version.value, "version", versions)
        if version == versions[-1]:
            raise InvalidInput(f"v{version} is already the current version")
        tpl = self.session.studio.prompts.template(set_id, stage, version)
        self._save(tpl["body"], tpl["system"] or "", f"restored v{version}")

    def _save(self, body: str, system: str, note: str) -> None:
        """Save a new version (a template that uses a variable its stage does not give is
        refused). A built-in set stays as it was shipped: the edit goes into a copy, which is
        then shown."""
        set_id, stage = self._set(), self._stage()
        variables = sample_variables(stage, self.session.project)
        for label, template in (("the template", body), ("the system prompt", system)):
            try:
                render(template, variables, label=label)
            except PromptError as exc:
                raise InvalidInput(f"not saved: {exc}. The {stage} stage gives: "
                                   f"{', '.join(sorted(variables))}") from None
        prompts = self.session.studio.prompts
        chosen = prompts.get_set(set_id)
        copied = ""
        if chosen["builtin"]:
            names = {s["name"] for s in self.session.studio.prompt_sets()}
            name = next(n for n in (f"{chosen['name']} (my copy{'' if i == 1 else f' {i}'})"
                                    for i in range(1, 1000)) if n not in names)
            set_id = prompts.create_set(name, chosen["language"], chosen["description"] or "",
                                        copy_from=set_id)
            copied = name
        row = prompts.edit(set_id, stage, body, system=system, note=note)
        self.note.value = ""
        if copied:
            with self.quiet():
                self.sets.value = None
            self.refresh()
            self.sets.value = set_id
            self.ok(f"built-in sets stay as shipped: saved in a new set {copied!r} "
                    f"({stage} v{row['version']}); press 'Use for the open project' to use it")
            return
        self._load()
        self.ok(f"{stage} template is now version {row['version']}")

    def test_render(self) -> None:
        raw = text(self.variables.value, "the variables", max_len=60000) or "{}"
        try:
            variables = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"the variables are not valid JSON: {exc.msg} (line {exc.lineno})") from None
        if not isinstance(variables, dict):
            raise InvalidInput("the variables must be a JSON object: {\"topic\": \"…\"}")
        # what is in the editor, saved or not
        body = text(self.body_t.value, "the template", max_len=MAX_TEMPLATE, required=True)
        system = text(self.system_t.value, "the system prompt", max_len=MAX_TEMPLATE)
        try:
            out = render(body, variables, label="the template in the editor")
            system_out = render(system, variables, label="the system prompt") if system else ""
        except PromptError as exc:
            raise InvalidInput(str(exc)) from None
        shown = (f"[system]\n{system_out}\n\n[prompt]\n{out}" if system_out else out)
        self.rendered.value = ("<div class='storynb-pre storynb-rendered'>" + html.escape(shown)
                               + "</div>")
        self.ok(f"rendered the editor's text: {len(out)} characters")

    def make_default(self) -> None:
        self.session.studio.prompts.set_default(self._set())
        self.refresh()
        self.ok("default set changed")

    def attach(self) -> None:
        project = self.session.require()
        project.update(prompt_set=self._set())
        self._load()
        self.session.changed("prompts", source=self)
        self.ok(f"project #{project.id} now uses this prompt set")

    def delete_set(self) -> None:
        set_id = self._set()
        chosen = self.session.studio.prompts.get_set(set_id)
        if chosen["builtin"]:
            raise InvalidInput("the shipped sets stay; copy one to make your own")
        self.session.studio.prompts.delete_set(set_id)
        with self.quiet():
            self.sets.value = None
        self.refresh()
        self.ok(f"deleted prompt set {chosen['name']!r}")

    def create_set(self) -> None:
        name = text(self.new_name.value, "the set's name", max_len=80, required=True)
        language = choice(self.new_language.value, "language", ["en", "zh"])
        source = self.copy_from.value
        copy_from = choice(source, "copy from", self._set_ids()) if source else None
        set_id = self.session.studio.prompts.create_set(name, language, copy_from=copy_from)
        self.new_name.value = ""
        with self.quiet():
            self.sets.value = None
        self.refresh()
        self.sets.value = set_id
        self.ok(f"created prompt set {name!r}")
