"""Hang-ups and first chunks: what every route does between parsing a body and answering.

A client that goes away stops its work within one chunk or window, on every route: a
streamed response is cancelled by the server when a send fails, and the work a route does
before it answers (a whole ``/tts`` file, a transcription, the first chunk of a stream)
is raced against the connection's ``http.disconnect``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from fastapi import Request

from polyvox.errors import ClientGone

T = TypeVar("T")
_END = object()


async def _disconnected(request: Request) -> None:
    """Returns once the client has hung up (the body has been read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """``await work``, cancelling it (and raising ClientGone) if the client hangs up first."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
        # children's cancellations come back as results; our own still propagates
        await asyncio.gather(task, watcher, return_exceptions=True)
    if task.cancelled():
        raise ClientGone("the client closed the connection before the response")
    return task.result()


async def _chain(first: object, rest: AsyncIterator[T]) -> AsyncIterator[T]:
    if first is not _END:
        yield first  # type: ignore[misc]
    async for item in rest:
        yield item


async def started(request: Request, stream: AsyncIterator[T]) -> AsyncIterator[T]:
    """The stream with its first item produced already, so a failure on it is still a status.

    Waiting for that first item stops if the client hangs up.
    """
    first = await unless_disconnected(request, anext(stream, _END))
    return _chain(first, stream)


def sse_event(payload: dict[str, object]) -> str:
    """One server-sent event carrying ``payload`` as compact JSON."""
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"
