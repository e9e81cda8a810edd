"""Text-to-image adapters (OpenAI images, SD WebUI, ComfyUI) and speech against fake servers."""
import wave

import pytest
from PIL import Image

from fakes import ComfyUIFake, OpenAIFake, SDWebUIFake
from fakes.helpers import calls, make_studio, run
from storynb.providers.base import BadRequest, ImageRequest, SpeechRequest, TaskFailed
from storynb.providers.images import DEFAULT_WORKFLOW, closest_size, fill_workflow

REQ = ImageRequest(prompt="a red lighthouse", negative_prompt="blurry", width=1080, height=1920,
                   seed=42, steps=20)


@pytest.fixture
def studio(tmp_path, monkeypatch):
    return make_studio(tmp_path, monkeypatch)


def generate(studio, name, tmp_path, request=REQ):
    out = tmp_path / "out.png"
    run(studio.route("text2image", name).generate(request, out))
    with Image.open(out) as img:
        assert img.format == "PNG"
        return img.size


def test_closest_size_keeps_the_shape():
    assert closest_size(1080, 1920, ["1024x1024", "1536x1024", "1024x1536"]) == "1024x1536"
    assert closest_size(1920, 1080, ["1024x1024", "1792x1024", "1024x1792"]) == "1792x1024"


def test_openai_images_b64_and_url_answers(studio, tmp_path):
    with OpenAIFake(key="sk-img-key-1234567890") as server:
        studio.providers.add("img", "text2image", "openai_images", url=server.url + "/v1",
                             key="sk-img-key-1234567890", model="gpt-image-1",
                             price={"per_call": 0.04})
        assert generate(studio, "img", tmp_path) == (64, 96)
        body = server.hits("images")[0].json
        assert body["size"] == "1024x1536" and body["n"] == 1 and "Avoid: blurry" in body["prompt"]
        assert "response_format" not in body  # GPT-image models always answer b64_json

        server.image_mode = "url"
        server.expire_urls = 1  # the first URL has already expired: the call is retried
        assert generate(studio, "img", tmp_path) == (64, 96)
        rows = calls(studio)
        assert [(r["status"], r["error_class"]) for r in rows] == [
            ("ok", None), ("failed", "ExpiredAsset"), ("ok", None)]
        assert [r["cost"] for r in rows] == [0.04, 0.04, 0.04]  # the lost image was billed too


def test_sdwebui_txt2img_with_basic_auth(studio, tmp_path):
    with SDWebUIFake(auth="alice:s3cret-pass") as server:
        studio.providers.add("sd", "text2image", "sdwebui", url=server.url, key="alice:s3cret-pass",
                             model="dreamshaper_8", params={"steps": 28, "max_side": 768})
        assert generate(studio, "sd", tmp_path) == (64, 96)
        body = server.hits("txt2img")[0].json
        assert (body["width"], body["height"]) == (432, 768)  # multiples of 8, the longest side 768
        assert body["seed"] == 42 and body["steps"] == 28 and body["negative_prompt"] == "blurry"
        assert body["override_settings"] == {"sd_model_checkpoint": "dreamshaper_8"}
        assert studio.providers.test("sd")["detail"] == {"models": 1, "model_listed": True}
        studio.providers.edit("sd", key="alice:wrong-password")
        result = studio.providers.test("sd")
        assert not result["ok"] and result["error_class"] == "AuthError"
        assert "wrong-password" not in str(result)


def test_sdwebui_validation_error_is_a_bad_request(studio, tmp_path):
    with SDWebUIFake() as server:
        studio.providers.add("sd", "text2image", "sdwebui", url=server.url)
        server.fail("txt2img", {"status": 422, "json": {"detail": [{"loc": ["body", "steps"],
                                                                    "msg": "value is not a valid integer"}]}})
        with pytest.raises(BadRequest, match="not a valid integer"):
            generate(studio, "sd", tmp_path)
        server.fail("txt2img", {"status": 500, "json": {"error": "OutOfMemoryError",
                                                        "detail": "CUDA out of memory", "body": "", "errors": ""}})
        assert generate(studio, "sd", tmp_path) == (64, 96)  # a 500 is retried


def test_fill_workflow_keeps_types():
    graph = fill_workflow(DEFAULT_WORKFLOW, {"prompt": "sea", "negative_prompt": "", "seed": 7,
                                             "width": 512, "height": 768, "steps": 20, "model": "m.ckpt"})
    assert graph["3"]["inputs"]["seed"] == 7 and graph["5"]["inputs"]["width"] == 512
    assert graph["6"]["inputs"]["text"] == "sea" and graph["4"]["inputs"]["ckpt_name"] == "m.ckpt"
    assert DEFAULT_WORKFLOW["3"]["inputs"]["seed"] == "{{seed}}"  # the template is not changed


def test_comfyui_submit_wait_fetch_and_failures(studio, tmp_path):
    with ComfyUIFake() as server:
        studio.providers.add("comfy", "text2image", "comfyui", url=server.url, model="sd15.ckpt",
                             params={"poll_interval": 0.01, "max_side": 512})
        assert generate(studio, "comfy", tmp_path) == (64, 96)
        graph = server.hits("prompt")[0].json["prompt"]
        assert graph["6"]["inputs"]["text"] == "a red lighthouse" and graph["3"]["inputs"]["seed"] == 42
        assert (graph["5"]["inputs"]["width"], graph["5"]["inputs"]["height"]) == (288, 512)
        assert len(server.hits("history")) == 3  # two empty polls, then the outputs
        assert server.hits("view")[0].query["type"] == ["output"]

        server.fail_prompts = 1
        with pytest.raises(TaskFailed, match="CUDA out of memory"):
            generate(studio, "comfy", tmp_path)

        studio.providers.edit("comfy", params={"workflow": {"1": {"class_type": "X", "inputs": {
            "text": "{{prompt}}", "other": "{{unknown}}"}}}})
        with pytest.raises(BadRequest, match="rejected|400"):
            generate(studio, "comfy", tmp_path)
        assert studio.providers.test("comfy")["ok"]


def test_openai_speech_writes_a_wav(studio, tmp_path):
    with OpenAIFake() as server:
        studio.providers.add("voice", "tts", "openai_tts", url=server.url + "/v1", model="tts-1",
                             params={"voice": "nova", "max_chars": 40},
                             price={"per_1k_characters": 15.0})
        out = tmp_path / "n.wav"
        text = "The keeper climbed the stairs. The lamp was cold. The whale sang below."
        seconds = run(studio.route("tts", "voice").speak(SpeechRequest(text=text), out))
        assert len(server.hits("speech")) == 2  # split under max_chars at sentence ends
        assert seconds == pytest.approx(1.0, abs=0.01)
        with wave.open(str(out)) as wav:
            assert wav.getnframes() == 24000
        assert server.hits("speech")[0].json["voice"] == "nova"
        billed = sum(len(hit.json["input"]) for hit in server.hits("speech"))  # characters sent
        assert calls(studio)[0]["cost"] == pytest.approx(billed / 1000 * 15.0)
