"""Reference audio over real TLS through the SSRF guard: certificates still checked by name.

A local HTTPS server holds a certificate for ``voices.example``; name resolution is pointed
at it and the guard is told loopback is public, so the guarded connection path (connect to
the checked address, then TLS with the original host name) is what runs.
"""

from __future__ import annotations

import datetime
import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from polyvox.errors import InvalidRequest
from polyvox.settings import ReferenceSettings, StorageSettings
from polyvox.storage import ObjectStore
from polyvox.voices import fetch
from polyvox.voices.reference import ReferenceStore
from tests.samples import sine_wav

pytestmark = pytest.mark.integration
WAV = sine_wav(0.5)


class _Voice(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(WAV)))
        self.end_headers()
        self.wfile.write(WAV)

    def log_message(self, *args: Any) -> None:
        pass


def _certificate(directory: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip
    key_path.write_bytes(pem)
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    cert, key = _certificate(tmp_path_factory.mktemp("tls"), "voices.example")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Voice)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], cert
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def resolve_to_loopback(monkeypatch: pytest.MonkeyPatch, tls_server: tuple[int, Path]) -> None:
    real = fetch.socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host.endswith(".example") else host, port, *args, **kwargs)

    monkeypatch.setattr(fetch.socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(fetch, "is_public_address", lambda address: True)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_server[1]))  # trust the test certificate


def references(tmp_path: Path) -> ReferenceStore:
    settings = ReferenceSettings(cache_dir=tmp_path / "cache")
    return ReferenceStore(settings, ObjectStore(StorageSettings()))


@pytest.mark.usefixtures("resolve_to_loopback")
def test_https_reference_through_the_guard(tls_server: tuple[int, Path], tmp_path: Path) -> None:
    url = f"https://voices.example:{tls_server[0]}/voz_joao.wav"
    assert references(tmp_path).fetch(url, param="ref_audio_url") == WAV


@pytest.mark.usefixtures("resolve_to_loopback")
def test_certificate_must_match_the_host_name(tls_server: tuple[int, Path], tmp_path: Path) -> None:
    url = f"https://other.example:{tls_server[0]}/voz_joao.wav"
    with pytest.raises(InvalidRequest, match="certificate") as info:
        references(tmp_path).fetch(url, param="ref_audio_url")
    assert info.value.param == "ref_audio_url"
