"""A server that redirects: to any URL (/go?to=…), down a chain of hops (/hop/N), and serves a
small PNG at /png. Used to prove every redirect hop is checked by the URL policy."""
from __future__ import annotations

from .servers import FakeServer, OpenAIFake, tiny_png


class RedirectFake(FakeServer):
    def setup(self):
        super().setup()
        self.route("GET", r"/go", "go", self.go)
        self.route("GET", r"/hop/(?P<n>\d+)", "hop", self.hop)
        self.route("GET", r"/png", "png", self.png)

    def authorized(self, request):
        return True

    def go(self, request):
        return 302, {"Location": request.query["to"][0]}, b""

    def hop(self, request, n):
        n = int(n)
        if n == 0:
            return 302, {"Location": "/png"}, b""
        return 302, {"Location": f"/hop/{n - 1}"}, b""

    def png(self, request):
        return 200, {"Content-Type": "image/png"}, tiny_png()


class PointingOpenAIFake(OpenAIFake):
    """OpenAI-style images whose result URL is whatever `result_url` says (a metadata address,
    the user's router …), as a compromised or careless service might answer."""

    result_url = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"

    def setup(self):
        super().setup()
        self.image_mode = "url"

    def issue(self, name: str) -> str:
        return self.result_url
