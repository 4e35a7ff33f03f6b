"""``GET /metrics``: Prometheus text exposition of the app's registry."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from polyvox.api.deps import ServiceDep

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response)
async def metrics(service: ServiceDep) -> Response:
    """Every polyvox metric in Prometheus' text format."""
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)
