"""Scale-out on real parts: a real redis-server on 127.0.0.1 and real `storynb worker` processes
(Celery, never eager mode). The coordinator keeps the studio; workers share its media folder."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from storynb import Studio
from tests.fakes.servers import OpenAIFake

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="needs Debian's redis-server (.ci/run installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def broker(tmp_path):
    port = _free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield url
    server.kill()
    server.wait()


@pytest.fixture
def env(tmp_path, monkeypatch):
    from cryptography.fernet import Fernet

    monkeypatch.setenv("STORYNB_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("STORYNB_CLAIM_TTL", "3")  # a killed worker's job is resent after 3 s
    return {**os.environ}


class Workers:
    def __init__(self, studio_path, broker, env, tmp_path):
        self.processes, self.logs = {}, {}
        for name in ("w1", "w2"):
            log = tmp_path / f"{name}.log"
            self.logs[name] = log
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "storynb.cli", "--studio", str(studio_path), "worker",
                 "--broker", broker, "-n", f"{name}@%h", "--concurrency", "1"],
                stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            if all(b"ready" in log.read_bytes() for log in self.logs.values()):
                return
            time.sleep(0.2)
        raise AssertionError("workers did not start: " + self.logs["w1"].read_text()[-2000:])

    def stop(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
            process.wait()


@pytest.fixture
def workers(tmp_path, broker, env):
    started = Workers(tmp_path / "studio.db", broker, env, tmp_path)
    yield started
    started.stop()


def _run(tmp_path, broker, env, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "storynb.cli", "--studio",
                           str(tmp_path / "studio.db"), "run", *args, "--executor", "celery",
                           "--broker", broker], capture_output=True, text=True, env=env,
                          timeout=timeout)


def _clip_calls(studio):
    # the clips stage also makes each shot's narration first (provider local-narrator)
    return list(studio.db.query("select job_key, worker, count(*) as n from calls where "
                                "stage = 'clips' and provider = 'local-motion' and status = 'ok' "
                                "group by job_key"))


def test_a_project_runs_on_two_workers(tmp_path, broker, env, workers):
    done = _run(tmp_path, broker, env, "A lighthouse keeper befriends a lost whale", "--shots",
                "12", "--size", "180x320", "--seed", "3")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith(".mp4")
    studio = Studio(tmp_path / "studio.db")
    clips = _clip_calls(studio)
    assert len(clips) == 12 and all(row["n"] == 1 for row in clips)
    served = {row["worker"].split("@")[0] for row in clips}
    assert served == {"w1", "w2"}, f"clips were rendered by {served} only"
    assert studio.project(1).state == "done"


def test_rpm_holds_across_workers(tmp_path, broker, env, workers):
    with OpenAIFake() as server:
        studio = Studio(tmp_path / "studio.db")
        studio.providers.add("img", "text2image", "openai_images", url=server.url + "/v1",
                             key="sk-test", model="gpt-image-1", rpm=30, concurrency=4)
        studio.create_project("A fox who learns to fly", shots=4, size=(180, 320), seed=2,
                              providers={"text2image": "img"})
        done = _run(tmp_path, broker, env, "--project", "1")
        assert done.returncode == 0, done.stderr[-3000:]
        times = sorted(r.time for r in server.hits("images"))
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(times) == 4
    assert min(gaps) >= 2.0 * 0.9, f"image calls closer than 60/rpm: {gaps}"
    workers_used = {r["worker"].split("@")[0] for r in studio.db.query(
        "select worker from calls where stage = 'images'")}
    assert workers_used <= {"w1", "w2"} and workers_used


def test_a_worker_killed_mid_clip_and_each_clip_rendered_once(tmp_path, broker, env, workers):
    import redis

    client = redis.Redis.from_url(broker)
    coordinator = subprocess.Popen(
        [sys.executable, "-m", "storynb.cli", "--studio", str(tmp_path / "studio.db"), "run",
         "A girl carries a lantern through the storm", "--shots", "8", "--size", "180x320",
         "--seed", "9", "--executor", "celery", "--broker", broker],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    killed = False
    deadline = time.time() + 240
    while time.time() < deadline and coordinator.poll() is None and not killed:
        for key in client.scan_iter("storynb:claim:*"):
            holder = (client.get(key) or b"").decode()
            if holder.startswith("w1@") and holder.endswith(" animate"):  # w1 renders a clip
                time.sleep(0.2)
                os.kill(workers.processes["w1"].pid, signal.SIGKILL)
                killed = True
                break
        time.sleep(0.05)
    out, err = coordinator.communicate(timeout=300)
    assert killed, "w1 never rendered a clip"
    assert coordinator.returncode == 0, err.decode()[-3000:]
    studio = Studio(tmp_path / "studio.db")
    clips = _clip_calls(studio)
    assert len(clips) == 8 and all(row["n"] == 1 for row in clips)
    assert os.path.exists(studio.project(1).video_path())


def test_a_message_taken_by_a_worker_that_died_before_claiming_it_is_sent_again(broker, monkeypatch):
    """A worker killed between taking a message from the queue and claiming it leaves the message
    unacknowledged in the broker for an hour: the coordinator notices it is neither queued nor
    claimed and sends it again."""
    import json
    import threading

    import redis

    from storynb import distributed

    monkeypatch.setattr(distributed, "CLAIM_TTL_S", 2.0)
    executor = distributed.CeleryExecutor(broker, media_root=os.getcwd())
    client = redis.Redis.from_url(broker)
    answers = []
    spec = {"id": "lost-one", "provider": None, "method": "ping", "request": None,
            "job_key": "", "ext": None}
    sender = threading.Thread(target=lambda: answers.append(executor._dispatch(spec)), daemon=True)
    sender.start()
    deadline = time.time() + 10
    while time.time() < deadline and not client.llen("api"):
        time.sleep(0.05)
    assert client.rpop("api"), "the dispatch never reached the queue"  # a worker took it and died
    deadline = time.time() + 15
    while time.time() < deadline and not client.llen("api"):
        time.sleep(0.1)
    again = client.rpop("api")
    assert again and b"lost-one" in again, "the lost dispatch was not sent again"
    client.set("storynb:result:lost-one", json.dumps({"worker": "w9@test"}))  # a worker answers
    client.rpush("storynb:done:lost-one", 1)
    sender.join(10)
    assert answers == [{"worker": "w9@test"}]
