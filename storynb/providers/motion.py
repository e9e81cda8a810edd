"""The local camera-motion renderer: an image-to-video provider that animates a still image."""
from __future__ import annotations

import asyncio
from pathlib import Path

from .base import VideoRequest


class LocalMotion:
    """Smooth sub-pixel Ken Burns motion rendered on this machine (no key, no network)."""

    name = "local-motion"
    kind = "image2video"
    model = "ken-burns/3"  # bump when the rendered frames change, so old clips are redone
    concurrency = 1  # the encoder already uses every core

    async def animate(self, request: VideoRequest, out_path: Path) -> None:
        from ..render.motion import CameraMove, render_clip

        move = CameraMove.from_params(request.movement, request.params)
        await asyncio.to_thread(
            render_clip, request.image_path, move, request.duration_s, request.width,
            request.height, request.fps, out_path, subtitle=request.subtitle,
            font_path=request.font_path, captions=request.captions, highlight=request.highlight)
