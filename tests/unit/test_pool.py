"""ModelPool: load on first use, shared while leased, idle TTL unload."""

from __future__ import annotations

import asyncio

import pytest

from polyvox.engines.pool import ModelPool
from polyvox.errors import EngineUnavailable
from polyvox.types import EngineInfo


class CountingEngine:
    """A stand-in engine that counts loads (we test the pool's logic, not an engine)."""

    def __init__(self, name: str, fail: bool = False) -> None:
        self.info = EngineInfo(model=name, engine="counting", kind="tts", description="test")
        self.loads = 0
        self.unloads = 0
        self.fail = fail

    async def load(self) -> None:
        await asyncio.sleep(0.01)  # a real load yields to the loop: concurrent users wait
        if self.fail:
            raise RuntimeError("weights are corrupt")
        self.loads += 1

    async def unload(self) -> None:
        self.unloads += 1


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_pool(
    ttl: float = 10.0, fail: bool = False
) -> tuple[ModelPool, Clock, dict[str, CountingEngine]]:
    clock = Clock()
    made: dict[str, CountingEngine] = {}

    def factory(name: str) -> CountingEngine:
        made[name] = CountingEngine(name, fail)
        return made[name]

    return ModelPool(factory, ttl=ttl, clock=clock), clock, made


def test_engine_is_constructed_once_and_loaded_lazily() -> None:
    pool, _, made = make_pool()
    assert pool.engine("a") is pool.engine("a")
    assert made["a"].loads == 0
    assert pool.loaded() == []


async def test_concurrent_first_uses_load_once() -> None:
    pool, _, made = make_pool()
    await asyncio.gather(*(pool.load("a") for _ in range(5)))
    assert made["a"].loads == 1
    assert pool.loaded() == ["a"]


async def test_idle_models_unload_after_ttl_but_not_while_leased() -> None:
    pool, clock, made = make_pool(ttl=10)
    async with pool.lease("a"):
        clock.now = 100
        assert await pool.reap() == []  # in use
    clock.now = 105
    assert await pool.reap() == []  # idle for 5 s only
    clock.now = 111
    assert await pool.reap() == ["a"]
    assert made["a"].unloads == 1
    async with pool.lease("a"):
        pass
    assert made["a"].loads == 2  # loaded again on next use


async def test_negative_ttl_keeps_models() -> None:
    pool, clock, _ = make_pool(ttl=-1)
    await pool.load("a")
    clock.now = 1e9
    assert await pool.reap() == []


async def test_load_failure_is_engine_unavailable_and_retried() -> None:
    pool, _, made = make_pool(fail=True)
    with pytest.raises(EngineUnavailable, match="failed to load") as failure:
        await pool.load("a")
    assert "corrupt" not in failure.value.message  # the cause is logged, not sent
    assert "request id" in failure.value.message
    made["a"].fail = False
    await pool.load("a")
    assert pool.loaded() == ["a"]
