"""`estimate` counts what the next run will really do (the runner's own Job.done() test, shot by
shot downstream of a change): compared with the calls that run then makes."""
import subprocess
import sys


def made_by_next_run(studio, project) -> dict:
    before = studio.db.execute("select coalesce(max(id), 0) from calls").fetchone()[0]
    report = project.run()
    assert report.status == "done", report.summary()
    rows = studio.db.query("select stage, provider, count(*) as n from calls where project_id = ? "
                           "and id > ? group by stage, provider", [project.id, before])
    return {(r["stage"], r["provider"]): r["n"] for r in rows}


def estimated(studio, project) -> dict:
    frame = studio.estimate(project)
    return {(r.stage, r.provider): r.calls for r in frame.itertuples()}


def test_the_estimate_is_what_the_run_does(studio, make_project):
    project = make_project()
    steps = [
        ("a new project", lambda: None),
        ("a finished project", lambda: None),
        ("a new image prompt for shot 2", lambda: project.edit_shot(2, image_prompt="a red lantern in snow")),
        ("new words for shot 3", lambda: project.edit_shot(3, narration="The lamp burned all night by the sea.")),
        ("a new story", lambda: (project.rollback("storyboard"),
                                 project.set_story("A keeper lit the lamp. A whale came. They sang. Dawn."))),
    ]
    for what, change in steps:
        change()
        expected = estimated(studio, project)
        assert expected == made_by_next_run(studio, project), what
        if what == "a finished project":
            assert expected == {}
            done = subprocess.run([sys.executable, "-m", "storynb.cli", "--studio", str(studio.path),
                                   "estimate", str(project.id)], capture_output=True, text=True,
                                  timeout=120)
            assert done.returncode == 0, done.stderr
            assert "nothing to do" in done.stdout and "total" not in done.stdout
        if what == "a new image prompt for shot 2":
            assert expected == {("images", "local-painter"): 1, ("clips", "local-motion"): 1,
                                ("export", "local-compositor"): 1}

