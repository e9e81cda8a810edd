"""API keys: encrypted at rest, never in the database in clear, a log line, an exception, a
DataFrame or CLI output; master key file 0600; rotation."""
import logging
import os
import stat

import pytest

from fakes import OpenAIFake
from fakes.helpers import make_studio, run
from storynb import StorynbError
from storynb.cli import main
from storynb.providers.base import LLMRequest
from storynb.secrets import Secret, Secrets, redact

KEY = "sk-proj-SECRET0123456789abcdefghijklmnop"


@pytest.fixture
def studio(tmp_path, monkeypatch):
    return make_studio(tmp_path, monkeypatch)


def database_bytes(studio) -> bytes:
    studio.db.execute("pragma wal_checkpoint(full)")
    data = b""
    for suffix in ("", "-wal", "-shm"):
        path = str(studio.path) + suffix
        if os.path.exists(path):
            with open(path, "rb") as fh:
                data += fh.read()
    return data


def test_a_key_is_nowhere_in_clear(studio, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    with OpenAIFake(key=KEY) as server:
        studio.providers.add("gpt", "llm", "openai_chat", url=server.url + "/v1", key=KEY, model="m")
        # a service that echoes the key back in its error message, then answers
        server.fail("chat", {"status": 401, "json": {"error": {
            "message": f"Incorrect API key provided: {KEY}. You can find your API key at …",
            "type": "invalid_request_error", "code": "invalid_api_key"}}})
        with pytest.raises(Exception) as info:
            run(studio.route("llm", "gpt").complete(LLMRequest(task="rewrite", prompt="hi")))
        assert KEY not in str(info.value) and KEY not in repr(info.value)
        studio.router.reset()
        run(studio.route("llm", "gpt").complete(LLMRequest(task="rewrite", prompt="hi")))
        logging.getLogger("storynb").warning("using %s", KEY)  # even a careless log line
        assert server.hits("chat")[-1].headers["authorization"] == f"Bearer {KEY}"  # it was used

        adapter = studio.provider("llm", "gpt")
        texts = [repr(adapter), repr(studio.route("llm", "gpt")), repr(adapter.config),
                 str(vars(adapter)), studio.providers.frame().to_string(),
                 str(studio.providers.get("gpt")), studio.calls().to_string(),
                 studio.usage().to_string(), caplog.text]
        for text in texts:
            assert KEY not in text
        assert studio.providers.get("gpt")["key"] == "set, ends …mnop"

        assert main(["--studio", str(studio.path), "providers", "list"]) == 0
        assert main(["--studio", str(studio.path), "providers", "test", "gpt"]) == 0
        out = capsys.readouterr()
        assert KEY not in out.out + out.err and "gpt" in out.out

    assert KEY.encode() not in database_bytes(studio)
    assert KEY[-20:].encode() not in database_bytes(studio)


def test_master_key_file_is_private_and_outside_the_database(studio, tmp_path):
    studio.providers.add("gpt", "llm", "openai_chat", key=KEY, model="m")
    key_file = tmp_path / "keys" / "secret.key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_bytes().split(b"\n")[1] not in database_bytes(studio)


def test_the_environment_variable_and_rotation(studio, tmp_path, monkeypatch):
    from cryptography.fernet import Fernet

    studio.providers.add("gpt", "llm", "openai_chat", key=KEY, model="m")
    token = list(studio.db["providers"].rows_where("name = 'gpt'"))[0]["key_encrypted"]
    assert studio.providers.rotate_keys() == 1
    lines = [text for text in (tmp_path / "keys" / "secret.key").read_text().splitlines() if not text.startswith("#")]
    assert len(lines) == 2  # a new key on top; the old one kept for other studios
    after = list(studio.db["providers"].rows_where("name = 'gpt'"))[0]["key_encrypted"]
    assert after != token
    assert Fernet(lines[0].encode()).decrypt(after.encode()).decode() == KEY
    studio._adapters.clear()
    assert studio.provider("llm", "gpt").key() == KEY

    # With the variable, the first key listed encrypts; the others still decrypt.
    new = Fernet.generate_key().decode()
    monkeypatch.setenv("STORYNB_SECRET_KEY", f"{new},{lines[0]}")
    assert studio.providers.rotate_keys() == 1
    token = list(studio.db["providers"].rows_where("name = 'gpt'"))[0]["key_encrypted"]
    assert Fernet(new.encode()).decrypt(token.encode()).decode() == KEY

    # A wrong master key is a clear error that shows no key.
    monkeypatch.setenv("STORYNB_SECRET_KEY", Fernet.generate_key().decode())
    studio._adapters.clear()
    with pytest.raises(StorynbError, match="cannot be decrypted") as info:
        studio.provider("llm", "gpt")
    assert KEY not in str(info.value)


def test_redaction_patterns_and_secret_type():
    secret = Secret("tok-abcdefghijklmnop-1234")
    assert "abcdefgh" not in repr(secret) and "1234" in repr(secret)
    assert secret.reveal() == "tok-abcdefghijklmnop-1234"
    assert "abcdefghijklmnop" not in redact("failed with tok-abcdefghijklmnop-1234 !")
    samples = {
        "Authorization: Bearer abc.def-ghi_jkl012": "abc.def-ghi_jkl012",
        "key sk-ant-0123456789abcdefXYZ used": "sk-ant-0123456789abcdefXYZ",
        "https://x.example/v1?api_key=ZZZZ1234&x=1": "ZZZZ1234",
        "http://user:hunter2pass@host/v1": "hunter2pass",
        "token eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJhayJ9.c2lnbmF0dXJlMTIz end": "eyJpc3MiOiJhayJ9",
    }
    for text, secret_part in samples.items():
        assert secret_part not in redact(text), text
    assert redact("tokens_in: 11, max_tokens: 500") == "tokens_in: 11, max_tokens: 500"


def test_secrets_without_a_master_key(tmp_path, monkeypatch):
    monkeypatch.delenv("STORYNB_SECRET_KEY", raising=False)
    secrets = Secrets(tmp_path / "nothing" / "secret.key")
    with pytest.raises(StorynbError, match="no master key"):
        secrets.decrypt("gAAAA-not-a-token")
