"""``GET /v1/status``: what the server is doing, per model, as JSON (a polyvox extension)."""

from __future__ import annotations

from fastapi import APIRouter

from polyvox.api.deps import ServiceDep
from polyvox.api.schemas import ModelStatus, ServerStatus
from polyvox.models import model_spec
from polyvox.service import SpeechService
from polyvox.types import EngineInfo
from polyvox.version import __version__

router = APIRouter(tags=["status"])


@router.get("/v1/status")
async def server_status(service: ServiceDep) -> ServerStatus:
    """Readiness, and for every served model: placement, loaded or not, queue and RTFs."""
    ready = "ready" if service.ready.is_set() else "loading"
    status = "error" if service.preload_error else ready
    loaded = set(service.pool.loaded())
    models = [_model(service, info, info.model in loaded) for info in service.catalogue.models()]
    return ServerStatus(
        version=__version__, status=status, preload_error=service.preload_error, models=models
    )


def _slots(configured: int, info: EngineInfo) -> int:
    """The slots a model's scheduler will have (as SpeechService.scheduler computes them)."""
    return min(configured, info.max_concurrency or configured)


def _model(service: SpeechService, info: EngineInfo, loaded: bool) -> ModelStatus:
    spec = model_spec(service.settings, info.model)
    scheduler = service.find_scheduler(info.model)
    location = {"environment": spec.environment, "remote": info.description}
    placement = "environment" if spec.environment else info.placement
    return ModelStatus(
        id=info.model,
        kind=info.kind,
        engine=info.engine,
        placement=placement,
        location=location.get(placement),
        device=info.device,
        loaded=loaded,
        slots=scheduler.slots if scheduler else _slots(spec.slots, info),
        queue_depth=scheduler.waiting if scheduler else 0,
        in_flight=scheduler.active if scheduler else 0,
        recent_rtf=[round(r, 4) for r in service.metrics.recent_rtf.get(info.model, ())],
    )
