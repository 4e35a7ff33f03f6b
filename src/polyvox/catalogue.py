"""The catalogue: served models by id or alias, their engines and their voices."""

from __future__ import annotations

import logging

from polyvox.engines.base import (
    ComposesVoices,
    Describes,
    Engine,
    STTEngine,
    TaskEngine,
    TTSEngine,
)
from polyvox.engines.pool import ModelPool
from polyvox.errors import InvalidRequest, ModelNotFound, PolyvoxError, VoiceNotFound
from polyvox.settings import OPENAI_VOICES, Settings
from polyvox.types import EngineInfo, VoiceInfo

log = logging.getLogger(__name__)


class Catalogue:
    """Resolves the names clients send (model ids, aliases, OpenAI names) to engines."""

    def __init__(self, settings: Settings, pool: ModelPool) -> None:
        self.settings = settings
        self.pool = pool
        self._voices: dict[str, dict[str, VoiceInfo]] = {}

    def engine(self, model: str) -> Engine:
        """The engine behind a model id or alias; raises ModelNotFound."""
        model_id = self.settings.resolve_model(model)
        if model_id is None:
            known = ", ".join(self.settings.served)
            raise ModelNotFound(
                f"model {model!r} does not exist; available: {known}", param="model"
            )
        return self.pool.engine(model_id)

    async def describe(self, model: str | None = None) -> None:
        """Ask remote models for their capabilities and voices if not asked yet: one model
        (its errors raised), or every served one (an unreachable one is only logged)."""
        if model is not None:
            await self.pool.describe(self.engine(model).info.model)
            return
        for name in self.settings.served:
            try:
                engine = self.pool.engine(name)
                if isinstance(engine, Describes) and engine.loads_to_describe:
                    continue  # a supervised worker starts on first use (or preload) only
                await self.pool.describe(name)
            except PolyvoxError as exc:
                log.warning("model %s is not available: %s", name, exc.message)

    def models(self) -> list[EngineInfo]:
        """Every served model that can be constructed here."""
        found = []
        for name in self.settings.served:
            try:
                found.append(self.pool.engine(name).info)
            except PolyvoxError as exc:
                log.warning("model %s is not available: %s", name, exc.message)
        return found

    async def tts_model(self, model: str) -> TTSEngine:
        """The TTS engine behind a model id or alias, described (a remote model's voices
        asked once): the name a request sends, resolved once."""
        engine = await self.pool.describe(self.engine(model).info.model)
        return _text_to_speech(engine, model)

    def tts_engine(self, model: str) -> TTSEngine:
        """The TTS engine for ``model``; a speech-to-text model is a 422."""
        return _text_to_speech(self.engine(model), model)

    def stt_engine(self, model: str) -> STTEngine:
        """The speech-to-text engine behind a model name; raises ModelNotFound/InvalidRequest."""
        engine = self.engine(model)
        if engine.info.kind != "stt" or not isinstance(engine, STTEngine):
            raise InvalidRequest(f"model {model!r} is not a speech-to-text model", param="model")
        return engine

    async def task_engine(self, model: str, task: str) -> TaskEngine:
        """The engine of a model of ``task`` (described first: a remote's kind is its
        card's); a model of another task is a 422."""
        engine = await self.pool.describe(self.engine(model).info.model)
        if engine.info.kind != task or not isinstance(engine, TaskEngine):
            raise InvalidRequest(
                f"model {model!r} is a {engine.info.kind} model, not a {task} model",
                param="model",
            )
        return engine

    def voices(self, model: str | None = None) -> list[VoiceInfo]:
        """Voices of one model, or of every TTS model."""
        names = [model] if model else [m.model for m in self.models() if m.kind == "tts"]
        return [v for name in names for v in self._voice_index(self.tts_engine(name)).values()]

    def _voice_index(self, engine: TTSEngine) -> dict[str, VoiceInfo]:
        index = self._voices.get(engine.info.model)
        if index is None:
            index = {v.id: v for v in engine.voices()}
            if not isinstance(engine, Describes) or engine.described:  # a remote: once asked
                self._voices[engine.info.model] = index
        return index

    def resolve_voice(self, model: str, voice: str | None) -> VoiceInfo:
        """A voice id, configured alias or OpenAI voice name -> the model's voice."""
        return self.voice(self.tts_engine(model), voice)

    def voice(self, engine: TTSEngine, voice: str | None) -> VoiceInfo:
        """A voice id, configured alias or OpenAI voice name -> the engine's voice."""
        index = self._voice_index(engine)
        name = voice or engine.default_voice
        if name not in index:
            if name in self.settings.voice_aliases:
                name = self.settings.voice_aliases[name]
            elif name.lower() in OPENAI_VOICES:
                name = engine.default_voice
        found = index.get(name)
        if found is None and isinstance(engine, ComposesVoices):
            found = engine.compose_voice(name)  # a blend of listed voices (Kokoro)
        if found is None:
            raise VoiceNotFound(
                f"model {engine.info.model!r} has no voice {voice!r}; "
                f"GET /v1/audio/voices?model={engine.info.model} lists them",
                param="voice",
            )
        return found


def _text_to_speech(engine: Engine, model: str) -> TTSEngine:
    if engine.info.kind != "tts" or not isinstance(engine, TTSEngine):
        raise InvalidRequest(f"model {model!r} is not a text-to-speech model", param="model")
    return engine
