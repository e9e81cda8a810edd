"""Every notebook runs top to bottom with the offline providers (nbval, as a user would run it),
and the A/B comparison it stores can be read back by a new process."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nbval")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["01_quickstart.ipynb", "app.ipynb", "02_prompt_ab.ipynb", "03_models.ipynb"]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """All four notebooks through nbval (--nbval-lax: every cell must run without an error)."""
    studio = tmp_path_factory.mktemp("notebooks") / "studio.db"
    env = {**os.environ, "STORYNB_STUDIO": str(studio),
           "STORYNB_KEY_FILE": str(studio.parent / "secret.key")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
         "--rootdir", str(ROOT / "notebooks"), *[str(ROOT / "notebooks" / n) for n in NOTEBOOKS]],
        cwd=ROOT / "notebooks", env=env, capture_output=True, text=True, timeout=600)
    return studio, result


def test_every_notebook_runs_with_the_offline_providers(executed):
    _, result = executed
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_the_quickstart_made_a_video_and_redid_only_one_shot(executed):
    from storynb import Studio

    studio_path, result = executed
    assert result.returncode == 0
    studio = Studio(studio_path)
    project = studio.project(1)
    assert Path(project.video_path()).is_file()
    assert project.shot(2)["image_prompt"].startswith("a red lighthouse")
    images = dict(studio.db.execute("select s.seq, count(*) from images i join shots s "
                                    "on s.id = i.shot_id where i.project_id = 1 group by s.seq"))
    assert images == {1: 1, 2: 2, 3: 1, 4: 1}


def test_the_ab_comparison_is_read_back_in_a_new_process(executed):
    studio_path, result = executed
    assert result.returncode == 0
    script = (
        "import json, sys\n"
        "from storynb import Studio\n"
        "from storynb.abtest import ABTests\n"
        "ab = ABTests(Studio(sys.argv[1]))\n"
        "table = ab.compare('hopeful-ending')\n"
        "print(json.dumps({'arms': list(dict.fromkeys(table.columns.get_level_values('arm'))),\n"
        "                  'topics': list(table.index),\n"
        "                  'pairs': len(ab.judgments('hopeful-ending', kind='pair')),\n"
        "                  'judged': int(table.xs('judge_score', axis=1, level='metric').notna().sum().sum()),\n"
        "                  'outputs': int(table.xs('output', axis=1, level='metric').notna().sum().sum())}))\n")
    out = subprocess.run([sys.executable, "-c", script, str(studio_path)], capture_output=True,
                         text=True, check=True, env={**os.environ, "STORYNB_STUDIO": str(studio_path)})
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(seen["arms"]) == 3 and len(seen["topics"]) == 3
    assert seen["outputs"] == 9 and seen["judged"] == 9
    assert seen["pairs"] == 6  # the baseline against each other arm, on each of the 3 cases


def test_committed_notebooks_have_no_outputs():
    for name in NOTEBOOKS:
        notebook = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))
        for cell in notebook["cells"]:
            assert not cell.get("outputs") and cell.get("execution_count") is None, name


def test_the_notebooks_are_what_build_py_writes(tmp_path):
    """notebooks/build.py is the source: regenerating them changes nothing."""
    before = {n: (ROOT / "notebooks" / n).read_text(encoding="utf-8") for n in NOTEBOOKS}
    import importlib.util

    spec = importlib.util.spec_from_file_location("storynb_notebooks_build",
                                                  ROOT / "notebooks" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    monkey = build.HERE
    build.HERE = tmp_path
    try:
        build.build()
    finally:
        build.HERE = monkey
    for name in NOTEBOOKS:
        assert (tmp_path / name).read_text(encoding="utf-8") == before[name], name


def test_a_notebook_runs_with_other_parameters_through_papermill(tmp_path):
    """The `parameters` cell lets papermill run the A/B notebook with another experiment and
    two samples per cell, with no code edited."""
    papermill = pytest.importorskip("papermill")
    studio = tmp_path / "studio.db"
    env = {"STORYNB_STUDIO": str(studio), "STORYNB_KEY_FILE": str(tmp_path / "secret.key")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        papermill.execute_notebook(str(ROOT / "notebooks" / "02_prompt_ab.ipynb"),
                                   str(tmp_path / "out.ipynb"), cwd=str(ROOT / "notebooks"),
                                   parameters={"EXPERIMENT": "from-papermill", "SAMPLES": 2},
                                   progress_bar=False, kernel_name="python3")
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    from storynb import Studio
    from storynb.experiments import ABTests

    results = ABTests(Studio(studio)).results("from-papermill")
    assert len(results) == 3 * 3 * 2 and sorted(set(results["sample"])) == [0, 1]
    executed = json.loads((tmp_path / "out.ipynb").read_text(encoding="utf-8"))
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in executed["cells"])
