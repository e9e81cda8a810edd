"""Project panel: the project list, a new-project form, open and delete, status at a glance."""
from __future__ import annotations

import html

import ipywidgets as W

from ..errors import InvalidInput
from ..project import ASPECTS, LENGTHS
from ..providers.base import KINDS
from .base import Panel, chip, choice, integer, stage_chips, text

# Output sizes a person picks by name; the engine checks the size against the aspect.
QUALITIES = {
    "draft": ("Draft: small and fast (144 px, 12 fps)", 144, 12),
    "preview": ("Preview (360 px, 24 fps)", 360, 24),
    "full": ("Full HD (1080 px, 24 fps)", None, 24),
}
STYLES = ["warm", "whimsical", "suspenseful", "melancholic", "epic", "playful", "documentary"]
KIND_LABELS = {"llm": "Writer (LLM)", "text2image": "Images", "image2video": "Video",
               "tts": "Narration"}


def size_for(aspect: str, quality: str) -> tuple[int, int] | None:
    """The (width, height) of a quality preset at an aspect ratio (None: the aspect's full size)."""
    short = QUALITIES[quality][1]
    if short is None:
        return None
    w, h = ASPECTS[aspect]
    scale = short / min(w, h)
    return round(w * scale / 2) * 2, round(h * scale / 2) * 2


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
        left = W.VBox([
            W.HTML("<b>Your projects</b>"), self.listing,
            W.HBox([self.open_b, self.refresh_b, self.delete_b, self.delete_confirm],
                   layout=W.Layout(flex_flow="row wrap", align_items="center")),
            self.status], layout=W.Layout(flex="1 1 360px", min_width="320px"))
        # the form --------------------------------------------------------------------------
        wide = W.Layout(width="98%")
        self.topic = W.Textarea(placeholder="What is the story about? A sentence or a paragraph, "
                                "in English or Chinese. 例如：一只想看海的小猫",
                                layout=W.Layout(width="98%", height="80px"))
        self.topic.add_class("storynb-topic")
        self.project_name = W.Text(placeholder="(from the topic)", description="Name",
                                   layout=wide)
        self.language = W.Dropdown(options=[("Detect from the topic", "auto"), ("English", "en"),
                                            ("中文 Chinese", "zh")], value="auto",
                                   description="Language", layout=wide)
        self.style = W.Combobox(options=STYLES, value="warm", description="Style",
                                ensure_option=False, layout=wide)
        self.length = W.Dropdown(options=list(LENGTHS), value="short", description="Length",
                                 layout=wide)
        self.audience = W.Text(placeholder="(anyone)", description="Audience", layout=wide)
        self.aspect = W.Dropdown(options=[("9:16 vertical", "9:16"), ("16:9 wide", "16:9"),
                                          ("1:1 square", "1:1")], value="9:16",
                                 description="Aspect", layout=wide)
        self.shots = W.Dropdown(options=[("automatic", 0)] + [(str(n), n) for n in range(4, 13)],
                                value=0, description="Shots", layout=wide)
        self.quality = W.Dropdown(options=[(label, key) for key, (label, _, _) in QUALITIES.items()],
                                  value=default_quality, description="Quality", layout=wide)
        self.prompt_set = W.Dropdown(options=[], description="Prompts", layout=wide)
        self.providers = {kind: W.Dropdown(options=[], description=KIND_LABELS[kind], layout=wide)
                          for kind in KINDS}
        for w in (self.project_name, self.language, self.style, self.length, self.audience,
                  self.aspect, self.shots, self.quality, self.prompt_set, *self.providers.values()):
            w.style.description_width = "80px"
        self.quality.add_class("storynb-quality")
        self.shots.add_class("storynb-shots")
        self.listing.add_class("storynb-listing")
        self.create_b = self.button("Create project", self._create, style="primary")
        self.create_run_b = self.button("Create and make the video", self._create_and_run,
                                        style="success")
        right = W.VBox([
            W.HTML("<b>New project</b>"), self.topic, self.project_name,
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
        self.session.on("event", self._on_event)
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

    def refresh(self) -> None:
        frame = self.session.studio.projects()
        current = self.session.project.id if self.session.project else None
        options = [(f"#{r.id}  {r.name}  · {r.status}", int(r.id))
                   for r in frame.sort_values("id", ascending=False).itertuples()]
        self.listing.options = options
        ids = [v for _, v in options]
        if current in ids:
            self.listing.value = current
        self._draw_status()

    def _draw_status(self) -> None:
        project = self.session.project
        if project is None:
            self.status.value = ("<p class='storynb-help'>No project open. Pick one and press "
                                 "<b>Open</b>, or create one on the right.</p>")
            return
        row = project.row
        video = project.video_path()
        self.status.value = (
            f"<div class='storynb-card'><b>Open: #{row['id']} {html.escape(row['name'])}</b> "
            f"{chip(row['status'])}<br><span class='storynb-caption'>{html.escape(row['topic'][:240])}"
            f"</span><br><span class='storynb-caption'>{row['language']} · {html.escape(row['style'] or '')}"
            f" · {row['aspect']} · {row['width']}×{row['height']} · {row['fps']} fps · "
            f"{len(project.shots())} shots{' · video ready' if video else ''}</span>"
            f"<div style='margin-top:4px'>{stage_chips(project.status())}</div></div>")

    def _on_event(self, event) -> None:
        if event.kind in ("stage_done", "run_start", "run_done"):
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

    def settings(self) -> dict:
        """The form's values, checked (the engine checks them again)."""
        studio = self.session.studio
        settings: dict = {}
        name = text(self.project_name.value, "name", max_len=120)
        if name:
            settings["name"] = name
        language = choice(self.language.value, "language", ["auto", "en", "zh"])
        if language != "auto":
            settings["language"] = language
        settings["style"] = text(self.style.value, "style", max_len=60) or "warm"
        settings["length"] = choice(self.length.value, "length", LENGTHS)
        settings["audience"] = text(self.audience.value, "audience", max_len=120)
        aspect = choice(self.aspect.value, "aspect", ASPECTS)
        settings["aspect"] = aspect
        shots = integer(self.shots.value, "shots", 0, 12)
        if shots:
            settings["shots"] = integer(shots, "shots", 4, 12)
        quality = choice(self.quality.value, "quality", QUALITIES)
        size = size_for(aspect, quality)
        if size:
            settings["size"] = size
        settings["fps"] = QUALITIES[quality][2]
        set_id = self.prompt_set.value
        if set_id:
            settings["prompt_set"] = choice(set_id, "prompt set",
                                            [s["id"] for s in studio.prompt_sets()])
        chosen = {}
        for kind, dropdown in self.providers.items():
            if dropdown.value:
                chosen[kind] = choice(dropdown.value, f"{kind} provider",
                                      provider_choices(studio, kind))
        if chosen:
            settings["providers"] = chosen
        return settings

    def create(self):
        topic = text(self.topic.value, "the topic", max_len=4000, required=True)
        project = self.session.studio.create_project(topic, **self.settings())
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
