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
    loaded = state.service.pool.loaded()
    if state.preload_error:
        body = {"status": "error", "error": state.preload_error, "loaded": loaded}
        return JSONResponse(body, status_code=503)
    if not state.ready.is_set():
        return JSONResponse({"status": "loading", "loaded": loaded}, status_code=503)
    return JSONResponse({"status": "ready", "loaded": loaded})
