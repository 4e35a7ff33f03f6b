"""Routes of the services polyvox replaces: Qwen-TTS ``/tts`` + ``/stream-tts``, lean proxy.

Each is a thin adapter: parse the old body, build SpeechParams, call the same SpeechService.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from polyvox.api.deps import CallerDep, ServiceDep, StateDep
from polyvox.api.routes import models, speech
from polyvox.api.streaming import started, unless_disconnected
from polyvox.checks import engine_params
from polyvox.errors import InvalidRequest
from polyvox.service import SpeechService
from polyvox.settings import CompatSettings
from polyvox.types import Caller, ParamValue, SeedDefaults, SpeechParams

router = APIRouter(tags=["compatibility"])
_QWEN_FORMATS = {"wav": "wav", "mp3": "mp3", "ogg": "opus"}


class VoiceAttributes(BaseModel):
    """Qwen-TTS voice description; only engines that declare these attributes accept them."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    gender: Literal["male", "female", "neutral"] | None = None
    age: int | None = Field(None, ge=1, le=120)
    emotion: str | None = Field(None, min_length=1, max_length=50)


class QwenBody(BaseModel):
    """Fields shared by the Qwen-TTS requests."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    text: str | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    voice_attributes: VoiceAttributes | None = None

    def params(
        self, compat: CompatSettings, fmt: str, stream: bool = False, **extra: ParamValue
    ) -> SpeechParams:
        """SpeechParams for the configured Qwen-compatible model, with the service's
        documented defaults (``compat.qwen_defaults``, and ``qwen_stream_defaults`` for
        ``/stream-tts``) where the model takes them."""
        if self.text is None:
            raise InvalidRequest("text is required", param="text")
        engine: dict[str, ParamValue | None] = {"temperature": self.temperature, **extra}
        attributes = (
            self.voice_attributes.model_dump(exclude_none=True) if self.voice_attributes else {}
        )
        defaults = {**compat.qwen_defaults, **(compat.qwen_stream_defaults if stream else {})}
        return SpeechParams(
            model=compat.qwen_model,
            input=self.text,
            voice=compat.qwen_voice,
            response_format=fmt,
            params={k: v for k, v in engine.items() if v is not None},
            voice_attributes=attributes,
            defaults=SeedDefaults(defaults),
        )


class QwenStreamBody(QwenBody):
    """``POST /stream-tts``."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "example": {
                "text": "Привет, мир!",
                "temperature": 0.7,
                "voice_attributes": {"gender": "female", "age": 25, "emotion": "happy"},
            }
        },
    )
    tokens: list[int] | None = None
    max_length: int | None = Field(None, ge=1, le=4096)


class QwenFullBody(QwenBody):
    """``POST /tts``."""

    format: Literal["wav", "mp3", "ogg"] = "wav"


class SynthesizeBody(BaseModel):
    """The lean proxy's ``POST /synthesize``; extra fields are engine parameters."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)
    text: str
    model: str | None = Field(None, min_length=1)
    voice: str | None = Field(None, validation_alias=AliasChoices("voice", "speaker"))
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = Field(
        "wav", validation_alias=AliasChoices("format", "response_format")
    )
    speed: float | None = Field(None, ge=0.25, le=4.0)
    language: str | None = None

    def to_params(self, default_model: str) -> SpeechParams:
        """SpeechParams; non-scalar extra fields are a 422."""
        return SpeechParams(
            model=self.model or default_model,
            input=self.text,
            voice=self.voice,
            response_format=self.response_format,
            speed=self.speed,
            language=self.language,
            params=engine_params(self.model_extra),
        )


@router.post("/tts", response_class=Response)
async def qwen_tts(
    body: QwenFullBody,
    request: Request,
    service: ServiceDep,
    state: StateDep,
    caller: CallerDep,
) -> Response:
    """Qwen-TTS full synthesis: one wav, mp3 or ogg file."""
    params = body.params(state.settings.compat, _QWEN_FORMATS[body.format])
    return await unless_disconnected(request, _whole_file(service, params, caller))


@router.post("/stream-tts", response_class=StreamingResponse)
async def qwen_stream_tts(
    body: QwenStreamBody,
    request: Request,
    service: ServiceDep,
    state: StateDep,
    caller: CallerDep,
) -> StreamingResponse:
    """Qwen-TTS streaming synthesis: a chunked WAV stream."""
    if body.tokens is not None:
        raise InvalidRequest(
            f"model {state.settings.compat.qwen_model!r} speaks text; 'tokens' is not supported",
            param="tokens",
        )
    extra: dict[str, ParamValue] = {}
    if body.max_length is not None:
        extra["max_length"] = body.max_length
    params = body.params(state.settings.compat, "wav", stream=True, **extra)
    job = await unless_disconnected(request, service.prepare(params, caller))
    audio = await started(request, job.stream())
    return StreamingResponse(audio, media_type=job.media_type, headers=job.headers)


@router.post("/synthesize", response_class=Response)
async def synthesize(
    body: SynthesizeBody,
    request: Request,
    service: ServiceDep,
    state: StateDep,
    caller: CallerDep,
) -> Response:
    """Lean proxy synthesis: the whole file (WAV unless ``format`` says otherwise)."""
    params = body.to_params(state.settings.compat.proxy_model)
    return await unless_disconnected(request, _whole_file(service, params, caller))


async def _whole_file(service: SpeechService, params: SpeechParams, caller: Caller) -> Response:
    job = await service.prepare(params, caller)
    return Response(await job.collect(), media_type=job.media_type, headers=job.headers)


router.add_api_route("/models", models.list_models, methods=["GET"], summary="Lean proxy models")
router.add_api_route(
    "/audio/speech",
    speech.create_speech,
    methods=["POST"],
    response_class=StreamingResponse,
    summary="Lean proxy OpenAI speech (same as /v1/audio/speech)",
)
