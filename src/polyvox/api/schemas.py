"""HTTP request and response bodies (pydantic lives here, at the edge)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from polyvox.checks import engine_params
from polyvox.codecs import AudioFormat
from polyvox.types import SpeechParams
from polyvox.voices.reference import parse_reference


class VoiceRef(BaseModel):
    """A voice given as an object, as newer OpenAI clients may send it."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    id: str = Field(min_length=1)


class SpeechBody(BaseModel):
    """``POST /v1/audio/speech``: OpenAI's fields, plus engine parameters as extra fields."""

    model_config = ConfigDict(
        extra="allow",
        allow_inf_nan=False,
        json_schema_extra={
            "example": {"model": "tts-1", "input": "Hello from polyvox.", "voice": "alloy"}
        },
    )

    model: str = Field(min_length=1, description="Model id, alias, or an OpenAI TTS model name.")
    input: str = Field(description="Text to speak.")
    voice: str | VoiceRef | None = Field(None, description="Voice id or OpenAI voice name.")
    instructions: str | None = Field(None, description="Style prompt (engines that support it).")
    response_format: AudioFormat = "mp3"
    speed: float | None = Field(None, ge=0.25, le=4.0)
    stream_format: Literal["audio", "sse"] = "audio"
    stream: bool | None = Field(
        None,
        description="Kokoro-FastAPI's field: true (the default) streams the audio as it is "
        "made; false sends the whole file at once, with its length (and, for wav, its "
        "real sizes in the header).",
    )
    sample_rate: int | None = Field(
        None, ge=8000, le=192000, description="polyvox extension: output sample rate."
    )
    language: str | None = Field(
        None, min_length=1, max_length=35, description="polyvox extension: language to speak."
    )
    reference_audio: str | None = Field(
        None,
        min_length=1,
        description="polyvox extension, for cloning models: reference audio as a gs://, "
        "s3:// or https:// URL, base64, or sha256:<hex> of audio sent before.",
    )
    reference_text: str | None = Field(
        None,
        min_length=1,
        max_length=2000,
        description="polyvox extension, for models that read it (Qwen3-TTS Base): what the "
        "reference audio says; without it the server transcribes the reference.",
    )
    voice_attributes: dict[str, str | int | float] | None = Field(
        None,
        description="polyvox extension: voice description (gender, age, emotion) for "
        "models that declare these attributes (their model card lists the values).",
    )

    def to_params(self) -> SpeechParams:
        """The transport-neutral request; extra fields become engine parameters."""
        params = engine_params(self.model_extra)
        voice = self.voice.id if isinstance(self.voice, VoiceRef) else self.voice
        ref = self.reference_audio
        reference = None if ref is None else parse_reference(ref, "reference_audio")
        return SpeechParams(
            model=self.model,
            input=self.input,
            voice=voice,
            response_format=self.response_format,
            speed=self.speed,
            instructions=self.instructions,
            sample_rate=self.sample_rate,
            params=params,
            language=self.language,
            reference_audio=reference,
            reference_text=self.reference_text,
            voice_attributes=dict(self.voice_attributes or {}),
        )


class ModelCard(BaseModel):
    """One entry of ``GET /v1/models``."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "polyvox"
    kind: str
    description: str
    languages: list[str]
    capabilities: dict[str, Any]
    default_voice: str | None = None
    """The voice a text-to-speech request without ``voice`` gets."""


class ModelList(BaseModel):
    """``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


class VoiceCard(BaseModel):
    """One entry of ``GET /v1/audio/voices``: a voice of one model."""

    id: str
    object: Literal["voice"] = "voice"
    name: str
    model: str
    language: str
    sample_rate: int
    gender: str | None = None
    source: Literal["engine", "library"] = "engine"
    """``engine``: the model's own voice; ``library``: a voice of the voice library."""
    capabilities: dict[str, Any]


ScalarValue = bool | int | float | str


class ConsentBody(BaseModel):
    """Who agreed to have their voice cloned, when, and what they agreed to."""

    model_config = ConfigDict(extra="forbid")
    by: str = Field(min_length=1, max_length=256)
    at: str | None = Field(None, max_length=64, description="ISO-8601; default: now.")
    statement: str | None = Field(None, max_length=4000)


class ConsentCard(BaseModel):
    """A voice's consent as stored: no input limits, so a record an older server kept with
    a longer field is still shown."""

    by: str
    at: str | None = None
    statement: str | None = None


class VoiceBody(BaseModel):
    """``POST /v1/audio/voices`` as JSON (multipart takes the same fields, files as
    ``audio_sample``); on ``POST/PATCH /v1/audio/voices/{id}`` every field is optional."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str | None = Field(None, max_length=256)
    audio_sample: str | list[str] | None = Field(
        None, description="Reference audio: gs://, s3:// or https:// URLs, or base64."
    )
    language: str | None = Field(None, max_length=35)
    transcript: str | None = Field(None, max_length=4000)
    defaults: dict[str, dict[str, ScalarValue]] | None = Field(
        None, description="Request parameters per engine name or model id."
    )
    consent: str | ConsentBody | None = Field(
        None, description="Who consented (a name), or {by, at, statement}."
    )


class LibraryVoiceCard(BaseModel):
    """A voice of the voice library, as its owner sees it."""

    id: str
    object: Literal["audio.voice"] = "audio.voice"
    type: Literal["audio_sample"] = "audio_sample"
    name: str
    created_at: int
    updated_at: int
    language: str | None
    transcript: str | None
    transcribed_by: str | None
    seconds: float
    sample_rate: int
    digest: str
    """SHA-256 of the prepared reference (``reference_audio: "sha256:<digest>"`` names it)."""
    defaults: dict[str, dict[str, ScalarValue]]
    consent: ConsentCard
    models: list[str]
    """Served models that clone voices, and so can speak this one."""


class LibraryVoiceList(BaseModel):
    """``GET /v1/audio/voices?source=library`` with ``detail``: the library's own records."""

    object: Literal["list"] = "list"
    data: list[LibraryVoiceCard]


class VoiceDeleted(BaseModel):
    """``DELETE /v1/audio/voices/{id}``."""

    id: str
    object: Literal["audio.voice.deleted"] = "audio.voice.deleted"
    deleted: bool = True


class VoiceList(BaseModel):
    """``GET /v1/audio/voices``."""

    object: Literal["list"] = "list"
    data: list[VoiceCard]


class ModelStatus(BaseModel):
    """One model in ``GET /v1/status``: where it runs and what it is doing now."""

    id: str
    kind: str
    engine: str
    placement: Literal["in-process", "environment", "remote"]
    location: str | None
    """The engine environment's name, or what the remote is (its URL); None in-process."""
    device: str
    loaded: bool
    slots: int
    queue_depth: int
    """Engine calls waiting for a slot."""
    in_flight: int
    """Admitted jobs not yet finished."""
    recent_rtf: list[float]
    """Real-time factors of the latest engine calls, oldest first (synthesis seconds per
    audio second; below 1 is faster than real time)."""


class ServerStatus(BaseModel):
    """``GET /v1/status`` (a polyvox extension): the server and each model, for dashboards
    and the web UI; Prometheus has the same numbers at ``/metrics``."""

    object: Literal["status"] = "status"
    version: str
    status: Literal["ready", "loading", "error"]
    preload_error: str | None
    models: list[ModelStatus]
