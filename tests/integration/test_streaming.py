"""Streaming is real: audio arrives before synthesis ends, and a hang-up stops the engine."""

from __future__ import annotations

import socket
import time

import httpx

from tests.conftest import LiveServer

SENTENCES = [f"This is sentence number {i} of a long text that streams." for i in range(40)]
LONG_TEXT = " ".join(SENTENCES)


def wait_for(predicate: object, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def chunks(server: LiveServer) -> float:
    return server.state.service.metrics.value("polyvox_chunks_synthesized_total", model="piper")


def cancelled(server: LiveServer) -> float:
    return server.state.service.metrics.value("polyvox_jobs_cancelled_total", model="piper")


def test_first_bytes_arrive_before_synthesis_ends(live_server: LiveServer) -> None:
    before = chunks(live_server)
    body = {"model": "tts-1", "input": LONG_TEXT, "response_format": "wav"}
    with httpx.stream("POST", f"{live_server.url}/v1/audio/speech", json=body, timeout=120) as r:
        parts = r.iter_raw()
        first = next(parts)
        synthesized_at_first_byte = chunks(live_server) - before
        rest = b"".join(parts)
    assert first[:4] == b"RIFF"
    assert synthesized_at_first_byte <= 4, "the first bytes must not wait for the whole text"
    # alone on the model, with audio ahead of real time, calls grow: fewer than sentences
    assert 2 < chunks(live_server) - before < len(SENTENCES)
    assert len(first) + len(rest) > 44 + 2 * 22050 * 60  # over a minute of audio


def test_disconnect_stops_synthesis(live_server: LiveServer) -> None:
    before, cancelled_before = chunks(live_server), cancelled(live_server)
    request = (
        "POST /v1/audio/speech HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        "Content-Length: {}\r\n\r\n{}"
    )
    body = httpx.Request("POST", "/", json={"model": "tts-1", "input": LONG_TEXT}).read()
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(request.format(len(body), body.decode()).encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    # the client is gone: the job must notice within about one chunk
    assert wait_for(lambda: cancelled(live_server) > cancelled_before), "never cancelled"
    produced = chunks(live_server) - before
    time.sleep(1.0)  # would the engine keep going? (40 chunks take far longer than this)
    assert chunks(live_server) - before == produced
    assert produced <= 6, f"{produced} of {len(SENTENCES)} chunks synthesised after hang-up"
    response = httpx.post(
        f"{live_server.url}/v1/audio/speech", json={"model": "tts-1", "input": "Still here."}
    )
    assert response.status_code == 200
