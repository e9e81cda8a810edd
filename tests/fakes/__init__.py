"""Local fake servers that speak each service's wire format over real HTTP on 127.0.0.1.

Faults are data: `server.fail("chat", {"status": 429, "headers": {"Retry-After": "0"}}, ...)`
queues answers for the next requests of a route. A fault is a dict with any of:
  status, headers, json (a body to send as JSON), raw (bytes sent as is: malformed/truncated
  JSON), sleep (seconds to wait first: a read timeout), drop (close without answering).
After the queued faults the route answers normally.
"""
from .servers import (ComfyUIFake, DashScopeFake, FakeServer, KlingFake, OpenAIFake, RunwayFake,
                      SDWebUIFake, tiny_mp4, tiny_png, tiny_wav)

__all__ = ["FakeServer", "OpenAIFake", "SDWebUIFake", "ComfyUIFake", "RunwayFake", "KlingFake",
           "DashScopeFake", "tiny_png", "tiny_mp4", "tiny_wav"]
