"""``GET /v1/models``: the models this server offers and what each can do."""

from __future__ import annotations

from fastapi import APIRouter

from polyvox.api.deps import ServiceDep
from polyvox.api.schemas import ModelCard, ModelList
from polyvox.engines import wire
from polyvox.engines.base import Engine, TTSEngine
from polyvox.service import SpeechService

router = APIRouter(tags=["models"])


@router.get("/v1/models")
async def list_models(service: ServiceDep) -> ModelList:
    """Every model served here."""
    infos = service.catalogue.models()
    return ModelList(data=[_card(service, info.model) for info in infos])


@router.get("/v1/models/{model_id:path}")
async def get_model(model_id: str, service: ServiceDep) -> ModelCard:
    """One model, by id or alias (404 when unknown). A remote model is asked first, and a
    model in an engine environment started, so its card says what it really can do (the
    list above shows such models as configured until they have run once)."""
    await service.catalogue.describe(model_id)
    return _card(service, model_id)


def _card(service: SpeechService, model: str) -> ModelCard:
    engine: Engine = service.catalogue.engine(model)
    voice = engine.default_voice if isinstance(engine, TTSEngine) else None
    return ModelCard(**wire.card(engine.info), default_voice=voice or None)
