"""ModelPool: engines load on first use, stay shared while in use, unload after an idle TTL."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from polyvox.engines.base import Describes, Engine
from polyvox.errors import EngineUnavailable, PolyvoxError
from polyvox.logs import with_request_id

log = logging.getLogger(__name__)


@dataclass
class _Slot:
    engine: Engine
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    loaded: bool = False
    users: int = 0
    last_used: float = field(default_factory=time.monotonic)


class ModelPool:
    """Holds one engine per model id and manages when its weights are in memory."""

    def __init__(
        self,
        factory: Callable[[str], Engine],
        *,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        on_load: Callable[[str, float], None] | None = None,
        on_unload: Callable[[str], None] | None = None,
    ) -> None:
        self._factory = factory
        self._ttl = ttl
        self._clock = clock
        self._on_load = on_load
        self._on_unload = on_unload
        self._slots: dict[str, _Slot] = {}

    def engine(self, model: str) -> Engine:
        """The engine for ``model``, constructed on first call but not loaded."""
        slot = self._slots.get(model)
        if slot is None:
            slot = self._slots[model] = _Slot(self._factory(model))
        return slot.engine

    async def describe(self, model: str) -> Engine:
        """The engine of ``model`` with its capabilities and voices known: a remote one is
        asked once (at most one ask at a time per model)."""
        engine = self.engine(model)
        if isinstance(engine, Describes) and engine.loads_to_describe:
            return await self.load(model)  # a supervised worker: started, then reaped idle
        if isinstance(engine, Describes) and not engine.described:
            async with self._slots[model].lock:
                if not engine.described:
                    try:
                        await engine.describe()
                    except PolyvoxError:
                        raise
                    except Exception as exc:
                        log.exception("describing model %s failed", model)
                        message = with_request_id(f"model {model!r} cannot be described")
                        raise EngineUnavailable(message) from exc
        return engine

    def loaded(self) -> list[str]:
        """Model ids whose weights are in memory now."""
        return [name for name, slot in self._slots.items() if slot.loaded]

    async def load(self, model: str) -> Engine:
        """Make sure ``model`` is loaded (at most one load at a time per model) and return it."""
        self.engine(model)
        slot = self._slots[model]
        slot.last_used = self._clock()
        if slot.loaded:
            return slot.engine
        async with slot.lock:
            if not slot.loaded:
                started = time.perf_counter()
                try:
                    await slot.engine.load()
                except PolyvoxError:
                    raise
                except Exception as exc:
                    log.exception("loading model %s failed", model)
                    message = with_request_id(f"model {model!r} failed to load")
                    raise EngineUnavailable(message) from exc
                slot.loaded = True
                seconds = time.perf_counter() - started
                log.info("loaded model %s in %.2fs", model, seconds)
                if self._on_load:
                    self._on_load(model, seconds)
        return slot.engine

    @asynccontextmanager
    async def lease(self, model: str) -> AsyncIterator[Engine]:
        """Use ``model`` for a while; it is not unloaded until every lease ends."""
        engine = await self.load(model)
        slot = self._slots[model]
        slot.users += 1
        try:
            yield engine
        finally:
            slot.users -= 1
            slot.last_used = self._clock()

    async def reap(self) -> list[str]:
        """Unload every model idle for longer than the TTL; returns the ids unloaded."""
        if self._ttl < 0:
            return []
        now = self._clock()
        idle = [
            name
            for name, slot in self._slots.items()
            if slot.loaded and slot.users == 0 and now - slot.last_used >= self._ttl
        ]
        for name in idle:
            await self.unload(name)
        return idle

    async def unload(self, model: str) -> None:
        """Unload ``model`` now unless a lease is using it."""
        slot = self._slots.get(model)
        if slot is None:
            return
        async with slot.lock:
            if slot.loaded and slot.users == 0:
                await slot.engine.unload()
                slot.loaded = False
                log.info("unloaded model %s", model)
                if self._on_unload:
                    self._on_unload(model)

    async def run_reaper(self, interval: float = 5.0) -> None:
        """Reap idle models forever (a background task of the app)."""
        while True:
            await asyncio.sleep(interval)
            await self.reap()

    async def close(self) -> None:
        """Unload everything (shutdown)."""
        for name in list(self._slots):
            await self.unload(name)
