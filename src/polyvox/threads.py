"""Blocking work off the event loop, with honest accounting when it is cancelled."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def run_blocking(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a worker thread; if cancelled, wait for the thread before re-raising.

    Waiting keeps the accounting honest: a slot is released only when its work has stopped.
    The thread runs in a copy of the caller's context, so its log lines and errors carry
    the request id.
    """
    context = contextvars.copy_context()
    future = asyncio.get_running_loop().run_in_executor(None, context.run, fn)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise
