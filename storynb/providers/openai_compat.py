"""`openai_chat`: any OpenAI-compatible chat API — OpenAI, DeepSeek, Qwen (DashScope compatible
mode), Moonshot, SiliconFlow, a local Ollama or vLLM.

JSON the portable way: `response_format: {"type": "json_object"}` where the service supports it
(param `json_mode`: "json_object" (default), "off"), the wanted shape stays in the prompt (the
stage templates describe it), and the answer is checked here. A cut-off, empty or invalid answer
gets exactly one more request, quoting what was wrong; after that the call fails with
InvalidOutput. Reasoning fields (`reasoning_content`, `reasoning`) and `<think>` blocks are left
out of the text; a refusal or `finish_reason: content_filter` is a ContentPolicy error.

Params (kind defaults): temperature, max_tokens, top_p, seed, json_mode, max_tokens_field
(overrides the table's field name), extra (merged into the request body last), capabilities
(merged over this model's entry of the capabilities table).

Requests follow the model's capabilities (storynb/data/capabilities.json): reasoning models
(o-series, gpt-5.x) get no temperature/top_p and `max_completion_tokens`; Qwen3 in DashScope's
compatible mode gets `enable_thinking: false`; deepseek-reasoner gets a token budget that leaves
room for its chain of thought. Every change to what the project asked for is noted on the call.
A model the table does not know that still answers 400 `unsupported_parameter` /
`unsupported_value` for temperature, top_p or max_tokens is asked once more without it (noted).
Billed tokens are put on the call context as soon as the service reports them (cache-hit tokens
as units["cached_tokens"], priced by `per_1k_cached_input`).
"""
from __future__ import annotations

import re

from ..llmjson import extract_json
from . import capabilities
from .base import BadRequest, ContentPolicy, InvalidOutput, LLMRequest, LLMResult
from .http import CALL, HTTPAdapter

_THINK = re.compile(r"<think>.*?</think>\s*", re.S)
_UNSUPPORTED = re.compile(r"unsupported[_ ](?:parameter|value).*?'(temperature|top_p|max_tokens)'", re.S | re.I)


class OpenAIChat(HTTPAdapter):
    kind = "llm"
    type = "openai_chat"
    default_url = "https://api.openai.com/v1"
    default_concurrency = 4
    default_params = {"temperature": 0.8, "max_tokens": 4096, "json_mode": "json_object"}
    key_required = False  # local servers (Ollama, vLLM) need none; a cloud API answers 401

    def capabilities(self) -> dict:
        return capabilities.for_model(self.type, self.model, self.params.get("capabilities"))

    def _body(self, messages: list[dict], request: LLMRequest, max_tokens, caps: dict,
              context=None) -> dict:
        params = {**self.params, **(request.params or {})}
        body = {"model": self.model, "messages": messages, "stream": False}
        for name in ("temperature", "top_p", "seed"):
            if params.get(name) is None:
                continue
            if caps.get(name, True):
                body[name] = params[name]
            else:
                capabilities.note_change(context, name, params[name], None,
                                         f"{self.model or 'this model'} does not take {name}")
        if max_tokens:
            field = params.get("max_tokens_field") or caps.get("token_field") or "max_tokens"
            body[field] = int(max_tokens)
        if request.json and params.get("json_mode", "json_object") == "json_object" \
                and caps.get("json_mode", True):
            body["response_format"] = {"type": "json_object"}
        body.update(caps.get("thinking_off") or {})
        body.update(params.get("extra") or {})
        return body

    def _budget(self, max_tokens, caps: dict, context) -> int | None:
        """The token limit to send: at least the model's `min_max_tokens` (reasoning models
        spend part of it thinking), at most its `max_max_tokens`."""
        if not max_tokens:
            return None
        budget = int(max_tokens)
        if caps.get("min_max_tokens") and budget < int(caps["min_max_tokens"]):
            budget = int(caps["min_max_tokens"])
        if caps.get("max_max_tokens") and budget > int(caps["max_max_tokens"]):
            budget = int(caps["max_max_tokens"])
        if budget != int(max_tokens):
            capabilities.note_change(context, "max_tokens", int(max_tokens), budget,
                                     "reasoning tokens count in the limit" if caps.get("reasoning")
                                     else "the model's output limit")
        return budget

    def _messages(self, request: LLMRequest) -> list[dict]:
        system = request.system or ""
        if request.json and "json" not in (system + request.prompt).lower():
            system = (system + "\n\n" if system else "") + "Answer with one JSON object only."
        elif request.json:
            system = (system + "\n\n" if system else "") + "Answer with the JSON only, no prose."
        messages = [{"role": "system", "content": system}] if system else []
        return messages + [{"role": "user", "content": request.prompt}]

    async def _post(self, body: dict, caps: dict, context) -> dict:
        """POST /chat/completions; a 400 naming temperature/top_p/max_tokens as unsupported
        (a model the table does not describe) is answered by leaving it out / renaming it once."""
        for _ in range(3):
            try:
                return await self.request("POST", "/chat/completions", json_body=body)
            except BadRequest as exc:
                found = _UNSUPPORTED.search(str(exc))
                if not found or found.group(1) not in body:
                    raise
                name = found.group(1)
                value = body.pop(name)
                if name == "max_tokens":
                    body["max_completion_tokens"] = value
                    caps["token_field"] = "max_completion_tokens"
                    capabilities.note_change(context, "token_field", "max_tokens",
                                             "max_completion_tokens", "the service refused max_tokens")
                else:
                    caps[name] = False
                    capabilities.note_change(context, name, value, None,
                                             f"the service refused {name}")
                capabilities.note_warning(context, f"{self.model}: the service refused {name}; add it to "
                                                   "the capabilities table (provider param `capabilities`)")
        return await self.request("POST", "/chat/completions", json_body=body)

    async def complete(self, request: LLMRequest) -> LLMResult:
        context = CALL.get()
        caps = self.capabilities()
        capabilities.note_warning(context, caps.get("warning"))
        if caps.get("stream_only"):
            raise BadRequest(f"{self.name}: {self.model} answers streamed requests only, and storynb "
                             "asks for whole answers: choose another model, or set the provider param "
                             "capabilities={\"stream_only\": false} if the service has changed")
        messages = self._messages(request)
        max_tokens = self._budget((request.params or {}).get("max_tokens", self.params.get("max_tokens")),
                                  caps, context)
        tokens_in = tokens_out = 0
        model = self.model
        problem = ""
        for attempt in range(2):
            data = await self._post(self._body(messages, request, max_tokens, caps, context),
                                    caps, context)
            usage = data.get("usage") or {}
            tokens_in += int(usage.get("prompt_tokens") or 0)
            tokens_out += int(usage.get("completion_tokens") or 0)
            self._bill(context, usage, tokens_in, tokens_out)
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
                    ceiling = int(caps.get("max_max_tokens") or 0)
                    more = int(max_tokens) * 2 if not ceiling else min(int(max_tokens) * 2, ceiling)
                    if more == int(max_tokens):
                        break  # already at the model's ceiling: one more request would be cut off too
                    max_tokens = more
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
    def _bill(context, usage: dict, tokens_in: int, tokens_out: int) -> None:
        """Billed tokens on the call, at once (a rejected answer was still paid for)."""
        if context is None or not usage:
            return
        context.tokens_in, context.tokens_out = tokens_in, tokens_out
        context.billed = True
        details = usage.get("prompt_tokens_details") or {}
        cached = usage.get("prompt_cache_hit_tokens")  # DeepSeek
        if cached is None:
            cached = details.get("cached_tokens") if isinstance(details, dict) else None
        if cached:
            context.units["cached_tokens"] = int(context.units.get("cached_tokens") or 0) + int(cached)
        reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") \
            if isinstance(usage.get("completion_tokens_details"), dict) else None
        if reasoning:
            context.note["reasoning_tokens"] = int(context.note.get("reasoning_tokens") or 0) + int(reasoning)

    @staticmethod
    def _check(text: str, request: LLMRequest) -> str:
        try:
            if request.validate is not None:
                request.validate(text)
            elif request.json:
                extract_json(text)
        except ValueError as exc:
            return str(exc)[:500]
        return ""

    async def check(self) -> dict:
        data = await self.request("GET", "/models", timeout=min(self.timeout, 20))
        models = [m.get("id") for m in (data or {}).get("data", []) if isinstance(m, dict)]
        return {"models": len(models), "model_listed": (self.model in models) if models else None,
                "capabilities": capabilities.summary(self.capabilities())}
