"""Stage 1 — rewrite (文案改写): topic + variables → a story. Every version is kept."""
from __future__ import annotations

from ..errors import StageFailed
from ..runner import Job, job_key
from .common import ask_llm, provider_identity, story_row, take, template


def variables(project) -> dict:
    row = project.row
    return {"topic": row["topic"], "language": row["language"], "style": row["style"] or "",
            "length": row["length"] or "short", "audience": row["audience"] or ""}


def user_story_key(project) -> str:
    """A story the user wrote stands in for the rewrite stage until the stage is rolled back."""
    return f"user:{take(project, 'rewrite')}"


def plan(project) -> list[Job]:
    if project.row["source_text"]:  # a source text is adapted chunk by chunk (storynb.longform)
        return []
    tpl = template(project, "rewrite")
    values = variables(project)
    key = job_key("rewrite", **values, template_id=tpl["id"],
                  **provider_identity(project.provider("llm")), take=take(project, "rewrite"))

    def done() -> bool:
        latest = story_row(project)
        if latest and latest["source"] == "user" and latest["key"] == user_story_key(project):
            return True
        return bool(project.db["stories"].count_where(
            "project_id = ? and key = ?", [project.id, key]))

    async def run() -> None:
        result, call_id = await ask_llm(project, "rewrite", tpl, values, key=key, want_json=False)
        text = result.text.strip()
        if not text:
            raise StageFailed("the model returned an empty story; run the stage again or edit "
                             "the story by hand with project.set_story(...)")
        current = story_row(project)
        if current and current["text"] == text:  # same words: record the key on a new version
            project.db["stories"].update(current["id"], {"key": key})
        else:
            project.add_story_version(text, source="llm", key=key, template_id=tpl["id"],
                                      call_id=call_id)

    return [Job("rewrite", key, "story", run, done, limit=project.provider("llm").name,
               cap=project.provider("llm").concurrency)]
