"""Schedulers: each model's admission queue, and the memory given back when its jobs end.

A model's ``Scheduler`` is made on its first request (its configured slots, at most the
engine's own concurrency) and exports its queue depth and in-flight jobs as gauges. When a
job closes, memory goes back once the model has stayed idle a moment (and now and then
while it is busy): the engine's scratch memory, then the heap's free pages.
"""

from __future__ import annotations

import asyncio
import time

from polyvox.allocator import MemoryTrimmer
from polyvox.engines.base import ReleasesMemory
from polyvox.engines.pool import ModelPool
from polyvox.metrics import Metrics
from polyvox.models import model_spec
from polyvox.scheduler import Scheduler
from polyvox.settings import Settings

BUSY_TRIM_SECONDS = 5.0
"""While a model is busy, the heap's free pages go back at most this often. Every 30 s
let the load test's settled memory grow 1.10x over a thousand requests (fragments the
trims would have returned); every 5 s kept it flat, for ~1-3% at concurrency 1."""


class Schedulers:
    """The schedulers of the models requests have named, made on first use."""

    def __init__(
        self, settings: Settings, pool: ModelPool, metrics: Metrics, trimmer: MemoryTrimmer
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.metrics = metrics
        self.trimmer = trimmer
        self._schedulers: dict[str, Scheduler] = {}
        self._last_trim = 0.0
        self._releases: dict[str, asyncio.TimerHandle] = {}
        """Per model, the release its last job's end scheduled (one at a time)."""

    def get(self, model: str) -> Scheduler:
        """The admission queue and slots of one model (its configured slots, at most the
        engine's own concurrency)."""
        scheduler = self._schedulers.get(model)
        if scheduler is None:
            s = self.settings
            info = self.pool.engine(model).info
            slots = model_spec(s, model).slots
            if info.max_concurrency is not None:
                slots = min(slots, info.max_concurrency)
            wait_seconds = self.metrics.queue_wait_seconds.labels(model)
            scheduler = self._schedulers[model] = Scheduler(
                slots=slots,
                max_queue=s.tts_queue,
                queue_timeout=s.queue_timeout,
                policy=s.scheduling,
                on_wait=wait_seconds.observe,
                on_close=lambda: self._job_closed(model),
                widen=info.kind == "tts" and info.placement == "in-process",
                client_share=s.limits.client_share,
            )
            self.metrics.queue_depth.labels(model).set_function(lambda: scheduler.waiting)
            self.metrics.inflight.labels(model).set_function(lambda: scheduler.active)
        return scheduler

    def find(self, model: str) -> Scheduler | None:
        """The model's scheduler if a request has made one (status reads never make one)."""
        return self._schedulers.get(model)

    def _job_closed(self, model: str) -> None:
        """Memory goes back once the model has stayed idle a moment (and now and then while
        busy), not after every job: the next request would only fault it in again."""
        now = time.monotonic()
        if self._schedulers[model].active > 0:
            if now - self._last_trim >= BUSY_TRIM_SECONDS:
                self._last_trim = now
                self.trimmer.after_job()
            return
        # the delay counts from the last job's end: an earlier job's release is dropped
        earlier = self._releases.pop(model, None)
        if earlier is not None:
            earlier.cancel()
        delay = self.settings.memory_release_delay
        loop = asyncio.get_running_loop()
        self._releases[model] = loop.call_later(delay, self._release_if_idle, model)

    def _release_if_idle(self, model: str) -> None:
        """Give the model's scratch memory and the heap's free pages back, if still idle."""
        self._releases.pop(model, None)
        if self._schedulers[model].active > 0:
            return  # busy again: its jobs will ask again when they end
        self._last_trim = time.monotonic()
        engine = self.pool.engine(model)
        self.trimmer.after_job(
            engine.release_memory if isinstance(engine, ReleasesMemory) else None
        )
