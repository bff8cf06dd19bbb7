"""Running a coroutine from a test, whatever else the pytest process runs.

The browser tests' Playwright (its sync API) keeps an event loop running on the main thread
for the rest of the session, where ``asyncio.run()`` then refuses to start ("cannot be called
from a running event loop"): a test that runs after them in the same process — the suite run
serially, as CI does — gives its coroutine a thread of its own."""

from __future__ import annotations

import asyncio
import concurrent.futures


def run_async(coroutine):
    """``asyncio.run(coroutine)`` in a thread of its own; its result (or its exception)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
