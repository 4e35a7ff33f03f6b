"""``/v1/audio/voices``: every model's voices, and the voice library (create, get, change,
delete) in the shape of OpenAI's custom voices; ``/v1/audio/references``: cache control."""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import Any, Literal

from fastapi import APIRouter, BackgroundTasks, Request, Response
from pydantic import ValidationError

from polyvox.api.deps import CallerDep, ServiceDep
from polyvox.api.schemas import (
    ConsentCard,
    LibraryVoiceCard,
    LibraryVoiceList,
    VoiceBody,
    VoiceCard,
    VoiceDeleted,
    VoiceList,
)
from polyvox.api.voice_forms import read_draft
from polyvox.engines.wire import capabilities
from polyvox.errors import Forbidden, InvalidRequest, VoiceNotFound
from polyvox.service import SpeechService
from polyvox.threads import run_blocking
from polyvox.types import EngineInfo, VoiceInfo
from polyvox.voices.preparation import SAMPLE_RATE
from polyvox.voices.records import LibraryVoice

log = logging.getLogger(__name__)
router = APIRouter(tags=["voices"])
_DIGEST = re.compile(r"[0-9a-f]{64}")


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its ``$defs`` put in place (the route reads its body by
    hand, so FastAPI does not list the model among the components)."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


_SCHEMA = _inlined(VoiceBody.model_json_schema())
_BODY = {
    "requestBody": {
        "content": {
            "application/json": {"schema": _SCHEMA},
            "multipart/form-data": {"schema": _SCHEMA},
        }
    }
}


def _cloning_models(service: SpeechService) -> list[EngineInfo]:
    return [i for i in service.catalogue.models() if i.kind == "tts" and i.voice_cloning]


@router.get("/v1/audio/voices")
async def list_voices(
    service: ServiceDep,
    caller: CallerDep,
    model: str | None = None,
    source: Literal["engine", "library"] | None = None,
    detail: bool = False,
) -> VoiceList | LibraryVoiceList:
    """Voices of ``model`` (an id or alias), or of every text-to-speech model: the models'
    own, then the library voices ``caller`` may use, once per model that clones.

    ``source=library&detail=true``: the library's own records instead, once each (what
    ``GET /v1/audio/voices/{id}`` returns), whether or not a served model clones."""
    if detail:
        if source != "library":
            message = "detail=true lists library voices: add source=library"
            raise InvalidRequest(message, param="detail")
        records = await run_blocking(partial(service.library.voices, caller))
        shown = [_shown(service, v) for v in records]
        return LibraryVoiceList(data=[c for c in shown if c is not None])
    await service.catalogue.describe(model)
    cards: list[VoiceCard] = []
    if source in (None, "engine"):
        cards += [_engine_card(service, voice) for voice in service.catalogue.voices(model)]
    if source in (None, "library"):
        models = _cloning_models(service)
        if model is not None:
            models = [i for i in models if i.model == service.catalogue.engine(model).info.model]
        library = await run_blocking(partial(service.library.voices, caller)) if models else []
        cards += [_library_card(v, info) for info in models for v in library]
    return VoiceList(data=cards)


def _engine_card(service: SpeechService, voice: VoiceInfo) -> VoiceCard:
    info = service.catalogue.engine(voice.model).info
    return VoiceCard(
        id=voice.id,
        name=voice.name,
        model=voice.model,
        language=voice.language,
        sample_rate=voice.sample_rate,
        gender=voice.gender,
        capabilities=capabilities(info),
    )


def _library_card(voice: LibraryVoice, info: EngineInfo) -> VoiceCard:
    return VoiceCard(
        id=voice.id,
        name=voice.name,
        model=info.model,
        language=voice.language or "",
        sample_rate=info.sample_rate,
        source="library",
        capabilities=capabilities(info),
    )


def _shown(service: SpeechService, voice: LibraryVoice) -> LibraryVoiceCard | None:
    """A voice's card; None (and a warning) for a record that cannot be shown, so one
    stored record never fails a listing."""
    try:
        return _card(service, voice)
    except ValidationError as exc:
        fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
        log.warning("voice library: %s cannot be shown (%s): skipped", voice.id, fields)
        return None


def _one(service: SpeechService, voice: LibraryVoice) -> LibraryVoiceCard:
    """A voice's card; a record that cannot be shown is answered as unreadable ones are."""
    card = _shown(service, voice)
    if card is None:
        raise VoiceNotFound(f"no library voice {voice.id!r}", param="voice")
    return card


def _card(service: SpeechService, voice: LibraryVoice) -> LibraryVoiceCard:
    consent = ConsentCard(
        by=voice.consent.by, at=voice.consent.at, statement=voice.consent.statement
    )
    return LibraryVoiceCard(
        id=voice.id,
        name=voice.name,
        created_at=voice.created_at,
        updated_at=voice.updated_at,
        language=voice.language,
        transcript=voice.transcript,
        transcribed_by=voice.transcribed_by,
        seconds=voice.seconds,
        sample_rate=SAMPLE_RATE,
        digest=voice.digest,
        defaults={k: dict(v) for k, v in voice.defaults.items()},
        consent=consent,
        models=[i.model for i in _cloning_models(service)],
    )


@router.post("/v1/audio/voices", status_code=201, openapi_extra=_BODY)
async def create_voice(
    request: Request, service: ServiceDep, caller: CallerDep
) -> LibraryVoiceCard:
    """A library voice from reference audio (multipart ``audio_sample`` files, or URLs /
    base64 in JSON), a name and the speaker's consent; owned by the caller's API key."""
    draft = await read_draft(request, service, creating=True)
    voice = await run_blocking(partial(service.library.create, caller, draft))
    return _one(service, voice)


@router.get("/v1/audio/voices/{voice_id}")
async def get_voice(voice_id: str, service: ServiceDep, caller: CallerDep) -> LibraryVoiceCard:
    """A library voice by id or name (404 when it is unknown or another key's)."""
    voice = await run_blocking(partial(service.library.get, caller, voice_id))
    return _one(service, voice)


@router.get("/v1/audio/voices/{voice_id}/audio", response_class=Response)
async def get_voice_audio(voice_id: str, service: ServiceDep, caller: CallerDep) -> Response:
    """The voice's prepared reference audio (WAV)."""
    voice = await run_blocking(partial(service.library.get, caller, voice_id))
    data = await run_blocking(partial(service.library.audio, voice.digest))
    return Response(data, media_type="audio/wav")


@router.patch("/v1/audio/voices/{voice_id}", openapi_extra=_BODY)
@router.post("/v1/audio/voices/{voice_id}", openapi_extra=_BODY, operation_id="modify_voice")
async def update_voice(
    voice_id: str, request: Request, service: ServiceDep, caller: CallerDep
) -> LibraryVoiceCard:
    """Rename a voice, change its language, transcript, defaults or consent, or replace its
    audio (then what engines built from the old audio is dropped)."""
    draft = await read_draft(request, service, creating=False)
    voice, orphaned = await run_blocking(partial(service.library.update, caller, voice_id, draft))
    if orphaned is not None:
        await service.forget_reference(orphaned)
    return _one(service, voice)


@router.delete("/v1/audio/voices/{voice_id}")
async def delete_voice(
    voice_id: str, service: ServiceDep, caller: CallerDep, after: BackgroundTasks
) -> VoiceDeleted:
    """Delete a voice; its audio and every engine's conditioning built from it go too
    (unless another voice has the same audio). Then, after the answer, audio no voice
    uses any more (left by a crash) is swept."""
    voice, orphaned = await run_blocking(partial(service.library.delete, caller, voice_id))
    if orphaned:
        await service.forget_reference(voice.digest)
    after.add_task(service.cloning.collect_orphans)
    return VoiceDeleted(id=voice.id)


@router.delete("/v1/audio/references/{digest}", status_code=204, response_class=Response)
async def forget_reference(digest: str, service: ServiceDep, caller: CallerDep) -> Response:
    """Drop a cached reference (``sha256:<digest>``), its transcript and the conditioning
    every engine built from it (admin keys only, when keys are on). A gateway calls this on
    the polyvox servers behind it when a library voice is deleted."""
    if not caller.admin:
        raise Forbidden("dropping cached references needs an admin API key")
    if not _DIGEST.fullmatch(digest):
        raise InvalidRequest("a reference digest is 64 lowercase hex digits", param="digest")
    await service.forget_reference(digest)
    return Response(status_code=204)
