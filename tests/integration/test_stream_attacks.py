"""Hardening 3: the text-in WebSocket and the server's own words under attack.

Each test replays one attack of the probe against a real ``polyvox serve`` with API keys,
with a real WebSocket client (``websockets``) or ``httpx``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.attacks import ALICE, BOB, Server, attack_server
from tests.conftest import free_port

pytestmark = pytest.mark.integration
IDLE = 2.0
"""``limits.stream_idle_timeout`` of the test server."""
ROUTE = "/v1/audio/speech/stream"
SECRET = "hunter2-do-not-log"
"""A password in a remote model's URL: no answer may show it."""


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    remote = {
        "engine": "polyvox",
        "url": f"http://admin:{SECRET}@127.0.0.1:{free_port()}",
        "model": "piper",
        "discovery_attempts": 1,
    }
    env = {
        "POLYVOX_LIMITS__STREAM_IDLE_TIMEOUT": str(IDLE),
        "POLYVOX_MODELS": json.dumps({"piper": {"engine": "piper"}, "far": remote}),
    }
    with attack_server(env) as found:
        yield found


def _ws(server: Server, key: str = ALICE, query: str = "") -> ClientConnection:
    url = server.url.replace("http://", "ws://") + ROUTE + query
    return connect(url, additional_headers={"Authorization": f"Bearer {key}"})


def _send(ws: ClientConnection, **message: object) -> None:
    ws.send(json.dumps(message))


def _error_and_close(ws: ClientConnection) -> tuple[dict[str, object], int | None]:
    """The error message the server sends, and the close code that follows it."""
    message = json.loads(ws.recv(timeout=30))
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=30)
    assert closed.value.rcvd is not None, "closed without a close frame (1006)"
    return message, closed.value.rcvd.code


def test_streams_without_text_cannot_fill_a_model_and_end_once_idle(server: Server) -> None:
    """#6: 18 streams that send a config and nothing else were admitted and held for up to
    600 s; other keys' HTTP speech got 429. A stream holds the model's place only while it
    has text to speak, a key holds at most its share, and an idle stream ends with 408."""
    streams = []
    try:
        for _ in range(18):
            ws = _ws(server)
            _send(ws, type="config", model="piper", response_format="pcm")
            streams.append(ws)
        assert server.speak(key=BOB).status_code == 200
        codes = []
        for ws in streams:
            message, close = _error_and_close(ws)
            codes.append(message["error"]["code"])  # type: ignore[index]
            assert close == 1008
    finally:
        for ws in streams:
            ws.close()
    # the key's share (9 of 18 places) idles out; the rest were refused at once
    assert sorted(codes) == ["idle_timeout"] * 9 + ["overloaded"] * 9, codes
    assert server.metric("polyvox_inflight_jobs", model="piper") == 0


def test_a_stream_that_speaks_now_and_then_is_not_cut(server: Server) -> None:
    """The idle deadline counts from the last text, not from the start."""
    with _ws(server) as ws:
        _send(ws, type="config", model="piper", response_format="pcm")
        for word in ("One sentence. ", "And another. ", "And a third."):
            _send(ws, type="text", text=word)
            time.sleep(IDLE * 0.75)  # three pauses: longer than the deadline in all
        _send(ws, type="end")
        while isinstance(message := ws.recv(timeout=30), bytes):
            pass
    assert json.loads(message)["type"] == "speech.audio.done"


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_deeply_nested_json_is_a_400_with_a_clean_close(server: Server, depth: int) -> None:
    """#17: deeply nested JSON raised an unhandled RecursionError, closed with 1006 and was
    counted as 200."""
    before = server.metric("polyvox_requests_total", route=ROUTE, status="400")
    with _ws(server) as ws:
        ws.send("[" * depth + "]" * depth)
        message, close = _error_and_close(ws)
    assert message["error"]["code"] == "malformed_request"  # type: ignore[index]
    assert close == 1008
    assert server.metric("polyvox_requests_total", route=ROUTE, status="400") == before + 1


def test_a_key_in_a_websocket_query_string_is_not_logged(server: Server) -> None:
    """#10: keys in a WebSocket URL's query string were logged in clear (the HTTP fix did not
    reach this surface): accepted and refused handshakes alike."""
    with _ws(server, query=f"?api_key={ALICE}&token={ALICE}") as ws:
        _send(ws, type="config", model="piper", response_format="pcm")
        _send(ws, type="text", text="Quiet.")
        _send(ws, type="end")
        while isinstance(ws.recv(timeout=30), bytes):
            pass
    with pytest.raises(InvalidStatus), _ws(server, key="wrong", query=f"?key={BOB}"):
        pass
    log = server.log_text()
    assert "api_key=REDACTED" in log  # the line is there, without the key
    assert ALICE not in log
    assert BOB not in log


def test_a_remote_models_password_is_never_shown(server: Server) -> None:
    """#11: a remote model's URL with credentials (``https://user:pass@host``) was shown in
    ``/v1/status``, ``/v1/models`` and error messages to any key."""
    headers = {"Authorization": f"Bearer {BOB}"}
    answers = [
        httpx.get(f"{server.url}/v1/status", headers=headers, timeout=30),
        httpx.get(f"{server.url}/v1/models", headers=headers, timeout=30),
        httpx.get(f"{server.url}/v1/models/far", headers=headers, timeout=30),
        httpx.post(
            f"{server.url}/v1/audio/speech",
            headers=headers,
            json={"model": "far", "input": "Hello.", "voice": "en_US-joe-medium"},
            timeout=30,
        ),
    ]
    assert answers[0].status_code == 200
    assert answers[3].status_code >= 500  # nothing listens there
    assert "127.0.0.1" in answers[3].text  # the message still says where it tried
    for answer in answers:
        assert SECRET not in answer.text, answer.text
        assert "admin:" not in answer.text, answer.text
    assert SECRET not in server.log_text()
