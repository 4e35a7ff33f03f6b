"""Reference audio: SSRF guard, limits, content-hash cache with LRU eviction, service wiring."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.server
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from polyvox.engines.pool import ModelPool
from polyvox.errors import InvalidRequest, ReferenceNotFound, RequestTooLarge, UnsupportedAudio
from polyvox.service import SpeechService
from polyvox.settings import ReferenceSettings, Settings, StorageSettings
from polyvox.storage import ObjectStore
from polyvox.types import (
    AudioChunk,
    EngineInfo,
    ParamSpec,
    ReferenceAudio,
    SpeechParams,
    VoiceInfo,
)
from polyvox.voices import fetch
from polyvox.voices.fetch import is_public_address
from polyvox.voices.reference import ReferenceStore, parse_reference
from tests.samples import sine_wav

WAV = sine_wav(1.0)


class _Handler(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        if self.path == "/slow.wav":  # headers at once, then a byte every 0.2 s
            self.send_response(200)
            self.end_headers()
            for byte in WAV[:40]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
            return
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/voice.wav")
            self.end_headers()
            return
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    _Handler.files.update({"/voice.wav": WAV, "/long.wav": sine_wav(3.0), "/text": b"hello"})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=10)


def store(tmp_path: Path, **overrides: Any) -> ReferenceStore:
    values: dict[str, Any] = {"cache_dir": tmp_path / "cache", **overrides}
    return ReferenceStore(ReferenceSettings.model_validate(values), ObjectStore(StorageSettings()))


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.5", False),
        ("192.168.1.1", False), ("169.254.169.254", False), ("100.64.0.1", False),
        ("0.0.0.0", False), ("::1", False), ("fe80::1", False), ("fd00::1", False),
        ("::ffff:127.0.0.1", False), ("224.0.0.1", False),
        ("8.8.8.8", True), ("2606:4700:4700::1111", True),
    ],
)  # fmt: skip
def test_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.0.0.1", "169.254.169.254"])
def test_guard_rejects_private_hosts(tmp_path: Path, host: str) -> None:
    refs = store(tmp_path, schemes=["http", "https"])
    with pytest.raises(InvalidRequest) as info:
        refs.fetch(f"http://{host}:9/voice.wav", param="ref_audio_url")
    assert info.value.param == "ref_audio_url"
    # the refusal says why, and neither the host nor what it resolves to (no network map)
    assert info.value.message == "ref_audio_url: refused: not a public address"


@pytest.mark.parametrize(
    "url", ["http://admin:hunter2@10.0.0.1/v.wav", "https://admin@127.0.0.1:8080/v.wav"]
)
def test_user_info_in_a_reference_url_is_refused_without_echo(tmp_path: Path, url: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        store(tmp_path, schemes=["http", "https"]).fetch(url, param="ref_audio_url")
    assert "not accepted" in info.value.message
    for secret in ("admin", "hunter2", "10.0.0.1", "127.0.0.1"):
        assert secret not in info.value.message


def test_guard_blocks_before_any_request(tmp_path: Path, http_url: str) -> None:
    before = len(_Handler.hits)
    refs = store(tmp_path, schemes=["http"])
    with pytest.raises(InvalidRequest, match="not a public address"):
        refs.resolve(ReferenceAudio(f"{http_url}/voice.wav", "ref_audio_url"))
    assert len(_Handler.hits) == before


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_guard_connects_only_to_the_address_it_checked(
    tmp_path: Path, http_url: str, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    # DNS rebinding: the name is public when checked, loopback when looked up again
    port = int(http_url.rsplit(":", 1)[1])
    lookups: list[str] = []
    connects: list[tuple[str, int]] = []

    def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        lookups.append(host)
        ip = "93.184.216.34" if len(lookups) == 1 else "127.0.0.1"
        return [(fetch.socket.AF_INET, fetch.socket.SOCK_STREAM, 6, "", (ip, port))]

    def create_connection(address: tuple[str, int], *args: Any) -> Any:
        connects.append(address)
        raise ConnectionRefusedError("unreachable in this test")

    monkeypatch.setattr(fetch.socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(fetch.socket, "create_connection", create_connection)
    before = len(_Handler.hits)
    with pytest.raises(InvalidRequest, match="unreachable in this test"):
        store(tmp_path, schemes=[scheme]).fetch(f"{scheme}://voices.example/a.wav", param="r")
    assert lookups == ["voices.example"]
    assert connects == [("93.184.216.34", port)]
    assert len(_Handler.hits) == before


def test_download_time_is_bounded_as_a_whole(tmp_path: Path, http_url: str) -> None:
    refs = store(tmp_path, schemes=["http"], allow_private_addresses=True, timeout=0.8)
    # every byte comes well within the socket timeout; only the whole-download bound stops it
    with pytest.raises(InvalidRequest, match=r"took longer than 0\.8s"):
        refs.fetch(f"{http_url}/slow.wav", param="ref_audio_url")


def test_proxy_variables_do_not_bypass_the_guard(
    tmp_path: Path, http_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # nothing listens there
    refs = store(tmp_path, schemes=["http"], allow_private_addresses=True)
    assert refs.fetch(f"{http_url}/voice.wav", param="r") == WAV


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.wav", "/etc/hosts"])
def test_disallowed_schemes(tmp_path: Path, url: str) -> None:
    with pytest.raises(InvalidRequest, match="scheme"):
        store(tmp_path).fetch(url, param="reference_audio")


def test_fetch_allowed_and_cached_by_content_hash(tmp_path: Path, http_url: str) -> None:
    refs = store(tmp_path, schemes=["http"], allow_private_addresses=True)
    before = len(_Handler.hits)
    path = refs.resolve(ReferenceAudio(f"{http_url}/voice.wav", "ref_audio_url"))
    assert path.name == hashlib.sha256(WAV).hexdigest()
    assert path.read_bytes() == WAV
    again = refs.resolve(ReferenceAudio(f"{http_url}/voice.wav", "ref_audio_url"))
    assert again == path
    assert len(_Handler.hits) == before + 1  # the second resolve came from the cache
    same_bytes = refs.resolve(ReferenceAudio(WAV, "audio_prompt"))
    assert same_bytes == path


def test_redirects_are_followed_through_the_guard(tmp_path: Path, http_url: str) -> None:
    refs = store(tmp_path, schemes=["http"], allow_private_addresses=True)
    assert refs.fetch(f"{http_url}/redirect", param="r") == WAV


def test_fetch_errors_name_the_parameter(tmp_path: Path, http_url: str) -> None:
    refs = store(tmp_path, schemes=["http"], allow_private_addresses=True)
    with pytest.raises(InvalidRequest, match="HTTP 404") as info:
        refs.resolve(ReferenceAudio(f"{http_url}/missing.wav", "ref_audio_url"))
    assert info.value.param == "ref_audio_url"
    with pytest.raises(UnsupportedAudio) as bad:
        refs.resolve(ReferenceAudio(f"{http_url}/text", "ref_audio_url"))
    assert bad.value.param == "ref_audio_url"


def test_size_and_duration_limits(tmp_path: Path, http_url: str) -> None:
    refs = store(tmp_path, schemes=["http"], allow_private_addresses=True, max_bytes=20_000)
    with pytest.raises(RequestTooLarge):
        refs.fetch(f"{http_url}/long.wav", param="ref_audio_url")
    with pytest.raises(RequestTooLarge):
        refs.resolve(ReferenceAudio(sine_wav(1.0), "audio_prompt"))
    short = store(tmp_path, max_seconds=2.0)
    with pytest.raises(InvalidRequest, match="limit is 2s"):
        short.resolve(ReferenceAudio(sine_wav(3.0), "audio_prompt"))


def test_lru_eviction_by_size(tmp_path: Path) -> None:
    refs = store(tmp_path, cache_max_bytes=1_000_000)
    # ~320 KB each: three fit, a fourth pushes the total past 1 MB
    a, b, c, d = (sine_wav(10.0, freq=f) for f in (200.0, 300.0, 400.0, 500.0))
    path_a = refs.put(a)
    time.sleep(0.02)
    path_b = refs.put(b)
    time.sleep(0.02)
    path_c = refs.put(c)
    time.sleep(0.02)
    assert refs.find(path_a.name) == path_a  # a is now the most recently used
    time.sleep(0.02)
    path_d = refs.put(d)
    assert not path_b.exists()
    assert path_a.exists()
    assert path_c.exists()
    assert path_d.exists()
    total = sum(p.stat().st_size for p in path_d.parent.iterdir())
    assert total <= 1_000_000


class _CloningEngine:
    """A fake engine that clones voices, to see the service hand it the cached reference."""

    info = EngineInfo(
        model="cloner", engine="fake", kind="tts", description="fake", voice_cloning=True,
        voice_attributes={"gender": ParamSpec("str", "", choices=("male", "female"))},
        languages=("pt",), sample_rate=16000,
    )  # fmt: skip
    default_voice = "default"

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo("default", "default", "pt", "cloner", 16000)]

    async def load(self) -> None:
        pass

    async def unload(self) -> None:
        pass

    async def synthesize(self, req: Any) -> AsyncIterator[AudioChunk]:
        yield AudioChunk(np.zeros(1600, dtype=np.float32), 16000)


def test_service_fetches_reference_for_cloning_engines(tmp_path: Path) -> None:
    settings = Settings(
        models={"cloner": {"engine": "piper"}},  # served by the fake below
        preload=[], reference={"cache_dir": tmp_path},  # type: ignore[arg-type]
    )  # fmt: skip
    service = SpeechService(settings, ModelPool(lambda _: _CloningEngine()))
    params = SpeechParams(
        model="cloner", input="Olá.", response_format="wav", language="pt",
        reference_audio=ReferenceAudio(WAV, "audio_prompt"), voice_attributes={"gender": "male"},
    )  # fmt: skip
    job = asyncio.run(service.prepare(params))
    assert job.request.reference_audio == tmp_path / hashlib.sha256(WAV).hexdigest()
    assert job.request.voice_attributes == {"gender": "male"}
    assert job.request.language == "pt"
    with pytest.raises(InvalidRequest, match="emotion"):
        asyncio.run(
            service.prepare(SpeechParams("cloner", "Olá.", voice_attributes={"emotion": 1}))
        )
    with pytest.raises(InvalidRequest, match="male, female") as caught:  # a declared value
        asyncio.run(
            service.prepare(SpeechParams("cloner", "Olá.", voice_attributes={"gender": "x"}))
        )
    assert caught.value.param == "voice_attributes.gender"
    with pytest.raises(InvalidRequest) as caught:  # it reads no transcript
        asyncio.run(service.prepare(replace(params, reference_text="Olá.")))
    assert caught.value.param == "reference_text"


def test_a_reference_named_by_its_hash_is_found_once_it_was_sent(tmp_path: Path) -> None:
    refs = store(tmp_path)
    data = sine_wav(1.0)
    digest = hashlib.sha256(data).hexdigest()
    named = parse_reference(f"sha256:{digest}")
    with pytest.raises(ReferenceNotFound) as missing:
        refs.resolve(named)  # not sent yet: the sender must send the audio itself
    assert missing.value.status_code == 422
    assert missing.value.param == "reference_audio"
    sent = refs.resolve(parse_reference(base64.b64encode(data).decode()))
    assert refs.resolve(named) == sent
    with pytest.raises(InvalidRequest):
        refs.resolve(parse_reference("sha256:not-hex"))
