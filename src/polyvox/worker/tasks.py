"""RunPod jobs of a task beyond speech (``polyvox.tasks``): an input that names its task,
``{"task": "image", "model": "...", ...the task's request}``, runs through the service's
one door (``prepare_task``) like an HTTP request. The standard handler answers every
result at once (``{"task", "model", "results": [...]}``); the generator handler sends each
result as a partial as it is made, then ``{"done": true}``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from polyvox.service import SpeechService


def names_a_task(payload: object) -> bool:
    """Whether a job's input is a task's (speech inputs never carry ``task``)."""
    return isinstance(payload, Mapping) and isinstance(payload.get("task"), str)


async def results(
    service: SpeechService, payload: Mapping[str, Any]
) -> AsyncIterator[dict[str, Any]]:
    """The job's results, encoded as the task declares (JSON-ready)."""
    body = {k: v for k, v in payload.items() if k != "task"}
    job = await service.prepare_task(str(payload["task"]), body)
    async for item in job.results():
        yield job.task.encode(item)


async def collected(service: SpeechService, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Every result at once, for the standard handler."""
    found = [result async for result in results(service, payload)]
    return {"task": payload["task"], "model": payload.get("model"), "results": found}
