"""Builds the notebooks in this folder from the cell texts below, with outputs cleared, so they
can be regenerated and reviewed as plain Python:  .venv/bin/python notebooks/build.py"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
          "language_info": {"name": "python"}}


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str, **metadata):
    return new_code_cell(text.strip(), metadata=metadata)


QUICKSTART = [
    md("""
# storynb quick start: a topic becomes a video, one stage per cell

Each stage below is one call (`project.run(["stage"])`) followed by its **panel**: an editable
view of what the stage made. Edit anything in a panel (or in plain Python) before running the
next cell; work that is already done is skipped, so only what your edit changed is redone.

Everything runs offline with the built-in providers: a *draft writer* (deterministic phrase
banks, **not an AI**), a Pillow painter, a camera-motion renderer and local narration. Add real
models in `03_models.ipynb`.
"""),
    code("""
# Parameters (papermill: `papermill 01_quickstart.ipynb out.ipynb -p TOPIC "..." -p SHOTS 6`)
TOPIC = "A lighthouse keeper befriends a lost whale during the longest storm of the year"
SHOTS = 4
SIZE = (360, 640)
SEED = 7
""", tags=["parameters"]),
    code("""
from storynb.widgets import (open_studio, ProjectPanel, RewritePanel, StoryboardPanel,
                             ImagesPanel, CameraPanel, ClipsPanel, ExportPanel, PipelinePanel)

studio = open_studio()   # $STORYNB_STUDIO, else data/studio.db at the top of the repository
studio
"""),
    md("""
## A project from a topic
`size=(360, 640)` keeps this first run quick; leave it out for full HD (1080×1920). `shots`
can be 4 to 12, or left out to follow the story's length.
"""),
    code("""
project = studio.create_project(TOPIC, style="warm", aspect="9:16", shots=SHOTS, size=tuple(SIZE),
                                fps=24, seed=SEED)
project
"""),
    md("""
The Projects panel does the same from a form, lists every project (open, delete) and shows
this one's status at a glance; it updates as the stages below run.
"""),
    code("""
ProjectPanel(project)
"""),
    md("""
## 1 · Rewrite (文案改写): topic → story
Edit the story in the panel and save it as a new version; compare any two versions.
"""),
    code("""
print(project.run(["rewrite"]).summary())
RewritePanel(project)
"""),
    md("""
## 2 · Storyboard (分镜): story → shots
`project.storyboard()` is a DataFrame; the panel is an editable grid (double-click a cell).
"""),
    code("""
print(project.run(["storyboard"]).summary())
project.storyboard()
"""),
    code("""
StoryboardPanel(project)
"""),
    md("""
## 3 · Images (文生图): a picture per shot
Open a shot to see its candidates, change its prompt, or paint it again.
"""),
    code("""
print(project.run(["images"]).summary())
ImagesPanel(project)
"""),
    md("""
## 4 · Camera (运镜): a movement per shot
Pick a movement or a preset, preview it, save your own presets.
"""),
    code("""
print(project.run(["camera"]).summary())
CameraPanel(project)
"""),
    md("""
## 5 · Clips (图生视频): each picture animated
"""),
    code("""
print(project.run(["clips"]).summary())
ClipsPanel(project)
"""),
    md("""
## 6 · Export (导出): the video, its subtitles and a project bundle
"""),
    code("""
print(project.run(["export"]).summary())
ExportPanel(project)
"""),
    md("""
## Change one shot, redo only what it affects
Editing shot 2's image prompt makes a new picture for shot 2, a new clip for shot 2 and a new
export. Everything else is reused (the summary counts what ran and what was up to date).
"""),
    code("""
project.edit_shot(2, image_prompt="a red lighthouse on black rocks, a whale's tail in the storm waves")
report = project.run()
print(report.summary())
print(project.video_path())
"""),
    md("""
## All stages at once, in the background
The pipeline panel runs with `project.run(background=True)`, so the kernel stays free: the bars move while
you keep working. Pause, resume, retry, skip or roll back any stage here.
"""),
    code("""
PipelinePanel(project)
"""),
]

APP = [
    code("""
OPEN_LATEST = True  # parameters: open the newest project when the app starts
""", tags=["parameters"]),
    code("""
from storynb.widgets.page import Start

start = Start(open_latest=OPEN_LATEST)  # served by Voila: built ahead, before a page asks
""", tags=["prepare"]),
    code("""
start.app()  # in the page's language (its browser's, or ?lang=zh)
""", tags=["app"]),
]

PROMPT_AB = [
    md("""
# Prompt experiments: A/B tests of prompt templates

Run two or more **versions** of a stage's template over a **case set** (topics with expected
traits and assertions, versioned in the studio), compare them in a pass/fail matrix, read the
statistics (mean ± 95 % CI, paired per-topic deltas, win rate, a sign test), judge the outputs
**blind and pairwise** (both positions, ties allowed), rate them blind yourself, and let an LLM
critic (clearly labelled) propose the next version. Everything is stored (`ab_runs`,
`ab_judgments`, `ab_case_sets`, `ab_suggestions`), so it can be re-read in any kernel, and
`storynb ab show <experiment>` prints the same report in a terminal.

> **Offline, wording cannot show.** With no provider the offline **draft writer** answers. It is
> not an AI: it writes from the *variables* and ignores the prompt's wording, so the experiment
> says so at once and runs only the structural assertions. Set `PROVIDER` (and `JUDGE`, another
> model) in the parameters cell to a real model from `03_models.ipynb` to compare wording.
"""),
    code("""
# Parameters (papermill: `papermill 02_prompt_ab.ipynb out.ipynb -p PROVIDER deepseek -p JUDGE qwen`)
EXPERIMENT = "hopeful-ending"
CASES = "stories-en"      # a stored case set: ab.cases.list()
PROVIDER = None           # the LLM that writes (None: the offline draft writer)
JUDGE = None              # another LLM that judges and critiques (None: the heuristic checker)
SAMPLES = 1               # samples per cell (seeds SEED, SEED+1, ...)
TEMPERATURE = None        # None: the provider's own
SEED = 1
""", tags=["parameters"]),
    code("""
import pandas as pd
from storynb.experiments import ABTests
from storynb.widgets import open_studio
from storynb.widgets.abtest import BlindRatingPanel, PromptLabPanel

pd.set_option("display.max_colwidth", 120)
studio = open_studio()
ab = ABTests(studio)
ab.cases.list()
"""),
    md("""
## Two versions of the rewrite template
A copy of the shipped English set, then a second version of its `rewrite` template. Every edit
is a new version; the old one stays.
"""),
    code("""
if "ab-demo" not in [s["name"] for s in studio.prompt_sets()]:
    studio.prompts.create_set("ab-demo", "en", "A copy of default-en for A/B tests", copy_from="default-en")
v1 = studio.prompts.template("ab-demo", "rewrite", 1)
v2 = studio.prompts.edit("ab-demo", "rewrite",
                         v1["body"] + "\\nEnd on a hopeful image the reader can see.",
                         system=v1["system"], note="hopeful ending")  # keep the system prompt
print(f"v1: {len(v1['body'])} characters, v{v2['version']}: {len(v2['body'])} characters")
"""),
    md("""
## Run the arms over the case set
An arm is `(set, version)` or `(set, version, {variables it overrides})`. The experiment is
pinned to one stage and one provider; the provider's settings and the seed are in every run's
key, so changing them runs again, while running this cell again unchanged skips what is done.
The arm order is shuffled per topic and sample. Watch for warnings right under the cell.
"""),
    code("""
arms = [("ab-demo", 1), ("ab-demo", v2["version"]), ("ab-demo", v2["version"], {"style": "whimsical"})]
checks = [{"type": "max-latency", "value": 60000}]
if PROVIDER and JUDGE:
    checks.append({"type": "llm-rubric", "value": "the story ends on a hopeful image", "judge": JUDGE})
results = ab.run(EXPERIMENT, "rewrite", arms, cases=CASES, provider=PROVIDER, samples=SAMPLES,
                 temperature=TEMPERATURE, seed=SEED, assertions=checks)
results[["id", "arm", "topic", "sample", "position", "pass", "tokens_in", "tokens_out", "latency_ms", "cost"]]
"""),
    md("""
## The matrix, the prompts and their diff
Cases down, arms across: pass/fail per cell over the samples, failing checks named.
"""),
    code("""
ab.matrix(EXPERIMENT)
"""),
    code("""
print(ab.prompt_diff(EXPERIMENT, "ab-demo v1", f"ab-demo v{v2['version']}"))
ab.compare(EXPERIMENT, metrics=["output", "tokens_in", "tokens_out"])
"""),
    md("""
## Judging: one output at a time, and blind pairwise
`ab.judge` scores each output (the heuristic checker offline, which is *not an AI*; an LLM
with `provider=`). `ab.pairwise` shows a judge the baseline's and another arm's output for the
same case twice, positions swapped, under one fixed rubric; a verdict that flips with the
position counts as a tie. Each judge's verdicts are kept side by side, with their cost.
"""),
    code("""
ab.judge(EXPERIMENT, provider=JUDGE)
ab.pairwise(EXPERIMENT, judge=JUDGE)
ab.judgments(EXPERIMENT, kind="pair")[["judge", "arm_a", "arm_b", "topic", "first", "second", "winner", "consistent"]]
"""),
    md("""
## The report
What `storynb ab show` prints and the app's Prompt lab tab shows: warnings, the matrix, mean ±
95 % CI per arm with the counts of checked, rated and judged runs, the paired sign test per arm
against the baseline, the pairwise verdicts and the cost of generation, judges and critic.
"""),
    code("""
print(ab.report(EXPERIMENT).text())
"""),
    md("""
## Blind human rating
The outputs of one case and sample, in a random order, without their arm; the labels appear
once you save. Ratings go to the same runs (`ab.rate(run_id, 1..5, note)` in code).
"""),
    code("""
BlindRatingPanel(ab, EXPERIMENT)
"""),
    md("""
## Improve, then guard against regressions
With an LLM as `JUDGE`, `ab.suggest` (an **LLM critic**, labelled as such) reads the failures,
judge reasons and rating notes and proposes a revised template. It is saved as a new version
in the companion set `ab-demo~suggested`, marked *suggested*, and joins the next run of this
experiment as an arm. `ab.regress` fails when a candidate scores below the baseline; in CI,
`storynb ab regress <experiment> --baseline … --candidate …` exits 1.
"""),
    code("""
if JUDGE:
    suggestion = ab.suggest(EXPERIMENT, critic=JUDGE)
    print(suggestion["critic"], "→", suggestion["label"]); print(suggestion["diff"])
else:
    print("no LLM critic offline: set JUDGE to an LLM provider to get a suggested template")
print(ab.regress(EXPERIMENT, baseline="ab-demo v1", candidate=f"ab-demo v{v2['version']}").message)
"""),
    md("""
## The Prompt lab panel and reading it back later
The same as the app's tab. A new kernel gets the same tables from the stored runs:
"""),
    code("""
PromptLabPanel(studio)
"""),
    code("""
from storynb import Studio

ABTests(Studio(studio.path)).compare(EXPERIMENT, metrics=["pass", "judge_score", "tokens_in", "cost"])
"""),
]

MODELS = [
    md("""
# Models: providers, routing and usage

Providers do the work of each stage: `llm` (story, storyboard, camera), `text2image`,
`image2video` and `tts`. The built-in offline ones need no key. Add real services (any
OpenAI-compatible chat API, OpenAI-style images, Stable Diffusion WebUI, ComfyUI, video task
APIs, text to speech) with `studio.providers.add(...)`: the key is encrypted before it is stored
and only a hint of it is ever shown (here, in DataFrames, in the panel, in logs).
"""),
    code("""
USAGE_ROWS = 20  # parameters: how many rows of the usage table to show
""", tags=["parameters"]),
    code("""
from storynb.widgets import open_studio, ModelsPanel
from storynb.widgets.models import usage_frame

studio = open_studio()
studio.providers.frame()[["name", "kind", "type", "model", "key", "active", "weight", "priority", "rpm", "rpd"]]
"""),
    md("""
## Adding a provider
With a key from your account (never typed into a cell that you share, use `getpass`):

```python
from getpass import getpass
studio.providers.add("deepseek", "llm", "openai_chat", url="https://api.deepseek.com/v1",
                     key=getpass("DeepSeek key: "), model="deepseek-chat",
                     params={"temperature": 0.8}, rpm=60,
                     price={"per_1k_input": 0.00027, "per_1k_output": 0.0011})
studio.providers.test("deepseek")      # a cheap call that costs no generation
```
Adapter types by kind:
"""),
    code("""
from storynb.providers.registry import adapter_types
{kind: [t for t, k in adapter_types().items() if k == kind] for kind in ("llm", "text2image", "image2video", "tts")}
"""),
    md("""
## Test connection
The offline providers answer at once; a real one makes a cheap call (a model list or a health
route) and reports its latency, or the error class and a redacted message.
"""),
    code("""
[studio.providers.test(name) for name in ("draft-writer", "local-painter")]
"""),
    md("""
## Routing
A project can spread a stage over several providers with a strategy (`round_robin`, `random`,
`weighted`, `least_loaded`); failures retry with backoff, then fail over to the next provider,
and a provider that keeps failing cools down for a while:

```python
project.update(providers={"llm": {"providers": ["deepseek", "qwen", "draft-writer"],
                                  "strategy": "weighted"}})
```
"""),
    md("""
## Usage and cost
Every call is a row in the call log (provider, stage, tokens, latency, status, cost). Per
provider per day:
"""),
    code("""
usage_frame(studio).tail(USAGE_ROWS)
"""),
    md("""
## The Models panel
The same, as the no-code app shows it: providers with masked keys, test connection, on/off,
adding a provider, and usage and cost as charts.
"""),
    code("""
ModelsPanel(studio)
"""),
]


# The report of one project, executed by `storynb batch` (papermill) for every topic. It ships
# inside the package (storynb/reports/report.ipynb) so an installed storynb can run batches.
REPORT = [
    code("""
# parameters (papermill replaces them)
studio_path = ""
project_id = 0
""", tags=["parameters"]),
    code("""
import base64, html
from pathlib import Path
from IPython.display import HTML, Markdown, Video, display
from storynb import Studio

studio = Studio(studio_path or None)
project = studio.project(project_id)
row = project.row
display(Markdown(f"# {row['name']}\\n\\n**Topic:** {row['topic']}  \\n"
                 f"**Project** {project.id} · {row['language']} · {row['style']} · "
                 f"{row['width']}×{row['height']} @ {row['fps']} fps · status **{project.state}**"))
"""),
    md("## Story"),
    code("""
display(Markdown(project.story() or "_(no story yet)_"))
"""),
    md("## Storyboard"),
    code("""
project.storyboard()
"""),
    md("## Thumbnails (the chosen image of each shot)"),
    code("""
tiles = []
for shot in project.shots():
    image = project.chosen_image(shot["seq"])
    if image and image["thumb"] and studio.media.exists(image["thumb"]):
        data = base64.b64encode(studio.media.path(image["thumb"]).read_bytes()).decode()
        tiles.append(f'<figure style="margin:4px;width:160px"><img style="width:160px" '
                     f'src="data:image/jpeg;base64,{data}"/><figcaption style="font-size:11px">'
                     f'{shot["seq"]}. {html.escape(shot["scene"][:80])}</figcaption></figure>')
display(HTML('<div style="display:flex;flex-wrap:wrap">' + "".join(tiles) + "</div>"
             if tiles else "<i>no images yet</i>"))
"""),
    md("## The video"),
    code("""
video = Path("video.mp4") if Path("video.mp4").exists() else project.video_path()
display(Video(str(video), width=320) if video else Markdown("_(no video yet)_"))
print(project.video_path())
"""),
    md("## Calls and cost"),
    code("""
calls = project.calls()
if len(calls):
    by_stage = calls.groupby(["stage", "provider"]).agg(
        calls=("id", "count"), failed=("status", lambda s: int((s != "ok").sum())),
        tokens_in=("tokens_in", "sum"), tokens_out=("tokens_out", "sum"),
        latency_ms=("latency_ms", "sum"), cost=("cost", "sum")).reset_index()
    display(by_stage)
    print(f"{len(calls)} calls, ${calls['cost'].fillna(0).sum():.4f} in all")
else:
    print("no calls")
"""),
]


def build() -> list[Path]:
    written = []
    for name, cells in (("01_quickstart.ipynb", QUICKSTART), ("app.ipynb", APP),
                        ("02_prompt_ab.ipynb", PROMPT_AB), ("03_models.ipynb", MODELS)):
        notebook = new_notebook(cells=cells, metadata=dict(KERNEL))
        if name == "app.ipynb":
            notebook.metadata["voila"] = {"template": "storynb"}
        for i, cell in enumerate(notebook.cells):  # stable ids keep diffs small
            cell["id"] = f"{Path(name).stem.replace('_', '-')}-{i:02d}"
        nbformat.validate(notebook)
        path = HERE / name
        nbformat.write(notebook, path)
        written.append(path)
    package = HERE.parent / "storynb"
    if package.is_dir():  # the batch report ships inside the package (storynb/reports/)
        path = package / "reports" / "report.ipynb"
        path.parent.mkdir(exist_ok=True)
        nbformat.write(report_notebook(), path)
        written.append(path)
    return written


def report_notebook():
    """The report notebook `storynb batch` executes for every topic (papermill parameters:
    studio_path, project_id)."""
    report = new_notebook(cells=REPORT, metadata=dict(KERNEL))
    for i, cell in enumerate(report.cells):
        cell["id"] = f"report-{i:02d}"
    nbformat.validate(report)
    return report


if __name__ == "__main__":
    for path in build():
        print(path.relative_to(HERE.parent))
