"""gs:// upload, V4 signed URLs and reference reads against a GCS emulator on 127.0.0.1.

Credentials come the way the XTTS worker took them: a service-account JSON in
``GCS_CREDENTIALS``. The key is generated here; its ``token_uri`` points at a local token
endpoint, since nothing may reach Google. The emulator does not check signatures, so the
test checks each signed URL's RSA signature itself against the key's public half.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from polyvox import codecs
from polyvox.errors import StorageFailure, StorageUnavailable
from polyvox.settings import Settings, StorageSettings
from polyvox.storage import ObjectStore
from polyvox.worker.runpod import RunPodWorker
from tests.conftest import free_port
from tests.samples import sine_wav
from tests.storage_checks import check_reference_cached_by_content

pytestmark = pytest.mark.integration
BUCKET = "polyvox-gcs"
EMAIL = "tts-worker@polyvox-test.iam.gserviceaccount.com"


class _TokenEndpoint(http.server.BaseHTTPRequestHandler):
    """Google's OAuth token endpoint, as far as a service account's JWT grant needs it."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.dumps({"access_token": "local", "expires_in": 3600, "token_type": "Bearer"})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@dataclass(frozen=True)
class Gcs:
    endpoint: str
    key: rsa.RSAPrivateKey
    credentials_json: str


@pytest.fixture(scope="module")
def gcs() -> Iterator[Gcs]:
    from gcp_storage_emulator.server import create_server

    tokens = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TokenEndpoint)
    thread = threading.Thread(target=tokens.serve_forever, daemon=True)
    thread.start()
    port = free_port()
    emulator = create_server("127.0.0.1", port, in_memory=True, default_bucket=BUCKET)
    emulator.start()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    account = {
        "type": "service_account", "project_id": "polyvox-test", "private_key_id": "k1",
        "private_key": pem, "client_email": EMAIL, "client_id": "1",
        "token_uri": f"http://127.0.0.1:{tokens.server_address[1]}/token",
    }  # fmt: skip
    try:
        yield Gcs(f"http://127.0.0.1:{port}", key, json.dumps(account))
    finally:
        emulator.stop()
        tokens.shutdown()
        thread.join(timeout=10)


@pytest.fixture(autouse=True)
def _credentials(gcs: Gcs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GCS_CREDENTIALS", gcs.credentials_json)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)


def storage(gcs: Gcs, **overrides: Any) -> StorageSettings:
    values = {"output_url": f"gs://{BUCKET}/tts", "gcs_endpoint_url": gcs.endpoint, **overrides}
    return StorageSettings.model_validate(values)


def check_v4_signature(url: str, key: rsa.RSAPrivateKey) -> dict[str, str]:
    """Rebuild GCS's V4 string-to-sign and verify the URL's signature with the public key."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    signature = bytes.fromhex(query.pop("X-Goog-Signature"))
    canonical_query = "&".join(
        f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(query.items())
    )
    canonical = "\n".join(
        ["GET", parts.path, canonical_query, f"host:{parts.netloc}", "", "host", "UNSIGNED-PAYLOAD"]
    )
    scope = query["X-Goog-Credential"].split("/", 1)[1]
    to_sign = "\n".join(
        [query["X-Goog-Algorithm"], query["X-Goog-Date"], scope,
         hashlib.sha256(canonical.encode()).hexdigest()]
    )  # fmt: skip
    key.public_key().verify(signature, to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
    return query


def test_upload_returns_a_v4_signed_url_that_downloads_the_audio(gcs: Gcs) -> None:
    wav = sine_wav(1.2)
    stored = ObjectStore(storage(gcs, url_expiry=900)).upload(wav, "a/one.wav", "audio/wav")
    assert stored.url == f"gs://{BUCKET}/tts/a/one.wav"
    assert stored.signed_url.startswith(f"{gcs.endpoint}/{BUCKET}/tts/a/one.wav?")
    query = check_v4_signature(stored.signed_url, gcs.key)
    assert query["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    assert query["X-Goog-Expires"] == "900"
    assert query["X-Goog-Credential"].startswith(f"{EMAIL}/")
    response = httpx.get(stored.signed_url, timeout=30)
    assert response.status_code == 200
    assert response.content == wav
    assert response.headers["content-type"] == "audio/wav"


def test_tampered_url_fails_the_signature_check(gcs: Gcs) -> None:
    url = ObjectStore(storage(gcs)).sign(f"gs://{BUCKET}/tts/a/one.wav")
    from cryptography.exceptions import InvalidSignature

    with pytest.raises(InvalidSignature):
        check_v4_signature(url.replace("/a/one.wav", "/a/two.wav"), gcs.key)


def test_xtts_job_uploads_to_gcs(gcs: Gcs) -> None:
    worker = RunPodWorker(Settings(preload=[], storage=storage(gcs)))
    job = {"id": "gcs", "input": {"gen_text": "Stored in a bucket.", "voice_id": "maria_news"}}
    out = asyncio.run(worker.handle(job))
    assert "error" not in out, out
    assert urlsplit(out["audio_url"]).path.startswith(f"/{BUCKET}/tts/generated/maria_news_")
    check_v4_signature(out["audio_url"], gcs.key)
    response = httpx.get(out["audio_url"], timeout=30)
    samples, rate = codecs.decode(response.content)
    assert len(samples) / rate == pytest.approx(out["duration"], abs=0.01)


def test_reference_audio_from_gcs_is_cached_by_content(gcs: Gcs, tmp_path: Path) -> None:
    objects = ObjectStore(storage(gcs))
    check_reference_cached_by_content(objects, tmp_path)
    with pytest.raises(StorageFailure, match="does not exist"):
        objects.read(f"gs://{BUCKET}/tts/refs/missing.wav", 1000)


def test_credentials_never_reach_logs_or_errors(
    gcs: Gcs, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = json.loads(gcs.credentials_json)["private_key"].splitlines()[1]
    with caplog.at_level(logging.DEBUG):
        objects = ObjectStore(storage(gcs))
        stored = objects.upload(b"RIFF", "logs/x.wav", "audio/wav")
        objects.sign(stored.url)
        with pytest.raises(StorageFailure) as missing:
            objects.read(f"gs://{BUCKET}/nope.wav", 10)
    assert secret not in caplog.text
    assert secret not in missing.value.message
    monkeypatch.setenv("GCS_CREDENTIALS", gcs.credentials_json[:-1])  # broken JSON
    with pytest.raises(StorageUnavailable) as broken:
        ObjectStore(storage(gcs)).filesystem(f"gs://{BUCKET}/x")
    assert secret not in broken.value.message
    assert "GCS_CREDENTIALS" in broken.value.message
