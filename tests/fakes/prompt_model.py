"""A fake OpenAI-compatible chat model on 127.0.0.1 whose answers really depend on the prompt
(not on the variables), so prompt experiments can show wording changes.

Writing (a story prompt, "… about: <topic>" or "…故事：<topic>"):
  - the story mentions the topic's words; in Chinese when the prompt is in Chinese;
  - "twist" in the prompt: the last paragraph starts "Then came the twist:";
  - "first person" in the prompt: told with "I";
  - "N paragraphs" in the prompt: exactly N paragraphs (else 3);
  - temperature > 0: the opening line is picked by the seed (same seed, same story).
Storyboards ("Answer with JSON" and "{{ shots }} shots"): JSON with that many shots.
Judging:
  - a rubric check ("Does the output satisfy the instruction?"): passes when every word in
    single quotes in the instruction appears in the output;
  - a pairwise comparison ("Output 1:" / "Output 2:"): prefers the output with more of the
    features twist / first person / hope, a tie when equal — the same verdict whichever comes
    first. `position_bias=True` makes it always answer "1" (a judge whose verdict flips);
  - a template critique ("<<<TEMPLATE … TEMPLATE>>>"): the template plus "End with a twist."
  - a single-output score ("Score the output"): 5, plus 2 per feature.
Each answer reports tokens as word counts; the price is set on the provider row.
"""
from __future__ import annotations

import json
import random
import re
import time
import uuid

from .servers import FakeServer

OPENERS = ["It began on a grey morning.", "Nobody expected what the tide would bring.",
           "The wind had a secret that day.", "Everything changed at dusk."]


def features(text: str) -> int:
    lower = text.lower()
    return sum((("twist" in lower), bool(re.search(r"\bI\b", text)), ("hope" in lower)))


class PromptModelFake(FakeServer):
    def __init__(self, *, position_bias: bool = False, **kw):
        self.position_bias = position_bias
        super().__init__(**kw)

    def setup(self):
        super().setup()
        self.route("POST", r"/v1/chat/completions", "chat", self.chat)
        self.route("GET", r"/v1/models", "models", lambda r: (200, {"data": [{"id": "fake"}]}))

    def chat(self, request):
        body = request.json or {}
        messages = body.get("messages") or []
        prompt = "\n".join(m.get("content") or "" for m in messages if m.get("role") == "user")
        system = "\n".join(m.get("content") or "" for m in messages if m.get("role") == "system")
        text = self.answer(prompt, system, body)
        usage = {"prompt_tokens": len((system + prompt).split()),
                 "completion_tokens": len(text.split())}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return 200, {"id": f"chatcmpl-{uuid.uuid4().hex[:10]}", "object": "chat.completion",
                     "created": int(time.time()), "model": body.get("model", "fake"),
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                  "finish_reason": "stop"}], "usage": usage}

    # -------------------------------------------------------------------------------------
    def answer(self, prompt: str, system: str, body: dict) -> str:
        if "<<<TEMPLATE" in prompt:
            template = prompt.split("<<<TEMPLATE", 1)[1].split("TEMPLATE>>>", 1)[0].strip()
            return json.dumps({"template": template + "\nEnd with a twist.",
                               "rationale": "the judges preferred endings with a twist"})
        if "Does the output satisfy the instruction?" in prompt:
            instruction = re.search(r"Instruction: (.*)", prompt).group(1)
            output = prompt.split("The output:\n---\n", 1)[1].rsplit("\n---", 1)[0]
            words = re.findall(r"'([^']+)'", instruction)
            ok = bool(words) and all(w.lower() in output.lower() for w in words)
            return json.dumps({"pass": ok, "reason": f"{'has' if ok else 'lacks'} {words}"})
        if "Output 1:" in prompt and "Output 2:" in prompt:
            first = prompt.split("Output 1:\n<<<\n", 1)[1].split("\n>>>", 1)[0]
            second = prompt.split("Output 2:\n<<<\n", 1)[1].split("\n>>>", 1)[0]
            if self.position_bias:
                return json.dumps({"winner": "1", "reason": "the first one reads better"})
            a, b = features(first), features(second)
            winner = "1" if a > b else "2" if b > a else "tie"
            return json.dumps({"winner": winner, "reason": f"features {a} vs {b}"})
        if "Score the output" in prompt:
            output = prompt.split("The model's output:\n---\n", 1)[1]
            return json.dumps({"score": 5 + 2 * features(output), "strengths": "clear",
                               "suggestions": "ask for a twist"})
        if "shots" in prompt and "JSON" in prompt + system:
            count = int((re.search(r"(\d+) shots", prompt) or re.search(r"(\d+)", "6")).group(1))
            return json.dumps({"shots": [{"scene": f"scene {i}", "narration": f"line {i}",
                                          "image_prompt": f"picture {i}", "duration_s": 3.0}
                                         for i in range(1, count + 1)]})
        return self.story(prompt, body)

    def story(self, prompt: str, body: dict) -> str:
        zh = bool(re.search(r"[\u4e00-\u9fff]{4}", prompt.split("\n", 1)[0]))
        first = prompt.split("\n", 1)[0]
        topic = re.split(r"about: |：", first, maxsplit=1)[-1].strip()
        paragraphs = int((re.search(r"(\d+) paragraphs", prompt) or re.search(r"(3)", "3")).group(1))
        temperature = float(body.get("temperature") or 0)
        seed = body.get("seed")
        opener = OPENERS[0] if temperature == 0 else random.Random(seed).choice(OPENERS)
        first_person = "first person" in prompt.lower()
        if zh:
            parts = [f"{topic}。这是故事的第{i + 1}段。" for i in range(paragraphs)]
            if "twist" in prompt.lower() or "反转" in prompt:
                parts[-1] = "Then came the twist: " + parts[-1]
            return "\n\n".join(parts)
        who = "I" if first_person else "She"
        parts = [f"{opener} {who} remembered {topic.rstrip('.')}."]
        for i in range(1, paragraphs):
            parts.append(f"{who} walked on, step {i}, thinking of {topic.rstrip('.')}.")
        if "twist" in prompt.lower():
            parts[-1] = f"Then came the twist: {who.lower() if who != 'I' else 'I'} had been the storm all along."
        return "\n\n".join(parts)
