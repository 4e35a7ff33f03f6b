"""When memory goes back: ``memory_release_delay`` after the *last* job on a model ends,
not after the first of a conversation's requests (whose release would fall in a later gap
and make the next request fault the memory in again)."""

from __future__ import annotations

import asyncio

from polyvox.allocator import MemoryTrimmer
from polyvox.engines.pool import ModelPool
from polyvox.metrics import Metrics
from polyvox.schedulers import Schedulers
from polyvox.settings import Settings
from polyvox.types import EngineInfo


class Releasing:
    """A stand-in engine that counts its memory releases."""

    def __init__(self) -> None:
        self.info = EngineInfo("piper", "piper", "tts", "stand-in")
        self.released = 0

    async def load(self) -> None:
        return None

    async def unload(self) -> None:
        return None

    def release_memory(self) -> None:
        self.released += 1


async def released_after(seconds: float, engine: Releasing, trimmer: MemoryTrimmer) -> int:
    await asyncio.sleep(seconds)
    await asyncio.to_thread(trimmer.wait)
    return engine.released


async def test_memory_goes_back_a_delay_after_the_last_job() -> None:
    engine = Releasing()
    trimmer = MemoryTrimmer(enabled=False)  # the releases alone, on the trimmer's thread
    settings = Settings(memory_release_delay=0.3, preload=[])
    schedulers = Schedulers(settings, ModelPool(lambda _: engine), Metrics(), trimmer)
    scheduler = schedulers.get("piper")
    for _ in range(3):  # a conversation: each request within the delay of the last
        scheduler.admit().close()
        assert await released_after(0.2, engine, trimmer) == 0
    assert await released_after(0.25, engine, trimmer) == 1  # 0.45 s after the last
    assert await released_after(0.5, engine, trimmer) == 1  # once, not once per request
