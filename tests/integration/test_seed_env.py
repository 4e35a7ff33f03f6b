"""The replaced services' environment variables carried over unchanged into real polyvox
processes: the XTTS worker's ``GCS_BUCKET_NAME`` (a RunPod worker behind the SDK's local API,
uploading to a GCS emulator) and the lean proxy's ``TTS_REMOTE_URL`` (``polyvox serve``
reaching a stand-in index-tts-vllm at that URL); a ``POLYVOX_*`` setting wins over each."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from polyvox import codecs
from tests.conftest import free_port
from tests.integration.test_storage_gcs import BUCKET, Gcs, check_v4_signature
from tests.integration.test_storage_gcs import gcs as gcs  # the emulator fixture
from tests.processes import spawn_server, stop
from tests.standins.indextts_vllm import StandIn, create_app, serving
from tests.worker.test_runpod_api import start_worker as runpod_worker

pytestmark = pytest.mark.integration
SEED_ENV = ("GCS_BUCKET_NAME", "TTS_REMOTE_URL", "MODEL_PATH", "DEVICE")
# xtts-runpod-worker.md, "Exemplo com cURL", verbatim; Piper answers the job here, so it
# goes without what Piper cannot honour (a reference to clone, a temperature, Portuguese)
XTTS_CURL = {
    "gen_text": "Olá, mundo!",
    "ref_audio_url": "gs://meu-bucket/vozes/maria.wav",
    "voice_id": "maria_news",
    "language": "pt",
    "temperature": 0.75,
    "speed": 1.1,
}
XTTS_JOB = {k: v for k, v in XTTS_CURL.items() if k not in ("ref_audio_url", "temperature")}
XTTS_JOB.pop("language")
SPK = "examples/voice_01.wav"
ITTS = {"engine": "indextts-vllm", "voices": {"narrator": SPK}, "discovery_attempts": 1}


def environment(**extra: str) -> dict[str, str]:
    """This process's environment without the seeds' variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in SEED_ENV}
    env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    return {**env, **extra}


@contextlib.contextmanager
def start_worker(env: dict[str, str], log: Path) -> Iterator[str]:
    """The worker behind the SDK's local API (tests/worker/test_runpod_api.py), started
    from ``env`` alone: no seed variable of this process reaches it."""
    yield from runpod_worker({}, log, base=env)


def runsync(url: str, job_input: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{url}/runsync", json={"input": job_input}, timeout=120)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    assert job["status"] == "COMPLETED", job
    output: dict[str, Any] = job["output"]
    return output


def gcs_worker_env(gcs: Gcs, **extra: str) -> dict[str, str]:
    return environment(
        GCS_BUCKET_NAME=BUCKET,
        GCS_CREDENTIALS=gcs.credentials_json,
        POLYVOX_STORAGE__GCS_ENDPOINT_URL=gcs.endpoint,
        **extra,
    )


def test_gcs_bucket_name_receives_the_xtts_jobs_audio(gcs: Gcs, tmp_path: Path) -> None:
    with start_worker(gcs_worker_env(gcs), tmp_path / "worker.log") as worker:
        out = runsync(worker, XTTS_JOB)
    url = out["audio_url"]
    assert urlsplit(url).path.startswith(f"/{BUCKET}/generated/maria_news_")  # as the seed's
    check_v4_signature(url, gcs.key)
    samples, rate = codecs.decode(httpx.get(url, timeout=30).content)
    assert len(samples) / rate == pytest.approx(out["duration"], abs=0.01)


def test_polyvox_output_url_wins_over_gcs_bucket_name(gcs: Gcs, tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    env = gcs_worker_env(gcs, POLYVOX_STORAGE__OUTPUT_URL=str(uploads))
    with start_worker(env, tmp_path / "worker.log") as worker:
        out = runsync(worker, XTTS_JOB)
    path = Path(urlsplit(out["audio_url"]).path)
    assert path.parent == uploads / "generated"
    assert path.read_bytes()[:4] == b"RIFF"


@pytest.fixture(scope="module")
def index_tts() -> Iterator[tuple[str, StandIn]]:
    with serving(app := create_app(known_paths={SPK})) as url:
        yield url, app.state.standin


@contextlib.contextmanager
def serve(env: dict[str, str]) -> Iterator[str]:
    proc, url = spawn_server(env)
    try:
        yield url
    finally:
        stop(proc)


def synthesize(url: str) -> httpx.Response:
    # lean-tts-proxy.md documents no body for /synthesize: the text alone
    return httpx.post(f"{url}/synthesize", json={"text": "Through the proxy."}, timeout=60)


def test_tts_remote_url_is_where_the_proxy_speaks(index_tts: tuple[str, StandIn]) -> None:
    remote, standin = index_tts
    models = {"piper": {"engine": "piper"}, "itts": ITTS}
    env = environment(TTS_REMOTE_URL=remote, POLYVOX_MODELS=json.dumps(models))
    with serve(env) as server:
        response = synthesize(server)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    assert standin.bodies("/tts_url")[-1]["text"] == "Through the proxy."


def test_a_models_own_url_wins_over_tts_remote_url(index_tts: tuple[str, StandIn]) -> None:
    remote, standin = index_tts
    before = len(standin.bodies("/tts_url"))
    models = {"piper": {"engine": "piper"}, "itts": {**ITTS, "url": remote}}
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: a request there fails
    env = environment(
        TTS_REMOTE_URL=nowhere,
        POLYVOX_MODELS=json.dumps(models),
        POLYVOX_COMPAT__PROXY_MODEL="itts",
    )
    with serve(env) as server:
        response = synthesize(server)
    assert response.status_code == 200, response.text
    assert len(standin.bodies("/tts_url")) == before + 1
