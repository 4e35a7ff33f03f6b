"""The ``runpod`` remote kind against polyvox's own worker under the RunPod SDK's local API."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from polyvox.settings import ModelConfig, Settings
from tests.conftest import LiveServer, start_server
from tests.worker.test_runpod_api import start_worker

pytestmark = pytest.mark.integration
VOICE = "en_US-joe-medium"
QUIET = {"noise_scale": 0.0, "noise_w_scale": 0.0}
TEXT = "A job on a serverless endpoint. It streams back in parts."


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The worker twice: a generator handler (partials) and a plain one (runsync)."""
    logs = tmp_path_factory.mktemp("logs")
    env = {"POLYVOX_WORKER__STREAMING": "true", "POLYVOX_MAX_INPUT_CHARS": "4000"}
    streaming = start_worker(env, logs / "streaming.log")
    plain = start_worker({}, logs / "plain.log")
    with_stream, without = next(streaming), next(plain)
    try:
        yield with_stream, without
    finally:
        for gen in (streaming, plain):
            gen.close()


@pytest.fixture(scope="module")
def gateway(workers: tuple[str, str]) -> Iterator[LiveServer]:
    streaming, plain = workers
    common = {
        "engine": "runpod", "voices": [VOICE], "model": "piper", "sample_rate": 22050,
        "worker_engine": "piper",
    }  # fmt: skip
    models = {
        "piper": ModelConfig(engine="piper"),
        "rp": ModelConfig(url=streaming, **common),
        "rp-sync": ModelConfig(url=plain, stream=False, **common),
        "rp-down": ModelConfig(url="http://127.0.0.1:9", connect_timeout=1, **common),
    }
    yield from start_server(Settings(models=models, preload=["piper"], max_input_chars=20000))


def samples(wav: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(wav)) as f:
        assert f.getframerate() == 22050
        return np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")


def speak(server: LiveServer, model: str, **extra: object) -> httpx.Response:
    body = {"model": model, "input": TEXT, "response_format": "wav", **QUIET, **extra}
    return httpx.post(f"{server.url}/v1/audio/speech", json=body, timeout=120)


@pytest.mark.parametrize("model", ["rp", "rp-sync"])
def test_a_runpod_model_speaks_like_the_local_engine(gateway: LiveServer, model: str) -> None:
    through, here = speak(gateway, model), speak(gateway, "piper")
    assert through.status_code == here.status_code == 200, through.text
    a, b = samples(through.content), samples(here.content)
    assert len(a) == len(b)
    assert np.array_equal(a, b)  # Piper without noise: the same samples, through RunPod


def test_a_failed_job_keeps_the_workers_status_and_names_the_parameter(
    gateway: LiveServer,
) -> None:
    body = {"model": "rp", "input": "word " * 1000, "response_format": "wav"}
    r = httpx.post(f"{gateway.url}/v1/audio/speech", json=body, timeout=120)
    assert r.status_code == 422, r.text  # too long for the worker, not for the gateway
    error = r.json()["error"]
    assert error["param"] == "input"
    assert "Traceback" not in error["message"]
    checked = speak(gateway, "rp", noise_scale=9.0)  # Piper's ranges, checked here
    assert checked.status_code == 422
    assert checked.json()["error"]["param"] == "noise_scale"


def test_an_unreachable_endpoint_is_a_503_naming_the_model(gateway: LiveServer) -> None:
    r = speak(gateway, "rp-down")
    assert r.status_code == 503
    assert "'rp-down'" in r.json()["error"]["message"]
    assert speak(gateway, "piper").status_code == 200


def test_the_gateway_validates_what_it_knows(gateway: LiveServer, tmp_path: Path) -> None:
    r = speak(gateway, "rp", voice="nobody")
    assert r.status_code == 404
    assert r.json()["error"]["param"] == "voice"
