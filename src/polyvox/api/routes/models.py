"""``GET /v1/models``: the models this server offers and what each can do."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from polyvox.api.deps import ServiceDep
from polyvox.api.schemas import ModelCard, ModelList
from polyvox.types import EngineInfo

router = APIRouter(tags=["models"])


def capabilities(info: EngineInfo) -> dict[str, object]:
    """An engine's capabilities as JSON-ready data."""
    return {
        "streaming": info.streaming,
        "voice_cloning": info.voice_cloning,
        "instructions": info.instructions,
        "speed": info.speed,
        "voice_attributes": list(info.voice_attributes),
        "sample_rate": info.sample_rate,
        "params": {name: asdict(spec) for name, spec in info.params.items()},
    }


def card(info: EngineInfo) -> ModelCard:
    """The /v1/models entry for one engine."""
    return ModelCard(
        id=info.name, kind=info.kind, description=info.description,
        languages=list(info.languages), capabilities=capabilities(info),
    )  # fmt: skip


@router.get("/v1/models")
async def list_models(service: ServiceDep) -> ModelList:
    """Every model served here."""
    return ModelList(data=[card(info) for info in service.models()])


@router.get("/v1/models/{model_id:path}")
async def get_model(model_id: str, service: ServiceDep) -> ModelCard:
    """One model, by id or alias (404 when unknown)."""
    return card(service.engine(model_id).info)
