"""A kernel manager for the app's Voila server with a cap on the number of kernels.

Every GET of the app's page starts (or takes from the preheated pool) a kernel of about 130 MB.
No more than `max_kernels` kernels are alive at once, pool included:
- a page that finds no ready pool kernel and no free slot gets "503: the app is busy, try again
  in a minute" (app/voila/templates/storynb/error.html) instead of a kernel;
- refilling the preheated pool waits for a free slot instead of failing, and a page is only
  given a pool kernel that is ready (never one still waiting for a slot).
Kernels are started one at a time, so two requests cannot both take the last slot. A kernel
taken from the pool counts as active from that moment (the culler leaves it to its page).

A kernel given to a page must be connected to: when no page is connected to it and it has been
idle (no message at all) for `connect_timeout` seconds (the request went away before or after its page
arrived, or the page closed and its shutdown request was lost), it is shut down at once, well
before the idle culler would.
Set the cap in app/voila.py, on the command line (`--CappedKernelManager.max_kernels=N`) or
with $STORYNB_MAX_KERNELS.

A pool kernel learns its page's request (language, query) from a file: Voila hands it over
through a websocket that only reaches a connection open at that very moment and keeps nothing
for one that closed unnoticed, so a kernel between two connections never heard of its page,
which then never loaded. Here every hand-off is also written to
$STORYNB_REQUEST_DIR/<kernel id>.json (a private directory made at start), which the kernel
reads (storynb/widgets/page.py)."""
from __future__ import annotations

import asyncio
import atexit
import functools
import json
import os
import shutil
import tempfile

from jupyter_server._tz import utcnow
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Float, Int, default

from ..files import write_text

REQUEST_DIR_ENV = "STORYNB_REQUEST_DIR"


class CappedKernelManager(AsyncMappingKernelManager):
    max_kernels = Int(config=True, help="The most kernels alive at once (pages + preheated pool).")

    connect_timeout = Float(30.0, config=True,
                            help="Seconds a page's kernel may stay idle with no page connected "
                                 "to it before it is shut down.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # before any kernel starts: kernels inherit the server's environment
        if not os.environ.get(REQUEST_DIR_ENV):
            os.environ[REQUEST_DIR_ENV] = tempfile.mkdtemp(prefix="storynb-requests-")
            atexit.register(shutil.rmtree, os.environ[REQUEST_DIR_ENV], True)
        _keep_request_info()

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
                    kernel_id = await super().start_kernel(*args, **kwargs)
                    if not refill:
                        self.expect_page(kernel_id)
                    return kernel_id
            if not refill:
                self.log.warning("storynb: %d kernels alive (the cap is %d): the page is told "
                                 "to try again later", alive, self.max_kernels)
                raise web.HTTPError(503, "the app is busy")
            await asyncio.sleep(0.5)  # the pool waits for a free slot

    def expect_page(self, kernel_id: str) -> None:
        """Watch a kernel given to a page: shut it down once no page is connected to it."""
        tasks = self.__dict__.setdefault("_storynb_watchers", {})
        if kernel_id not in tasks or tasks[kernel_id].done():
            tasks[kernel_id] = asyncio.get_event_loop().create_task(self._watch(kernel_id))

    async def _watch(self, kernel_id: str) -> None:
        while kernel_id in self:
            await asyncio.sleep(self.connect_timeout)
            if kernel_id not in self or self._kernel_connections.get(kernel_id, 0) > 0:
                return  # a page is connected: it is watched again when it disconnects
            kernel = self.get_kernel(kernel_id)
            last = getattr(kernel, "last_activity", None)
            quiet = (utcnow() - last).total_seconds() if last is not None else self.connect_timeout
            if getattr(kernel, "execution_state", "") == "busy" or quiet < self.connect_timeout:
                continue  # still building the page (a moment between two cells is idle too)
            self.log.info("storynb: no page connected to kernel %s for %g s: shutting it down",
                          kernel_id, self.connect_timeout)
            try:
                await self.shutdown_kernel(kernel_id)
            except KeyError:
                pass  # shut down meanwhile (the page's own shutdown request, the culler)
            return

    def notify_disconnect(self, kernel_id: str) -> None:
        super().notify_disconnect(kernel_id)
        if self._kernel_connections.get(kernel_id, 1) <= 0:
            self.expect_page(kernel_id)


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
        self.expect_page(result[-1])
        return result
    return wrapper


def _keep_request_info() -> None:
    """Make Voila's hand-off of a request to a pool kernel also write it to the kernel's file."""
    from voila.request_info_handler import RequestInfoSocketHandler

    send = RequestInfoSocketHandler.__dict__["send_updates"].__func__
    if getattr(send, "keeps_a_file", False):
        return

    @functools.wraps(send)
    def send_updates(cls, msg):
        folder = os.environ.get(REQUEST_DIR_ENV)
        if folder:
            write_text(os.path.join(folder, f"{msg['kernel_id']}.json"), json.dumps(msg["payload"]))
        return send(cls, msg)

    send_updates.keeps_a_file = True  # type: ignore[attr-defined]
    RequestInfoSocketHandler.send_updates = classmethod(send_updates)
