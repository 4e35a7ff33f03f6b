"""XTTS-v2 for real, on a tiny random checkpoint: ``polyvox engines install xtts`` builds
the environment, ``python -m polyvox.testing xtts`` writes the checkpoint through
the library's own classes, and the model runs in a supervised worker (the library's
loader, its speaker latents, ``inference_stream``). The seed's job shape goes through
polyvox's RunPod worker under the SDK's local API: the reference comes from ``gs://``
(a GCS emulator) and the audio goes back there, behind a signed URL."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from polyvox.settings import ModelConfig, Settings
from polyvox.storage import ObjectStore
from polyvox.testing.xtts import TINY_SPEAKER
from tests.conftest import LiveServer
from tests.integration.test_chatterbox import engine_events, samples, streamed_pieces
from tests.integration.test_environments import serve_with_environments
from tests.integration.test_storage_gcs import BUCKET, Gcs, check_v4_signature, gcs, storage
from tests.worker.test_runpod_api import post, start_worker

# the first test builds the environment and the tiny checkpoint (minutes on a fresh clone)
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]
_ = gcs  # the emulator fixture, shared with the storage tests
TEXT = "Hello there, how are you today?"


@pytest.fixture(scope="module")
def gateway(xtts_gateway: LiveServer) -> LiveServer:
    """The session's XTTS gateway (tests/integration/conftest.py)."""
    return xtts_gateway


@pytest.fixture(scope="module")
def worker(
    gateway: LiveServer, gcs: Gcs, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """polyvox's RunPod worker whose XTTS model is the gateway's: the seed's jobs, unchanged."""
    folder = tmp_path_factory.mktemp("worker")
    remote = {"engine": "polyvox", "url": gateway.url, "model": "xtts", "read_timeout": 600}
    env = {
        "POLYVOX_MODELS": json.dumps({"piper": {"engine": "piper"}, "xtts": remote}),
        "POLYVOX_WORKER__XTTS_MODEL": "xtts",
        "POLYVOX_REQUEST_TIMEOUT": "600",
        "POLYVOX_STORAGE__OUTPUT_URL": f"gs://{BUCKET}/xtts",
        "POLYVOX_STORAGE__GCS_ENDPOINT_URL": gcs.endpoint,
        "POLYVOX_REFERENCE__CACHE_DIR": str(folder / "references"),
        "GCS_CREDENTIALS": gcs.credentials_json,
    }
    yield from start_worker(env, folder / "worker.log")


def speak(server: LiveServer, **body: Any) -> httpx.Response:
    body = {"model": "xtts", "input": TEXT, "response_format": "wav", **body}
    return httpx.post(f"{server.url}/v1/audio/speech", json=body, timeout=600)


def test_the_model_describes_its_capabilities(gateway: LiveServer) -> None:
    card = httpx.get(f"{gateway.url}/v1/models/xtts", timeout=600).json()
    assert len(card["languages"]) == 17
    assert {"en", "pt", "zh-cn", "ja", "hi"} <= set(card["languages"])
    caps = card["capabilities"]
    assert caps["voice_cloning"] is True
    assert caps["splits_text"] is True
    params = caps["params"]
    assert {"temperature", "top_k", "top_p", "repetition_penalty", "length_penalty", "seed"} <= set(
        params
    )
    assert params["temperature"]["maximum"] == 2.0
    voices = httpx.get(f"{gateway.url}/v1/audio/voices", params={"model": "xtts"}).json()
    names = {v["id"] for v in voices["data"]}
    assert {TINY_SPEAKER, "duo"} <= names


def test_inference_stream_pieces_reach_the_client_and_a_seed_reproduces_them(
    gateway: LiveServer,
) -> None:
    body = {"model": "xtts", "input": TEXT, "response_format": "pcm", "seed": 7}
    # one sentence: the tiny GPT's 40 codes come as two inference_stream pieces, each
    # sent as it was decoded
    streamed = streamed_pieces(gateway, body)
    again, other = speak(gateway, seed=7), speak(gateway, seed=8)
    assert again.status_code == other.status_code == 200
    audio = samples(again.content)
    assert len(audio) > 0.5 * 24000
    assert np.abs(audio).max() > 100
    assert np.array_equal(audio, streamed)  # the same seed: the same samples
    assert not np.array_equal(audio, samples(other.content))


def test_a_voice_of_two_reference_files_is_conditioned_once(gateway: LiveServer) -> None:
    before = engine_events(gateway, "xtts").get("conditioning_built", 0)
    fast = speak(gateway, voice="duo", input="One.", speed=1.5, seed=3)
    plain = speak(gateway, voice="duo", input="One.", seed=3)
    assert fast.status_code == plain.status_code == 200, fast.text
    events = engine_events(gateway, "xtts")
    assert events["conditioning_built"] == before + 1, events
    # the same seed samples the same codes; speed 1.5 stretches their latents to 1/1.5
    ratio = len(samples(fast.content)) / len(samples(plain.content))
    assert 0.6 < ratio < 0.75, ratio


def test_the_seed_job_clones_a_gs_reference_and_reuses_its_latents(
    gateway: LiveServer, gcs: Gcs, worker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GCS_CREDENTIALS", gcs.credentials_json)
    voice = {"model": "piper", "input": "This is my voice, copy it.", "response_format": "wav"}
    reference = httpx.post(f"{gateway.url}/v1/audio/speech", json=voice, timeout=120).content
    objects = ObjectStore(storage(gcs, output_url=f"gs://{BUCKET}"))
    objects.upload(reference, "refs/voz_joao.wav", "audio/wav")
    before = engine_events(gateway, "xtts").get("conditioning_built", 0)
    job = {
        "gen_text": "Olá! Este é um exemplo.", "ref_audio_url": f"gs://{BUCKET}/refs/voz_joao.wav",
        "voice_id": "joao_formal", "language": "pt", "temperature": 0.7, "speed": 1.0,
        "top_k": 50, "top_p": 0.85,
    }  # fmt: skip
    done = post(worker, "/runsync", {"input": job})
    assert done["status"] == "COMPLETED", done
    output = done["output"]
    assert set(output) == {
        "audio_url", "duration", "voice_id", "language", "generation_time", "parameters"
    }  # fmt: skip
    assert (output["voice_id"], output["language"]) == ("joao_formal", "pt")
    assert output["parameters"] == {"temperature": 0.7, "speed": 1.0, "top_k": 50, "top_p": 0.85}
    assert output["generation_time"] > 0
    check_v4_signature(output["audio_url"], gcs.key)
    audio = samples(httpx.get(output["audio_url"], timeout=30).content)
    assert abs(len(audio) / 24000 - output["duration"]) < 0.01
    assert np.abs(audio).max() > 100
    # the same voice by its id alone: the reference and its latents are not fetched again;
    # and no language: the seed's default, pt, which XTTS speaks
    again = post(worker, "/runsync", {"input": {"gen_text": "De novo.", "voice_id": "joao_formal"}})
    assert again["status"] == "COMPLETED", again
    assert again["output"]["language"] == "pt"
    assert again["output"]["parameters"] == output["parameters"]  # the seed's defaults
    events = engine_events(gateway, "xtts")
    assert events["conditioning_built"] == before + 1, events
    assert events.get("conditioning_memory", 0) >= 1, events


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"temperature": 5.0}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"top_p": 1.5}, "top_p"),
        ({"speed": 3.0}, "speed"),
        ({"language": "xx"}, "language"),
        ({"ref_audio_url": f"gs://{BUCKET}/refs/nobody.wav"}, "ref_audio_url"),
        ({"ref_audio_url": None, "voice_id": "never_seen"}, "voice_id"),
    ],
)
def test_a_bad_seed_job_fails_naming_its_field(
    worker: str, change: dict[str, Any], field: str
) -> None:
    job = {"gen_text": "Olá.", "ref_audio_url": f"gs://{BUCKET}/refs/voz_joao.wav",
           "voice_id": "joao_formal", "language": "pt", **change}  # fmt: skip
    done = post(worker, "/runsync", {"input": {k: v for k, v in job.items() if v is not None}})
    assert done["status"] == "FAILED", done
    assert field in done["error"], done


def test_http_errors_name_the_field_before_any_audio(gateway: LiveServer) -> None:
    cases = [
        ({"language": "xx"}, "language"),
        ({"temperature": 0.0}, "temperature"),
        ({"top_k": 5000}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"repetition_penalty": 0.5}, "repetition_penalty"),
        ({"length_penalty": 20.0}, "length_penalty"),
        ({"seed": -1}, "seed"),
        ({"speed": 0.3}, "speed"),
        ({"voice": "nobody"}, "voice"),
        ({"language": "hi", "input": "नमस्ते 5"}, "input"),  # XTTS cannot spell digits in Hindi
        ({"reference_audio": base64.b64encode(b"plain text").decode()}, "reference_audio"),
        ({"reference_audio": "https://127.0.0.1/voice.wav"}, "reference_audio"),
    ]
    for change, param in cases:
        response = speak(gateway, **change)
        assert 400 <= response.status_code < 500, (change, response.text)
        assert response.json()["error"]["param"] == param, response.text
    assert speak(gateway, model="piper").status_code == 200  # still serving


def test_two_clients_take_turns_at_the_gateway_not_in_the_worker(gateway: LiveServer) -> None:
    """XTTS runs one synthesis at a time: the gateway admits no more to its worker than
    that, so a second client waits in the gateway's queue (fair turns, its queue timeout,
    its metrics) instead of in the worker's own."""
    service = gateway.state.service

    def waited() -> float:
        return service.metrics.value("polyvox_queue_wait_seconds_sum", model="xtts")

    before = waited()
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: speak(gateway, input=TEXT, seed=1), range(2)))
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert service.scheduler("xtts").slots == 1
    assert waited() > before  # one of them waited for the slot, here


def test_the_clients_request_id_crosses_into_the_workers_log(gateway: LiveServer) -> None:
    """One id joins the two logs: the worker's lines for the request carry the client's."""
    rid = "trace-xtts-0001"
    body = {"model": "xtts", "input": TEXT, "response_format": "wav"}
    answer = httpx.post(
        f"{gateway.url}/v1/audio/speech", json=body, headers={"X-Request-ID": rid}, timeout=600
    )
    assert answer.status_code == 200
    assert answer.headers["x-request-id"] == rid
    worker = gateway.state.service.pool.engine("xtts")
    assert any(f"[{rid}]" in line for line in worker._recent), list(worker._recent)


def test_a_long_text_the_server_accepts_its_worker_accepts(xtts_checkpoint: Path) -> None:
    """The server sends a worker a whole text in one call; the worker used to keep its own
    input limit (4096) and answer 422 to what the server had accepted."""
    models = {
        "xtts": ModelConfig(engine="xtts", environment="xtts", checkpoint=str(xtts_checkpoint))
    }
    settings = Settings(models=models, preload=[], max_input_chars=100_000)
    text = ("This is one sentence of a very long text, spoken by a worker. " * 400)[:20_000]
    body = {"model": "xtts", "input": text, "response_format": "pcm"}
    for server in serve_with_environments(settings):
        url = f"{server.url}/v1/audio/speech"
        with httpx.stream("POST", url, json=body, timeout=600) as answer:
            assert answer.status_code == 200, answer.read()
            first = next(answer.iter_bytes())  # audio comes: the worker took the text
            assert first
