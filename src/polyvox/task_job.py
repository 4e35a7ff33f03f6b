"""A job of a task beyond speech (``polyvox.tasks``): one checked request, its results
streamed once the job is admitted, each result made in a turn of the model's scheduler."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from pydantic import BaseModel

from polyvox.admission import admitted
from polyvox.engines.base import Engine, TaskEngine
from polyvox.engines.pool import ModelPool
from polyvox.errors import InvalidRequest
from polyvox.metrics import Metrics
from polyvox.scheduler import Scheduler, Ticket
from polyvox.tasks import Task

_END = object()


@dataclass
class TaskJob:
    """A validated request of ``task`` for ``model``, ready to run."""

    model: str
    task: Task
    request: BaseModel
    pool: ModelPool
    scheduler: Scheduler
    metrics: Metrics

    def results(self) -> AsyncGenerator[object, None]:
        """The engine's results in order; admission first (429 if it cannot be)."""
        return admitted(
            self.model, self.scheduler, self.pool, self.metrics, self._run, on_finish=_nothing
        )

    async def _run(self, engine: Engine, ticket: Ticket) -> AsyncGenerator[object, None]:
        if not isinstance(engine, TaskEngine):  # the service checked the model's kind
            raise InvalidRequest(f"model {self.model!r} does not do {self.task.name}")
        items = engine.run(self.request)
        async with contextlib.aclosing(items):
            while True:
                async with ticket.turn():  # each step takes a turn: other jobs interleave
                    item = await anext(items, _END)
                if item is _END:
                    return
                yield item


def _nothing() -> None:
    return None


def model_of(body: dict[str, object]) -> tuple[str, dict[str, object]]:
    """The ``model`` a task request names, and the rest of its body."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required: the id of the model to run", param="model")
    return model, {k: v for k, v in body.items() if k != "model"}
