"""The offline heuristic checker: a score from simple, named rules (clearly not an AI)."""
from __future__ import annotations

import json
import re

HEURISTIC_JUDGE = "heuristic checker (offline rules, not an AI)"

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]+|[\u4e00-\u9fff]")
_STOP = {"the", "a", "an", "and", "or", "of", "to", "in", "on", "at", "for", "with", "who", "that",
         "is", "are", "was", "his", "her", "their", "its", "from", "by", "during", "into"}

def heuristic_judge(row: dict) -> tuple[float, str]:
    """A score from 1 to 10 and suggestions, from simple rules (no model). Transparent on
    purpose: each point lost is named in the notes."""
    output = row.get("output") or ""
    variables = json.loads(row.get("variables") or "{}")
    stage = row.get("stage") or "rewrite"
    score, notes = 10.0, []
    if stage in ("storyboard", "camera"):
        from ..stages.common import extract_json

        try:
            data, repairs = extract_json(output)
        except ValueError as exc:
            return 1.0, f"- the answer is not usable JSON ({exc}); ask for JSON only, with an example"
        if repairs:
            score -= 1
            notes.append(f"- the JSON needed repairs ({', '.join(repairs)}): say 'JSON only, no "
                         "code fences' in the template")
        items = data.get("shots") if isinstance(data, dict) else data
        if not isinstance(items, list) or not items:
            return 2.0, "- the JSON has no list of shots: show the exact shape in the template"
        wanted = variables.get("shots")
        if stage == "storyboard" and isinstance(wanted, int) and len(items) != wanted:
            score -= 2
            notes.append(f"- {len(items)} shots instead of {wanted}: repeat the count near the end")
        missing = sum(1 for i in items if not isinstance(i, dict) or not str(
            i.get("narration" if stage == "storyboard" else "movement", "")).strip())
        if missing:
            score -= min(4, missing)
            notes.append(f"- {missing} shot(s) lack a {'narration' if stage == 'storyboard' else 'movement'}")
    else:
        topic = str(variables.get("topic") or row.get("topic") or "")
        zh = bool(re.search(r"[\u4e00-\u9fff]", output))
        size = len(re.findall(r"[\u4e00-\u9fff]", output)) if zh else len(output.split())
        target = {"short": (80, 400), "medium": (250, 800), "long": (500, 1600)}.get(
            variables.get("length"), (120, 400))
        if zh:
            target = (target[0] * 2, target[1] * 2)
        if size < target[0]:
            score -= 2
            notes.append(f"- {size} {'characters' if zh else 'words'}, short for a "
                         f"{variables.get('length', 'short')} story: state a length range")
        elif size > target[1]:
            score -= 1
            notes.append(f"- {size} {'characters' if zh else 'words'}, long for a "
                         f"{variables.get('length', 'short')} story")
        words = {w.lower() for w in _WORD.findall(topic)} - _STOP
        if words:
            found = {w for w in words if w in output.lower()}
            share = len(found) / len(words)
            if share < 0.5:
                score -= 2
                notes.append(f"- only {len(found)} of the topic's {len(words)} key words appear: "
                             "ask the template to keep the topic's people and places")
        paragraphs = [p for p in re.split(r"\n\s*\n", output.strip()) if p.strip()]
        if not 3 <= len(paragraphs) <= 6:
            score -= 1
            notes.append(f"- {len(paragraphs)} paragraph(s): ask for 3 to 6")
        sentences = [s.strip() for s in re.split(r"(?<=[.!?。！？])\s*", output) if s.strip()]
        if sentences and len(set(sentences)) < len(sentences):
            score -= 2
            notes.append("- some sentences repeat word for word")
    score = max(1.0, min(10.0, score))
    return score, "\n".join(notes) or "- no problems found by the rules"
