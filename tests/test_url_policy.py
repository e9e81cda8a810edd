"""The URL policy: bad provider URLs are refused at add time (Python and CLI); link-local and
metadata addresses are never reached; result downloads and every redirect hop go only to the
provider's host or a public address (private ones only for a provider on a private address);
at most 5 redirects."""
import subprocess
import sys

import pytest

from fakes.helpers import make_studio, run
from fakes.redirects import PointingOpenAIFake, RedirectFake
from storynb.errors import InvalidInput
from storynb.providers.base import BadRequest, ImageRequest
from storynb.providers.http import Config, HTTPAdapter
from storynb.providers.urls import UnsafeURL

REFUSED = {
    "http://169.254.169.254/latest/meta-data/": "metadata",
    "http://[fd00:ec2::254]/": "metadata",
    "http://0xA9FEA9FE/": "metadata",
    "http://[::ffff:169.254.169.254]/": "metadata",
    "http://169.254.10.1:8080/v1": "link-local",
    "http://[fe80::1]/": "link-local",
    "http://metadata.google.internal/computeMetadata/v1/": "metadata",
    "http://0.0.0.0:8188": "not a host address",
    "http://": "no host",
    "https:///v1": "no host",
    "http://api.example.com/v1\nX-Injected: 1": "line break",
    "http://api.exa mple.com/v1": "space",
    "http://alice:hunter22@api.example.com/v1": "encrypted",
    "ftp://api.example.com/": "http:// or https://",
    "api.example.com/v1": "http:// or https://",
    "http://api.example.com:99999/": "port",
}


@pytest.fixture
def studio(tmp_path, monkeypatch):
    return make_studio(tmp_path, monkeypatch)


@pytest.mark.parametrize("url", REFUSED)
def test_bad_urls_are_refused_at_add_and_edit(studio, url):
    with pytest.raises(InvalidInput, match=REFUSED[url]):
        studio.providers.add("x", "llm", "openai_chat", url=url)
    assert studio.db["providers"].count_where("name = 'x'") == 0
    studio.providers.add("y", "llm", "openai_chat", url="http://127.0.0.1:11434/v1")
    with pytest.raises(InvalidInput, match=REFUSED[url]):
        studio.providers.edit("y", url=url)
    assert studio.providers.get("y")["url"] == "http://127.0.0.1:11434/v1"
    assert "hunter22" not in str(studio.providers.list())


def test_local_and_public_urls_are_accepted(studio):
    for i, url in enumerate(["http://127.0.0.1:8188", "http://localhost:11434/v1",
                             "http://192.168.1.20:7860", "https://api.deepseek.com/v1",
                             "http://[::1]:8000/v1"]):
        studio.providers.add(f"p{i}", "llm", "openai_chat", url=url)


def test_the_cli_refuses_a_metadata_url_in_one_line(tmp_path):
    for url in ("http://169.254.169.254/", "http://example.com/\nHost: evil"):
        done = subprocess.run([sys.executable, "-m", "storynb.cli", "--studio", str(tmp_path / "s.db"),
                               "providers", "add", "meta", "--kind", "llm", "--type", "openai_chat",
                               "--url", url], capture_output=True, text=True, timeout=120,
                              env={"STORYNB_KEY_FILE": str(tmp_path / "k"), "PATH": "/usr/bin:/bin"})
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert "refused" in done.stderr


def adapter(url: str) -> HTTPAdapter:
    return HTTPAdapter(Config(name="svc", kind="text2image", type="t", url=url))


def test_downloads_and_redirects_are_checked_hop_by_hop(tmp_path):
    out = tmp_path / "x.png"
    with RedirectFake() as server, RedirectFake() as other:
        local = adapter(server.url)  # a provider on 127.0.0.1: private addresses are fine
        assert run(local.download(f"{server.url}/png", out)) > 0
        assert run(local.download(f"{server.url}/hop/4", out)) > 0  # five redirects: allowed
        with pytest.raises(UnsafeURL, match="more than 5"):
            run(local.download(f"{server.url}/hop/5", out))
        # another private host (localhost, not 127.0.0.1) for a private provider: allowed
        moved = other.url.replace("127.0.0.1", "localhost")
        assert run(local.download(f"{server.url}/go?to={moved}/png", out)) > 0
        for target, why in [("http://169.254.169.254/latest/meta-data/", "metadata"),
                            ("http://[fd00:ec2::254]/", "metadata"),
                            ("http://0xA9FEA9FE/", "metadata"),
                            ("http://169.254.1.1/", "link-local"),
                            ("file:///etc/passwd", "only http"),
                            ("ftp://example.com/x", "only http")]:
            with pytest.raises(UnsafeURL, match=why):  # as a result URL …
                run(local.download(target, out))
            hits = len(server.hits("go"))
            with pytest.raises(UnsafeURL, match=why):  # … and as a redirect
                run(local.download(f"{server.url}/go?to={target}", out))
            assert len(server.hits("go")) == hits + 1

        # a provider on a public host may not be pointed at the user's network
        public = adapter("https://api.example.com/v1")
        with pytest.raises(UnsafeURL, match="private network and the provider is not"):
            run(public.download(f"{other.url}/png", out))
        hits = len(other.hits("png"))
        with pytest.raises(UnsafeURL):
            run(public.download(f"{server.url}/go?to={other.url}/png", out))
        assert len(other.hits("png")) == hits


def test_a_result_url_pointing_at_metadata_fails_the_call_clearly(studio, tmp_path):
    with PointingOpenAIFake() as server:
        studio.providers.add("img", "text2image", "openai_images", url=server.url + "/v1",
                             key="sk-test-000000000000000", model="gpt-image-1")
        with pytest.raises(BadRequest, match="refused .*169.254.169.254.*metadata"):
            run(studio.route("text2image", "img").generate(
                ImageRequest(prompt="a lighthouse", width=1024, height=1024), tmp_path / "o.png"))
        rows = list(studio.db.query("select status, error_class, error from calls"))
        assert len(rows) == 1 and rows[0]["error_class"] == "UnsafeURL"  # not retried
