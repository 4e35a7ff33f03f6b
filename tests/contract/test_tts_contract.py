"""The contract every text-to-speech model passes, for each model in models.toml.

Engine level: voices, audible streamed float32 audio, speed, declared parameters at their
bounds, reload, memory release. Service level: every declared parameter's range refused
before any audio (NaN included), errors that name the model, cancellation within one
chunk, and models of one engine with different options served side by side.
"""

from __future__ import annotations

import asyncio
import math
import os

import numpy as np
import pytest

from polyvox.allocator import MemoryTrimmer
from polyvox.engines.base import ReleasesMemory, TTSEngine
from polyvox.errors import InvalidRequest, VoiceNotFound
from polyvox.service import SpeechService
from polyvox.types import SpeechParams, SpeechRequest
from tests.contract.conftest import SETTINGS, TTS_MODELS, collect
from tests.processes import rss_mb

SENTENCE = "The contract test speaks one short sentence."
THREE = "One sentence comes first. A second one follows it. The third ends the text."


def speak(engine: TTSEngine, **kw: object) -> np.ndarray:
    text = str(kw.pop("text", SENTENCE))
    req = SpeechRequest(text=text, voice=engine.default_voice, **kw)  # type: ignore[arg-type]
    chunks = collect(engine.synthesize(req))
    assert chunks
    assert {c.sample_rate for c in chunks} == {engine.info.sample_rate}
    for chunk in chunks:
        assert chunk.samples.dtype == np.float32
        assert chunk.samples.ndim == 1
        assert np.all(np.abs(chunk.samples) <= 1.0)
    return np.concatenate([c.samples for c in chunks])


def test_info_and_voices_name_the_model(tts: TTSEngine) -> None:
    assert tts.info.kind == "tts"
    assert tts.info.model in TTS_MODELS
    assert tts.info.engine == SETTINGS.models[tts.info.model].engine
    voices = {v.id: v for v in tts.voices()}
    assert tts.default_voice in voices
    assert all(v.model == tts.info.model for v in voices.values())
    assert all(v.sample_rate > 0 and v.language for v in voices.values())


def test_synthesizes_audible_speech(tts: TTSEngine) -> None:
    seconds = len(audio := speak(tts)) / tts.info.sample_rate
    assert 1.0 < seconds < 10.0
    assert float(np.sqrt(np.mean(audio**2))) > 0.01  # not silence


def test_a_text_streams_in_several_chunks(tts: TTSEngine) -> None:
    if not tts.info.streaming:
        pytest.skip("engine does not stream")
    req = SpeechRequest(text=THREE, voice=tts.default_voice)
    assert len(collect(tts.synthesize(req))) >= 2


def test_speed_shortens_audio(tts: TTSEngine) -> None:
    if not tts.info.speed:
        pytest.skip("engine has no speed control")
    assert len(speak(tts, speed=2.0)) < 0.7 * len(speak(tts, speed=1.0))


def test_declared_parameters_work_at_their_bounds(tts: TTSEngine) -> None:
    for name, spec in tts.info.params.items():
        for value in (spec.minimum, spec.maximum):
            if value is not None:
                speak(tts, params={name: value})


def test_unload_then_load_again(tts: TTSEngine) -> None:
    asyncio.run(tts.unload())
    asyncio.run(tts.load())
    assert len(speak(tts)) > 0


def test_release_memory_gives_scratch_memory_back(tts: TTSEngine) -> None:
    if not isinstance(tts, ReleasesMemory) or not SETTINGS.model_options(tts.info.model).get(
        "shrink_arena", True
    ):
        pytest.skip("engine keeps no scratch memory to give back")
    tts.release_memory()  # also restarts the busy-shrink clock: the next run keeps it
    speak(tts, text="A long sentence grows the arena, " * 12 + "and then it ends.")
    grown = rss_mb(os.getpid())
    trimmer = MemoryTrimmer()  # as the service does: release, then free pages to the OS
    trimmer.after_job(tts.release_memory)
    trimmer.wait()
    assert rss_mb(os.getpid()) < grown - 50, "the arena's free memory went back"
    assert len(speak(tts)) > 0  # and synthesis still works


# -- through the service: checks before audio, cancellation, models side by side --------
@pytest.fixture(scope="module")
def service() -> SpeechService:
    return SpeechService(SETTINGS)


def prepare(service: SpeechService, model: str, **kw: object) -> object:
    params = SpeechParams(model=model, input=kw.pop("input", SENTENCE), **kw)  # type: ignore[arg-type]
    return asyncio.run(service.prepare(params))


@pytest.mark.parametrize("model", TTS_MODELS)
def test_every_parameter_range_is_refused_before_audio(service: SpeechService, model: str) -> None:
    info = service.catalogue.engine(model).info
    for name, spec in info.params.items():
        bad: list[object] = [math.nan, math.inf, "text"] if spec.type != "str" else [3]
        bad += [spec.minimum - 1] if spec.minimum is not None else []
        bad += [spec.maximum + 1] if spec.maximum is not None else []
        for value in bad:
            with pytest.raises(InvalidRequest) as refused:
                prepare(service, model, params={name: value})
            assert refused.value.param == name
            assert repr(model) in refused.value.message


@pytest.mark.parametrize("model", TTS_MODELS)
def test_errors_name_the_model(service: SpeechService, model: str) -> None:
    with pytest.raises(VoiceNotFound, match=repr(model)):
        prepare(service, model, voice="no-such-voice")
    with pytest.raises(InvalidRequest, match=repr(model)) as unknown:
        prepare(service, model, params={"no_such_parameter": 1})
    assert unknown.value.param == "no_such_parameter"


async def _cancel_after_first_chunk(service: SpeechService, model: str) -> tuple[float, float]:
    def chunks() -> float:
        return service.metrics.value("polyvox_chunks_synthesized_total", model=model)

    job = await service.prepare(SpeechParams(model=model, input=" ".join([THREE] * 10)))
    before = chunks()
    stream = job.audio()
    await anext(stream)
    await stream.aclose()  # the client went away
    produced = chunks() - before
    await asyncio.sleep(0.5)
    assert service.scheduler(model).active == 0
    return produced, chunks() - before


@pytest.mark.parametrize("model", TTS_MODELS)
def test_cancellation_stops_within_one_chunk(service: SpeechService, model: str) -> None:
    produced, later = asyncio.run(_cancel_after_first_chunk(service, model))
    assert later == produced, "synthesis went on after the client left"
    assert produced <= 2


async def _side_by_side(service: SpeechService) -> dict[str, bytes]:
    async def wav(model: str) -> bytes:
        job = await service.prepare(SpeechParams(model, SENTENCE, response_format="wav"))
        assert job.model == model
        return await job.collect()

    return dict(zip(TTS_MODELS, await asyncio.gather(*map(wav, TTS_MODELS)), strict=True))


def test_models_of_one_engine_are_served_side_by_side(service: SpeechService) -> None:
    by_engine: dict[str, list[str]] = {}
    for model in TTS_MODELS:
        by_engine.setdefault(SETTINGS.models[model].engine, []).append(model)
    assert any(len(models) > 1 for models in by_engine.values()), "models.toml lists a pair"
    listed = [info.model for info in service.catalogue.models()]
    assert all(model in listed for model in TTS_MODELS)
    audio = asyncio.run(_side_by_side(service))
    assert all(data[:4] == b"RIFF" and len(data) > 10_000 for data in audio.values())
