"""One admitted job's life: admission, the model's lease, the work, and what a hang-up costs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable
from typing import TypeVar

from polyvox.engines.base import Engine
from polyvox.engines.pool import ModelPool
from polyvox.metrics import Metrics
from polyvox.scheduler import Scheduler, Ticket

T = TypeVar("T")
Work = Callable[[Engine, Ticket], AsyncGenerator[T, None]]


async def admitted(
    model: str,
    scheduler: Scheduler,
    pool: ModelPool,
    metrics: Metrics,
    work: Work[T],
    on_finish: Callable[[], None],
) -> AsyncGenerator[T, None]:
    """The items of ``work(engine, ticket)`` once the job is admitted (429 if it cannot be).

    Closing this generator closes the work at once; a job that did not finish counts as
    cancelled, and its place goes back either way.
    """
    ticket = scheduler.admit()  # 429 here, while the response can still say so
    finished = False
    try:
        async with pool.lease(model) as engine, contextlib.aclosing(work(engine, ticket)) as items:
            async for item in items:
                yield item
        finished = True
        on_finish()
    finally:
        ticket.close()
        if not finished:
            metrics.cancelled.labels(model).inc()
