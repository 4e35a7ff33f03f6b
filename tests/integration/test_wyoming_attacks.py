"""Hardening 3: the Wyoming door under attack (it has no credentials: anyone can knock).

Each test replays one attack of the probe against a real ``polyvox serve --wyoming`` with
raw sockets (what an attacker uses) or the ``wyoming`` library (what Home Assistant uses),
and checks the server stays within its bounds and keeps serving.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from wyoming.event import Event, async_read_event

from tests.attacks import (
    MEMORY_BOUND_MB,
    PeakRss,
    Server,
    attack_server,
    raise_descriptor_limit,
    wyoming_event,
)

pytestmark = pytest.mark.integration
IDLE = 2.0
"""``wyoming.idle_timeout`` and ``limits.stream_idle_timeout`` of the test server."""
VOICE = {"name": "piper/en_US-joe-medium"}


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    env = {
        "POLYVOX_PRELOAD": '["piper", "whisper"]',
        "POLYVOX_WYOMING__IDLE_TIMEOUT": str(IDLE),
        "POLYVOX_LIMITS__STREAM_IDLE_TIMEOUT": str(IDLE),
    }
    with attack_server(env) as found:
        yield found


async def _events(reader: asyncio.StreamReader, seconds: float = 30) -> list[Event]:
    """Every event until the server closes the connection."""
    found = []
    while (event := await asyncio.wait_for(async_read_event(reader), seconds)) is not None:
        found.append(event)
    return found


async def _exchange(server: Server, *parts: bytes) -> list[Event]:
    """Send raw bytes, then read what comes back until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.wyoming_port)
    try:
        for part in parts:
            writer.write(part)
        await writer.drain()
        return await _events(reader)
    finally:
        writer.close()


def _errors(events: list[Event]) -> list[str]:
    return [str(e.data.get("code")) for e in events if e.type == "error"]


def test_audio_declaring_a_tiny_rate_is_refused_before_it_is_converted(server: Server) -> None:
    """#1: an ``audio-chunk`` at ``rate: 1`` was resampled to 16 kHz before the size check:
    32 KB of payload cost +1 GB. The format is refused before anything is converted."""
    fmt = {"rate": 1, "width": 2, "channels": 1}
    attack = [
        wyoming_event("transcribe", {}),
        wyoming_event("audio-start", fmt),
        wyoming_event("audio-chunk", fmt, b"\x01\x02" * 16384),
        wyoming_event("audio-stop", {}),
    ]
    with PeakRss(server.pid) as rss:
        events = asyncio.run(_exchange(server, *attack))
    assert rss.growth < MEMORY_BOUND_MB, rss.growth
    assert _errors(events) == ["unsupported_audio"], events
    assert server.speak().status_code == 200


def test_an_event_announcing_a_huge_payload_is_refused_at_its_header(server: Server) -> None:
    """#4: a 300 MiB ``audio-chunk`` payload was read into memory whole (+608 MB). Lengths
    are checked at the header; the connection closes before the payload is read."""
    size = 300 * 1024 * 1024
    header = {"type": "audio-chunk", "payload_length": size, "data_length": 0}
    errors_before = server.metric("polyvox_errors_total", code="request_too_large")
    sent = 0
    with (
        PeakRss(server.pid) as rss,
        socket.create_connection(("127.0.0.1", server.wyoming_port)) as s,
    ):
        s.sendall(wyoming_event("audio-start", {"rate": 16000, "width": 2, "channels": 1}))
        s.sendall(json.dumps(header).encode() + b"\n")
        block = bytes(1024 * 1024)
        try:
            while sent < size:
                s.sendall(block)
                sent += len(block)
        except OSError:
            pass  # the server closed the connection: what it should do
    assert rss.growth < MEMORY_BOUND_MB, rss.growth
    assert sent < size, "the server read the whole payload"
    after = server.metric("polyvox_errors_total", code="request_too_large")
    assert after == errors_before + 1
    assert server.speak().status_code == 200


MALFORMED = {
    "not-json": b"this is not json\n",
    "a-list": b"[1, 2, 3]\n",
    "no-type": b'{"data": {}}\n',
    "type-not-a-string": b'{"type": 5}\n',
    "length-not-a-number": b'{"type": "describe", "data_length": "many"}\n',
    "negative-length": b'{"type": "describe", "payload_length": -5}\n',
    "data-not-an-object": b'{"type": "describe", "data": [1]}\n',
    "nested-thousands-deep": b'{"type": "describe", "data": '
    + b"[" * 10_000
    + b"]" * 10_000
    + b"}\n",
    "chunk-fields-of-wrong-types": wyoming_event("audio-start", {"rate": 16000, "width": 2})
    + wyoming_event("audio-chunk", {"rate": "fast", "width": None, "channels": 1}, b"\x00\x00"),
    "synthesize-without-text": wyoming_event("synthesize", {"voice": VOICE}),
    "text-not-a-string": wyoming_event("synthesize", {"text": 5, "voice": VOICE}),
    "chunk-text-not-a-string": wyoming_event("synthesize-start", {"voice": VOICE})
    + wyoming_event("synthesize-chunk", {"text": ["a", "list"]}),
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=list(MALFORMED))
def test_malformed_headers_are_error_events_without_tracebacks(server: Server, raw: bytes) -> None:
    """#18: malformed headers left "Task exception was never retrieved" tracebacks. Each is
    answered with an ``error`` event, the connection closes, and the log stays clean."""
    events = asyncio.run(_exchange(server, raw))
    assert events[-1].type == "error", events
    assert _errors(events) in (["malformed_request"], ["request_too_large"])
    time.sleep(0.2)  # the log line of a task that failed comes when it is collected
    log = server.log_text()
    assert "Traceback" not in log
    assert "never retrieved" not in log
    assert server.speak().status_code == 200


async def _stream_and_hold(server: Server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A streamed synthesis begun with one chunk of text and never stopped."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.wyoming_port)
    writer.write(wyoming_event("synthesize-start", {"voice": VOICE}))
    writer.write(wyoming_event("synthesize-chunk", {"text": "This never ends"}))
    await writer.drain()
    return reader, writer


def test_wyoming_streams_that_never_stop_cannot_fill_a_model(server: Server) -> None:
    """#5: 18 connections sending ``synthesize-start`` and one chunk filled Piper's 2 slots
    and 16 queue places; every request for it got 429 for up to 10 minutes. A stream waiting
    for text holds no place of the model, the peer only its share, and it ends once idle."""

    async def attack() -> tuple[int, list[list[Event]]]:
        held = [await _stream_and_hold(server) for _ in range(18)]
        await asyncio.sleep(0.5)
        status = (await asyncio.to_thread(server.speak)).status_code
        ended = await asyncio.gather(*(_events(reader, 4 * IDLE) for reader, _ in held))
        for _, writer in held:
            writer.close()
        return status, ended

    status, ended = asyncio.run(attack())
    assert status == 200  # another client is served while the streams are held
    codes = [_errors(events) for events in ended]
    # each stream ends: the peer's share of the 18 places idles out (408), the rest are
    # refused at once (429)
    assert all(c in (["idle_timeout"], ["overloaded"]) for c in codes), codes
    assert codes.count(["overloaded"]) == 9, codes
    assert server.metric("polyvox_inflight_jobs", model="piper") == 0


def test_idle_wyoming_sockets_cannot_take_the_descriptors_http_needs() -> None:
    """#7: 1,100 idle sockets under a 1,024 descriptor limit took HTTP down, ``/health``
    included. Wyoming connections are bounded (past the bound they are closed at once) and
    an idle one is closed after ``wyoming.idle_timeout``."""
    raise_descriptor_limit(1400)
    env = {"POLYVOX_WYOMING__IDLE_TIMEOUT": str(IDLE)}
    with attack_server(env, fd_limit=1024) as server:
        sockets = []
        try:
            for _ in range(1100):
                s = socket.create_connection(("127.0.0.1", server.wyoming_port), timeout=10)
                sockets.append(s)
            health = httpx.get(f"{server.url}/health", timeout=10)
            assert health.status_code == 200
            assert server.speak().status_code == 200
            deadline = time.monotonic() + 4 * IDLE + 10
            for s in sockets:  # every one of them is closed by the server
                s.settimeout(max(0.1, deadline - time.monotonic()))
                while s.recv(65536):
                    pass
        finally:
            for s in sockets:
                s.close()


def test_a_client_that_keeps_sending_still_reads_its_error(server: Server) -> None:
    """A connection closed with the client's bytes unread is reset by the kernel, and the
    client's reader raises the reset before the error event it received (the soak saw one
    refusal in five lost so). The server half-closes and drops what still comes first."""

    async def attempt() -> list[str]:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.wyoming_port)
        try:
            more = wyoming_event("synthesize-chunk", {"text": "x" * 1000}) * 200
            writer.write(b"not an event\n" + more)
            await writer.drain()
            await asyncio.sleep(0.5)  # the server has answered and ended by now
            return _errors(await _events(reader))
        finally:
            writer.close()

    for _ in range(3):
        assert asyncio.run(attempt()) == ["malformed_request"]
