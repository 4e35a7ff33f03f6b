"""Storage logic of our own: GCS credential sources, signing arguments, URL redaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from polyvox.errors import StorageUnavailable
from polyvox.storage import redact
from polyvox.storage.objects import gcs_signing, gcs_token

SECRET = "-----BEGIN PRIVATE KEY-----abc"


@pytest.mark.parametrize("value", ["", "   "])
def test_no_variable_means_default_credentials(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("GCS_CREDENTIALS", value)
    assert gcs_token("GCS_CREDENTIALS") is None
    assert gcs_token("UNSET_VARIABLE_FOR_POLYVOX") is None


def test_service_account_json_or_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    account = {"type": "service_account", "private_key": SECRET}
    monkeypatch.setenv("GCS_CREDENTIALS", json.dumps(account))
    assert gcs_token("GCS_CREDENTIALS") == account
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(account))
    monkeypatch.setenv("GCS_CREDENTIALS", str(path))
    assert gcs_token("GCS_CREDENTIALS") == str(path)


@pytest.mark.parametrize("value", ['{"private_key": "' + SECRET, SECRET])
def test_bad_credentials_are_refused_without_echoing_them(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("GCS_CREDENTIALS", value)
    with pytest.raises(StorageUnavailable) as info:
        gcs_token("GCS_CREDENTIALS")
    assert "GCS_CREDENTIALS" in info.value.message
    assert SECRET not in info.value.message


class _MetadataCredentials:
    """Credentials without a private key, like the GCE metadata server's."""

    def __init__(self) -> None:
        self.valid = False
        self.token: str | None = None
        self.service_account_email = "default"

    def refresh(self, request: Any) -> None:
        self.valid = True
        self.token = "ya29.token"
        self.service_account_email = "worker@project.iam.gserviceaccount.com"


def test_keyless_credentials_sign_through_iam() -> None:
    assert gcs_signing(_MetadataCredentials()) == {
        "version": "v4",
        "service_account_email": "worker@project.iam.gserviceaccount.com",
        "access_token": "ya29.token",
    }


def test_key_credentials_sign_locally() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2 import service_account

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip
    info = {
        "private_key": pem.decode(), "client_email": "a@b.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }  # fmt: skip
    credentials = service_account.Credentials.from_service_account_info(info)
    assert gcs_signing(credentials) == {"version": "v4"}


def test_no_credentials_at_all() -> None:
    with pytest.raises(StorageUnavailable, match="GCS_CREDENTIALS"):
        gcs_signing(None)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@host:8443/b/k.wav?X-Goog-Signature=abc", "https://host:8443/b/k.wav"),
        ("gs://bucket/k.wav", "gs://bucket/k.wav"),
        ("/local/path.wav", "/local/path.wav"),
    ],
)
def test_redact(url: str, shown: str) -> None:
    assert redact(url) == shown
