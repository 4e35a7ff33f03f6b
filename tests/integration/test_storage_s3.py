"""Upload and signed URLs against a real S3-compatible server (moto) on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from polyvox import codecs
from polyvox.errors import StorageFailure
from polyvox.settings import Settings, StorageSettings
from polyvox.storage import ObjectStore
from polyvox.worker.runpod import RunPodWorker
from tests.conftest import free_port
from tests.samples import sine_wav
from tests.storage_checks import check_reference_cached_by_content

pytestmark = pytest.mark.integration
BUCKET = "polyvox-test"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    client.create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _no_cloud_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # explicit test keys only; never the instance metadata service
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key, raising=False)


def storage(endpoint: str, **overrides: Any) -> StorageSettings:
    values: dict[str, Any] = {
        "output_url": f"s3://{BUCKET}/audio",
        "s3_endpoint_url": endpoint,
        "s3_region": "us-east-1",
        "s3_access_key_id": "testing",
        "s3_secret_access_key": "testing",
        "url_expiry": 600,
        **overrides,
    }
    return StorageSettings.model_validate(values)


def test_upload_and_signed_url_downloads_the_audio(s3_endpoint: str) -> None:
    wav = sine_wav(1.5)
    stored = ObjectStore(storage(s3_endpoint)).upload(wav, "t/one.wav", "audio/wav")
    assert stored.url == f"s3://{BUCKET}/audio/t/one.wav"
    assert stored.size == len(wav)
    query = parse_qs(urlsplit(stored.signed_url).query)
    assert query["X-Amz-Expires"] == ["600"]
    assert "X-Amz-Signature" in query
    assert stored.signed_url.startswith(f"{s3_endpoint}/{BUCKET}/audio/t/one.wav?")
    response = httpx.get(stored.signed_url, timeout=30)
    assert response.status_code == 200
    assert response.content == wav
    samples, rate = codecs.decode(response.content)
    assert len(samples) / rate == pytest.approx(1.5, abs=0.01)


def test_signed_url_expiry_is_configurable(s3_endpoint: str) -> None:
    store = ObjectStore(storage(s3_endpoint, url_expiry=3600))
    url = store.sign(f"s3://{BUCKET}/audio/t/one.wav")
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["3600"]


def test_read_missing_object_is_a_storage_failure(s3_endpoint: str) -> None:
    with pytest.raises(StorageFailure, match="does not exist"):
        ObjectStore(storage(s3_endpoint)).read(f"s3://{BUCKET}/missing.wav", 1000)


def test_reference_audio_from_s3_is_cached_by_content(s3_endpoint: str, tmp_path: Path) -> None:
    check_reference_cached_by_content(ObjectStore(storage(s3_endpoint)), tmp_path)


def test_xtts_job_uploads_to_s3(s3_endpoint: str) -> None:
    settings = Settings(preload=[], storage=storage(s3_endpoint))
    worker = RunPodWorker(settings)
    job = {"id": "s3", "input": {"gen_text": "Stored in S3.", "voice_id": "maria_news"}}
    out = asyncio.run(worker.handle(job))
    assert "error" not in out, out
    assert urlsplit(out["audio_url"]).path.startswith(f"/{BUCKET}/audio/generated/maria_news_")
    response = httpx.get(out["audio_url"], timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/wav"
    samples, rate = codecs.decode(response.content)
    assert len(samples) / rate == pytest.approx(out["duration"], abs=0.01)


def test_native_job_url_output_to_s3(s3_endpoint: str) -> None:
    worker = RunPodWorker(Settings(preload=[], storage=storage(s3_endpoint)))
    job = {"id": "n", "input": {"input": "Native upload.", "output": "url"}}
    out = asyncio.run(worker.handle(job))
    data = httpx.get(out["audio_url"], timeout=30).content
    assert data[:3] == b"ID3" or data[:2] == b"\xff\xfb"
    assert "audio" not in out  # the audio lives in the bucket, not inline
