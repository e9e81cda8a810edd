"""A service that echoes the key back (in response headers, deep inside long error bodies, right
where a message is cut for display), with every logger at DEBUG: the key is nowhere — not in a
log line (from any logger, to any handler, even one added later), an exception, `providers
test`, the calls table or the database files."""
import io
import logging
import os
import traceback

import pytest

from fakes.echo import EchoKeyFake
from fakes.helpers import make_studio, run
from storynb.cli import main
from storynb.providers.base import LLMRequest

KEY = "k8Zq2LmN4pR7tV1wX3yB5cD6fG9hJ0sA"  # no "sk-" prefix: only knowing the key can catch it


def fragments(text: str) -> list[str]:
    """Every 10-character piece of the key that occurs in text."""
    return [KEY[i:i + 10] for i in range(len(KEY) - 9) if KEY[i:i + 10] in text]


def database_bytes(studio) -> str:
    studio.db.execute("pragma wal_checkpoint(full)")
    data = b""
    for suffix in ("", "-wal", "-shm"):
        path = str(studio.path) + suffix
        if os.path.exists(path):
            data += open(path, "rb").read()
    return data.decode("latin-1")


@pytest.fixture
def debug_logs():
    """Every logger at DEBUG, one handler on the root and one straight on httpcore.http11."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    cut = logging.StreamHandler(stream)  # a formatter that truncates: redaction must come first
    cut.setFormatter(logging.Formatter("CUT %(name)s %(message).300s"))
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    child = logging.getLogger("httpcore.http11")
    child.addHandler(cut)
    levels = {}
    for name in list(logging.root.manager.loggerDict):
        logger = logging.getLogger(name)
        levels[name] = logger.level
        logger.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    child.removeHandler(cut)
    root.setLevel(old_level)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_an_echoed_key_is_nowhere(tmp_path, monkeypatch, capsys, debug_logs):
    studio = make_studio(tmp_path, monkeypatch)
    texts = []
    with EchoKeyFake() as server:
        studio.providers.add("echo", "llm", "openai_chat", url=server.url + "/v1", key=KEY, model="m")
        for shape in ("json-500", "html-502", "bad-json"):
            studio.router.reset()
            server.shapes.extend([shape] * 6)
            with pytest.raises(Exception) as info:
                run(studio.route("llm", "echo").complete(LLMRequest(task="rewrite", prompt="hi")))
            texts += [str(info.value), repr(info.value),
                      "".join(traceback.format_exception(info.value))]
            server.shapes.clear()
        studio.router.reset()
        result = run(studio.route("llm", "echo").complete(LLMRequest(task="rewrite", prompt="hi")))
        assert result.text == "fine"
        # the key really went out, and really came back in headers and bodies
        assert server.hits("chat")[-1].headers["authorization"] == f"Bearer {KEY}"

        assert main(["--studio", str(studio.path), "providers", "test", "echo"]) == 1
        tested = studio.providers.test("echo")
        assert tested["ok"] is False and tested["error_class"] == "AuthError"
        texts.append(str(tested))
        logging.getLogger("storynb.test").debug("careless: %s and %r", KEY, {"key": KEY})
        try:
            raise RuntimeError(f"boom with {KEY}")
        except RuntimeError:
            logging.getLogger("some.library").exception("failed")

    out = capsys.readouterr()
    log = debug_logs.getvalue()
    assert "x-echo-authorization" in log.lower() and "CUT httpcore.http11" in log  # it was logged
    assert "[redacted]" in log
    assert "500" in " ".join(texts) and "502" in " ".join(texts)
    calls = studio.calls().to_string() + str(list(studio.db.query("select * from calls")))
    for text in texts + [out.out, out.err, log, calls, database_bytes(studio)]:
        assert KEY not in text
        assert fragments(text) == [], fragments(text)


def test_a_key_cut_short_before_redaction_is_still_masked():
    """A text truncated by code that forgot to redact first holds part of a key: masked too."""
    from storynb.secrets import redact, remember

    remember(KEY)
    for cut in (10, 13, 20, len(KEY) - 1):
        for text in (f"error: Bearer {KEY[:cut]}", f"{KEY[-cut:]} … was echoed", f"x{KEY[3:3 + cut]}y"):
            assert not fragments(redact(text)), (cut, text, redact(text))
    assert redact("tokens_in: 11, max_tokens: 500, k8Zq") == "tokens_in: 11, max_tokens: 500, k8Zq"


def test_a_handler_added_before_or_after_gets_clean_records(tmp_path, monkeypatch):
    from storynb.secrets import remember

    remember(KEY)
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    logger = logging.getLogger("httpcore.connection.deep.child")
    logger.propagate = False
    keep = Keep(logging.DEBUG)
    logger.addHandler(keep)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("header %s", (b"x-echo", f"Bearer {KEY}".encode()))
        logger.debug(f"inline {KEY}")
    finally:
        logger.removeHandler(keep)
    assert len(records) == 2
    assert all(KEY not in r and not fragments(r) for r in records), records
