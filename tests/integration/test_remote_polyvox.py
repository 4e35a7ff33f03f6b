"""A real gateway in front of a real polyvox worker process (Piper behind it), over HTTP."""

from __future__ import annotations

import io
import socket
import time
import wave
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from polyvox.settings import ModelConfig, Settings
from tests.conftest import LiveServer, free_port, start_server
from tests.integration.test_streaming import LONG_TEXT, wait_for
from tests.processes import spawn_server, stop

pytestmark = pytest.mark.integration
QUIET = {"noise_scale": 0.0, "noise_w_scale": 0.0}  # Piper without noise: the same samples


@pytest.fixture(scope="module")
def worker() -> Iterator[str]:
    """A polyvox process serving Piper, with a short input limit (for an upstream-only error)."""
    proc, url = spawn_server({"POLYVOX_MAX_INPUT_CHARS": "4000"})
    try:
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def gateway(worker: str) -> Iterator[LiveServer]:
    models = {
        "piper": ModelConfig(engine="piper"),
        "far": ModelConfig(engine="polyvox", url=worker, model="piper"),
        "dead": ModelConfig(
            engine="polyvox",
            url=f"http://127.0.0.1:{free_port()}",
            discovery_attempts=1,
            connect_timeout=1,
        ),
    }
    yield from start_server(Settings(models=models, max_input_chars=20000))


def worker_metric(url: str, name: str, model: str = "piper") -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(f'{name}{{model="{model}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def samples(wav: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(wav)) as f:
        assert f.getframerate() == 22050
        return np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.int32)


def speak(url: str, model: str, text: str, **extra: object) -> httpx.Response:
    body = {"model": model, "input": text, "response_format": "wav", **QUIET, **extra}
    return httpx.post(f"{url}/v1/audio/speech", json=body, timeout=120)


def test_the_remote_model_is_listed_with_its_capabilities_and_voices(
    gateway: LiveServer, worker: str
) -> None:
    voices = httpx.get(f"{gateway.url}/v1/audio/voices", params={"model": "far"}).json()["data"]
    direct = httpx.get(f"{worker}/v1/audio/voices", params={"model": "piper"}).json()["data"]
    assert [v["id"] for v in voices] == [v["id"] for v in direct]
    assert {v["model"] for v in voices} == {"far"}
    card = httpx.get(f"{gateway.url}/v1/models/far").json()
    remote = httpx.get(f"{worker}/v1/models/piper").json()
    assert card["capabilities"]["placement"] == "remote"
    assert card["capabilities"]["device"] == remote["capabilities"]["device"] == "cpu"  # its own
    assert card["capabilities"]["engine"] == "piper"
    assert card["capabilities"]["params"] == remote["capabilities"]["params"]
    assert card["default_voice"] == remote["default_voice"]


def test_audio_through_the_gateway_is_the_workers_audio(gateway: LiveServer, worker: str) -> None:
    text = "The gateway passes every sample on. Nothing is lost on the way."
    through, direct = speak(gateway.url, "far", text), speak(worker, "piper", text)
    assert through.status_code == direct.status_code == 200, through.text
    a, b = samples(through.content), samples(direct.content)
    assert len(a) == len(b)
    assert np.abs(a - b).max() <= 1  # int16 -> float32 -> int16 may round by one step


def test_audio_streams_through_the_gateway(gateway: LiveServer, worker: str) -> None:
    before = worker_metric(worker, "polyvox_chunks_synthesized_total")
    body = {"model": "far", "input": LONG_TEXT, "response_format": "pcm"}
    with httpx.stream("POST", f"{gateway.url}/v1/audio/speech", json=body, timeout=120) as r:
        assert r.status_code == 200
        parts = r.iter_raw()
        next(parts)
        at_first_byte = worker_metric(worker, "polyvox_chunks_synthesized_total") - before
        total = sum(len(p) for p in parts)
    assert at_first_byte <= 4, "first audio must not wait for the whole text"
    assert total > 2 * 22050 * 30


def test_upstream_errors_arrive_unchanged(gateway: LiveServer, worker: str) -> None:
    text = "word " * 1000  # 5000 characters: fine for the gateway, too long for the worker
    through, direct = speak(gateway.url, "far", text), speak(worker, "piper", text)
    assert through.status_code == direct.status_code == 422
    assert through.json()["error"]["code"] == direct.json()["error"]["code"]
    assert through.json()["error"]["param"] == "input"
    # the gateway checks what it knows from the card before sending anything on
    bad = speak(gateway.url, "far", "Hello.", noise_scale=9)
    assert bad.status_code == 422
    assert bad.json()["error"]["param"] == "noise_scale"
    unknown = speak(gateway.url, "far", "Hello.", voice="nobody")
    assert unknown.status_code == 404
    assert "'far'" in unknown.json()["error"]["message"]


def test_a_client_that_hangs_up_stops_the_worker(gateway: LiveServer, worker: str) -> None:
    cancelled = worker_metric(worker, "polyvox_jobs_cancelled_total")
    body = httpx.Request("POST", "/", json={"model": "far", "input": LONG_TEXT}).read()
    head = (
        "POST /v1/audio/speech HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head.encode() + body)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    stopped = wait_for(
        lambda: worker_metric(worker, "polyvox_jobs_cancelled_total") > cancelled, timeout=10
    )
    assert stopped, "the worker went on after the client left"
    assert wait_for(lambda: worker_metric(worker, "polyvox_inflight_jobs") == 0, timeout=10)


def test_an_unreachable_remote_is_a_503_naming_it_and_others_keep_serving(
    gateway: LiveServer,
) -> None:
    started = time.monotonic()
    r = speak(gateway.url, "dead", "Hello.")
    assert r.status_code == 503
    assert "'dead'" in r.json()["error"]["message"]
    assert time.monotonic() - started < 10
    assert speak(gateway.url, "piper", "Still here.").status_code == 200
    assert "dead" in {m["id"] for m in httpx.get(f"{gateway.url}/v1/models").json()["data"]}


def test_the_worker_process_is_a_plain_polyvox(worker: str) -> None:
    # what the gateway relies on: the sample rate header; the reference field exists
    r = speak(worker, "piper", "Hi.", response_format="pcm")
    assert r.headers["x-sample-rate"] == "24000"
    r = speak(worker, "piper", "Hi.", response_format="pcm", sample_rate=22050)
    assert r.headers["x-sample-rate"] == "22050"
    refused = speak(worker, "piper", "Hi.", reference_audio="sha256:" + "0" * 64)
    assert refused.status_code == 422
    assert refused.json()["error"]["param"] == "reference_audio"
