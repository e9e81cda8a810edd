"""Whole projects through real HTTP adapters and fake servers under faults: the project completes
(or ends with clear per-shot errors), nothing that finished is lost, and no job that succeeded is
paid for twice."""
import pytest

from fakes import OpenAIFake, RunwayFake
from fakes.helpers import make_studio

SMALL = {"size": (144, 256), "fps": 12, "shots": 4, "seed": 11}
FAST = {"poll_interval": 0.01, "poll_max": 0.02}


@pytest.fixture
def services():
    with OpenAIFake() as img_a, OpenAIFake() as img_b, RunwayFake(key="rw" * 12) as runway, \
            OpenAIFake() as voice:
        yield img_a, img_b, runway, voice


@pytest.fixture
def studio(tmp_path, monkeypatch, services):
    img_a, img_b, runway, voice = services
    studio = make_studio(tmp_path, monkeypatch)
    studio.providers.add("img-a", "text2image", "openai_images", url=img_a.url + "/v1",
                         model="gpt-image-1", timeout=1, price={"per_call": 0.04})
    studio.providers.add("img-b", "text2image", "openai_images", url=img_b.url + "/v1",
                         model="gpt-image-1", timeout=1, price={"per_call": 0.02})
    studio.providers.add("runway", "image2video", "runway", url=runway.url, key="rw" * 12,
                         params=FAST, price={"per_second": 0.05})
    studio.providers.add("voice", "tts", "openai_tts", url=voice.url + "/v1", model="tts-1")
    return studio


def paid_twice(studio) -> list:
    return list(studio.db.query(
        "select job_key, count(*) as n from calls where status = 'ok' and job_key != '' "
        "group by job_key having n > 1"))


def test_a_project_completes_under_faults_and_pays_each_job_once(studio, services):
    img_a, img_b, runway, voice = services
    img_a.fail("images", {"status": 429, "headers": {"Retry-After": "0"}, "json": {"error": {
                   "message": "Rate limit reached", "code": "rate_limit_exceeded"}}},
               {"status": 500, "json": {"error": {"message": "boom", "type": "server_error"}}},
               {"status": 200, "raw": b'{"data": [{"b64_json": "iVBO'},  # truncated JSON
               {"sleep": 1.5})  # a read timeout
    img_b.fail("images", {"status": 503, "raw": b"overloaded"})
    runway.task_scripts.extend([["RUNNING", "FAILED:INTERNAL"], ["PENDING", "SUCCEEDED"]])
    runway.expire_urls = 1
    runway.fail("task", {"status": 502, "raw": b"bad gateway"})
    voice.fail("speech", {"status": 503, "json": {"error": {"message": "overloaded"}}})

    project = studio.create_project(
        "A lighthouse keeper befriends a lost whale", **SMALL,
        providers={"text2image": {"providers": ["img-a", "img-b"], "strategy": "round_robin"},
                   "image2video": "runway", "tts": "voice"})
    report = project.run()
    assert report.status == "done", report.summary()
    assert project.video_path()
    images = project.images()
    assert (images.status == "done").sum() == 4 and set(images.provider) <= {"img-a", "img-b"}
    assert (project.clips().status == "done").sum() == 4
    assert not paid_twice(studio)
    failed = list(studio.db.query("select provider, error_class from calls where status = 'failed'"))
    assert {r["error_class"] for r in failed} >= {"RateLimited", "Transient", "TaskFailed"}
    assert all(r["error_class"] for r in failed)

    before = studio.db["calls"].count
    assert project.run().status == "done"
    assert studio.db["calls"].count == before  # everything is keyed: nothing is called again

    usage = studio.usage()
    row = usage[usage.provider == "runway"].iloc[0]
    from storynb.providers.tasks import pick_duration

    billed = sum(pick_duration(s["duration_s"], {"min": 2, "max": 10}) for s in project.shots())  # gen4_turbo
    assert row.ok == 4 and row.cost == pytest.approx(0.05 * billed)  # failed attempts are free


def test_failed_shots_are_clear_and_the_rest_is_kept(studio, services):
    img_a, img_b, runway, voice = services
    project = studio.create_project("A fox who wants to see the sea", **SMALL,
                                    providers={"text2image": "img-a", "image2video": "runway",
                                               "tts": "voice"})
    project.run(["rewrite", "storyboard"])
    img_a.fail("images", {"status": 400, "json": {"error": {
        "message": "Your request was rejected as a result of our safety system.",
        "type": "image_generation_user_error", "code": "content_policy_violation"}}})
    report = project.run()
    assert report.status == "failed"
    images = project.images()
    failed = images[images.status == "failed"]
    assert len(failed) == 1 and "content_policy_violation" in failed.error.iloc[0]
    assert "safety system" in report.summary()
    assert (images.status == "done").sum() == 3
    done_before = set(images[images.status == "done"].id)

    report = project.run(from_failed=True)
    assert report.status == "done", report.summary()
    after = project.images()
    assert done_before <= set(after[after.status == "done"].id)
    assert len(img_a.hits("images")) == 5  # 4 + the failed shot once more
    assert not paid_twice(studio)


def test_editing_one_prompt_redoes_one_image_clip_and_export_with_a_route(studio, services):
    project = studio.create_project(
        "A clockmaker in an old town", **SMALL,
        providers={"text2image": {"providers": ["img-a", "img-b"], "strategy": "weighted"},
                   "image2video": "runway", "tts": "voice"})
    assert project.run().status == "done"
    before = studio.db["calls"].count
    # Weights, strategy and limits are not in the key: changing them redoes nothing.
    studio.providers.edit("img-a", weight=5, rpm=100)
    project.update(providers={"text2image": {"providers": ["img-b", "img-a"], "strategy": "least_loaded"},
                              "image2video": "runway", "tts": "voice"})
    assert project.run().status == "done"
    assert studio.db["calls"].count == before
    project.edit_shot(2, image_prompt="a brass clock tower at dawn")
    assert project.run().status == "done"
    redone = list(studio.db.query("select stage, count(*) as n from calls where id > ? and "
                                  "status = 'ok' group by stage", [before]))
    assert {r["stage"]: r["n"] for r in redone} == {"images": 1, "clips": 1, "export": 1}


def test_estimate_before_a_run(studio):
    project = studio.create_project("A lighthouse keeper befriends a lost whale", **SMALL,
                                    providers={"text2image": {"providers": ["img-a", "img-b"],
                                                              "strategy": "weighted"},
                                               "image2video": "runway", "tts": "voice"})
    studio.providers.edit("img-a", weight=3)
    frame = studio.estimate(project)
    by = {(r.stage, r.provider): (r.calls, r.cost) for r in frame.itertuples()}
    assert by[("images", "img-a")] == (3.0, pytest.approx(3 * 0.04))
    assert by[("images", "img-b")] == (1.0, pytest.approx(0.02))
    assert by[("clips", "runway")][0] == 4.0
    assert by[("rewrite", "draft-writer")] == (1.0, 0.0)
    project.run(["rewrite", "storyboard"])
    frame = studio.estimate(project)
    # finished stages cost nothing; narration is made in the clips stage, the export's join and
    # mix are local and free
    assert set(frame.stage) == {"images", "camera", "clips", "export"}
    assert {r.provider for r in frame.itertuples() if r.stage == "clips"} == {"runway", "voice"}
    assert {(r.provider, r.cost) for r in frame.itertuples() if r.stage == "export"} == \
        {("local-compositor", 0.0)}
