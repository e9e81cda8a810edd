"""A kernel manager for the app's Voila server with a cap on the number of kernels.

Every GET of the app's page starts (or takes from the preheated pool) a kernel of about 130 MB.
No more than `max_kernels` kernels are alive at once, pool included:
- a page that finds no ready pool kernel and no free slot gets "503: the app is busy, try again
  in a minute" (app/voila/templates/storynb/error.html) instead of a kernel;
- refilling the preheated pool waits for a free slot instead of failing, and a page is only
  given a pool kernel that is ready (never one still waiting for a slot).
Kernels are started one at a time, so two requests cannot both take the last slot. A kernel
taken from the pool counts as active from that moment (the culler leaves it to its page).
Set the cap in app/voila.py, on the command line (`--CappedKernelManager.max_kernels=N`) or
with $STORYNB_MAX_KERNELS."""
from __future__ import annotations

import asyncio
import functools
import os

from jupyter_server._tz import utcnow
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Int, default


class CappedKernelManager(AsyncMappingKernelManager):
    max_kernels = Int(config=True, help="The most kernels alive at once (pages + preheated pool).")

    @default("max_kernels")
    def _max_kernels_default(self) -> int:
        return int(os.environ.get("STORYNB_MAX_KERNELS", "12"))

    def __init_subclass__(cls, **kwargs):
        # Voila wraps the configured class in its preheating manager (a subclass made at start);
        # its pool count must only offer kernels that are ready.
        # And a kernel handed from the pool to a page has been idle since it was preheated: it
        # counts as active from then on, or the culler could take it before the page connects.
        super().__init_subclass__(**kwargs)
        if "get_pool_size" in cls.__dict__:
            cls.get_pool_size = _ready_pool_size
        if "get_rendered_notebook" in cls.__dict__:
            cls.get_rendered_notebook = _touching(cls.__dict__["get_rendered_notebook"])

    async def start_kernel(self, *args, **kwargs):
        env = kwargs.get("env") or {}
        refill = str(env.get("VOILA_PREHEAT", "")).lower() == "true"
        lock = self.__dict__.setdefault("_storynb_start_lock", asyncio.Lock())
        while True:
            async with lock:
                alive = len(self.list_kernel_ids())
                if alive < self.max_kernels:
                    return await super().start_kernel(*args, **kwargs)
            if not refill:
                self.log.warning("storynb: %d kernels alive (the cap is %d): the page is told "
                                 "to try again later", alive, self.max_kernels)
                raise web.HTTPError(503, "the app is busy")
            await asyncio.sleep(0.5)  # the pool waits for a free slot


def _ready_pool_size(self, notebook_name: str) -> int:
    pool = getattr(self, "_pools", {}).get(notebook_name, [])
    ready = 0
    for task in pool:
        if not task.done() or task.cancelled() or task.exception() is not None:
            break  # pages take the pool's first kernel: only count ready ones at the front
        ready += 1
    return ready


def _touching(get_rendered_notebook):
    @functools.wraps(get_rendered_notebook)
    async def wrapper(self, *args, **kwargs):
        result = await get_rendered_notebook(self, *args, **kwargs)
        kernel = self.get_kernel(result[-1])
        kernel.last_activity = utcnow()
        return result
    return wrapper
