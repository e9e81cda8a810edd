"""Project panel: the project list, a new-project form (optionally from a saved template), open
and delete, import a project bundle, save a project's settings as a template, status at a glance."""
from __future__ import annotations

import html
import json
import logging
import traceback

import ipywidgets as W

from .. import intake
from ..errors import InvalidInput, StorynbError
from ..settings import (ASPECT_LABELS, ASPECTS, KIND_LABELS, KINDS, LENGTHS, QUALITIES, STYLES,  # noqa: F401
                        normalize_style, quality_for)
from ..settings import preset_size as size_for  # (aspect, quality) → size or None
from .base import Panel, chip, choice, integer, stage_chips, text

log = logging.getLogger("storynb.widgets")

# The largest bundle the upload accepts (bigger ones: `storynb import PATH` on the server).
MAX_BUNDLE_BYTES = 2 * 1024 ** 3
# A dropdown value meaning "what the chosen template says" (a size or a provider route the
# form's choices cannot show).
FROM_TEMPLATE = "@template"


def template_names(studio) -> list[str]:
    frame = studio.templates()
    return [str(n) for n in frame["name"]] if "name" in frame.columns else []


def provider_choices(studio, kind: str) -> list[str]:
    """Names of the active providers of one kind, as the provider registry lists them."""
    from .models import providers_list

    return [r["name"] for r in providers_list(studio, kind) if r.get("active")]


class ProjectPanel(Panel):
    name = "project"
    title = "Projects"

    def __init__(self, source=None, *, default_quality: str = "preview", **kwargs):
        super().__init__(source, **kwargs)
        studio = self.session.studio
        # the list --------------------------------------------------------------------------
        self.listing = W.Select(options=[], rows=8, layout=W.Layout(width="98%"))
        self.open_b = self.button("Open", self._open, style="primary")
        self.delete_confirm = W.Checkbox(value=False, description="yes, delete it",
                                         indent=False, layout=W.Layout(width="auto"))
        self.delete_b = self.button("Delete…", self._delete, style="danger")
        self.refresh_b = self.button("Refresh", self.refresh)
        self.status = W.HTML()
        self.status.add_class("storynb-project-status")
        # save the open project's settings as a template
        self.template_name = W.Text(placeholder="template name, e.g. vertical bedtime story",
                                    layout=W.Layout(flex="1 1 200px", width="auto"))
        self.template_name.add_class("storynb-template-name")
        self.save_template_b = self.button("Save settings as template", self._save_template,
                                           tooltip="Save the open project's settings, prompt set "
                                           "and providers under a name, to start new projects from")
        # import a bundle
        self.upload = W.FileUpload(accept=".zip", multiple=False, description="Import a bundle…",
                                   icon="upload", layout=W.Layout(width="auto"))
        self.upload.add_class("storynb-import")
        self.on_value(self.upload, self._import_upload)
        left = W.VBox([
            W.HTML("<b>Your projects</b>"), self.listing,
            W.HBox([self.open_b, self.refresh_b, self.delete_b, self.delete_confirm],
                   layout=W.Layout(flex_flow="row wrap", align_items="center")),
            self.status,
            W.HBox([self.template_name, self.save_template_b],
                   layout=W.Layout(flex_flow="row wrap", align_items="center")),
            W.HTML("<b>Import a project bundle</b>"),
            W.HBox([self.upload, W.HTML(
                "<span class='storynb-caption'>a <code>.zip</code> from another studio's Export tab "
                f"(up to {MAX_BUNDLE_BYTES // 1024 ** 3} GB); it is added as a new project</span>")],
                layout=W.Layout(flex_flow="row wrap", align_items="center"))],
            layout=W.Layout(flex="1 1 360px", min_width="320px"))
        # the form --------------------------------------------------------------------------
        wide = W.Layout(width="98%")
        self.topic = W.Textarea(placeholder="What is the story about? A sentence or a paragraph, "
                                "in English or Chinese. 例如：一只想看海的小猫",
                                layout=W.Layout(width="98%", height="80px"))
        self.topic.add_class("storynb-topic")
        self.project_name = W.Text(placeholder="(from the topic)", description="Name",
                                   layout=wide)
        self.template = W.Dropdown(options=[("the defaults (no template)", "")], value="",
                                   description="Start from", layout=wide)
        self.template.add_class("storynb-template")
        self._template: tuple[str, dict] | None = None  # (name, settings) the form was filled from
        self._default_quality = default_quality
        self.language = W.Dropdown(options=[("Detect from the topic", "auto"), ("English", "en"),
                                            ("中文 Chinese", "zh")], value="auto",
                                   description="Language", layout=wide)
        self.style = W.Combobox(options=STYLES, value="warm", description="Style",
                                ensure_option=False, layout=wide)
        self.length = W.Dropdown(options=list(LENGTHS), value="short", description="Length",
                                 layout=wide)
        self.audience = W.Text(placeholder="(anyone)", description="Audience", layout=wide)
        self.aspect = W.Dropdown(options=[(label, key) for key, label in ASPECT_LABELS.items()], value="9:16",
                                 description="Aspect", layout=wide)
        self.shots = W.Dropdown(options=[("automatic", 0)] + [(str(n), n) for n in range(4, 13)],
                                value=0, description="Shots", layout=wide)
        self.quality = W.Dropdown(options=[(label, key) for key, (label, _, _) in QUALITIES.items()],
                                  value=default_quality, description="Quality", layout=wide)
        self.prompt_set = W.Dropdown(options=[], description="Prompts", layout=wide)
        self.providers = {kind: W.Dropdown(options=[], description=KIND_LABELS[kind], layout=wide)
                          for kind in KINDS}
        for w in (self.project_name, self.template, self.language, self.style, self.length, self.audience,
                  self.aspect, self.shots, self.quality, self.prompt_set, *self.providers.values()):
            w.style.description_width = "80px"
        self.quality.add_class("storynb-quality")
        self.shots.add_class("storynb-shots")
        self.listing.add_class("storynb-listing")
        self.create_b = self.button("Create project", self._create, style="primary")
        self.create_run_b = self.button("Create and make the video", self._create_and_run,
                                        style="success")
        right = W.VBox([
            W.HTML("<b>New project</b>"), self.topic, self.project_name, self.template,
            W.HBox([W.VBox([self.language, self.style, self.length, self.audience],
                           layout=W.Layout(flex="1")),
                    W.VBox([self.aspect, self.shots, self.quality, self.prompt_set],
                           layout=W.Layout(flex="1"))], layout=W.Layout()),
            W.Accordion([W.VBox(list(self.providers.values()))], titles=("Providers",),
                        selected_index=None),
            W.HBox([self.create_b, self.create_run_b], layout=W.Layout())],
            layout=W.Layout(flex="1 1 420px", min_width="360px"))
        columns = W.HBox([left, right], layout=W.Layout(flex_flow="row wrap",
                                                        align_items="flex-start"))
        columns.add_class("storynb-columns")
        self.body.children = [columns]
        self.on_created = []  # callables(project), e.g. the app switches tab
        self._fill_choices(studio)
        self._fill_templates()
        self.on_value(self.template, self._apply_template)
        self.session.on("run", lambda _what: self._draw_status())
        self.session.on("stage", self._on_stage)
        self.redraw()

    # drawing ---------------------------------------------------------------------------
    def _fill_choices(self, studio) -> None:
        sets = studio.prompt_sets()
        self.prompt_set.options = [("default for the language", 0)] + [
            (f"{s['name']} ({s['language']})", s["id"]) for s in sets]
        self.prompt_set.value = 0
        for kind, dropdown in self.providers.items():
            names = provider_choices(studio, kind)
            dropdown.options = [("default", "")] + [(n, n) for n in names]
            dropdown.value = ""

    def _fill_templates(self) -> None:
        """The saved templates in the 'Start from' dropdown (the choice kept if it still exists)."""
        names = template_names(self.session.studio)
        current = self.template.value
        with self.quiet():
            self.template.options = [("the defaults (no template)", "")] + [
                (f"template: {n}", n) for n in names]
            self.template.value = current if current in names else ""
        if current and current not in names:
            self._template = None

    def refresh(self) -> None:
        frame = self.session.studio.projects()
        current = self.session.project.id if self.session.project else None
        options = [(f"#{r.id}  {r.name}  · {r.status}", int(r.id))
                   for r in frame.sort_values("id", ascending=False).itertuples()]
        self.listing.options = options
        ids = [v for _, v in options]
        if current in ids:
            self.listing.value = current
        self._fill_templates()  # another session may have saved one
        self._draw_status()

    def _draw_status(self) -> None:
        project = self.session.project
        self.save_template_b.disabled = project is None
        if project is None:
            self.status.value = ("<p class='storynb-help'>No project open. Pick one and press "
                                 "<b>Open</b>, or create one on the right.</p>")
            return
        row = project.row
        video = project.video_path()
        self.status.value = (
            f"<div class='storynb-card'><b>Open: #{row['id']} {html.escape(row['name'])}</b> "
            f"{chip(project.state)}<br><span class='storynb-caption'>{html.escape(row['topic'][:240])}"
            f"</span><br><span class='storynb-caption'>{row['language']} · {html.escape(row['style'] or '')}"
            f" · {row['aspect']} · {row['width']}×{row['height']} · {row['fps']} fps · "
            f"{len(project.shots())} shots{' · video ready' if video else ''}</span>"
            f"<div style='margin-top:4px'>{stage_chips(project.status())}</div></div>")

    def _on_stage(self, stage: dict) -> None:
        if stage["status"] in ("done", "failed"):
            self._draw_status()

    # actions ---------------------------------------------------------------------------
    def _selected_id(self) -> int:
        value = self.listing.value
        ids = [v for _, v in self.listing.options]
        if value is None or value not in ids:
            raise InvalidInput("pick a project in the list first")
        return value

    def _open(self) -> None:
        self.session.open(self._selected_id())
        self.ok(f"opened project #{self.session.project.id}")

    def _delete(self) -> None:
        project_id = self._selected_id()
        if self.delete_confirm.value is not True:
            raise InvalidInput("tick 'yes, delete it' first: deleting removes the project's story, "
                               "shots, images and clips")
        project = self.session.studio.project(project_id)
        if self.session.project is not None and self.session.project.id == project_id:
            if self.session.running():
                raise InvalidInput("this project is running: pause it and wait, then delete it")
        project.delete()
        self.delete_confirm.value = False
        if self.session.project is not None and self.session.project.id == project_id:
            self.session.close_project()
        self.refresh()
        self.ok(f"deleted project #{project_id}")

    # importing a bundle ----------------------------------------------------------------
    def _import_upload(self) -> None:
        value = self.upload.value
        if not value:
            return  # cleared
        try:
            name, project = self.import_upload(value)
        finally:
            with self.quiet():
                self.upload.value = ()  # free the bytes; the same file can be picked again
        self.ok(f"imported {name} as project #{project.id} ({project.row['name']}); it is open now")

    def import_upload(self, value):
        """Import the bundle in a FileUpload value: checked, written to a temporary file in the
        studio's media store (same disk), imported, then the list refreshes and it opens."""
        if not isinstance(value, (tuple, list)) or len(value) != 1:
            raise InvalidInput("upload one project bundle (.zip) at a time")
        item = value[0]
        if not isinstance(item, dict):
            raise InvalidInput("the upload is not a file")
        name = text(item.get("name"), "the file name", max_len=255, required=True)
        if not name.lower().endswith(".zip"):
            raise InvalidInput(f"{name} is not a .zip: pick a project bundle (the Export tab's "
                               "bundle download, or project.export_bundle())")
        content = item.get("content")
        if isinstance(content, (bytes, bytearray)):
            content = memoryview(content)
        if not isinstance(content, memoryview):
            raise InvalidInput(f"{name}: the upload carried no file content; pick the file again")
        size = content.nbytes
        if size == 0:
            raise InvalidInput(f"{name} is empty")
        if size > MAX_BUNDLE_BYTES:
            raise InvalidInput(f"{name} is {size / 1024 ** 3:.1f} GB; an upload can be at most "
                               f"{MAX_BUNDLE_BYTES // 1024 ** 3} GB: import it on the server with "
                               f"`storynb import {name}`")
        studio = self.session.studio
        # streamed to a scratch file under the same cap, and a zip by its content (not its name)
        path = intake.receive(studio.media, content, name=name, accept=intake.ZIP,
                              max_bytes=MAX_BUNDLE_BYTES).path
        try:
            try:
                project = studio.import_bundle(path)
            except StorynbError as exc:  # name the user's file, not the temporary one
                message = str(exc).replace(str(path), name).replace(path.name, name)
                raise InvalidInput(message) from None
            except Exception as exc:
                log.error("storynb: importing %s failed:\n%s", name, traceback.format_exc())
                raise InvalidInput(f"cannot import {name} ({type(exc).__name__}: {exc}): is it a "
                                   "bundle from project.export_bundle()?") from None
        finally:
            path.unlink(missing_ok=True)
        self.session.open(project.id)
        self.refresh()
        return name, project

    # templates -------------------------------------------------------------------------
    def _save_template(self) -> None:
        project = self.session.require()
        name = text(self.template_name.value, "the template name", max_len=80, required=True)
        replaced = name in template_names(self.session.studio)
        self.session.studio.save_template(project, name)
        self.template_name.value = ""
        self._fill_templates()
        if self.template.value == name:  # the form shows this template: show the new settings
            self._apply_template()
        self.ok(f"saved the settings of project #{project.id} as template '{name}'"
                f"{' (it replaced the earlier one)' if replaced else ''}; pick it under "
                "'Start from' to start a new project from it")

    def _reset_form(self) -> None:
        self.language.value = "auto"
        self.style.value = "warm"
        self.length.value = "short"
        self.audience.value = ""
        self.aspect.value = "9:16"
        self.shots.value = 0
        self.quality.value = self._default_quality
        self.prompt_set.value = 0
        for dropdown in self.providers.values():
            dropdown.value = ""

    def _drop_template_options(self) -> None:
        """Take the 'from the template' choices out of the quality and provider dropdowns."""
        for dropdown in (self.quality, *self.providers.values()):
            options = [o for o in dropdown.options if o[1] != FROM_TEMPLATE]
            if len(options) != len(dropdown.options):
                value = dropdown.value
                if value == FROM_TEMPLATE:
                    value = self._default_quality if dropdown is self.quality else ""
                dropdown.options = options
                dropdown.value = value

    def _apply_template(self) -> None:
        """Fill the form from the chosen template (the defaults for none); any field can then
        be changed before creating."""
        name = choice(self.template.value, "template", ["", *template_names(self.session.studio)])
        self._template = None
        self._drop_template_options()
        self._reset_form()
        if not name:
            self.info("the form is back to the defaults")
            return
        from ..templates import template_settings

        settings = template_settings(self.session.studio, name)
        notes = []
        self.language.value = settings["language"] if settings.get("language") in ("en", "zh") \
            else "auto"
        self.style.value = normalize_style(settings.get("style")) or "warm"
        if settings.get("length") in LENGTHS:
            self.length.value = settings["length"]
        self.audience.value = settings.get("audience") or ""
        aspect = settings.get("aspect") if settings.get("aspect") in ASPECTS else "9:16"
        self.aspect.value = aspect
        shots = settings.get("shots")
        self.shots.value = shots if isinstance(shots, int) and 4 <= shots <= 12 else 0
        fps = settings.get("fps") or 24
        quality = quality_for(aspect, settings.get("size"), fps)
        if quality is None:
            width, height = settings.get("size") or ASPECTS[aspect]
            self.quality.options = [*self.quality.options,
                                    (f"From the template: {width}×{height}, {fps} fps", FROM_TEMPLATE)]
            quality = FROM_TEMPLATE
        self.quality.value = quality
        set_id = settings.get("prompt_set")
        if set_id in [v for _, v in self.prompt_set.options]:
            self.prompt_set.value = set_id
        elif set_id:
            notes.append(f"its prompt set #{set_id} is gone, so the default one is picked")
        for kind, spec in (settings.get("providers") or {}).items():
            dropdown = self.providers.get(kind)
            if dropdown is None or not spec:
                continue
            if isinstance(spec, str) and spec in [v for _, v in dropdown.options]:
                dropdown.value = spec
            else:
                shown = spec if isinstance(spec, str) else json.dumps(spec, ensure_ascii=False)
                dropdown.options = [*dropdown.options,
                                    (f"from the template: {shown[:60]}", FROM_TEMPLATE)]
                dropdown.value = FROM_TEMPLATE
        self._template = (name, settings)
        self.info(f"the form shows template '{name}'" + (f" ({'; '.join(notes)})" if notes else "")
                  + ": change any field, then create")

    def _chosen_template(self) -> tuple[str, dict] | None:
        """The template the form was filled from, if one is chosen."""
        name = choice(self.template.value, "template", ["", *template_names(self.session.studio)])
        if not name:
            return None
        if self._template is None or self._template[0] != name:
            raise InvalidInput(f"the template '{name}' was not loaded into the form: pick it again")
        return self._template

    # creating --------------------------------------------------------------------------
    def settings(self) -> dict:
        """The form's values, checked (the engine checks them again). With a template chosen,
        every field the form shows is passed explicitly (the form was filled from it), so a
        field set back to its default ('automatic', 'default') overrides the template too."""
        studio = self.session.studio
        template = self._chosen_template()
        saved = template[1] if template else {}
        settings: dict = {}
        name = text(self.project_name.value, "name", max_len=120)
        if name:
            settings["name"] = name
        language = choice(self.language.value, "language", ["auto", "en", "zh"])
        if language != "auto":
            settings["language"] = language
        elif template:
            settings["language"] = None  # detect from the topic
        settings["style"] = text(self.style.value, "style", max_len=60) or "warm"
        settings["length"] = choice(self.length.value, "length", LENGTHS)
        settings["audience"] = text(self.audience.value, "audience", max_len=120)
        aspect = choice(self.aspect.value, "aspect", ASPECTS)
        settings["aspect"] = aspect
        shots = integer(self.shots.value, "shots", 0, 12)
        if shots:
            settings["shots"] = integer(shots, "shots", 4, 12)
        elif template:
            settings["shots"] = None
        if self.quality.value == FROM_TEMPLATE and template:
            if aspect != saved.get("aspect"):
                width, height = saved.get("size") or ASPECTS[saved.get("aspect")]
                raise InvalidInput(f"the template's size {width}×{height} is for {saved.get('aspect')}: "
                                   f"pick a quality for {aspect}")
            settings["size"] = saved.get("size")
            settings["fps"] = saved.get("fps") or 24
        else:
            quality = choice(self.quality.value, "quality", QUALITIES)
            size = size_for(aspect, quality)
            if size:
                settings["size"] = size
            elif template:
                settings["size"] = None  # the aspect's full size
            settings["fps"] = QUALITIES[quality][2]
        set_id = self.prompt_set.value
        if set_id:
            settings["prompt_set"] = choice(set_id, "prompt set",
                                            [s["id"] for s in studio.prompt_sets()])
        elif template:
            settings["prompt_set"] = None  # the default set for the language
        chosen = {}
        template_providers = saved.get("providers") or {}
        for kind, dropdown in self.providers.items():
            if dropdown.value == FROM_TEMPLATE and template_providers.get(kind):
                chosen[kind] = template_providers[kind]
            elif dropdown.value:
                chosen[kind] = choice(dropdown.value, f"{kind} provider",
                                      provider_choices(studio, kind))
        if chosen or template:
            settings["providers"] = chosen
        return settings

    def create(self):
        topic = text(self.topic.value, "the topic", max_len=4000, required=True)
        template = self._chosen_template()
        project = self.session.studio.create_project(
            topic, template=template[0] if template else None, **self.settings())
        self.session.open(project.id)
        self.topic.value = ""
        self.project_name.value = ""
        self.refresh()
        for fn in self.on_created:
            fn(project)
        return project

    def _create(self) -> None:
        project = self.create()
        self.ok(f"created project #{project.id}: run it in the Run tab, or stage by stage")

    def _create_and_run(self) -> None:
        project = self.create()
        self.start(note=f"created project #{project.id}; making the video")
