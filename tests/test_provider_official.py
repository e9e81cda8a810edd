"""Adapters against fakes that replay official-format exchanges (tests/fixtures/official/*.json,
each with its source): the exact request bodies storynb sends per model, the capabilities table
that shapes them, and the cost of everything billed."""
import json
import subprocess
import sys
import wave

import pytest
from PIL import Image

from fakes.helpers import calls, make_studio, run
from fakes.official import OfficialFake, fixture
from storynb.providers import capabilities
from storynb.providers.base import BadRequest, InvalidOutput, LLMRequest, SpeechRequest, VideoRequest
from storynb.providers.speech import pcm_wav
from storynb.routing import call
from storynb.render.compose import probe

FAST = {"poll_interval": 0.01, "poll_max": 0.02}


@pytest.fixture
def studio(tmp_path, monkeypatch):
    return make_studio(tmp_path, monkeypatch)


def ask(studio, name, **fields):
    request = LLMRequest(task="storyboard", prompt=fields.pop("prompt", "Write the storyboard as JSON."),
                         **fields)
    return run(studio.route("llm", name).complete(request))


def note(row) -> dict:
    return json.loads(row["response"]) if row["response"] and row["response"].startswith("{") else {}


# capabilities table --------------------------------------------------------------------------
def test_the_table_per_model_unknown_models_and_user_extensions(tmp_path, monkeypatch):
    o4 = capabilities.for_model("openai_chat", "o4-mini")
    assert (o4["temperature"], o4["token_field"], o4["known"]) == (False, "max_completion_tokens", True)
    assert capabilities.for_model("openai_chat", "gpt-5.1")["reasoning"] is True
    assert capabilities.for_model("openai_chat", "qwen3-32b")["thinking_off"] == {"enable_thinking": False}
    assert capabilities.for_model("runway", "gen4_turbo")["durations"] == {"min": 2, "max": 10, "step": 1}
    assert capabilities.for_model("dashscope_wan", "wan2.2-i2v-plus")["resolutions"] == ["480P", "1080P"]
    unknown = capabilities.for_model("runway", "gen9_hyper")
    assert not unknown["known"] and unknown["durations"] == [5, 10] and "gen9_hyper" in unknown["warning"]
    # the provider param wins; a machine-wide file is tried before the package table
    assert capabilities.for_model("runway", "gen9_hyper", {"durations": [4, 8]})["durations"] == [4, 8]
    extra = tmp_path / "caps.json"
    extra.write_text(json.dumps({"runway": {"models": [{"match": ["gen9*"], "durations": [3, 6]}]}}))
    monkeypatch.setenv("STORYNB_CAPABILITIES", str(extra))
    assert capabilities.for_model("runway", "gen9_hyper")["durations"] == [3, 6]
    assert capabilities.snap_duration(3.0, {"min": 2, "max": 10}) == 3
    assert capabilities.snap_duration(2.01, {"min": 2, "max": 10}) == 3  # up, to cover the shot
    assert capabilities.snap_resolution("720P", ["480P", "1080P"]) == "480P"
    extra.write_text("{not json")
    with pytest.raises(Exception, match="cannot be read"):
        capabilities.for_model("runway", "gen4_turbo")


# LLM -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["o4-mini", "gpt-5"])
def test_reasoning_models_get_no_temperature_and_max_completion_tokens(studio, model):
    with OfficialFake("openai_chat") as server:
        studio.providers.add("gpt", "llm", "openai_chat", url=server.url + "/v1", model=model,
                             price={"per_1k_input": 1.0, "per_1k_output": 4.0})
        assert json.loads(ask(studio, "gpt", json=True).text)["title"] == "The keeper"
        [hit] = server.hits("chat")
        body = hit.json
        assert body == {"model": model, "messages": body["messages"], "stream": False,
                        "max_completion_tokens": 16000,  # 4096 asked; reasoning needs room
                        "response_format": {"type": "json_object"}}
        [row] = calls(studio)
        assert (row["status"], row["tokens_in"], row["tokens_out"]) == ("ok", 1117, 946)
        assert row["cost"] == pytest.approx(1.117 + 946 / 1000 * 4.0)
        assert studio.providers.test("gpt")["detail"]["capabilities"]["token_field"] == "max_completion_tokens"


def test_a_model_that_refuses_a_param_is_asked_again_without_it(studio):
    with OfficialFake("openai_chat") as server:
        # a wrong description (a stale table, a wrong user override): the service refuses twice
        studio.providers.add("gpt", "llm", "openai_chat", url=server.url + "/v1", model="gpt-5-custom",
                             params={"capabilities": {"temperature": True, "token_field": "max_tokens"}})
        assert ask(studio, "gpt").text
        bodies = [h.json for h in server.hits("chat")]
        assert "max_tokens" in bodies[0] and "temperature" in bodies[0]
        assert "max_tokens" not in bodies[-1] and "temperature" not in bodies[-1]
        assert bodies[-1]["max_completion_tokens"] == 16000 and len(bodies) == 3
        assert calls(studio)[0]["status"] == "ok"


def test_qwen3_through_dashscope_sends_enable_thinking_false(studio):
    with OfficialFake("dashscope_qwen") as server:
        studio.providers.add("qwq", "llm", "openai_chat", url=server.url + "/compatible-mode/v1",
                             model="qwen3-235b-a22b-thinking-2507")
        with pytest.raises(BadRequest, match="streamed requests only"):  # thinking-only: stream-only
            ask(studio, "qwq")
        assert not server.hits("chat")
        studio.providers.add("qwen", "llm", "openai_chat", url=server.url + "/compatible-mode/v1",
                             model="qwen3-235b-a22b", params={"temperature": 0.7, "max_tokens": 800})
        assert ask(studio, "qwen").text == "Once upon a time a keeper met a whale."
        body = server.hits("chat")[0].json
        assert body == {"model": "qwen3-235b-a22b", "messages": body["messages"], "stream": False,
                        "temperature": 0.7, "max_tokens": 800, "enable_thinking": False}
        # without the switch (as before) the service answers 400 and nothing is retried
        studio.providers.edit("qwen", params={"capabilities": {"thinking_off": {}}})
        with pytest.raises(BadRequest, match="enable_thinking must be set to false"):
            ask(studio, "qwen")


def test_deepseek_reasoner_budget_cache_hits_and_billed_rejections(studio):
    with OfficialFake("deepseek") as server:
        studio.providers.add("ds", "llm", "openai_chat", url=server.url, model="deepseek-reasoner",
                             params={"max_tokens": 4096},
                             price={"per_1k_input": 0.5, "per_1k_cached_input": 0.1, "per_1k_output": 2.0})
        assert json.loads(ask(studio, "ds", json=True).text)["title"] == "The keeper"
        body = server.hits("chat")[0].json
        assert body == {"model": "deepseek-reasoner", "messages": body["messages"], "stream": False,
                        "max_tokens": 32768}  # no temperature/top_p, a budget for the reasoning
        assert "json" in json.dumps(body["messages"]).lower()  # the shape is asked in the prompt
        [row] = calls(studio)
        assert (row["tokens_in"], row["tokens_out"]) == (900, 2100)
        assert row["cost"] == pytest.approx(260 / 1000 * 0.5 + 640 / 1000 * 0.1 + 2100 / 1000 * 2.0)

        # cut off even at the largest budget: both answers were billed, then rejected
        truncated = fixture("deepseek")["routes"][0]["rules"][0]["json"]
        server.fail("chat", {"json": truncated}, {"json": truncated})
        with pytest.raises(InvalidOutput, match="every token on reasoning"):
            ask(studio, "ds", json=True)
        assert [h.json["max_tokens"] for h in server.hits("chat")[1:]] == [32768, 65536]
        failed = calls(studio)[-1]
        assert (failed["status"], failed["tokens_in"], failed["tokens_out"]) == ("failed", 1800, 8192)
        assert failed["cost"] == pytest.approx(1800 / 1000 * 0.5 + 8192 / 1000 * 2.0)


# speech --------------------------------------------------------------------------------------
def test_streamed_wav_header_gives_the_true_length_and_three_pieces_join(studio, tmp_path):
    raw = fixture("openai_tts")["routes"][0]["responses"][0]["body"]
    from fakes.official import wav_stream

    audio = wav_stream(raw)
    (channels, width, rate), frames = pcm_wav(audio)
    assert (channels, width, rate) == (1, 2, 24000) and len(frames) // 2 == 21600  # 0.9 s
    with OfficialFake("openai_tts") as server:
        studio.providers.add("voice", "tts", "openai_tts", url=server.url + "/v1", model="tts-1",
                             params={"max_chars": 40, "instructions": "warm and slow"},
                             price={"per_1k_characters": 15.0})
        out = tmp_path / "narration.wav"
        text = "The keeper climbed the stairs. The lamp was cold and dark. The whale sang below."
        seconds = run(studio.route("tts", "voice").speak(SpeechRequest(text=text), out))
        assert len(server.hits("speech")) == 3
        assert seconds == pytest.approx(2.7, abs=0.001)
        with wave.open(str(out)) as wav:
            assert wav.getnframes() == 3 * 21600
        assert probe(out)["duration"] == pytest.approx(2.7, abs=0.02)  # ffprobe agrees
        assert all("instructions" not in h.json for h in server.hits("speech"))  # tts-1 takes none
        row = calls(studio)[0]
        assert row["status"] == "ok" and row["cost"] > 0
        assert {"param": "instructions", "wanted": "warm and slow", "sent": None,
                "why": "tts-1 does not take instructions"} in note(row)["adjusted"]


# images --------------------------------------------------------------------------------------
REQ = dict(prompt="a red lighthouse", negative_prompt="blurry", width=1080, height=1920, seed=42, steps=20)


def test_gpt_image_usage_tokens_are_billed_and_dalle_params_stay_with_dalle(studio, tmp_path):
    from storynb.providers.base import ImageRequest

    with OfficialFake("openai_images") as server:
        studio.providers.add("img", "text2image", "openai_images", url=server.url + "/v1",
                             model="gpt-image-1", params={"quality": "hd", "style": "vivid"},
                             price={"per_1k_input": 5.0, "per_1k_output": 40.0})
        out = tmp_path / "a.png"
        run(call(studio, studio.route("text2image", "img"), "generate", ImageRequest(**REQ),
                        project_id=None, stage="images", job_key="", out_path=out))
        body = server.hits("images")[0].json
        assert body == {"model": "gpt-image-1", "prompt": "a red lighthouse\n\nAvoid: blurry", "n": 1,
                        "size": "1024x1536", "quality": "low"}  # hd is a dall-e quality: snapped
        [row] = calls(studio)
        assert (row["tokens_in"], row["tokens_out"]) == (50, 1056)
        assert row["cost"] == pytest.approx(50 / 1000 * 5.0 + 1056 / 1000 * 40.0)
        studio.providers.edit("img", model="dall-e-3")
        run(studio.route("text2image", "img").generate(ImageRequest(**REQ), out))
        body = server.hits("images")[1].json
        assert body["size"] == "1024x1792" and body["response_format"] == "b64_json"
        assert body["quality"] == "hd" and body["style"] == "vivid"


def test_sdwebui_checks_the_checkpoint_before_painting(studio, tmp_path):
    from storynb.providers.base import ImageRequest

    with OfficialFake("sdwebui") as server:
        studio.providers.add("sd", "text2image", "sdwebui", url=server.url, model="sdxl_base_1.0")
        with pytest.raises(BadRequest, match="no checkpoint 'sdxl_base_1.0'.*dreamshaper_8"):
            run(studio.route("text2image", "sd").generate(ImageRequest(**REQ), tmp_path / "x.png"))
        assert not server.hits("txt2img")  # nothing painted with the wrong model
        studio.providers.edit("sd", model="v1-5-pruned-emaonly.safetensors [6ce0161689]")
        run(studio.route("text2image", "sd").generate(ImageRequest(**REQ), tmp_path / "x.png"))
        assert server.hits("txt2img")[0].json["override_settings"] == {
            "sd_model_checkpoint": "v1-5-pruned-emaonly.safetensors [6ce0161689]"}
        assert studio.providers.test("sd")["detail"] == {"models": 2, "model_listed": True}


def test_comfyui_200_with_node_errors_completes_with_a_warning(studio, tmp_path):
    from storynb.providers.base import ImageRequest

    with OfficialFake("comfyui") as server:
        studio.providers.add("comfy", "text2image", "comfyui", url=server.url, model="sd15.ckpt",
                             params={"poll_interval": 0.01})
        out = tmp_path / "c.png"
        run(call(studio, studio.route("text2image", "comfy"), "generate", ImageRequest(**REQ),
                        project_id=None, stage="images", job_key="", out_path=out))
        with Image.open(out) as img:
            assert img.format == "PNG"
        [row] = calls(studio)
        assert row["status"] == "ok" and len(server.hits("prompt")) == 1
        assert "node errors" in note(row)["warnings"][0] and "value_not_in_list" in note(row)["warnings"][0]


# video ---------------------------------------------------------------------------------------
@pytest.fixture
def still(tmp_path):
    image = tmp_path / "still.png"
    Image.new("RGB", (108, 192), (30, 60, 90)).save(image)
    return image


def clip(studio, name, still, tmp_path, seconds, *, movement="pan_left", job_key=""):
    request = VideoRequest(image_path=still, movement=movement, params={"intensity": 0.2, "speed": 1.0},
                           duration_s=seconds, width=144, height=256, fps=12, prompt="a whale")
    out = tmp_path / "clip.mp4"
    run(call(studio, studio.route("image2video", name), "animate", request, project_id=None,
                    stage="clips", job_key=job_key, out_path=out))
    return probe(out, count_frames=True)


def test_runway_asks_the_shot_length_rounded_up(studio, still, tmp_path):
    with OfficialFake("runway") as server:
        studio.providers.add("runway", "image2video", "runway", url=server.url, key="k" * 24,
                             model="gen4_turbo", params=FAST, price={"per_second": 0.05})
        for seconds in (3, 6, 2.3, 1.2, 12):
            clip(studio, "runway", still, tmp_path, seconds)
        durations = [h.json["duration"] for h in server.hits("submit")]
        assert durations == [3, 6, 3, 2, 10]
        body = server.hits("submit")[0].json
        assert set(body) == {"model", "promptImage", "promptText", "ratio", "duration"}
        assert body["ratio"] == "720:1280" and body["promptText"].startswith("a whale. the camera")
        rows = calls(studio)
        assert [r["cost"] for r in rows] == pytest.approx([0.15, 0.3, 0.15, 0.1, 0.5])
        assert note(rows[2])["adjusted"] == [{"param": "duration", "wanted": 2.3, "sent": 3.0,
                                              "why": "the nearest duration the model makes that covers the shot"}]
        assert "held" in note(rows[4])["warnings"][0]  # 12 s shot, 10 s clip: the last frame is held

        studio.providers.edit("runway", model="gen3a_turbo")
        with pytest.raises(BadRequest, match="gen3a_turbo was removed"):
            clip(studio, "runway", still, tmp_path, 3)
        assert len(server.hits("submit")) == 5  # nothing sent for a removed model


def test_wan_resolution_per_model_and_the_wan27_body(studio, still, tmp_path):
    with OfficialFake("dashscope_wan") as server:
        studio.providers.add("wan", "image2video", "dashscope_wan", url=server.url, key="sk-" + "d" * 20,
                             model="wan2.2-i2v-plus", params=FAST, price={"per_second": 0.1})
        assert clip(studio, "wan", still, tmp_path, 3)["frames"] == 36
        body = server.hits("submit")[0].json
        assert body["parameters"] == {"resolution": "480P", "duration": 5, "prompt_extend": False,
                                      "watermark": False}
        assert set(body["input"]) == {"prompt", "img_url"}
        assert {"param": "resolution", "wanted": "720P", "sent": "480P",
                "why": "wan2.2-i2v-plus makes 480P, 1080P"} in note(calls(studio)[0])["adjusted"]

        studio.providers.edit("wan", params={**FAST, "resolution": "1080P"})
        clip(studio, "wan", still, tmp_path, 3)
        assert server.hits("submit")[1].json["parameters"]["resolution"] == "1080P"

        studio.providers.edit("wan", model="wan2.7-i2v", params=FAST)
        clip(studio, "wan", still, tmp_path, 3)
        body = server.hits("submit")[2].json
        assert set(body["input"]) == {"prompt", "media"}
        assert [m["type"] for m in body["input"]["media"]] == ["first_frame"]
        assert body["input"]["media"][0]["url"].startswith("data:image/jpeg;base64,")
        assert body["parameters"]["resolution"] == "720P" and body["parameters"]["duration"] == 3
        assert [r["status"] for r in calls(studio)] == ["ok", "ok", "ok"]


def test_kling_camera_control_only_where_the_model_takes_it(studio, still, tmp_path):
    with OfficialFake("kling") as server:
        studio.providers.add("kling", "image2video", "kling", url=server.url, key="AK_x:SK_y_123456",
                             model="kling-v1-5", params={**FAST, "cfg_scale": 0.5},
                             price={"per_unit": 0.14})
        clip(studio, "kling", still, tmp_path, 4)  # std: no camera control → words in the prompt
        body = server.hits("submit")[0].json
        assert "camera_control" not in body and "pans left" in body["prompt"] and body["cfg_scale"] == 0.5
        row = calls(studio)[0]
        assert row["cost"] == pytest.approx(2.5 * 0.14)  # final_unit_deduction
        assert {"param": "camera_control", "wanted": "pan_left", "sent": "prompt words",
                "why": "kling-v1-5 std 5 s has no camera control"} in note(row)["adjusted"]

        studio.providers.edit("kling", params={**FAST, "mode": "pro"})
        clip(studio, "kling", still, tmp_path, 4)
        body = server.hits("submit")[1].json
        assert body["camera_control"]["type"] == "simple" and body["duration"] == "5"
        assert body["prompt"] == "a whale"

        studio.providers.edit("kling", model="kling-v2-1", params={**FAST, "mode": "pro", "cfg_scale": 0.5})
        clip(studio, "kling", still, tmp_path, 4)
        body = server.hits("submit")[2].json
        assert "camera_control" not in body and "cfg_scale" not in body
        assert [r["status"] for r in calls(studio)] == ["ok", "ok", "ok"]


def test_expiring_urls_with_the_default_poll_one_paid_task_per_shot(studio, tmp_path, monkeypatch):
    """Result URLs live 0.5 s; polls keep their defaults (about 1 s, backing off)."""
    from fakes import RunwayFake

    with RunwayFake(key="rw" * 12) as runway:
        runway.url_ttl = 0.5
        runway.expire_urls = 2  # and two results are already stale when first fetched
        studio.providers.add("runway", "image2video", "runway", url=runway.url, key="rw" * 12,
                             price={"per_second": 0.05})
        assert studio.providers.get("runway")["params"] == {}  # the adapter's default polling
        project = studio.create_project("A whale sings", size=(144, 256), fps=12, shots=4, seed=5,
                                        providers={"image2video": "runway"})
        report = project.run(["rewrite", "storyboard", "images", "camera", "clips"])
        assert report.status == "done", report.summary()
        assert (project.clips().status == "done").sum() == 4
        assert runway.submits == 4  # one paid task per shot
        ok = [r for r in calls(studio, "runway") if r["status"] == "ok"]
        assert len(ok) == 4 and all(r["cost"] > 0 for r in ok)
        assert sum(runway.asset_hits.values()) == 4 + 2  # stale URLs renewed by reading the task
        polls: dict = {}
        for hit in runway.hits("task"):
            polls.setdefault(hit.path, []).append(hit.time)
        renewals = 0
        for times in polls.values():  # at once, then about 1 s, backing off (×1.5, ±25 %)
            gaps = [b - a for a, b in zip(times, times[1:])]
            assert gaps[0] >= 0.7 and gaps[2] > gaps[0]  # PENDING → THROTTLED → RUNNING → SUCCEEDED
            renewals += len(times) - 4  # reads of a finished task, for a fresh URL
        assert renewals == 2


def test_a_billed_video_whose_result_is_lost_is_in_storynb_usage(studio, still, tmp_path):
    from fakes import RunwayFake

    with RunwayFake(key="rw" * 12) as runway:
        runway.url_ttl = 0.0  # every URL is already expired when fetched
        studio.providers.add("runway", "image2video", "runway", url=runway.url, key="rw" * 12,
                             params={**FAST, "refetch_max": 3}, price={"per_second": 0.05})
        with pytest.raises(Exception, match="billed, and is not submitted again"):
            clip(studio, "runway", still, tmp_path, 3, job_key="shot-1")
        assert runway.submits == 1 and sum(runway.asset_hits.values()) == 4  # 1 + 3 renewals
        [row] = calls(studio)
        assert row["status"] == "failed" and row["cost"] == pytest.approx(0.15)
    out = subprocess.run([sys.executable, "-m", "storynb.cli", "--studio", str(studio.path), "usage"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    line = next(text for text in out.stdout.splitlines() if text.strip().startswith("runway"))
    assert "0.15" in line


def test_billed_failures_keep_their_cost_and_a_gone_result_is_not_bought_again(studio, still, tmp_path):
    from fakes import DashScopeFake, RunwayFake
    from storynb.providers.base import ContentPolicy, TaskFailed

    with RunwayFake(key="rw" * 12) as runway:
        studio.providers.add("runway", "image2video", "runway", url=runway.url, key="rw" * 12,
                             params=FAST, price={"per_second": 0.05})
        runway.task_scripts.append(["RUNNING", "FAILED:SAFETY.INPUT.TEXT"])  # not refunded
        with pytest.raises(ContentPolicy):
            clip(studio, "runway", still, tmp_path, 4)
        runway.task_scripts.append(["RUNNING", "FAILED:INTERNAL.BAD_OUTPUT"])  # refunded, retried
        clip(studio, "runway", still, tmp_path, 4)
        assert [(r["error_class"], r["cost"]) for r in calls(studio, "runway")] == [
            ("ContentPolicy", pytest.approx(0.2)), ("TaskFailed", 0.0), (None, pytest.approx(0.2))]

    with DashScopeFake(key="sk-" + "d" * 20) as wan:
        studio.providers.add("wan", "image2video", "dashscope_wan", url=wan.url, key="sk-" + "d" * 20,
                             params=FAST, price={"per_second": 0.1})
        wan.expire_urls = 1
        wan.task_scripts.append(["RUNNING", "SUCCEEDED", "UNKNOWN"])  # gone when read again
        with pytest.raises(TaskFailed, match="result is gone"):
            clip(studio, "wan", still, tmp_path, 4, job_key="shot-9")
        assert wan.submits == 1  # the router does not buy it again
        [row] = calls(studio, "wan")
        assert row["cost"] == pytest.approx(0.5)  # usage.duration 5 s, billed
        status = studio.db.execute("select status from provider_tasks where provider = 'wan'").fetchone()[0]
        assert status == "expired"
