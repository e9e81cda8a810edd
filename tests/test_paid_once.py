"""Paid work is bought once: a run killed with SIGKILL right after a paid answer arrives loses
nothing it paid for; the next run adopts the answer instead of buying it again."""
import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from storynb import Studio
from tests.fakes.servers import tiny_png


def spooled(spool) -> set:
    """The answers in the spool (spool/<call>/<file>); the run removes a call's folder once its
    answer is kept, so a folder may go while it is read."""
    found = set()
    try:
        calls = list(os.scandir(spool))
    except FileNotFoundError:
        return found
    for call in calls:
        try:
            found |= {entry.path for entry in os.scandir(call.path) if not entry.name.startswith(".")}
        except (FileNotFoundError, NotADirectoryError):
            continue
    return found


class KillingImageService:
    """An OpenAI-style image endpoint that counts the answers it bills."""

    def __init__(self, kills: int = 0):
        self.served = 0  # successful (billed) answers
        self.lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                shade = tuple(body["prompt"].encode()[:3])
                payload = json.dumps({"created": 1, "data": [{"b64_json": base64.b64encode(
                    tiny_png(color=shade)).decode()}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
                with service.lock:
                    service.served += 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d/v1" % self.httpd.server_address[1]


def test_killed_right_after_paid_images_pays_once_per_shot(tmp_path, monkeypatch):
    monkeypatch.setenv("STORYNB_KEY_FILE", str(tmp_path / "secret.key"))
    service = KillingImageService(kills=5)
    db_path = tmp_path / "studio.db"
    studio = Studio(db_path)
    studio.providers.add("img", "text2image", "openai_images", url=service.url, key="sk-test",
                         model="gpt-image-1", concurrency=1)
    studio.create_project("A lighthouse keeper befriends a lost whale", shots=6, size=(360, 640),
                          seed=4, providers={"text2image": "img"})
    studio.close()
    command = [sys.executable, "-m", "storynb.cli", "--studio", str(db_path), "run", "--project",
               "1"]
    kills = 0
    spool = tmp_path / "spool"
    for _ in range(10):
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True, env={**os.environ})
        seen = spooled(spool)
        deadline = time.time() + 120
        while kills < 5 and process.poll() is None and time.time() < deadline:
            arrived = spooled(spool) - seen
            if arrived:  # a paid answer has just reached the client: kill it at once
                os.killpg(process.pid, signal.SIGKILL)
                break
            time.sleep(0.001)
        out, err = process.communicate(timeout=300)
        if process.returncode == -signal.SIGKILL:
            kills += 1
            continue
        assert process.returncode == 0, err.decode()[-2000:]
        break
    assert kills >= 3  # a paid answer can be recorded before the 1 ms watcher sees it
    studio = Studio(db_path)
    ok_calls = studio.db.execute("select count(*) from calls where stage = 'images' and "
                                 "status = 'ok'").fetchone()[0]
    assert service.served == 6, f"{service.served} paid images for 6 shots"
    assert ok_calls == 6
    assert studio.project(1).state == "done"
    jobs = {r["state"] for r in studio.db["jobs"].rows_where("project_id = 1 and stage = 'images'")}
    assert jobs == {"done"}


def test_an_answer_that_arrived_is_replayed_not_bought_again(tmp_path, monkeypatch):
    """The spool: a paid answer is kept the moment it arrives; a process that dies before
    recording it leaves it there, and the same request is answered from it."""
    import asyncio

    from storynb.providers.base import ImageRequest
    from storynb.providers.http import CALL, CallContext, Spool

    monkeypatch.setenv("STORYNB_KEY_FILE", str(tmp_path / "secret.key"))
    service = KillingImageService(kills=0)
    studio = Studio(tmp_path / "studio.db")
    studio.providers.add("img", "text2image", "openai_images", url=service.url, key="sk-test",
                         model="gpt-image-1")
    adapter = studio.provider("text2image", "img")
    request = ImageRequest(prompt="a red lighthouse", width=360, height=640, seed=1)

    async def generate(out):
        token = CALL.set(CallContext(job_key="k1", provider="img",
                                     spool=Spool(tmp_path / "spool", "k1")))
        try:
            await adapter.generate(request, out)
        finally:
            CALL.reset(token)

    asyncio.run(generate(tmp_path / "a.png"))  # ... and the process "dies" before recording it
    asyncio.run(generate(tmp_path / "b.png"))
    assert service.served == 1
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    Spool(tmp_path / "spool", "k1").clear()
    asyncio.run(generate(tmp_path / "c.png"))
    assert service.served == 2
