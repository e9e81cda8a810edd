"""`openai_chat`: any OpenAI-compatible chat API — OpenAI, DeepSeek, Qwen (DashScope compatible
mode), Moonshot, SiliconFlow, a local Ollama or vLLM.

JSON the portable way: `response_format: {"type": "json_object"}` where the service supports it
(param `json_mode`: "json_object" (default), "off"), the wanted shape stays in the prompt (the
stage templates describe it), and the answer is checked here. A cut-off, empty or invalid answer
gets exactly one more request, quoting what was wrong; after that the call fails with
InvalidOutput. Reasoning fields (`reasoning_content`, `reasoning`) and `<think>` blocks are left
out of the text; a refusal or `finish_reason: content_filter` is a ContentPolicy error.

Params (kind defaults): temperature, max_tokens, top_p, seed, json_mode, max_tokens_field
("max_tokens", or "max_completion_tokens" for OpenAI's newer models), extra (merged into the
request body, e.g. {"enable_thinking": false} for Qwen).
"""
from __future__ import annotations

import re

from .base import ContentPolicy, InvalidOutput, LLMRequest, LLMResult
from .http import HTTPAdapter

_THINK = re.compile(r"<think>.*?</think>\s*", re.S)


class OpenAIChat(HTTPAdapter):
    kind = "llm"
    type = "openai_chat"
    default_url = "https://api.openai.com/v1"
    default_concurrency = 4
    default_params = {"temperature": 0.8, "max_tokens": 4096, "json_mode": "json_object"}
    key_required = False  # local servers (Ollama, vLLM) need none; a cloud API answers 401

    def _body(self, messages: list[dict], request: LLMRequest, max_tokens) -> dict:
        params = {**self.params, **(request.params or {})}
        body = {"model": self.model, "messages": messages, "stream": False}
        for name in ("temperature", "top_p", "seed"):
            if params.get(name) is not None:
                body[name] = params[name]
        if max_tokens:
            body[params.get("max_tokens_field") or "max_tokens"] = int(max_tokens)
        if request.json and params.get("json_mode", "json_object") == "json_object":
            body["response_format"] = {"type": "json_object"}
        body.update(params.get("extra") or {})
        return body

    def _messages(self, request: LLMRequest) -> list[dict]:
        system = request.system or ""
        if request.json and "json" not in (system + request.prompt).lower():
            system = (system + "\n\n" if system else "") + "Answer with one JSON object only."
        elif request.json:
            system = (system + "\n\n" if system else "") + "Answer with the JSON only, no prose."
        messages = [{"role": "system", "content": system}] if system else []
        return messages + [{"role": "user", "content": request.prompt}]

    async def complete(self, request: LLMRequest) -> LLMResult:
        messages = self._messages(request)
        max_tokens = (request.params or {}).get("max_tokens", self.params.get("max_tokens"))
        tokens_in = tokens_out = 0
        model = self.model
        problem = ""
        for attempt in range(2):
            data = await self.request("POST", "/chat/completions",
                                      json_body=self._body(messages, request, max_tokens))
            usage = data.get("usage") or {}
            tokens_in += int(usage.get("prompt_tokens") or 0)
            tokens_out += int(usage.get("completion_tokens") or 0)
            model = data.get("model") or model
            choices = data.get("choices") or []
            if not choices or not isinstance(choices[0], dict):
                problem = "the answer has no choices"
                continue
            message = choices[0].get("message") or {}
            finish = choices[0].get("finish_reason")
            if message.get("refusal"):
                raise ContentPolicy(f"{self.name}: the model refused: {str(message['refusal'])[:300]}")
            if finish == "content_filter":
                raise ContentPolicy(f"{self.name}: the answer was stopped by the content filter")
            text = _THINK.sub("", message.get("content") or "").strip()
            if finish == "length":
                problem = ("the answer was cut off at the token limit" if text else
                           "the model used every token on reasoning and gave no answer")
                if max_tokens:
                    max_tokens = int(max_tokens) * 2
                continue
            if not text:
                problem = "the answer is empty"
                continue
            problem = self._check(text, request)
            if not problem:
                return LLMResult(text=text, tokens_in=tokens_in, tokens_out=tokens_out, model=model)
            if attempt == 0:
                messages = messages + [
                    {"role": "assistant", "content": text},
                    {"role": "user", "content": f"That answer cannot be used: {problem}. "
                                                "Reply again with only the corrected JSON."
                     if request.json else f"That answer cannot be used: {problem}. Reply again."}]
        raise InvalidOutput(f"{self.name}: {problem} (after one repair request)")

    @staticmethod
    def _check(text: str, request: LLMRequest) -> str:
        try:
            if request.validate is not None:
                request.validate(text)
            elif request.json:
                from ..stages.common import extract_json

                extract_json(text)
        except ValueError as exc:
            return str(exc)[:500]
        return ""

    async def check(self) -> dict:
        data = await self.request("GET", "/models", timeout=min(self.timeout, 20))
        models = [m.get("id") for m in (data or {}).get("data", []) if isinstance(m, dict)]
        return {"models": len(models), "model_listed": (self.model in models) if models else None}
