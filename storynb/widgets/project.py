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
from .base import Panel, chip, choice, integer, stage_chips, status_word, text
from .i18n import style_key, style_name, style_names, t, translate

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
        self.open_b = self.button(t("project.open"), self._open, style="primary")
        self.delete_confirm = W.Checkbox(value=False, description=t("project.yes_delete"),
                                         indent=False, layout=W.Layout(width="auto"))
        self.delete_b = self.button(t("project.delete"), self._delete, style="danger")
        self.refresh_b = self.button(t("project.refresh"), self.refresh)
        self.status = W.HTML()
        self.status.add_class("storynb-project-status")
        # save the open project's settings as a template
        self.template_name = W.Text(placeholder=t("project.template_placeholder"),
                                    layout=W.Layout(flex="1 1 200px", width="auto"))
        self.template_name.add_class("storynb-template-name")
        self.save_template_b = self.button(t("project.save_template"), self._save_template,
                                           tooltip=t("project.save_template_tip"))
        # import a bundle
        self.upload = W.FileUpload(accept=".zip", multiple=False, description=t("project.import"),
                                   icon="upload", layout=W.Layout(width="auto"))
        self.upload.add_class("storynb-import")
        self.on_value(self.upload, self._import_upload)
        left = W.VBox([
            W.HTML(f"<b>{html.escape(t('project.yours'))}</b>"), self.listing,
            W.HBox([self.open_b, self.refresh_b, self.delete_b, self.delete_confirm],
                   layout=W.Layout(flex_flow="row wrap", align_items="center")),
            self.message, self.status,
            W.HBox([self.template_name, self.save_template_b],
                   layout=W.Layout(flex_flow="row wrap", align_items="center")),
            W.HTML(f"<b>{html.escape(t('project.import_title'))}</b>"),
            W.HBox([self.upload, W.HTML(
                "<span class='storynb-caption'>"
                + html.escape(t("project.import_help", gb=MAX_BUNDLE_BYTES // 1024 ** 3)) + "</span>")],
                layout=W.Layout(flex_flow="row wrap", align_items="center"))],
            layout=W.Layout(flex="1 1 360px", min_width="320px"))
        # the form --------------------------------------------------------------------------
        wide = W.Layout(width="98%")
        self.topic = W.Textarea(placeholder=t("flow.topic_placeholder"),
                                layout=W.Layout(width="98%", height="80px"))
        self.topic.add_class("storynb-topic")
        self.project_name = W.Text(placeholder=t("project.name_placeholder"), description=t("project.name"),
                                   layout=wide)
        self.template = W.Dropdown(options=[(t("project.no_template"), "")], value="",
                                   description=t("project.start_from"), layout=wide)
        self.template.add_class("storynb-template")
        self._template: tuple[str, dict] | None = None  # (name, settings) the form was filled from
        self._default_quality = default_quality
        self.language = W.Dropdown(options=[(t("project.lang_auto"), "auto"), ("English", "en"),
                                            ("中文", "zh")], value="auto",
                                   description=t("project.language"), layout=wide)
        self.style = W.Combobox(options=style_names(), value=style_name("warm"), description=t("rewrite.style"),
                                ensure_option=False, layout=wide)
        self.length = W.Dropdown(options=[(t(f"rewrite.length_{n}"), n) for n in LENGTHS], value="short",
                                 description=t("rewrite.length"), layout=wide)
        self.audience = W.Text(placeholder=t("rewrite.anyone"), description=t("rewrite.audience"), layout=wide)
        self.aspect = W.Dropdown(options=[(t("project.aspect_vertical"), "9:16"), (t("project.aspect_wide"), "16:9"),
                                          (t("project.aspect_square"), "1:1")], value="9:16",
                                 description=t("project.aspect"), layout=wide)
        self.shots = W.Dropdown(options=[(t("flow.shots_auto"), 0)] + [(str(n), n) for n in range(4, 13)],
                                value=0, description=t("flow.shots"), layout=wide)
        self.quality = W.Dropdown(options=[(t(f"project.quality_{key}"), key) for key in QUALITIES],
                                  value=default_quality, description=t("project.quality"), layout=wide)
        self.prompt_set = W.Dropdown(options=[], description=t("project.prompts"), layout=wide)
        self.providers = {kind: W.Dropdown(options=[], description=t(f"project.kind_{kind}"), layout=wide)
                          for kind in KINDS}
        for w in (self.project_name, self.template, self.language, self.style, self.length, self.audience,
                  self.aspect, self.shots, self.quality, self.prompt_set, *self.providers.values()):
            w.style.description_width = "80px"
        self.quality.add_class("storynb-quality")
        self.shots.add_class("storynb-shots")
        self.listing.add_class("storynb-listing")
        self.create_message = W.HTML()
        self.create_message.add_class("storynb-msg")
        self.create_b = self.button(t("project.create"), self._create, style="primary")
        self.create_run_b = self.button(t("project.create_run"), self._create_and_run,
                                        style="success")
        right = W.VBox([
            W.HTML(f"<b>{html.escape(t('project.new'))}</b>"), self.topic, self.project_name, self.template,
            W.HBox([W.VBox([self.language, self.style, self.length, self.audience],
                           layout=W.Layout(flex="1")),
                    W.VBox([self.aspect, self.shots, self.quality, self.prompt_set],
                           layout=W.Layout(flex="1"))], layout=W.Layout()),
            W.Accordion([W.VBox(list(self.providers.values()))], titles=(t("project.providers"),),
                        selected_index=None),
            W.HBox([self.create_b, self.create_run_b], layout=W.Layout(flex_flow="row wrap")),
            self.create_message],
            layout=W.Layout(flex="1 1 420px", min_width="360px"))
        columns = W.HBox([left, right], layout=W.Layout(flex_flow="row wrap",
                                                        align_items="flex-start"))
        columns.add_class("storynb-columns")
        self.body.children = [columns]
        self.children = [*self.header, self.body]  # messages sit beside the controls
        self.on_created: list = []  # callables(project), e.g. the app switches tab
        self._fill_choices(studio)
        self._fill_templates()
        self.on_value(self.template, self._apply_template)
        self.session.on("run", lambda _what: self._draw_status())
        self.session.on("stage", self._on_stage)
        self.redraw()

    # drawing ---------------------------------------------------------------------------
    def _fill_choices(self, studio) -> None:
        sets = studio.prompt_sets()
        self.prompt_set.options = [(t("project.default_set"), 0)] + [
            (f"{s['name']} ({s['language']})", s["id"]) for s in sets]
        self.prompt_set.value = 0
        for kind, dropdown in self.providers.items():
            names = provider_choices(studio, kind)
            dropdown.options = [(t("project.default"), "")] + [(n, n) for n in names]
            dropdown.value = ""

    def _fill_templates(self) -> None:
        """The saved templates in the 'Start from' dropdown (the choice kept if it still exists)."""
        names = template_names(self.session.studio)
        current = self.template.value
        with self.quiet():
            self.template.options = [(t("project.no_template"), "")] + [
                (t("project.template_n", name=n), n) for n in names]
            self.template.value = current if current in names else ""
        if current and current not in names:
            self._template = None

    def refresh(self) -> None:
        frame = self.session.studio.projects()
        current = self.session.project.id if self.session.project else None
        options = [(f"#{r.id}  {r.name}  · {status_word(str(r.status))}", int(r.id))
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
            self.status.value = f"<p class='storynb-help'>{html.escape(t('project.none_open'))}</p>"
            return
        row = project.row
        video = project.video_path()
        facts = t("project.facts", language=row["language"], style=style_name(row["style"] or ""), aspect=row["aspect"],
                  width=row["width"], height=row["height"], fps=row["fps"], shots=len(project.shots()))
        if video:
            facts += t("project.video_ready")
        self.status.value = (
            f"<div class='storynb-card'><b>{html.escape(t('project.open_now', id=row['id'], name=row['name']))}</b> "
            f"{chip(project.state)}<br><span class='storynb-caption'>{html.escape(row['topic'][:240])}"
            f"</span><br><span class='storynb-caption'>{html.escape(facts)}</span>"
            f"<div style='margin-top:4px'>{stage_chips(project.status())}</div></div>")

    def _on_stage(self, stage: dict) -> None:
        if stage["status"] in ("done", "failed"):
            self._draw_status()

    # actions ---------------------------------------------------------------------------
    def _selected_id(self) -> int:
        value = self.listing.value
        ids = [v for _, v in self.listing.options]
        if value is None or value not in ids:
            raise InvalidInput(t("project.pick_first"))
        return value

    def _open(self) -> None:
        self.session.open(self._selected_id())
        self.ok(t("project.opened", id=self.session.require().id))

    def _delete(self) -> None:
        project_id = self._selected_id()
        if self.delete_confirm.value is not True:
            raise InvalidInput(t("project.tick_first"))
        project = self.session.studio.project(project_id)
        if self.session.project is not None and self.session.project.id == project_id:
            if self.session.running():
                raise InvalidInput(t("project.running_delete"))
        project.delete()
        self.delete_confirm.value = False
        if self.session.project is not None and self.session.project.id == project_id:
            self.session.close_project()
        self.refresh()
        self.ok(t("project.deleted", id=project_id))

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
        self.ok(t("project.imported", file=name, id=project.id, name=project.row["name"]))

    def import_upload(self, value):
        """Import the bundle in a FileUpload value: checked, written to a temporary file in the
        studio's media store (same disk), imported, then the list refreshes and it opens."""
        if not isinstance(value, (tuple, list)) or len(value) != 1:
            raise InvalidInput(t("project.one_at_a_time"))
        item = value[0]
        if not isinstance(item, dict):
            raise InvalidInput(t("project.not_a_file"))
        name = text(item.get("name"), t("project.file_name"), max_len=255, required=True)
        if not name.lower().endswith(".zip"):
            raise InvalidInput(t("project.not_zip", name=name))
        content = item.get("content")
        if isinstance(content, (bytes, bytearray)):
            content = memoryview(content)
        if not isinstance(content, memoryview):
            raise InvalidInput(t("project.no_content", name=name))
        size = content.nbytes
        if size == 0:
            raise InvalidInput(t("project.empty_file", name=name))
        if size > MAX_BUNDLE_BYTES:
            raise InvalidInput(t("project.too_big", name=name, size=f"{size / 1024 ** 3:.1f}",
                                 limit=MAX_BUNDLE_BYTES // 1024 ** 3))
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
                raise InvalidInput(t("project.cannot_import", name=name,
                                     error=f"{type(exc).__name__}: {exc}")) from None
        finally:
            path.unlink(missing_ok=True)
        self.session.open(project.id)
        self.refresh()
        return name, project

    # templates -------------------------------------------------------------------------
    def _save_template(self) -> None:
        project = self.session.require()
        name = text(self.template_name.value, t("project.template_field"), max_len=80, required=True)
        replaced = name in template_names(self.session.studio)
        self.session.studio.save_template(project, name)
        self.template_name.value = ""
        self._fill_templates()
        if self.template.value == name:  # the form shows this template: show the new settings
            self._apply_template()
        self.ok(t("project.template_saved_replaced" if replaced else "project.template_saved",
                  id=project.id, name=name))

    def _reset_form(self) -> None:
        self.language.value = "auto"
        self.style.value = style_name("warm")
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
        name = choice(self.template.value, t("project.template_field"), ["", *template_names(self.session.studio)])
        self._template = None
        self._drop_template_options()
        self._reset_form()
        if not name:
            self.info(t("project.form_defaults"))
            return
        from ..templates import template_settings

        settings = template_settings(self.session.studio, name)
        notes = []
        self.language.value = settings["language"] if settings.get("language") in ("en", "zh") \
            else "auto"
        self.style.value = style_name(normalize_style(settings.get("style")) or "warm")
        if settings.get("length") in LENGTHS:
            self.length.value = settings["length"]
        self.audience.value = settings.get("audience") or ""
        aspect = str(settings.get("aspect")) if settings.get("aspect") in ASPECTS else "9:16"
        self.aspect.value = aspect
        shots = settings.get("shots")
        self.shots.value = shots if isinstance(shots, int) and 4 <= shots <= 12 else 0
        fps = settings.get("fps") or 24
        quality = quality_for(aspect, settings.get("size"), fps)
        if quality is None:
            width, height = settings.get("size") or ASPECTS[aspect]
            self.quality.options = [*self.quality.options,
                                    (t("project.from_template_size", width=width, height=height, fps=fps),
                                     FROM_TEMPLATE)]
            quality = FROM_TEMPLATE
        self.quality.value = quality
        set_id = settings.get("prompt_set")
        if set_id in [v for _, v in self.prompt_set.options]:
            self.prompt_set.value = set_id
        elif set_id:
            notes.append(t("project.set_gone", id=set_id))
        for kind, spec in (settings.get("providers") or {}).items():
            dropdown = self.providers.get(kind)
            if dropdown is None or not spec:
                continue
            if isinstance(spec, str) and spec in [v for _, v in dropdown.options]:
                dropdown.value = spec
            else:
                shown = spec if isinstance(spec, str) else json.dumps(spec, ensure_ascii=False)
                dropdown.options = [*dropdown.options,
                                    (t("project.from_template", what=shown[:60]), FROM_TEMPLATE)]
                dropdown.value = FROM_TEMPLATE
        self._template = (name, settings)
        self.info(t("project.form_shows", name=name, notes=(" (" + "; ".join(notes) + ")") if notes else ""))

    def _chosen_template(self) -> tuple[str, dict] | None:
        """The template the form was filled from, if one is chosen."""
        name = choice(self.template.value, "template", ["", *template_names(self.session.studio)])
        if not name:
            return None
        if self._template is None or self._template[0] != name:
            raise InvalidInput(t("project.template_not_loaded", name=name))
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
        name = text(self.project_name.value, t("project.name"), max_len=120)
        if name:
            settings["name"] = name
        language = choice(self.language.value, t("project.language"), ["auto", "en", "zh"])
        if language != "auto":
            settings["language"] = language
        elif template:
            settings["language"] = None  # detect from the topic
        settings["style"] = style_key(text(self.style.value, t("rewrite.style"), max_len=60)) or "warm"
        settings["length"] = choice(self.length.value, t("rewrite.length"), LENGTHS)
        settings["audience"] = text(self.audience.value, t("rewrite.audience"), max_len=120)
        aspect = choice(self.aspect.value, t("project.aspect"), ASPECTS)
        settings["aspect"] = aspect
        shots = integer(self.shots.value, t("flow.shots"), 0, 12)
        if shots:
            settings["shots"] = integer(shots, t("flow.shots"), 4, 12)
        elif template:
            settings["shots"] = None
        if self.quality.value == FROM_TEMPLATE and template:
            if aspect != saved.get("aspect"):
                width, height = saved.get("size") or ASPECTS[str(saved.get("aspect"))]
                raise InvalidInput(t("project.template_size", width=width, height=height,
                                     saved=saved.get("aspect"), aspect=aspect))
            settings["size"] = saved.get("size")
            settings["fps"] = saved.get("fps") or 24
        else:
            quality = choice(self.quality.value, t("project.quality"), QUALITIES)
            size = size_for(aspect, quality)
            if size:
                settings["size"] = size
            elif template:
                settings["size"] = None  # the aspect's full size
            settings["fps"] = QUALITIES[quality][2]
        set_id = self.prompt_set.value
        if set_id:
            settings["prompt_set"] = choice(set_id, t("project.prompts"),
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
        topic = text(self.topic.value, t("flow.topic_field"), max_len=4000, required=True)
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

    def _form_says(self, kind: str, message: str) -> None:
        self.create_message.value = f"<span class='{kind}'>{html.escape(message)}</span>"

    def _checked_create(self):
        """create(), with what went wrong shown under the form's buttons."""
        try:
            return self.create()
        except StorynbError as exc:
            self._form_says("err", translate(str(exc)))
            return None

    def _create(self) -> None:
        project = self._checked_create()
        if project is None:
            return
        self._form_says("ok", t("project.created", id=project.id))

    def _create_and_run(self) -> None:
        project = self._checked_create()
        if project is None:
            return
        self.create_message.value = ""
        self.start(note=t("project.created_making", id=project.id))
