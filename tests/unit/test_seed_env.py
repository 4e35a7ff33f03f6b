"""The replaced services' environment variables: each fills in the polyvox setting it means
when no polyvox source sets it, and the model options it fills pass the engines' checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyvox.config import load_settings
from polyvox.engines.qwen3.options import Qwen3Options
from polyvox.engines.remote.indextts import IndexTTSOptions
from polyvox.models import ConfigError, model_spec
from polyvox.settings import Settings

QWEN = {"piper": {"engine": "piper"}, "qwen": {"engine": "qwen3", "environment": "qwen-tts"}}
ITTS = {"engine": "indextts-vllm", "voices": {"narrator": "examples/voice_01.wav"}}
SEED_QWEN = {  # qwen-tts-streaming-service.md, "Переменные окружения": the documented defaults
    "MODEL_NAME": "Qwen3-TTS-12Hz-1.7B-CustomVoice",
    "MODEL_PATH": "/app/models",
    "DEVICE": "cuda",
    "SAMPLING_RATE": "24000",
    "MAX_CONCURRENT_REQUESTS": "10",
    "USE_FLASH_ATTENTION": "1",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("GCS_BUCKET_NAME", "TTS_REMOTE_URL", *SEED_QWEN):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_gcs_bucket_name_is_the_upload_location(env: pytest.MonkeyPatch) -> None:
    env.setenv("GCS_BUCKET_NAME", "seu-bucket")
    settings = Settings()
    assert settings.storage.output_url == "gs://seu-bucket"
    assert settings.worker.upload_prefix == "generated"  # the seed's generated/...
    env.setenv("POLYVOX_STORAGE__OUTPUT_URL", "s3://other/tts")
    assert Settings().storage.output_url == "s3://other/tts"


def test_the_config_file_wins_too(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("GCS_BUCKET_NAME", "seu-bucket")
    config = tmp_path / "polyvox.toml"
    config.write_text('[storage]\noutput_url = "/srv/uploads"\n')
    assert load_settings(config).storage.output_url == "/srv/uploads"


def test_tts_remote_url_is_the_index_tts_servers(env: pytest.MonkeyPatch) -> None:
    env.setenv("TTS_REMOTE_URL", "https://your-vllm-server.com")
    env.setenv("POLYVOX_MODELS", json.dumps({"piper": {"engine": "piper"}, "itts": ITTS}))
    settings = load_settings()
    options = model_spec(settings, "itts").options
    assert isinstance(options, IndexTTSOptions)
    assert options.url == "https://your-vllm-server.com"
    assert settings.compat.proxy_model == "itts"  # /synthesize goes there, as the proxy's did
    env.setenv("POLYVOX_COMPAT__PROXY_MODEL", "piper")
    assert load_settings().compat.proxy_model == "piper"


def test_a_models_own_url_wins(env: pytest.MonkeyPatch) -> None:
    env.setenv("TTS_REMOTE_URL", "https://your-vllm-server.com")
    own = {**ITTS, "url": "http://gpu-box:6006"}
    env.setenv("POLYVOX_MODELS", json.dumps({"a": own, "b": ITTS}))
    settings = load_settings()
    assert model_spec(settings, "a").options.url == "http://gpu-box:6006"  # type: ignore[attr-defined]
    assert model_spec(settings, "b").options.url == "https://your-vllm-server.com"  # type: ignore[attr-defined]
    assert settings.compat.proxy_model == "b"


def test_without_an_index_tts_model_the_url_changes_nothing(env: pytest.MonkeyPatch) -> None:
    env.setenv("TTS_REMOTE_URL", "https://your-vllm-server.com")
    settings = Settings()
    assert settings.compat.proxy_model == "piper"
    assert settings.models == Settings(models=settings.models).models


def test_the_qwen_services_variables_configure_the_qwen_model(env: pytest.MonkeyPatch) -> None:
    for name, value in SEED_QWEN.items():
        env.setenv(name, value)
    env.setenv("POLYVOX_MODELS", json.dumps(QWEN))
    env.setenv("POLYVOX_COMPAT__QWEN_MODEL", "qwen")
    settings = load_settings()
    spec = model_spec(settings, "qwen")
    assert isinstance(spec.options, Qwen3Options)
    assert spec.options.checkpoint == Path("/app/models/Qwen3-TTS-12Hz-1.7B-CustomVoice")
    assert (spec.options.device, spec.options.flash_attention) == ("cuda", True)
    assert spec.slots == 10
    assert (
        model_spec(settings, "piper").options.model_dump()
        == model_spec(Settings(), "piper").options.model_dump()
    )


def test_the_qwen_models_own_options_win(env: pytest.MonkeyPatch) -> None:
    for name, value in SEED_QWEN.items():
        env.setenv(name, value)
    own = {"checkpoint": "/ckpt", "device": "cpu", "flash_attention": True, "slots": 2}
    env.setenv("POLYVOX_MODELS", json.dumps({"qwen": {**QWEN["qwen"], **own}}))
    env.setenv("POLYVOX_COMPAT__QWEN_MODEL", "qwen")
    env.setenv("USE_FLASH_ATTENTION", "0")
    spec = model_spec(load_settings(), "qwen")
    assert isinstance(spec.options, Qwen3Options)
    assert (str(spec.options.checkpoint), spec.options.device) == ("/ckpt", "cpu")
    assert spec.options.flash_attention is True
    assert spec.slots == 2


def test_the_qwen_variables_need_a_qwen3_model(env: pytest.MonkeyPatch) -> None:
    for name, value in SEED_QWEN.items():
        env.setenv(name, value)
    env.setenv("POLYVOX_MODELS", json.dumps(QWEN))  # compat.qwen_model stays piper
    settings = load_settings()
    assert settings.models["qwen"].options() == {}
    assert settings.models["piper"].options() == {}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GCS_BUCKET_NAME", "gs://seu-bucket"),
        ("DEVICE", "tpu"),
        ("USE_FLASH_ATTENTION", "maybe"),
        ("MAX_CONCURRENT_REQUESTS", "0"),
        ("MAX_CONCURRENT_REQUESTS", "ten"),
    ],
)
def test_a_meaningless_value_stops_the_start_naming_the_variable(
    env: pytest.MonkeyPatch, name: str, value: str
) -> None:
    env.setenv("POLYVOX_MODELS", json.dumps(QWEN))
    env.setenv("POLYVOX_COMPAT__QWEN_MODEL", "qwen")
    env.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()
