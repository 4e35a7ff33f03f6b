"""The WebSocket text-in route with a real WebSocket client: text streams in, audio out."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from polyvox.settings import Settings
from tests.conftest import LiveServer, start_server
from tests.integration.test_streaming import wait_for

pytestmark = pytest.mark.integration
FIRST = "The first sentence arrives on its own, "
REST = ["and the model speaks it ", "while the rest is still being written. ", "A second one."]


def ws_url(server: LiveServer) -> str:
    return server.url.replace("http://", "ws://") + "/v1/audio/speech/stream"


def send(ws: ClientConnection, **message: object) -> None:
    ws.send(json.dumps(message))


def test_first_audio_arrives_before_the_rest_of_the_text(live_server: LiveServer) -> None:
    with connect(ws_url(live_server)) as ws:
        send(ws, type="config", model="tts-1", voice="alloy", response_format="pcm")
        send(ws, type="text", text=FIRST + REST[0] + REST[1])  # one whole sentence
        first = ws.recv(timeout=30)  # the rest of the text has not been sent yet
        assert isinstance(first, bytes)
        assert first
        send(ws, type="text", text=REST[2])
        send(ws, type="end")
        audio, done = bytearray(first), None
        while done is None:
            message = ws.recv(timeout=30)
            if isinstance(message, bytes):
                audio += message
            else:
                done = json.loads(message)
    assert done["type"] == "speech.audio.done"
    text = FIRST + "".join(REST)
    # characters spoken: every chunk's text (the spaces between chunks are not counted)
    assert done["usage"]["input_tokens"] == pytest.approx(len(" ".join(text.split())), abs=3)
    seconds = len(audio) / 2 / 24000
    assert done["usage"]["audio_seconds"] == pytest.approx(seconds, abs=0.05)
    assert seconds > 3.0  # both sentences were spoken


@pytest.mark.parametrize(
    ("config", "param"),
    [
        ({"type": "config", "model": "no-such-model"}, "model"),
        ({"type": "config", "model": "tts-1", "speed": 9}, "speed"),
        ({"type": "config", "model": "tts-1", "noise_scale": float("nan")}, "noise_scale"),
        ({"type": "config", "model": "whisper-1"}, "model"),
        ({"model": "tts-1"}, "type"),
    ],
)
def test_a_bad_config_gets_an_error_and_a_clean_close(
    live_server: LiveServer, config: dict[str, object], param: str
) -> None:
    with connect(ws_url(live_server)) as ws:
        ws.send(json.dumps(config))
        error = json.loads(ws.recv(timeout=10))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert error["type"] == "error"
    assert set(error["error"]) == {"message", "type", "param", "code"}
    assert error["error"]["param"] == param
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008


def test_bad_text_messages_are_refused(live_server: LiveServer) -> None:
    with connect(ws_url(live_server)) as ws:
        send(ws, type="config", model="tts-1")
        ws.send("not json")
        error = json.loads(ws.recv(timeout=10))
    assert error["error"]["code"] == "malformed_request"


def test_a_client_that_leaves_stops_synthesis(live_server: LiveServer) -> None:
    metrics = live_server.state.service.metrics

    def value(name: str) -> float:
        return metrics.value(name, model="piper")

    cancelled, chunks = (
        value("polyvox_jobs_cancelled_total"),
        value("polyvox_chunks_synthesized_total"),
    )
    with connect(ws_url(live_server)) as ws:
        send(ws, type="config", model="tts-1", response_format="pcm")
        send(ws, type="text", text="This sentence keeps the socket busy. " * 40)
        assert isinstance(ws.recv(timeout=30), bytes)
    # the client is gone: the job stops within about one chunk
    assert wait_for(lambda: value("polyvox_jobs_cancelled_total") > cancelled, timeout=10)
    assert wait_for(lambda: metrics.value("polyvox_inflight_jobs", model="piper") == 0, 10)
    produced = value("polyvox_chunks_synthesized_total") - chunks
    time.sleep(1.0)
    assert value("polyvox_chunks_synthesized_total") - chunks == produced
    assert produced < 6


@pytest.fixture(scope="module")
def keyed() -> Iterator[LiveServer]:
    yield from start_server(Settings(api_keys=["ws-key"]))  # type: ignore[list-item]


def test_keys_are_checked_before_the_socket_opens(keyed: LiveServer) -> None:
    with pytest.raises(Exception, match="403"):  # the handshake is refused
        connect(ws_url(keyed)).close()
    with connect(ws_url(keyed), additional_headers={"Authorization": "Bearer ws-key"}) as ws:
        send(ws, type="config", model="tts-1", response_format="wav")
        send(ws, type="text", text="Keyed.")
        send(ws, type="end")
        assert isinstance(ws.recv(timeout=30), bytes)
