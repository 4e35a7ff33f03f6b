"""SpeechService: the one entry point every transport calls to list, validate and synthesise."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from functools import partial
from pathlib import Path

import numpy as np

from polyvox import codecs, decoding, text, transcription
from polyvox.allocator import MemoryTrimmer, limit_arenas
from polyvox.engines.base import Engine, ReleasesMemory, STTEngine, TTSEngine
from polyvox.engines.pool import ModelPool
from polyvox.engines.registry import create_engine
from polyvox.errors import InvalidRequest, ModelNotFound, PolyvoxError, VoiceNotFound
from polyvox.jobs import SpeechJob, run_blocking
from polyvox.metrics import Metrics
from polyvox.scheduler import Scheduler
from polyvox.settings import OPENAI_VOICES, Settings
from polyvox.storage import ObjectStore
from polyvox.transcription_job import Source, TranscriptionJob
from polyvox.types import (
    EngineInfo,
    ParamSpec,
    ParamValue,
    SpeechParams,
    SpeechRequest,
    TranscriptionParams,
    TranscriptionRequest,
    VoiceInfo,
)
from polyvox.voices.reference import ReferenceStore

log = logging.getLogger(__name__)
SPEED_RANGE = (0.25, 4.0)
"""Speeds every transport accepts (OpenAI's range); engines map it to their own scale."""
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "float": (int, float), "int": (int,), "str": (str,), "bool": (bool,),
}  # fmt: skip


class SpeechService:
    """Resolves models and voices, validates requests eagerly, and prepares streaming jobs."""

    def __init__(
        self, settings: Settings, pool: ModelPool | None = None, metrics: Metrics | None = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.pool = pool or ModelPool(
            lambda name: create_engine(name, settings),
            ttl=settings.model_ttl,
            on_load=self._loaded,
            on_unload=lambda model: self.metrics.models_loaded.labels(model).set(0),
        )
        self._schedulers: dict[str, Scheduler] = {}
        limit_arenas(settings.malloc_arenas)
        self.trimmer = MemoryTrimmer(settings.trim_memory)
        self._voices: dict[str, dict[str, VoiceInfo]] = {}
        self.objects = ObjectStore(settings.storage)
        self.references = ReferenceStore(settings.reference, self.objects)

    def _loaded(self, model: str, seconds: float) -> None:
        self.metrics.model_loads.labels(model).inc()
        self.metrics.model_load_seconds.labels(model).observe(seconds)
        self.metrics.models_loaded.labels(model).set(1)

    # -- catalogue -------------------------------------------------------------------
    def engine(self, model: str) -> Engine:
        """The engine behind a model id or alias; raises ModelNotFound."""
        model_id = self.settings.resolve_model(model)
        if model_id is None:
            known = ", ".join(self.settings.engines)
            raise ModelNotFound(
                f"model {model!r} does not exist; available: {known}", param="model"
            )
        return self.pool.engine(model_id)

    def models(self) -> list[EngineInfo]:
        """Every configured model that can be constructed here."""
        found = []
        for name in self.settings.engines:
            try:
                found.append(self.pool.engine(name).info)
            except PolyvoxError as exc:
                log.warning("model %s is not available: %s", name, exc)
        return found

    def tts_engine(self, model: str) -> TTSEngine:
        """The TTS engine for ``model``; a speech-to-text model is a 422."""
        engine = self.engine(model)
        if not isinstance(engine, TTSEngine):
            raise InvalidRequest(f"model {model!r} is not a text-to-speech model", param="model")
        return engine

    def voices(self, model: str | None = None) -> list[VoiceInfo]:
        """Voices of one model, or of every TTS model."""
        names = [model] if model else [m.name for m in self.models() if m.kind == "tts"]
        return [v for name in names for v in self._voice_index(name).values()]

    def _voice_index(self, model: str) -> dict[str, VoiceInfo]:
        engine = self.tts_engine(model)
        index = self._voices.get(engine.info.name)
        if index is None:
            index = self._voices[engine.info.name] = {v.id: v for v in engine.voices()}
        return index

    def resolve_voice(self, model: str, voice: str | None) -> VoiceInfo:
        """A voice id, configured alias or OpenAI voice name -> the model's voice."""
        engine = self.tts_engine(model)
        index = self._voice_index(model)
        name = voice or engine.default_voice
        if name not in index:
            if name in self.settings.voice_aliases:
                name = self.settings.voice_aliases[name]
            elif name.lower() in OPENAI_VOICES:
                name = engine.default_voice
        found = index.get(name)
        if found is None:
            raise VoiceNotFound(
                f"model {engine.info.name!r} has no voice {voice!r}; "
                f"GET /v1/audio/voices?model={engine.info.name} lists them",
                param="voice",
            )
        return found

    # -- synthesis --------------------------------------------------------------------
    async def prepare(self, params: SpeechParams) -> SpeechJob:
        """Validate everything about a request and load its model; raises a 4xx/503 error."""
        engine = self.tts_engine(params.model)
        info = engine.info
        chunks = self._chunks(params.input)
        voice = self.resolve_voice(params.model, params.voice)
        _check_capabilities(info, params)
        _check_voice_request(info, params)
        _check_params(info, params.params)
        if params.response_format not in codecs.FORMATS:
            raise InvalidRequest(
                f"response_format must be one of {', '.join(codecs.FORMATS)}",
                param="response_format",
            )
        out_rate = codecs.output_rate(params.response_format, voice.sample_rate, params.sample_rate)
        reference = await self._reference(params)
        await self.pool.load(info.name)
        request = SpeechRequest(
            text="", voice=voice.id, speed=params.speed,
            instructions=params.instructions, params=dict(params.params),
            language=params.language, reference_audio=reference,
            voice_attributes=dict(params.voice_attributes),
        )  # fmt: skip
        return SpeechJob(
            model=info.name, pool=self.pool, request=request, chunks=chunks,
            response_format=params.response_format, in_rate=voice.sample_rate,
            out_rate=out_rate, scheduler=self.scheduler(info.name), metrics=self.metrics,
            timeout=self.settings.request_timeout,
        )  # fmt: skip

    async def _reference(self, params: SpeechParams) -> Path | None:
        """Fetch (or find in the cache) the reference audio; runs after every other check."""
        if params.reference_audio is None:
            return None
        return await run_blocking(partial(self.references.resolve, params.reference_audio))

    def _chunks(self, raw: str) -> list[text.TextChunk]:
        limit = self.settings.max_input_chars
        if len(raw) > limit:
            raise InvalidRequest(
                f"input is {len(raw)} characters; the limit is {limit}", param="input"
            )
        chunks = list(
            text.split(
                raw,
                max_chars=self.settings.chunk_max_chars,
                first_max_words=self.settings.first_chunk_max_words,
            )
        )
        if not chunks:
            raise InvalidRequest("input has no text to speak", param="input")
        return chunks

    # -- transcription ---------------------------------------------------------------
    def stt_engine(self, model: str) -> STTEngine:
        """The speech-to-text engine behind a model name; raises ModelNotFound/InvalidRequest."""
        engine = self.engine(model)
        if not isinstance(engine, STTEngine):
            raise InvalidRequest(f"model {model!r} is not a speech-to-text model", param="model")
        return engine

    async def transcribe(self, params: TranscriptionParams) -> TranscriptionJob:
        """Validate a request, probe its audio and load its model; raises a 4xx/503 error.

        The audio is only decoded once the job is admitted, a block at a time.
        """
        info = self.stt_engine(params.model).info
        language = transcription.check_request(info, params)
        _check_params(info, params.params)
        limits = self.settings
        declared = await run_blocking(
            partial(
                decoding.probe, params.file,
                max_bytes=limits.max_upload_bytes, max_seconds=limits.max_audio_seconds,
            )
        )  # fmt: skip
        await self.pool.load(info.name)
        request = TranscriptionRequest(
            audio=np.zeros(0, dtype=np.float32), language=language, prompt=params.prompt,
            temperature=params.temperature, task=params.task, params=dict(params.params),
            word_timestamps="word" in params.timestamp_granularities,
        )  # fmt: skip
        source = Source(
            params.file, declared, block_seconds=limits.stt_block_seconds,
            max_seconds=limits.max_audio_seconds,
        )  # fmt: skip
        return TranscriptionJob(
            model=info.name, pool=self.pool, request=request, source=source,
            response_format=params.response_format, scheduler=self.scheduler(info.name),
            metrics=self.metrics, granularities=params.timestamp_granularities,
        )  # fmt: skip

    def scheduler(self, model: str) -> Scheduler:
        """The admission queue and slots of one model (tts_slots or stt_slots by its kind)."""
        scheduler = self._schedulers.get(model)
        if scheduler is None:
            s = self.settings
            kind = self.pool.engine(model).info.kind
            wait_seconds = self.metrics.queue_wait_seconds.labels(model)
            scheduler = self._schedulers[model] = Scheduler(
                slots=s.stt_slots if kind == "stt" else s.tts_slots,
                max_queue=s.tts_queue, queue_timeout=s.queue_timeout,
                policy=s.scheduling, on_wait=wait_seconds.observe,
                on_close=lambda: self._job_closed(model), widen=kind == "tts",
            )  # fmt: skip
            self.metrics.queue_depth.labels(model).set_function(lambda: scheduler.waiting)
            self.metrics.inflight.labels(model).set_function(lambda: scheduler.active)
        return scheduler

    def _job_closed(self, model: str) -> None:
        """Give memory back after a job; the engine's scratch memory once the model is idle."""
        engine = self.pool.engine(model)
        if self._schedulers[model].active == 0 and isinstance(engine, ReleasesMemory):
            self.trimmer.after_job(engine.release_memory)
        else:
            self.trimmer.after_job()


def _unsupported(info: EngineInfo, param: str) -> InvalidRequest:
    return InvalidRequest(
        f"model {info.name!r} (engine {info.name}) does not support {param!r}", param=param
    )


def _check_capabilities(info: EngineInfo, params: SpeechParams) -> None:
    if params.instructions and not info.instructions:
        raise _unsupported(info, "instructions")
    if params.speed is None:
        return
    if not info.speed:
        raise _unsupported(info, "speed")
    if not (math.isfinite(params.speed) and SPEED_RANGE[0] <= params.speed <= SPEED_RANGE[1]):
        raise InvalidRequest(
            f"speed must be a number from {SPEED_RANGE[0]} to {SPEED_RANGE[1]}", param="speed"
        )


def _check_params(info: EngineInfo, params: Mapping[str, ParamValue]) -> None:
    for key, value in params.items():
        spec = info.params.get(key)
        if spec is None:
            accepted = ", ".join(info.params) or "none"
            raise InvalidRequest(
                f"model {info.name!r} (engine {info.name}) does not accept the parameter "
                f"{key!r}; it accepts: {accepted}",
                param=key,
            )
        _check_value(info, key, spec, value)


def _check_value(info: EngineInfo, key: str, spec: ParamSpec, value: ParamValue) -> None:
    ok_type = isinstance(value, _PY_TYPES[spec.type]) and not (
        spec.type != "bool" and isinstance(value, bool)
    )
    where = f"parameter {key!r} of model {info.name!r}"
    if not ok_type:
        raise InvalidRequest(f"{where} must be a {spec.type}", param=key)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidRequest(f"{where} must be a finite number, not {value}", param=key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            raise InvalidRequest(f"{where} must be >= {spec.minimum}", param=key)
        if spec.maximum is not None and value > spec.maximum:
            raise InvalidRequest(f"{where} must be <= {spec.maximum}", param=key)
    if spec.choices is not None and value not in spec.choices:
        raise InvalidRequest(f"{where} must be one of {', '.join(spec.choices)}", param=key)


def _check_voice_request(info: EngineInfo, params: SpeechParams) -> None:
    """Reference audio, voice attributes and language against what the engine declares."""
    engine = f"model {info.name!r} (engine {info.name})"
    ref = params.reference_audio
    if ref is not None and not info.voice_cloning:
        raise InvalidRequest(
            f"{engine} does not support {ref.param!r}: it cannot clone a reference voice",
            param=ref.param,
        )
    unsupported = [k for k in params.voice_attributes if k not in info.voice_attributes]
    if unsupported:
        accepted = ", ".join(info.voice_attributes) or "none"
        raise InvalidRequest(
            f"{engine} does not support the voice attributes {', '.join(unsupported)} "
            f"in 'voice_attributes'; it supports: {accepted}",
            param="voice_attributes",
        )
    if params.language and info.languages and not _speaks(info, params.language):
        raise InvalidRequest(
            f"{engine} does not support language {params.language!r}; "
            f"it speaks: {', '.join(info.languages)}",
            param="language",
        )


def _speaks(info: EngineInfo, language: str) -> bool:
    """``en`` matches ``en_US``; ``en-us`` matches ``en_US``."""
    wanted = language.lower().replace("-", "_")
    known = {lang.lower().replace("-", "_") for lang in info.languages}
    return wanted in known or wanted in {lang.split("_", 1)[0] for lang in known}
