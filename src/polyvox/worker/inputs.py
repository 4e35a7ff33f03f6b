"""RunPod job inputs: the Chatterbox and XTTS worker shapes and the native shape, with outputs."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from polyvox.checks import engine_params
from polyvox.errors import InvalidRequest
from polyvox.settings import Settings
from polyvox.storage import StoredObject
from polyvox.types import ParamValue, ReferenceAudio, SeedDefaults, SpeechParams
from polyvox.voices.reference import decode_base64, parse_reference

log = logging.getLogger(__name__)
OutputMode = Literal["base64", "url"]
XTTS_PARAMETERS = ("temperature", "speed", "top_k", "top_p")
"""What the XTTS worker's ``parameters`` echo lists: sent, else the documented default."""


@dataclass(frozen=True)
class JobResult:
    """What a finished job produced; each shape renders the fields its clients expect."""

    audio: bytes | None
    stored: StoredObject | None
    response_format: str
    sample_rate: int
    duration: float
    generation_time: float
    model: str
    voice: str
    language: str


class JobInput(BaseModel):
    """Common behaviour of the accepted job shapes."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    shape: ClassVar[str] = ""
    fields: ClassVar[Mapping[str, str]] = {}
    """Service parameter name -> this shape's field name, for error messages."""

    def to_params(self, settings: Settings) -> SpeechParams:
        """The transport-neutral request."""
        raise NotImplementedError

    def output_mode(self) -> OutputMode:
        """Whether the audio goes back inline (base64) or as an uploaded, signed URL."""
        return "base64"

    def label(self) -> str:
        """A name for uploaded files."""
        return "speech"

    def voice_name(self) -> str | None:
        """A name the job gives its reference audio, so later jobs may send the name alone."""
        return None

    def render(self, result: JobResult) -> dict[str, Any]:
        """The job output; ``result.audio`` is None when the audio was streamed already."""
        raise NotImplementedError


def _b64(data: bytes | None) -> dict[str, str]:
    return {} if data is None else {"audio": base64.b64encode(data).decode("ascii")}


def _engine_params(**values: ParamValue | None) -> dict[str, ParamValue]:
    return {k: v for k, v in values.items() if v is not None}


class ChatterboxInput(JobInput):
    """The Chatterbox RunPod worker's input; answered with base64 WAV and its metadata."""

    shape: ClassVar[str] = "chatterbox"
    fields: ClassVar[Mapping[str, str]] = {
        "input": "text",
        "language": "language_id",
        "model": "model_type",
    }
    text: str
    model_type: str = "english"
    language_id: str | None = None
    audio_prompt: str | None = Field(None, description="Reference voice, base64 audio.")
    exaggeration: float | None = None
    cfg_weight: float | None = None
    _language: str | None = PrivateAttr(None)
    _warnings: list[str] = PrivateAttr(default_factory=list)

    def to_params(self, settings: Settings) -> SpeechParams:
        models = settings.worker.chatterbox_models
        if self.model_type not in models:
            raise InvalidRequest(
                f"model_type must be one of {', '.join(models)}", param="model_type"
            )
        reference = None
        if self.audio_prompt is not None:
            data = decode_base64(self.audio_prompt, "audio_prompt")
            reference = ReferenceAudio(data, param="audio_prompt")
        params = _engine_params(exaggeration=self.exaggeration, cfg_weight=self.cfg_weight)
        self._language = self._spoken_language()
        return SpeechParams(
            model=models[self.model_type],
            input=self.text,
            response_format="wav",
            language=self._language,
            reference_audio=reference,
            params=params,
        )

    def _spoken_language(self) -> str | None:
        """``language_id``, except on the English model: the seed's ``ChatterboxTTS`` takes
        no language, so another language is ignored there, with a warning (logged and in
        the output's ``warnings``) instead of a failed job."""
        wanted = self.language_id
        if self.model_type != "english" or wanted is None or _is_english(wanted):
            return wanted
        warning = (
            f"model_type 'english' speaks English: language_id {wanted!r} was ignored "
            "(model_type 'multilingual' takes a language_id)"
        )
        log.warning("chatterbox job: %s", warning)
        self._warnings = [warning]
        return None

    def render(self, result: JobResult) -> dict[str, Any]:
        warnings = {"warnings": list(self._warnings)} if self._warnings else {}
        return {
            **_b64(result.audio),
            "sample_rate": result.sample_rate,
            "duration": round(result.duration, 3),
            "text": self.text,
            "language": self._language or result.language,
            "model_type": self.model_type,
            **warnings,
        }


def _is_english(language: str) -> bool:
    return language.lower().replace("_", "-").split("-")[0] == "en"


class XttsInput(JobInput):
    """The XTTS RunPod worker's input; answered with a signed URL of the uploaded WAV."""

    shape: ClassVar[str] = "xtts"
    fields: ClassVar[Mapping[str, str]] = {"input": "gen_text"}
    gen_text: str
    ref_audio_url: str | None = Field(None, description="Reference voice: gs://, s3://, https://")
    voice_id: str | None = Field(None, max_length=200)
    language: str | None = None
    temperature: float | None = None
    speed: float | None = Field(None, ge=0.25, le=4.0)
    top_k: int | None = None
    top_p: float | None = None
    _defaults: SeedDefaults = PrivateAttr(default_factory=lambda: SeedDefaults({}))

    def to_params(self, settings: Settings) -> SpeechParams:
        reference = None
        if self.ref_audio_url is not None:
            reference = ReferenceAudio(self.ref_audio_url, param="ref_audio_url")
        params = _engine_params(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p)
        self._defaults = SeedDefaults(dict(settings.worker.xtts_defaults))
        return SpeechParams(
            model=settings.worker.xtts_model,
            input=self.gen_text,
            response_format="wav",
            speed=self.speed,
            language=self.language,
            reference_audio=reference,
            params=params,
            defaults=self._defaults,
        )

    def output_mode(self) -> OutputMode:
        return "url"

    def label(self) -> str:
        return re.sub(r"[^\w.-]", "_", self.voice_id or "speech")[:100]

    def voice_name(self) -> str | None:
        return self.voice_id

    def render(self, result: JobResult) -> dict[str, Any]:
        """The seed's output; ``parameters`` lists each of ``XTTS_PARAMETERS`` as sent or as
        ``worker.xtts_defaults`` documents it (whether the model took it or not), and
        ``language`` is the one spoken: sent, the default where the model took it, or the
        voice's."""
        documented = self._defaults.values
        sent = {name: getattr(self, name) for name in XTTS_PARAMETERS}
        parameters = _engine_params(
            **{
                name: documented.get(name) if value is None else value
                for name, value in sent.items()
            }
        )
        language = self.language or self._defaults.applied.get("language") or result.language
        return {
            "audio_url": result.stored.signed_url if result.stored else None,
            "duration": round(result.duration, 3),
            "voice_id": self.voice_id,
            "language": str(language),
            "generation_time": round(result.generation_time, 3),
            "parameters": parameters,
        }


class NativeInput(JobInput):
    """polyvox's own shape, mirroring ``POST /v1/audio/speech``; extra fields are engine params."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)
    shape: ClassVar[str] = "native"
    model: str | None = Field(None, min_length=1)
    input: str
    voice: str | None = None
    instructions: str | None = None
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: float | None = Field(None, ge=0.25, le=4.0)
    sample_rate: int | None = Field(None, ge=8000, le=192000)
    language: str | None = None
    reference_audio: str | None = Field(None, description="gs://, s3://, https:// or base64.")
    reference_text: str | None = Field(None, min_length=1, max_length=2000)
    voice_attributes: dict[str, str | int | float] = {}
    output: OutputMode = "base64"

    def to_params(self, settings: Settings) -> SpeechParams:
        params = engine_params(self.model_extra)
        return SpeechParams(
            model=self.model or settings.default_tts_model,
            input=self.input,
            voice=self.voice,
            response_format=self.response_format,
            speed=self.speed,
            instructions=self.instructions,
            sample_rate=self.sample_rate,
            params=params,
            language=self.language,
            reference_audio=self._reference(),
            reference_text=self.reference_text,
            voice_attributes=dict(self.voice_attributes),
        )

    def _reference(self) -> ReferenceAudio | None:
        ref = self.reference_audio
        return None if ref is None else parse_reference(ref, "reference_audio")

    def output_mode(self) -> OutputMode:
        return self.output

    def render(self, result: JobResult) -> dict[str, Any]:
        out: dict[str, Any] = {
            **_b64(result.audio),
            "format": result.response_format,
            "sample_rate": result.sample_rate,
            "duration": round(result.duration, 3),
            "model": result.model,
            "voice": result.voice,
            "generation_time": round(result.generation_time, 3),
        }
        if result.stored is not None:
            out["audio_url"] = result.stored.signed_url
        return out


def parse_input(raw: object) -> JobInput:
    """Pick the shape by its text field (``input``, ``text`` or ``gen_text``) and validate it."""
    if not isinstance(raw, dict):
        raise InvalidRequest("the job input must be a JSON object", param="input")
    shape: type[JobInput]
    if "gen_text" in raw:
        shape = XttsInput
    elif "input" in raw:
        shape = NativeInput
    elif "text" in raw:
        shape = ChatterboxInput
    else:
        raise InvalidRequest(
            "the job input needs 'input' (native), 'text' (Chatterbox shape) "
            "or 'gen_text' (XTTS shape)",
            param="input",
        )
    try:
        return shape.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        param = str(first["loc"][0]) if first.get("loc") else None
        raise InvalidRequest(
            f"{shape.shape} job input: {loc}: {first.get('msg', 'invalid value')}", param=param
        ) from None
