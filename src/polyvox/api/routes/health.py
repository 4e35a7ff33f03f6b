"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from polyvox.api.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process is up and serving HTTP."""
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(state: StateDep) -> JSONResponse:
    """Readiness: the preloaded models are in memory (503 until then)."""
    service = state.service
    loaded = service.pool.loaded()
    if service.preload_error:
        body = {"status": "error", "error": service.preload_error, "loaded": loaded}
        return JSONResponse(body, status_code=503)
    if not service.ready.is_set():
        return JSONResponse({"status": "loading", "loaded": loaded}, status_code=503)
    return JSONResponse({"status": "ready", "loaded": loaded})
