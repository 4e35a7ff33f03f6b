"""The contract every speech-to-text model in models.toml passes (Whisper: real tiny.en)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import numpy as np
import pytest

from polyvox import codecs
from polyvox.engines.base import STTEngine, TTSEngine
from polyvox.service import SpeechService
from polyvox.settings import Settings
from polyvox.types import (
    STT_SAMPLE_RATE,
    Segment,
    SpeechParams,
    TranscriptionParams,
    TranscriptionRequest,
)
from tests.contract.conftest import STT_MODELS
from tests.stt_audio import KEYWORDS, normalise, speech_wav


@pytest.fixture(scope="module")
def engine(stt: STTEngine) -> STTEngine:
    return stt


@pytest.fixture(scope="module")
def audio() -> codecs.Float32:
    samples, _ = codecs.decode(speech_wav(), sample_rate=STT_SAMPLE_RATE)
    return samples


def run(engine: STTEngine, req: TranscriptionRequest) -> tuple[list[Segment], float]:
    async def both() -> tuple[list[Segment], float]:
        segments, info = await engine.transcribe(req)
        return [s async for s in segments], info.duration

    return asyncio.run(both())


def test_info_declares_capabilities(engine: STTEngine) -> None:
    info = engine.info
    assert info.kind == "stt"
    assert info.model in STT_MODELS
    assert info.sample_rate == STT_SAMPLE_RATE
    assert info.languages
    assert all(lang == lang.lower() for lang in info.languages)
    assert not isinstance(engine, TTSEngine)


def test_transcribes_speech(engine: STTEngine, audio: codecs.Float32) -> None:
    segments, duration = run(engine, TranscriptionRequest(audio=audio))
    assert duration == pytest.approx(len(audio) / STT_SAMPLE_RATE, abs=0.01)
    text = normalise(" ".join(s.text for s in segments))
    missing = [word for word in KEYWORDS if word not in text.split()]
    assert not missing, text
    for segment in segments:
        assert 0.0 <= segment.start <= segment.end <= duration + 0.5
        assert segment.tokens
        assert not segment.words  # words only when asked for


def test_word_timestamps(engine: STTEngine, audio: codecs.Float32) -> None:
    segments, duration = run(engine, TranscriptionRequest(audio=audio, word_timestamps=True))
    words = [w for s in segments for w in s.words]
    assert len(words) >= 10
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    assert all(0.0 <= w.start <= w.end <= duration + 0.5 for w in words)
    assert all(0.0 <= w.probability <= 1.0 for w in words)


def test_language_prompt_temperature_and_params(engine: STTEngine, audio: codecs.Float32) -> None:
    language = engine.info.languages[0]
    req = TranscriptionRequest(
        audio=audio, language=language, prompt="Foxes and dogs.", temperature=0.2,
        params={"beam_size": 1} if "beam_size" in engine.info.params else {},
    )  # fmt: skip
    segments, _ = run(engine, req)
    assert "fox" in normalise(" ".join(s.text for s in segments))


def test_segments_are_lazy_and_closable(engine: STTEngine, audio: codecs.Float32) -> None:
    gap = np.zeros(30 * STT_SAMPLE_RATE, dtype=np.float32)
    long_audio = np.concatenate([audio, gap, audio, gap])  # several 30 s windows

    async def first_then_close() -> Segment:
        segments, _ = await engine.transcribe(TranscriptionRequest(audio=long_audio))
        first = await anext(segments)
        await segments.aclose()  # type: ignore[attr-defined]
        return first

    assert asyncio.run(first_then_close()).text.strip()


def test_unload_then_transcribe_again(engine: STTEngine, audio: codecs.Float32) -> None:
    asyncio.run(engine.unload())
    asyncio.run(engine.load())
    segments, _ = run(engine, TranscriptionRequest(audio=audio[: STT_SAMPLE_RATE * 3]))
    assert "fox" in normalise(" ".join(s.text for s in segments))


def test_constructing_does_not_import_the_engine_library() -> None:
    code = (
        "import sys\n"
        "from polyvox.engines.registry import create_engine\n"
        "from polyvox.models import model_spec\n"
        "from polyvox.settings import Settings\n"
        "engine = create_engine(model_spec(Settings(), 'whisper'))\n"
        "assert engine.info.kind == 'stt'\n"
        "heavy = [m for m in ('faster_whisper', 'ctranslate2') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


async def _pool_scenario() -> None:
    service = SpeechService(Settings(model_ttl=0, preload=[]))
    speech = await service.prepare(
        SpeechParams(model="piper", input="Hello.", response_format="wav")
    )
    wav = b"".join([part async for part in speech.stream()])
    params = TranscriptionParams(model="whisper-1", file=speech_wav())
    first = (await (await service.transcribe(params)).result()).text
    assert sorted(service.pool.loaded()) == ["piper", "whisper"]
    assert sorted(await service.pool.reap()) == ["piper", "whisper"]
    assert service.pool.loaded() == []
    second = (await (await service.transcribe(params)).result()).text
    assert first == second
    assert service.metrics.value("polyvox_transcribed_seconds_total", model="whisper") > 0
    assert wav[:4] == b"RIFF"
    await service.pool.close()


def test_whisper_shares_the_model_pool_and_unloads_when_idle() -> None:
    asyncio.run(_pool_scenario())
