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
        None, min_length=1, max_length=2000,
        description="polyvox extension, for models that read it (Qwen3-TTS Base): what the "
        "reference audio says; without it the server transcribes the reference.",
    )  # fmt: skip
    voice_attributes: dict[str, str | int | float] | None = Field(
        None, description="polyvox extension: voice description (gender, age, emotion) for "
        "models that declare these attributes (their model card lists the values).",
    )  # fmt: skip

    def to_params(self) -> SpeechParams:
        """The transport-neutral request; extra fields become engine parameters."""
        params = engine_params(self.model_extra)
        voice = self.voice.id if isinstance(self.voice, VoiceRef) else self.voice
        ref = self.reference_audio
        reference = None if ref is None else parse_reference(ref, "reference_audio")
        return SpeechParams(
            model=self.model, input=self.input, voice=voice,
            response_format=self.response_format, speed=self.speed,
            instructions=self.instructions, sample_rate=self.sample_rate, params=params,
            language=self.language, reference_audio=reference,
            reference_text=self.reference_text,
            voice_attributes=dict(self.voice_attributes or {}),
        )  # fmt: skip


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
    """One entry of ``GET /v1/audio/voices``."""

    id: str
    object: Literal["voice"] = "voice"
    name: str
    model: str
    language: str
    sample_rate: int
    gender: str | None = None
    capabilities: dict[str, Any]


class VoiceList(BaseModel):
    """``GET /v1/audio/voices``."""

    object: Literal["list"] = "list"
    data: list[VoiceCard]
