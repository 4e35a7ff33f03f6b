"""The worker behind the RunPod SDK's own local API server (subprocess on 127.0.0.1)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from polyvox import codecs
from tests.conftest import free_port
from tests.processes import stop
from tests.worker.test_handler import CHATTERBOX_OK, CHATTERBOX_SEED, XTTS_OK, XTTS_SEED

pytestmark = pytest.mark.integration
READY_TIMEOUT = 120.0


def start_worker(
    env_extra: dict[str, str],
    log: Path,
    started: list[subprocess.Popen[bytes]] | None = None,
    base: dict[str, str] | None = None,
) -> Iterator[str]:
    """``python -m polyvox.worker.runpod --rp_serve_api`` on a free port; yields its URL
    (and appends its process to ``started``). ``base``: the environment it starts from
    (this process's by default)."""
    port = free_port()
    env = {
        **(os.environ if base is None else base),
        "RUNPOD_WEBHOOK_PING": "",  # no heartbeat: nothing leaves 127.0.0.1
        "UVICORN_LOG_LEVEL": "warning",
        "POLYVOX_PRELOAD": '["piper"]',
        **env_extra,
    }
    for key in ("RUNPOD_AI_API_KEY", "RUNPOD_POD_ID", "RUNPOD_ENDPOINT_ID"):
        env.pop(key, None)
    command = [
        sys.executable, "-m", "polyvox.worker.runpod",
        "--rp_serve_api", "--rp_api_host", "127.0.0.1", "--rp_api_port", str(port),
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    if started is not None:
        started.append(proc)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited: {log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError(f"worker not ready: {log.read_text(errors='replace')[-3000:]}")
        yield url
    finally:
        stop(proc, timeout=20)


@pytest.fixture(scope="module")
def uploads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runpod-uploads")


@pytest.fixture(scope="module")
def worker_url(uploads: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("logs") / "worker.log"
    yield from start_worker({"POLYVOX_STORAGE__OUTPUT_URL": str(uploads)}, log)


@pytest.fixture(scope="module")
def streaming_url(uploads: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("logs") / "streaming.log"
    env = {"POLYVOX_STORAGE__OUTPUT_URL": str(uploads), "POLYVOX_WORKER__STREAMING": "true"}
    yield from start_worker(env, log)


def post(url: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(f"{url}{path}", json=body, timeout=120)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def seconds(data: bytes) -> float:
    samples, rate = codecs.decode(data)
    return len(samples) / rate


def test_runsync_chatterbox_shape(worker_url: str) -> None:
    job = post(worker_url, "/runsync", {"input": CHATTERBOX_OK})
    assert job["status"] == "COMPLETED", job
    out = job["output"]
    wav = base64.b64decode(out["audio"])
    assert out["duration"] == pytest.approx(seconds(wav), abs=0.01)
    assert out["duration"] > 0.5
    assert out["sample_rate"] == 22050
    assert out["model_type"] == "english"


def test_runsync_xtts_shape(worker_url: str, uploads: Path) -> None:
    job = post(worker_url, "/runsync", {"input": XTTS_OK})
    assert job["status"] == "COMPLETED", job
    out = job["output"]
    path = Path(urlsplit(out["audio_url"]).path)
    assert path.is_relative_to(uploads)
    assert out["duration"] == pytest.approx(seconds(path.read_bytes()), abs=0.01)
    assert out["voice_id"] == "joao_formal"
    assert out["parameters"]["speed"] == 1.0


@pytest.mark.parametrize(
    ("job_input", "param"), [(CHATTERBOX_SEED, "audio_prompt"), (XTTS_SEED, "ref_audio_url")]
)
def test_runsync_seed_payload_fails_naming_engine_and_parameter(
    worker_url: str, job_input: dict[str, Any], param: str
) -> None:
    job = post(worker_url, "/runsync", {"input": job_input})
    assert job["status"] == "FAILED"
    assert "piper" in job["error"]
    assert param in job["error"]
    assert "output" not in job


def test_concurrent_jobs_on_the_sdk_event_loop(worker_url: str) -> None:
    # the models were warmed in another event loop before the SDK started its own
    texts = [f"Job {n}. A longer sentence, so that the jobs overlap in time." for n in range(3)]
    with ThreadPoolExecutor(len(texts)) as pool:
        jobs = list(pool.map(lambda t: post(worker_url, "/runsync", {"input": {"text": t}}), texts))
    assert [job["status"] for job in jobs] == ["COMPLETED"] * 3, jobs
    for job, text in zip(jobs, texts, strict=True):
        assert job["output"]["text"] == text
        assert seconds(base64.b64decode(job["output"]["audio"])) > 1.5


def test_run_then_status_native_shape(worker_url: str) -> None:
    queued = post(worker_url, "/run", {"input": {"input": "Queued job.", "response_format": "wav"}})
    assert queued["status"] == "IN_PROGRESS"
    job = post(worker_url, f"/status/{queued['id']}")
    assert job["status"] == "COMPLETED", job
    wav = base64.b64decode(job["output"]["audio"])
    assert wav[:4] == b"RIFF"
    assert seconds(wav) == pytest.approx(job["output"]["duration"], 0.01)


@pytest.mark.parametrize("job_input", [CHATTERBOX_OK, XTTS_OK])
def test_run_then_status_seed_shapes(worker_url: str, job_input: dict[str, Any]) -> None:
    queued = post(worker_url, "/run", {"input": job_input})
    job = post(worker_url, f"/status/{queued['id']}")
    assert job["status"] == "COMPLETED", job
    assert job["output"]["duration"] > 0.5


def test_stream_needs_the_generator_handler(worker_url: str) -> None:
    queued = post(worker_url, "/run", {"input": CHATTERBOX_OK})
    job = post(worker_url, f"/stream/{queued['id']}")
    assert job["status"] == "FAILED"
    assert "generator" in job["error"]


@pytest.mark.parametrize(
    "job_input", [CHATTERBOX_OK, XTTS_OK, {"input": "Native.", "response_format": "wav"}]
)
def test_stream_partials(streaming_url: str, job_input: dict[str, Any]) -> None:
    text = job_input.get("text") or job_input.get("gen_text") or job_input["input"]
    queued = post(streaming_url, "/run", {"input": {**job_input, **_longer(job_input, text)}})
    job = post(streaming_url, f"/stream/{queued['id']}")
    assert job["status"] == "COMPLETED", job
    *chunks, final = [part["output"] for part in job["stream"]]
    assert len(chunks) >= 2
    assert final["done"] is True
    audio = b"".join(base64.b64decode(c["audio"]) for c in chunks)
    assert seconds(audio) == pytest.approx(final["duration"], abs=0.03)


def _longer(job_input: dict[str, Any], text: str) -> dict[str, str]:
    key = next(k for k in ("gen_text", "text", "input") if k in job_input)
    return {key: f"{text} And a second sentence follows the first one."}


def test_runsync_aggregates_stream(streaming_url: str) -> None:
    job = post(streaming_url, "/runsync", {"input": CHATTERBOX_OK})
    assert job["status"] == "COMPLETED"
    *chunks, final = job["output"]
    wav = b"".join(base64.b64decode(c["audio"]) for c in chunks)
    assert seconds(wav) == pytest.approx(final["duration"], abs=0.01)
    assert final["model_type"] == "english"


def test_stream_error_partial(streaming_url: str) -> None:
    # The SDK's local server reports a generator's error partial as output (RunPod itself
    # marks such a job FAILED); either way it is the only partial and names the parameter.
    job = post(streaming_url, "/runsync", {"input": XTTS_SEED})
    (only,) = job["output"]
    assert "ref_audio_url" in only["error"]
    assert "piper" in only["error"]
