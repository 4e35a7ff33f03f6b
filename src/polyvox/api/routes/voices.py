"""``GET /v1/audio/voices``: voices per model, with language and capabilities."""

from __future__ import annotations

from fastapi import APIRouter

from polyvox.api.deps import ServiceDep
from polyvox.api.schemas import VoiceCard, VoiceList
from polyvox.engines.wire import capabilities

router = APIRouter(tags=["voices"])


@router.get("/v1/audio/voices")
async def list_voices(service: ServiceDep, model: str | None = None) -> VoiceList:
    """Voices of ``model`` (an id or alias), or of every text-to-speech model."""
    await service.catalogue.describe(model)
    cards = []
    for voice in service.catalogue.voices(model):
        info = service.catalogue.engine(voice.model).info
        cards.append(
            VoiceCard(
                id=voice.id,
                name=voice.name,
                model=voice.model,
                language=voice.language,
                sample_rate=voice.sample_rate,
                gender=voice.gender,
                capabilities=capabilities(info),
            )
        )
    return VoiceList(data=cards)
