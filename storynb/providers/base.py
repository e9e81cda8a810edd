"""The four provider kinds, as small protocols, and the registry that maps names to providers.

Every provider call goes through `storynb.routing.call(...)`, which records it in the `calls` table;
adapters themselves only do the work and return a result.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

from ..errors import StorynbError
from ..settings import KINDS as KINDS  # the four provider kinds: one list for every layer


class ProviderError(StorynbError):
    """A provider could not do the work. `retryable` tells the runner whether trying again may help."""

    retryable_default = False
    billed = False  # the service charged for the attempt although it failed (Runway SAFETY.INPUT)

    def __init__(self, message: str, *, retryable: bool | None = None,
                 retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retryable = self.retryable_default if retryable is None else retryable
        self.retry_after = retry_after  # seconds the service asked us to wait (Retry-After)
        self.status = status  # the HTTP status, when there was one


# The error classes a router acts on (see storynb.routing for what each one makes it do).
class RateLimited(ProviderError):
    """Too many requests right now (HTTP 429, Kling 1302/1303 …): wait, then try again."""
    retryable_default = True


class QuotaExhausted(ProviderError):
    """Out of credit or over a plan's quota (OpenAI insufficient_quota, HTTP 402 …)."""


class AuthError(ProviderError):
    """The key is missing, wrong or not allowed (HTTP 401/403)."""


class BadRequest(ProviderError):
    """The service rejected the request itself (HTTP 400/404/422): the same request fails again."""


class ContentPolicy(ProviderError):
    """The prompt or the output was refused by the service's content policy."""


class Transient(ProviderError):
    """A fault that may pass: 5xx, timeouts, dropped connections, a truncated answer."""
    retryable_default = True


class InvalidOutput(ProviderError):
    """The answer cannot be used (empty, cut off, not the JSON asked for) even after one repair."""


class TaskFailed(ProviderError):
    """An asynchronous task ended in failure; `retryable` says whether a new submission may work."""


@dataclass(frozen=True)
class LLMRequest:
    """What an LLM stage asks for.

    `prompt` is the rendered template; `task` names the stage (`rewrite`, `storyboard`, `camera`) and
    `variables` are the values the template was rendered with, so an offline writer can work from
    them while a real model reads the prompt.
    """

    task: str
    prompt: str
    variables: dict[str, Any] = field(default_factory=dict)
    json: bool = False
    system: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    # Optional check of the answer (raises ValueError with what is wrong). Real models get one
    # more chance with the error quoted; the offline writer ignores it.
    validate: Callable[[str], Any] | None = field(default=None, compare=False, repr=False)


@dataclass
class LLMResult:
    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    model: str = ""


@dataclass(frozen=True)
class ImageRequest:
    prompt: str
    negative_prompt: str = ""
    width: int = 1080
    height: int = 1920
    seed: int = 0
    steps: int = 20
    caption: str = ""  # short text a local painter may draw; real models ignore it
    # The characters the shot shows (storynb.characters): their reference images, for providers
    # that take input images (others rely on the locked descriptions already in the prompt), and
    # their looks (kind, colours, seed) for the offline painter. Empty for shots without any.
    reference_images: tuple[Path, ...] = ()
    characters: tuple[dict, ...] = ()


@dataclass(frozen=True)
class VideoRequest:
    image_path: Path
    movement: str
    params: dict[str, Any]
    duration_s: float
    width: int
    height: int
    fps: int
    subtitle: str = ""  # burned into the frames when not empty
    font_path: str | None = None
    prompt: str = ""
    # Timed caption pages (seconds from the clip's start): ({"text", "start", "end", "words"}, …).
    # When given, the burned-in subtitle follows them instead of sharing the clip by length.
    captions: tuple = ()
    highlight: bool = False  # burned captions colour the word being spoken


@dataclass(frozen=True)
class SpeechRequest:
    text: str
    language: str = "en"
    voice: str = ""
    speed: float = 1.0


# Every kind may also offer `async def check(self) -> dict`: a cheap call that costs no
# generation (list models, a health route) used by "test connection". It raises a ProviderError
# subclass when the service is unreachable or refuses the key.


@runtime_checkable
class LLM(Protocol):
    name: str
    kind: str  # "llm"

    async def complete(self, request: LLMRequest) -> LLMResult: ...


@runtime_checkable
class TextToImage(Protocol):
    name: str
    kind: str  # "text2image"

    async def generate(self, request: ImageRequest, out_path: Path) -> None:
        """Write one PNG to out_path."""


@runtime_checkable
class ImageToVideo(Protocol):
    name: str
    kind: str  # "image2video"

    async def animate(self, request: VideoRequest, out_path: Path) -> None:
        """Write one MP4 (H.264, yuv420p, no audio) of exactly round(duration_s*fps) frames to out_path."""


@runtime_checkable
class TextToSpeech(Protocol):
    name: str
    kind: str  # "tts"

    async def speak(self, request: SpeechRequest, out_path: Path) -> float:
        """Write a WAV to out_path and return its duration in seconds."""
