"""Plain calls over async work, in a script and inside a running Jupyter kernel alike."""
from __future__ import annotations

import asyncio
import threading


def run_sync(coro):
    """Run a coroutine to the end. Inside a running event loop (a notebook cell) it runs on a
    worker thread with a loop of its own, and the result or the exception comes back here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict = {}

    def work():
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=work, daemon=True, name="storynb-sync")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
