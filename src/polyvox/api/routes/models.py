"""``GET /v1/models``: the models this server offers and what each can do."""

from __future__ import annotations

from fastapi import APIRouter

from polyvox.api.deps import ServiceDep
from polyvox.api.schemas import ModelCard, ModelList
from polyvox.engines import wire

router = APIRouter(tags=["models"])


@router.get("/v1/models")
async def list_models(service: ServiceDep) -> ModelList:
    """Every model served here."""
    return ModelList(data=[ModelCard(**wire.card(info)) for info in service.catalogue.models()])


@router.get("/v1/models/{model_id:path}")
async def get_model(model_id: str, service: ServiceDep) -> ModelCard:
    """One model, by id or alias (404 when unknown)."""
    return ModelCard(**wire.card(service.catalogue.engine(model_id).info))
