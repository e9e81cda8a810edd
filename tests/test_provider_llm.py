"""The OpenAI-compatible chat adapter against a fake server speaking the wire format over HTTP."""
import json

import pytest

from fakes import OpenAIFake
from fakes.helpers import calls, make_studio, run
from storynb.providers.base import (AuthError, BadRequest, ContentPolicy, InvalidOutput, LLMRequest,
                                    QuotaExhausted)

KEY = "sk-fake-0123456789abcdefXYZ"


@pytest.fixture
def server():
    with OpenAIFake(key=KEY) as fake:
        yield fake


@pytest.fixture
def studio(tmp_path, monkeypatch, server):
    studio = make_studio(tmp_path, monkeypatch)
    studio.providers.add("gpt", "llm", "openai_chat", url=server.url + "/v1", key=KEY,
                         model="fake-model", params={"temperature": 0.3, "max_tokens": 500},
                         timeout=1, price={"per_1k_input": 1.0, "per_1k_output": 2.0})
    return studio


def ask(studio, route="gpt", **fields):
    request = LLMRequest(task="storyboard", prompt=fields.pop("prompt", "Write the storyboard."), **fields)
    return run(studio.route("llm", route).complete(request))


def test_json_answer_tokens_and_cost(studio, server):
    server.replies.append('{"shots": [{"narration": "hi"}]}')
    result = ask(studio, json=True)
    assert json.loads(result.text)["shots"][0]["narration"] == "hi"
    body = server.hits("chat")[0].json
    assert server.hits("chat")[0].headers["authorization"] == f"Bearer {KEY}"
    assert body["response_format"] == {"type": "json_object"}
    assert body["model"] == "fake-model" and body["temperature"] == 0.3 and body["max_tokens"] == 500
    assert "json" in json.dumps(body["messages"]).lower()  # json_object needs the word in the messages
    [row] = calls(studio)
    assert (row["status"], row["tokens_in"], row["tokens_out"]) == ("ok", 11, 7)
    assert row["cost"] == pytest.approx(11 / 1000 * 1.0 + 7 / 1000 * 2.0)


def test_invalid_json_gets_one_repair_request_quoting_the_error(studio, server):
    server.replies.extend(['{"shots": [', '{"shots": []}'])
    result = ask(studio, json=True)
    assert result.text == '{"shots": []}'
    assert result.tokens_in == 22  # both requests counted
    repair = server.hits("chat")[1].json["messages"]
    assert repair[-2] == {"role": "assistant", "content": '{"shots": ['}
    assert "cannot be used" in repair[-1]["content"] and "JSON" in repair[-1]["content"]


def test_validation_error_is_sent_back_then_invalid_output(studio, server):
    def validate(text):
        if "shots" not in json.loads(text):
            raise ValueError('the JSON has no "shots" list')

    server.replies.extend(['{"scenes": []}', '{"scenes": [1]}', '{"shots": []}'])
    other = OpenAIFake()
    with other:
        studio.providers.add("backup", "llm", "openai_chat", url=other.url + "/v1", model="m")
        other.replies.append('{"shots": [1]}')
        result = ask(studio, {"providers": ["gpt", "backup"]}, json=True, validate=validate)
    assert result.text == '{"shots": [1]}'  # gpt failed twice (answer + repair): InvalidOutput → next
    assert 'no \\"shots\\" list' in json.dumps(server.hits("chat")[1].json["messages"][-1])
    rows = calls(studio)
    assert [(r["provider"], r["status"], r["error_class"]) for r in rows] == [
        ("gpt", "failed", "InvalidOutput"), ("backup", "ok", None)]


def test_refusal_and_content_filter_are_content_policy(studio, server):
    server.replies.append({"content": None, "refusal": "I can't help with that."})
    with pytest.raises(ContentPolicy, match="refused"):
        ask(studio)
    server.replies.append({"content": "", "finish_reason": "content_filter"})
    with pytest.raises(ContentPolicy, match="content filter"):
        ask(studio)
    assert len(server.hits("chat")) == 2  # not retried


def test_length_cut_retries_with_more_tokens(studio, server):
    server.replies.extend([{"content": '{"shots": [{"narr', "finish_reason": "length"},
                           '{"shots": []}'])
    assert ask(studio, json=True).text == '{"shots": []}'
    assert [h.json["max_tokens"] for h in server.hits("chat")] == [500, 1000]


def test_reasoning_is_left_out_and_empty_answers_fail_clearly(studio, server):
    server.replies.append({"content": "<think>plan the story</think>Once upon a time.",
                           "reasoning_content": "long thoughts"})
    assert ask(studio).text == "Once upon a time."
    server.replies.extend(["", {"content": None, "reasoning_content": "…", "finish_reason": "length"}])
    with pytest.raises(InvalidOutput, match="reasoning and gave no answer"):
        ask(studio)


@pytest.mark.parametrize("fault, error_class", [
    ({"status": 429, "headers": {"Retry-After": "0"},
      "json": {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}},
     "RateLimited"),
    ({"status": 500, "json": {"error": {"message": "server error", "type": "server_error"}}}, "Transient"),
    ({"status": 503, "raw": b"<html>Service Unavailable</html>"}, "Transient"),
    ({"status": 200, "raw": b'{"id": "x", "choices": [{"message": {"content": "tru'}, "Transient"),
    ({"status": 200, "raw": b"this is not json"}, "Transient"),
    ({"status": 200, "json": {"error": {"message": "The engine is currently overloaded",
                                        "type": "engine_overloaded_error"}}}, "RateLimited"),
    ({"sleep": 1.5}, "Transient"),  # a read timeout (the provider's timeout is 1 s)
    ({"drop": True}, "Transient"),
])
def test_faults_are_retried_and_recorded(studio, server, fault, error_class):
    server.fail("chat", fault)
    assert ask(studio).text == '{"ok": true}'
    rows = calls(studio)
    assert [(r["status"], r["error_class"]) for r in rows] == [("failed", error_class), ("ok", None)]
    assert rows[1]["cost"] > 0 and rows[0]["cost"] == 0  # a failed attempt is not paid


def test_auth_and_quota_fail_over_without_retrying(studio, server):
    with OpenAIFake() as other:
        studio.providers.add("backup", "llm", "openai_chat", url=other.url + "/v1", model="m")
        studio.providers.edit("gpt", key="sk-wrong-key-000000000000")
        assert ask(studio, {"providers": ["gpt", "backup"]}).text == '{"ok": true}'
        assert [r["error_class"] for r in calls(studio, "gpt")] == ["AuthError"]
        from storynb.routing import NoProviderAvailable

        with pytest.raises(NoProviderAvailable, match="gpt cools down.*key refused"):
            ask(studio, "gpt")  # cooling down after the 401: not called again
        studio.router.reset("gpt")
        with pytest.raises(AuthError, match="401"):
            ask(studio, "gpt")
        assert len([r for r in calls(studio, "gpt")]) == 2

        studio.providers.edit("gpt", key=KEY)
        server.fail("chat", {"status": 429, "json": {"error": {
            "message": "You exceeded your current quota, please check your plan and billing details.",
            "type": "insufficient_quota", "code": "insufficient_quota"}}})
        with pytest.raises(QuotaExhausted):
            ask(studio, "gpt")
        assert studio.providers.get("gpt")["cooling_s"] > 0


def test_flat_vllm_error_shape_is_a_bad_request(studio, server):
    server.fail("chat", {"status": 400, "json": {"object": "error", "message":
                                                  "This model's maximum context length is 4096 tokens",
                                                  "type": "BadRequestError", "param": None, "code": 400}})
    with pytest.raises(BadRequest, match="maximum context length"):
        ask(studio)
    assert len(server.hits("chat")) == 1


def test_test_connection_costs_no_generation(studio, server):
    result = studio.providers.test("gpt")
    detail = result["detail"]
    assert result["ok"] and (detail["models"], detail["model_listed"]) == (1, True)
    # what the capabilities table says about the model (fake-model: unknown, conservative)
    assert detail["capabilities"]["known"] is False and "not in the openai_chat" in detail["capabilities"]["warning"]
    studio.providers.edit("gpt", key="sk-wrong-key-000000000000")
    result = studio.providers.test("gpt")
    assert not result["ok"] and result["error_class"] == "AuthError"
    assert not server.hits("chat") and not calls(studio)


def test_a_project_runs_its_llm_stages_through_the_fake(studio, server):
    storyboard = {"shots": [{"scene": f"scene {i}", "narration": f"Line number {i} of the tale.",
                             "image_prompt": f"picture {i}", "duration_s": 3} for i in range(1, 5)]}
    server.replies.extend(["Once upon a time a keeper met a whale.", json.dumps(storyboard),
                           json.dumps({"shots": [{"sequence": 1, "movement": "zoom_in"}]})])
    project = studio.create_project("A lighthouse keeper befriends a whale", shots=4,
                                    size=(144, 256), providers={"llm": "gpt"})
    report = project.run(["rewrite", "storyboard", "camera"])
    assert report.status == "done", report.summary()
    assert project.story() == "Once upon a time a keeper met a whale."
    assert len(project.shots()) == 4
    assert list(project.camera().movement) == ["zoom_in", "static", "static", "static"]
    before = len(server.hits("chat"))
    assert project.run(["rewrite", "storyboard", "camera"]).status == "done"
    assert len(server.hits("chat")) == before  # keyed: nothing is asked twice


def test_blank_lines_before_the_json_answer(studio, server):
    """DeepSeek keeps a busy connection alive with blank lines before the JSON."""
    answer = {"id": "x", "object": "chat.completion", "model": "fake-model",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello."},
                           "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 3, "completion_tokens": 2}}
    server.fail("chat", {"status": 200, "raw": b"\n\n\n" + json.dumps(answer).encode()})
    assert ask(studio).text == "Hello."
    assert len(server.hits("chat")) == 1
