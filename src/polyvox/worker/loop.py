"""The worker's own event loop, in a thread, for the life of the process.

The RunPod SDK runs handlers in event loops of its own (its local API server's, its job
scaler's), and a loop that ends takes its tasks with it. The speech service, its models and
every background task they start (a supervised engine worker's log reader and restart
watcher) live here instead, so they outlive any loop the SDK makes: the SDK's loops only
wait for results. Without this a worker whose model runs in an engine environment stopped
after ~200 jobs, when its child blocked on a log pipe nobody read any more.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _End:
    """The end of an iteration handed across loops."""


_END = _End()
STOP_TIMEOUT = 30.0
"""Seconds ``stop`` waits for the loop's last work (the service closing)."""


class ServiceLoop:
    """An event loop running in a daemon thread; coroutines are handed to it from others."""

    def __init__(self, name: str = "polyvox-service") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> ServiceLoop:
        """Start the thread (idempotent)."""
        if not self._thread.is_alive():
            self._thread.start()
        return self

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` in the loop and wait for it, from a thread without a running loop."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` in the loop, awaited from another loop; cancelling the caller
        cancels the work."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def iterate(self, make: Callable[[], AsyncIterator[T]]) -> AsyncIterator[T]:
        """The items of the async iterator ``make()`` returns, produced in the loop one at
        a time (each step waits for the caller: no buffer grows); closing or cancelling the
        caller closes the iterator there."""
        items = make()

        async def step() -> T | _End:
            return await anext(items, _END)

        async def close() -> None:
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                await aclose()

        try:
            while not isinstance(item := await self.call(step()), _End):
                yield item
        finally:
            await asyncio.shield(self.call(close()))

    def stop(self, closing: Coroutine[Any, Any, None] | None = None) -> None:
        """Run ``closing`` (the service's close) in the loop, then stop it and its thread."""
        if closing is not None:
            if self._thread.is_alive():
                asyncio.run_coroutine_threadsafe(closing, self.loop).result(STOP_TIMEOUT)
            else:
                closing.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(STOP_TIMEOUT)
