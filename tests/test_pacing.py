"""Requests-per-minute limits hold across runs, projects and processes of one studio."""
import os
import subprocess
import sys

from storynb import Studio
from tests.fakes.servers import OpenAIFake


def _gaps(server) -> list[float]:
    times = sorted(r.time for r in server.hits("images"))
    return [b - a for a, b in zip(times, times[1:])]


def test_rpm_holds_across_consecutive_runs_and_two_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("STORYNB_KEY_FILE", str(tmp_path / "secret.key"))
    with OpenAIFake() as server:
        db_path = tmp_path / "studio.db"
        studio = Studio(db_path)
        studio.providers.add("img", "text2image", "openai_images", url=server.url + "/v1",
                             key="sk-test", model="gpt-image-1", rpm=60, concurrency=4)
        projects = [studio.create_project(f"A story about a {animal}", shots=4, size=(360, 640),
                                          seed=i, providers={"text2image": "img"})
                    for i, animal in enumerate(["cat", "whale", "fox", "owl"])]
        for project in projects[:2]:  # consecutive runs in one process
            project.run(["rewrite", "storyboard"])
        for project in projects[:2]:
            assert project.run(["images"]).status == "done"
        for project in projects[2:]:
            project.run(["rewrite", "storyboard"])
        studio.close()
        script = ("import sys; from storynb import Studio; "
                  "p = Studio(sys.argv[1]).project(int(sys.argv[2])); "
                  "sys.exit(0 if p.run(['images']).status == 'done' else 1)")
        processes = [subprocess.Popen([sys.executable, "-c", script, str(db_path), str(p.id)],
                                      env={**os.environ}) for p in projects[2:]]
        assert [p.wait(timeout=120) for p in processes] == [0, 0]
        gaps = _gaps(server)
        assert len(gaps) == 15
        assert min(gaps) >= 1.0 * 0.9, f"calls closer than 60/rpm: {[round(g, 3) for g in gaps]}"
