"""Graceful shutdown: SIGTERM stops new connections, lets streams finish, then exits."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.processes import spawn_server

TEXT = " ".join(f"Sentence {i} keeps the stream going for a while." for i in range(24))


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    proc, url = spawn_server({"POLYVOX_SHUTDOWN_GRACE": str(request.param)})
    try:
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def stream_then_terminate(proc: subprocess.Popen[bytes], url: str) -> tuple[int, bool]:
    """Start a long wav stream, SIGTERM after its first bytes, read on; (bytes, refused)."""
    body = {"model": "tts-1", "input": TEXT, "response_format": "wav"}
    with httpx.stream("POST", f"{url}/v1/audio/speech", json=body, timeout=120) as response:
        parts = response.iter_raw()
        received = len(next(parts))
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        try:
            httpx.get(f"{url}/health", timeout=2)
            refused = False
        except httpx.ConnectError:
            refused = True
        for part in parts:
            received += len(part)
    return received, refused


@pytest.mark.parametrize("server", [60], indirect=True)
def test_in_flight_stream_finishes_after_sigterm(
    server: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, url = server
    received, refused = stream_then_terminate(proc, url)
    assert refused, "a stopping server must not accept new connections"
    seconds = (received - 44) / 2 / 22050
    assert seconds > 24 * 2.0, "the whole text was spoken"
    assert proc.wait(timeout=30) in (0, -signal.SIGTERM)


@pytest.mark.parametrize("server", [1], indirect=True)
def test_streams_are_cut_when_the_grace_period_ends(
    server: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, url = server
    with pytest.raises(httpx.RemoteProtocolError):
        stream_then_terminate(proc, url)
    assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
