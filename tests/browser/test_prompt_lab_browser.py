"""The app's Prompt lab tab in a real Chromium: an experiment made against the prompt-reading
fake model shows the same report `storynb ab show` prints; blind rating hides the arms until
saved; a wording-only experiment started from the tab's form says at once it cannot show a
difference offline."""
import os
import subprocess
import sys
import time

import pytest

from storynb.experiments import ABTests
from tests.fakes.prompt_model import PromptModelFake

TOPICS = ["A lighthouse keeper befriends a lost whale", "A robot learns to paint",
          "Two bakers share one oven"]


@pytest.fixture(scope="module")
def lab_experiment(browser_studio, tmp_path_factory):
    studio = browser_studio
    os.environ.setdefault("STORYNB_KEY_FILE", str(tmp_path_factory.mktemp("keys") / "secret.key"))
    with PromptModelFake() as server:
        studio.providers.add("writer", "llm", "openai_chat", url=server.url + "/v1",
                             model="fake-writer", params={"temperature": 0.7})
        studio.providers.add("judge", "llm", "openai_chat", url=server.url + "/v1", model="fake-judge")
        studio.prompts.create_set("lab", "en", copy_from="default-en")
        v1 = studio.prompts.template("lab", "rewrite", 1)
        studio.prompts.edit("lab", "rewrite", v1["body"] + "\nEnd with a twist.", note="twist")
        ab = ABTests(studio)
        ab.run("twist", "rewrite", [("lab", 1), ("lab", 2)], topics=TOPICS, provider="writer",
               samples=3, assertions=[{"type": "llm-rubric", "value": "has a 'twist'", "judge": "judge"}])
        ab.pairwise("twist", judge="judge")
        # the app's kernel only reads these: it never calls the fake model
        studio.providers.deactivate("writer")
        studio.providers.deactivate("judge")
    return ab


@pytest.fixture(scope="module")
def voila_url(lab_experiment, voila_url):  # the experiment exists before the app starts
    return voila_url


def test_prompt_lab_tab(page, browser_studio, lab_experiment, screenshot):
    page.locator(".storynb-app").wait_for(state="visible", timeout=90_000)
    page.get_by_role("tab", name="Prompt lab").click()
    report = page.locator(".storynb-ab-report")
    report.wait_for(state="visible", timeout=30_000)
    page.locator(".storynb-ab-report", has_text="lab v2 beats lab v1 on 3 of 3 topics").wait_for()
    shown = report.inner_text()
    cli = subprocess.run([sys.executable, "-m", "storynb.cli", "--studio", str(browser_studio.path),
                          "ab", "show", "twist"], capture_output=True, text=True, env=dict(os.environ))
    assert cli.returncode == 0, cli.stderr
    assert [line.rstrip() for line in shown.strip().splitlines()] == \
        [line.rstrip() for line in cli.stdout.strip().splitlines()]
    # the rendered prompts beside the outputs, and their diff
    page.locator(".storynb-ab-output").first.wait_for(state="visible")
    assert page.locator(".storynb-ab-output").count() == 2
    page.locator(".storynb-diff", has_text="+End with a twist.").wait_for()
    screenshot(page, "20-prompt-lab")

    # blind rating: no arm names until the ratings are saved
    page.get_by_role("button", name="Rate blind…").click()
    cards = page.locator(".storynb-blind-card")
    cards.first.wait_for(state="visible")
    assert cards.count() == 2
    assert "lab v" not in " ".join(cards.all_inner_texts())
    page.locator(".storynb-blind-rating-1").get_by_role("button", name="4", exact=True).click()
    page.get_by_role("button", name="Save ratings").click()
    page.locator(".storynb-blind-label").first.wait_for(state="visible")
    assert "lab v" in " ".join(cards.all_inner_texts())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not lab_experiment.results("twist")["rating"].notna().any():
        time.sleep(0.1)
    assert lab_experiment.results("twist")["rating"].notna().sum() == 1
    screenshot(page, "21-blind-rating-saved")

    # a wording-only experiment from the form, offline: the warning shows at once
    page.get_by_text("New run", exact=True).click()
    page.locator(".storynb-ab-name input").fill("offline-wording")
    page.locator(".storynb-ab-arms input").fill("lab:1, lab:2")
    page.locator(".storynb-ab-cases select").select_option(value=None, label="stories-en v1 (en, 3)")
    page.locator(".storynb-ab-provider select").select_option(label="draft-writer")
    page.get_by_role("button", name="▶ Run experiment").click()
    page.locator(".storynb-promptlab .storynb-msg", has_text="'offline-wording': done").wait_for(timeout=60_000)
    page.locator(".storynb-ab-warning", has_text="wording-only experiment").wait_for()
    assert "cannot show" in page.locator(".storynb-ab-warning").first.inner_text()
    page.locator(".storynb-ab-report", has_text="experiment offline-wording").wait_for()
    outputs = page.locator(".storynb-ab-output")
    page.wait_for_function("() => [...document.querySelectorAll('.storynb-ab-output')]"
                           ".every((e) => e.innerText.includes('not checked'))")
    assert outputs.count() == 2
    screenshot(page, "22-prompt-lab-offline-warning")
    assert not page.page_errors, page.page_errors
    assert all("fontawesome" in url for url in page.blocked), page.blocked  # Voila's own template asks for it
