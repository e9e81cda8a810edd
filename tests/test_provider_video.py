"""Image-to-video task adapters (Runway, Kling, DashScope Wan) against fake servers: submit, poll,
download at once, fit to the project's clip, and never pay twice for a task that succeeded."""
import pytest
from PIL import Image

from fakes import DashScopeFake, KlingFake, RunwayFake
from fakes.helpers import calls, make_studio, run
from storynb.providers.base import ContentPolicy, QuotaExhausted, VideoRequest
from storynb.routing import call
from storynb.providers.tasks import camera_words, jwt_hs256, kling_camera, pick_duration
from storynb.render.compose import probe

FAST = {"poll_interval": 0.01, "poll_max": 0.02}


@pytest.fixture
def studio(tmp_path, monkeypatch):
    return make_studio(tmp_path, monkeypatch)


@pytest.fixture
def request_(tmp_path):
    image = tmp_path / "still.png"
    Image.new("RGB", (108, 192), (30, 60, 90)).save(image)
    return VideoRequest(image_path=image, movement="pan_left", params={"intensity": 0.2, "speed": 1.0},
                        duration_s=1.5, width=144, height=256, fps=12, prompt="a whale under the moon")


def animate(studio, name, request, tmp_path, job_key=""):
    out = tmp_path / "clip.mp4"
    result, _ = run(call(studio, studio.route("image2video", name), "animate", request, project_id=None,
                                stage="clips", job_key=job_key, out_path=out))
    return probe(out, count_frames=True)


def test_camera_mapping_helpers():
    assert camera_words("pan_left", {"speed": 0.5}) == "the camera slowly pans left"
    assert camera_words("static", {}).startswith("static camera")
    assert kling_camera("pan_left", {"intensity": 0.2})["config"]["tilt"] == -8  # Kling's tilt = film pan
    assert kling_camera("tilt_up", {"intensity": 0.1})["config"]["pan"] == 4
    assert kling_camera("zoom_in", {"intensity": 0.15}, zoom_sign=-1)["config"]["zoom"] == 6
    assert kling_camera("static", {}) is None
    assert pick_duration(4.2, [5, 10]) == 5 and pick_duration(12, [5, 10]) == 10


def test_runway_flow_and_the_clip_fits_the_project(studio, request_, tmp_path):
    with RunwayFake(key="key_runway_0123456789abcdef") as server:
        studio.providers.add("runway", "image2video", "runway", url=server.url,
                             key="key_runway_0123456789abcdef", model="gen4_turbo", params=FAST,
                             price={"per_second": 0.05})
        info = animate(studio, "runway", request_, tmp_path)
        assert (info["width"], info["height"], info["fps"], info["frames"]) == (144, 256, 12, 18)
        assert info["audio_codec"] is None and info["pix_fmt"].startswith("yuv420p")
        body = server.hits("submit")[0].json
        assert server.hits("submit")[0].headers["x-runway-version"] == "2024-11-06"
        assert body["ratio"] == "720:1280" and body["duration"] == 2  # a 1.5 s shot: 2 s, not 5
        assert body["promptImage"].startswith("data:image/jpeg;base64,")
        assert "a whale under the moon" in body["promptText"] and "pans left" in body["promptText"]
        assert len(server.hits("task")) == 4  # PENDING, THROTTLED, RUNNING, SUCCEEDED
        [row] = calls(studio)
        assert row["status"] == "ok" and row["cost"] == pytest.approx(2 * 0.05)  # billed 2 s
        detail = studio.providers.test("runway")["detail"]
        assert detail["credit_balance"] == 1000
        assert detail["capabilities"]["durations"] == {"min": 2, "max": 10, "step": 1}


def test_runway_subtitle_is_burned_in(studio, request_, tmp_path):
    from dataclasses import replace

    with RunwayFake(key="key_runway_0123456789abcdef") as server:
        studio.providers.add("runway", "image2video", "runway", url=server.url,
                             key="key_runway_0123456789abcdef", params=FAST)
        plain = animate(studio, "runway", request_, tmp_path)
        assert plain["frames"] == 18
        captioned = replace(request_, subtitle="The whale sang.")
        assert animate(studio, "runway", captioned, tmp_path)["frames"] == 18


def test_runway_task_failures(studio, request_, tmp_path):
    with RunwayFake(key="k" * 24) as server:
        studio.providers.add("runway", "image2video", "runway", url=server.url, key="k" * 24, params=FAST)
        server.task_scripts.extend([["RUNNING", "FAILED:INTERNAL.BAD_OUTPUT"], ["SUCCEEDED"]])
        assert animate(studio, "runway", request_, tmp_path)["frames"] == 18
        assert server.submits == 2  # a retryable failure is submitted again, once
        assert [r["error_class"] for r in calls(studio)] == ["TaskFailed", None]

        server.task_scripts.append(["FAILED:SAFETY.INPUT.TEXT"])
        with pytest.raises(ContentPolicy, match="SAFETY.INPUT.TEXT"):
            animate(studio, "runway", request_, tmp_path)
        assert server.submits == 3


def test_expired_url_is_read_again_not_paid_again(studio, request_, tmp_path):
    with RunwayFake(key="k" * 24) as server:
        studio.providers.add("runway", "image2video", "runway", url=server.url, key="k" * 24, params=FAST)
        server.expire_urls = 1
        assert animate(studio, "runway", request_, tmp_path, job_key="job-1")["frames"] == 18
        assert server.submits == 1 and sum(server.asset_hits.values()) == 2
        assert [r["status"] for r in calls(studio)] == ["ok"]


def test_poll_errors_never_resubmit_and_a_restart_resumes_the_task(studio, request_, tmp_path,
                                                                  monkeypatch):
    with RunwayFake(key="k" * 24) as server:
        studio.providers.add("runway", "image2video", "runway", url=server.url, key="k" * 24,
                             params={**FAST, "poll_errors": 2})
        server.task_scripts.append(["PENDING", "RUNNING", "SUCCEEDED"])
        server.fail("task", {"status": 503, "raw": b"upstream"}, {"status": 502, "raw": b"bad gateway"},
                    {"status": 500, "json": {"error": "x"}}, {"drop": True})
        # polls: 503, 502 → the adapter gives up (poll_errors=2) → the router retries the job,
        # which resumes the stored task: 500, dropped → gives up again → the third attempt
        # resumes it once more: PENDING, RUNNING, SUCCEEDED. One task was ever submitted.
        assert animate(studio, "runway", request_, tmp_path, job_key="job-7")["frames"] == 18
        assert server.submits == 1
        rows = calls(studio)
        assert [r["status"] for r in rows] == ["failed", "failed", "ok"]
        assert '"task_id"' in rows[0]["response"]  # the failed attempt notes the task it waits for

        # A run killed while polling: the task id is in the database; a new studio resumes it.
        server.task_scripts.append(["RUNNING", "RUNNING", "SUCCEEDED"])
        studio.db["provider_tasks"].insert({"provider": "runway", "job_key": "job-8",
                                            "task_id": _submit_directly(server), "status": "submitted"})
        fresh = make_studio(tmp_path, monkeypatch)
        assert animate(fresh, "runway", request_, tmp_path, job_key="job-8")["frames"] == 18
        assert server.submits == 2  # the one made "before the crash", no new one


def _submit_directly(server) -> str:
    return server.new_task({})


def test_kling_jwt_camera_control_and_body_codes(studio, request_, tmp_path):
    with KlingFake(access_key="AK_test_123", secret_key="SK_secret_abcdefgh") as server:
        studio.providers.add("kling", "image2video", "kling", url=server.url,
                             key="AK_test_123:SK_secret_abcdefgh", model="kling-v1-5",
                             params={**FAST, "zoom_sign": 1, "mode": "pro"}, price={"per_unit": 0.14})
        assert animate(studio, "kling", request_, tmp_path)["frames"] == 18
        body = server.hits("submit")[0].json
        assert body["camera_control"] == {"type": "simple", "config": {
            "horizontal": 0, "vertical": 0, "pan": 0, "tilt": -8, "roll": 0, "zoom": 0}}
        assert body["duration"] == "5" and not body["image"].startswith("data:")
        assert calls(studio)[0]["cost"] == pytest.approx(0.14)  # final_unit_deduction = 1

        server.fail("submit", {"status": 429, "json": {"code": 1303, "message": "parallel task over "
                                                       "resource pack limit", "request_id": "r"}},
                    {"status": 200, "json": {"code": 5000, "message": "server error", "request_id": "r"}})
        assert animate(studio, "kling", request_, tmp_path)["frames"] == 18
        assert [r["error_class"] for r in calls(studio)][1:] == ["RateLimited", "Transient", None]

        server.fail("submit", {"status": 429, "json": {"code": 1102, "message": "resource pack exhausted",
                                                       "request_id": "r"}})
        with pytest.raises(QuotaExhausted, match="1102"):
            animate(studio, "kling", request_, tmp_path)

        studio.router.reset()
        studio.providers.edit("kling", key="AK_test_123:wrong_secret_000", model="kling-v2-1")
        assert studio.providers.test("kling")["error_class"] == "AuthError"
        studio.providers.edit("kling", key="AK_test_123:SK_secret_abcdefgh")
        assert studio.providers.test("kling")["ok"]
        animate(studio, "kling", request_, tmp_path)
        newer = server.hits("submit")[-1].json
        assert "camera_control" not in newer and "pans left" in newer["prompt"]


def test_jwt_shape():
    token = jwt_hs256("ak", "sk", clock=lambda: 1_700_000_000)
    assert token.count(".") == 2 and token.startswith("eyJ")


def test_dashscope_wan(studio, request_, tmp_path):
    with DashScopeFake(key="sk-dashscope-0123456789") as server:
        studio.providers.add("wan", "image2video", "dashscope_wan", url=server.url,
                             key="sk-dashscope-0123456789", model="wan2.2-i2v-flash",
                             params=FAST, price={"per_second": 0.1})
        assert animate(studio, "wan", request_, tmp_path)["frames"] == 18
        hit = server.hits("submit")[0]
        assert hit.headers["x-dashscope-async"] == "enable"
        assert "pans left" in hit.json["input"]["prompt"] and hit.json["parameters"]["prompt_extend"] is False
        assert calls(studio)[0]["cost"] == pytest.approx(0.5)  # usage.duration 5 s

        server.fail("submit", {"status": 429, "json": {
            "code": "Throttling.AllocationQuota", "request_id": "r",
            "message": "You exceeded your current quota, please check your plan and billing details "
                       "(insufficient_quota)"}})
        animate(studio, "wan", request_, tmp_path)  # a per-minute throttle, not an empty wallet
        assert calls(studio)[1]["error_class"] == "RateLimited"

        server.task_scripts.append(["RUNNING", "FAILED:DataInspectionFailed"])
        with pytest.raises(ContentPolicy, match="DataInspectionFailed"):
            animate(studio, "wan", request_, tmp_path)
