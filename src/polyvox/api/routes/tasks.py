"""``POST /v1/tasks/{task}``: any task beyond speech (``polyvox.tasks``), one JSON line per
result. It is the door a remote polyvox and an engine environment's worker are reached by
for a task; a task's own OpenAI-shaped routes (images, videos) call the same service."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import StreamingResponse

from polyvox.api.deps import ServiceDep
from polyvox.api.streaming import started
from polyvox.errors import EngineFailure, PolyvoxError
from polyvox.task_job import TaskJob

router = APIRouter(tags=["tasks"])
log = logging.getLogger(__name__)


@router.post("/v1/tasks/{task}", response_class=StreamingResponse)
async def run_task(
    task: str, request: Request, service: ServiceDep, body: Annotated[dict[str, Any], Body()]
) -> StreamingResponse:
    """Run ``task`` with the model the body names; results stream as JSON lines (an error
    after the first is a line ``{"error": ..., "status": N}``)."""
    job = await service.prepare_task(task, body)
    lines = await started(request, _lines(job))
    return StreamingResponse(lines, media_type="application/x-ndjson")


async def _lines(job: TaskJob) -> AsyncIterator[str]:
    sent = False
    try:
        async for item in job.results():
            yield json.dumps(job.task.encode(item), separators=(",", ":")) + "\n"
            sent = True
    except PolyvoxError as exc:
        if not sent:
            raise
        yield json.dumps({**exc.to_dict(), "status": exc.status_code}) + "\n"
    except Exception:
        if not sent:
            raise
        log.exception("task %s failed", job.task.name)
        failure = EngineFailure(f"model {job.model!r} failed")
        yield json.dumps({**failure.to_dict(), "status": failure.status_code}) + "\n"
