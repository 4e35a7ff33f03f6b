"""SpeechService validation: every request error is raised in prepare()."""

from __future__ import annotations

from typing import Any

import pytest

from polyvox import Settings, SpeechParams, SpeechService
from polyvox.errors import InvalidRequest, ModelNotFound, PolyvoxError, VoiceNotFound


@pytest.fixture(scope="module")
def service() -> SpeechService:
    return SpeechService(Settings(voice_aliases={"shimmer": "en_US-joe-medium"}))


def params(**kw: Any) -> SpeechParams:
    return SpeechParams(**{"model": "piper", "input": "Hello.", **kw})


def test_model_names_resolve(service: SpeechService) -> None:
    for name in ("piper", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"):
        assert service.catalogue.engine(name).info.model == "piper"
    with pytest.raises(ModelNotFound):
        service.catalogue.engine("whisper-9000")


def test_voice_names_resolve(service: SpeechService) -> None:
    assert service.catalogue.resolve_voice("piper", None).id == "en_US-joe-medium"
    assert service.catalogue.resolve_voice("tts-1", "alloy").id == "en_US-joe-medium"
    assert service.catalogue.resolve_voice("tts-1", "Nova").id == "en_US-joe-medium"
    assert service.catalogue.resolve_voice("tts-1", "shimmer").id == "en_US-joe-medium"
    with pytest.raises(VoiceNotFound):
        service.catalogue.resolve_voice("piper", "en_GB-nobody")


@pytest.mark.parametrize(
    ("kw", "error", "param"),
    [
        ({"input": "  "}, InvalidRequest, "input"),
        ({"input": "x" * 4097}, InvalidRequest, "input"),
        ({"model": "nope"}, ModelNotFound, "model"),
        ({"voice": "nobody"}, VoiceNotFound, "voice"),
        ({"instructions": "sound happy"}, InvalidRequest, "instructions"),
        ({"response_format": "ogg"}, InvalidRequest, "response_format"),
        ({"params": {"top_k": 5}}, InvalidRequest, "top_k"),
        ({"params": {"volume": -1.0}}, InvalidRequest, "volume"),
        ({"params": {"volume": True}}, InvalidRequest, "volume"),
        ({"params": {"noise_scale": "high"}}, InvalidRequest, "noise_scale"),
        ({"response_format": "opus", "sample_rate": 22050}, InvalidRequest, "sample_rate"),
    ],
)
async def test_prepare_rejects(
    service: SpeechService, kw: dict[str, Any], error: type[PolyvoxError], param: str
) -> None:
    with pytest.raises(error) as info:
        await service.prepare(params(**kw))
    assert info.value.param == param
    assert info.value.status_code < 500


async def test_unsupported_parameter_error_names_engine_and_parameter(
    service: SpeechService,
) -> None:
    with pytest.raises(InvalidRequest) as info:
        await service.prepare(params(params={"exaggeration": 0.5}))
    assert "piper" in info.value.message
    assert "exaggeration" in info.value.message


async def test_a_request_is_resolved_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model name and the voice are each looked up once per request, whatever the
    request carries (here an OpenAI model name and voice, with a seed shape's defaults)."""
    from polyvox.catalogue import Catalogue
    from polyvox.settings import Settings as SettingsClass

    calls = {"model": 0, "voice": 0}
    resolve_model, voice = SettingsClass.resolve_model, Catalogue.voice

    def counted_model(self: SettingsClass, name: str) -> str | None:
        calls["model"] += 1
        return resolve_model(self, name)

    def counted_voice(self: Catalogue, engine: Any, name: str | None) -> Any:
        calls["voice"] += 1
        return voice(self, engine, name)

    monkeypatch.setattr(SettingsClass, "resolve_model", counted_model)
    monkeypatch.setattr(Catalogue, "voice", counted_voice)
    async with SpeechService(Settings(preload=[])) as fresh:
        job = await fresh.prepare(params(model="tts-1", voice="alloy", speed=1.2))
        assert job.model == "piper"
        assert calls == {"model": 1, "voice": 1}
