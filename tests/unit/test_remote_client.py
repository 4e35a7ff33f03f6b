"""A remote model's HTTP client belongs to the event loop that opened it."""

from __future__ import annotations

import asyncio

import httpx

from polyvox.engines.remote.polyvox import PolyvoxOptions, PolyvoxRemote
from polyvox.models import ModelSpec


async def opened(engine: PolyvoxRemote) -> httpx.AsyncClient:
    return engine.http


def test_a_new_event_loop_gets_a_client_of_its_own() -> None:
    """The RunPod worker loads models in one loop and runs jobs in the SDK's: a client
    kept from the first would fail there with 'Event loop is closed'."""
    options = PolyvoxOptions(url="http://127.0.0.1:9", discovery_attempts=1)
    engine = PolyvoxRemote(ModelSpec("far", "polyvox", options, 1))

    async def same_loop_twice() -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
        return engine.http, engine.http

    first, again = asyncio.run(same_loop_twice())
    assert first is again
    later = asyncio.run(opened(engine))
    assert later is not first
    asyncio.run(engine.unload())  # another loop again: nothing of its own to close
    assert not later.is_closed
