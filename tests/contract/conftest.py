"""The contract kit: fixtures that build every model configured in models.toml."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from polyvox.config import load_settings
from polyvox.engines import registry
from polyvox.engines.base import Engine, STTEngine, TTSEngine
from polyvox.models import model_spec
from polyvox.settings import Settings

MODELS_FILE = Path(__file__).with_name("models.toml")
SETTINGS = load_settings(MODELS_FILE, preload=[])
T = TypeVar("T")


def models_of_kind(settings: Settings, kind: str) -> list[str]:
    """Served model ids whose engine is of ``kind`` (tts or stt), without building them."""
    return [
        model
        for model in settings.served
        if registry.load_class(settings.models[model].engine).kind == kind
    ]


TTS_MODELS = models_of_kind(SETTINGS, "tts")
STT_MODELS = models_of_kind(SETTINGS, "stt")


def collect(items: AsyncIterator[T]) -> list[T]:
    """Every item of an async iterator, from synchronous test code."""

    async def gather() -> list[T]:
        return [item async for item in items]

    return asyncio.run(gather())


def _loaded(model: str) -> Iterator[Engine]:
    engine = registry.create_engine(model_spec(SETTINGS, model))
    asyncio.run(engine.load())
    yield engine
    asyncio.run(engine.unload())


@pytest.fixture(scope="module", params=TTS_MODELS)
def tts(request: pytest.FixtureRequest) -> Iterator[TTSEngine]:
    """Each configured text-to-speech model, loaded."""
    for engine in _loaded(request.param):
        assert isinstance(engine, TTSEngine)
        yield engine


@pytest.fixture(scope="module", params=STT_MODELS)
def stt(request: pytest.FixtureRequest) -> Iterator[STTEngine]:
    """Each configured speech-to-text model, loaded."""
    for engine in _loaded(request.param):
        assert isinstance(engine, STTEngine)
        yield engine
