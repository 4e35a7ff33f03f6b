"""Blocking work off the event loop, in three pools that cannot starve each other.

- ``engine``: model calls, loads and unloads (bounded by the models' slots already);
- ``codec``: encoding and decoding audio (short steps, one per chunk or block);
- ``io``: fetching reference audio, the voice library's store, object storage. Remote I/O
  can be slow for reasons outside the server, so each client (see ``polyvox.clients``)
  runs at most ``io_per_client`` such steps at once and waits for its own turn.

One pool for everything let six slow ``gs://`` voice creations of one key hold every
thread, and another key's one-line Piper request waited 46 s instead of 0.2 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, TypeVar

from polyvox import clients
from polyvox.cpu import CORES

T = TypeVar("T")
Pool = Literal["engine", "codec", "io"]


@dataclass
class _Config:
    sizes: dict[str, int]
    io_per_client: int


@dataclass
class _Lane:
    """One client's I/O steps on one event loop: a semaphore and how many use it."""

    semaphore: asyncio.Semaphore
    users: int = 0


_config = _Config({"engine": 32, "codec": max(4, CORES + 2), "io": 16}, io_per_client=4)
_executors: dict[str, ThreadPoolExecutor] = {}
_lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Lane]] = (
    weakref.WeakKeyDictionary()
)


def configure(*, io_threads: int, io_per_client: int) -> None:
    """Size the I/O pool and the per-client share of it (``settings.limits``)."""
    _config.io_per_client = io_per_client
    if _config.sizes["io"] != io_threads:
        _config.sizes["io"] = io_threads
        old = _executors.pop("io", None)
        if old is not None:
            old.shutdown(wait=False)  # its running steps finish; new ones use the new pool


def executor(pool: Pool) -> ThreadPoolExecutor:
    """The pool's executor (made on first use)."""
    found = _executors.get(pool)
    if found is None:
        found = ThreadPoolExecutor(_config.sizes[pool], thread_name_prefix=f"polyvox-{pool}")
        _executors[pool] = found
    return found


@contextlib.asynccontextmanager
async def _client_turn() -> AsyncIterator[None]:
    """Wait until the current client runs fewer than ``io_per_client`` I/O steps."""
    client = clients.current.get()
    if client is None:
        yield
        return
    lanes = _lanes.setdefault(asyncio.get_running_loop(), {})
    lane = lanes.get(client)
    if lane is None:
        lane = lanes[client] = _Lane(asyncio.Semaphore(_config.io_per_client))
    lane.users += 1
    try:
        async with lane.semaphore:
            yield
    finally:
        lane.users -= 1
        if not lane.users:
            lanes.pop(client, None)


async def run_blocking(fn: Callable[[], T], pool: Pool = "io") -> T:
    """Run ``fn`` in a thread of ``pool``; if cancelled, wait for the thread before re-raising.

    Waiting keeps the accounting honest: a slot is released only when its work has stopped.
    The thread runs in a copy of the caller's context, so its log lines and errors carry
    the request id.
    """
    if pool != "io":
        return await _run(fn, pool)
    async with _client_turn():
        return await _run(fn, pool)


async def _run(fn: Callable[[], T], pool: Pool) -> T:
    context = contextvars.copy_context()
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(executor(pool), context.run, fn)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise
