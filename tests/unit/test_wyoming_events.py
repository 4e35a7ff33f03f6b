"""Wyoming events read within bounds, and client audio sized before it is converted."""

from __future__ import annotations

import asyncio
import json

import pytest
from wyoming.audio import AudioChunk

from polyvox.errors import MalformedRequest, RequestTooLarge, UnsupportedAudio
from polyvox.wyoming.events import converted_size, read_event


def _read(raw: bytes, max_bytes: int = 1024) -> object:
    async def main() -> object:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        return await read_event(reader, max_bytes)

    return asyncio.run(main())


def test_an_event_with_data_and_payload_is_read() -> None:
    data = b'{"rate": 16000}'
    header = {"type": "audio-chunk", "data_length": len(data), "payload_length": 2}
    event = _read(json.dumps(header).encode() + b"\n" + data + b"\x01\x02")
    assert event.type == "audio-chunk"  # type: ignore[attr-defined]
    assert event.data == {"rate": 16000}  # type: ignore[attr-defined]
    assert event.payload == b"\x01\x02"  # type: ignore[attr-defined]


def test_lengths_past_the_bound_are_refused_before_reading() -> None:
    header = json.dumps({"type": "audio-chunk", "payload_length": 4096}).encode() + b"\n"
    with pytest.raises(RequestTooLarge, match="MAX_EVENT_BYTES"):
        _read(header)  # nothing follows the header: it is refused before any read


@pytest.mark.parametrize(
    "line",
    [
        b"[]",
        b"nope",
        b'{"type": ""}',
        b'{"type": "x", "data_length": true}',
        b'{"type": "x", "data": 1}',
    ],
)
def test_headers_that_are_not_events_are_malformed(line: bytes) -> None:
    with pytest.raises(MalformedRequest):
        _read(line + b"\n")


def test_the_size_after_conversion_is_known_before_converting() -> None:
    assert converted_size(AudioChunk(rate=16000, width=2, channels=1, audio=bytes(3200))) == 3200
    assert converted_size(AudioChunk(rate=8000, width=1, channels=2, audio=bytes(1600))) == 3200
    with pytest.raises(UnsupportedAudio, match="Hz"):
        converted_size(AudioChunk(rate=1, width=2, channels=1, audio=bytes(32768)))
    with pytest.raises(UnsupportedAudio, match="channel"):
        converted_size(AudioChunk(rate=16000, width=2, channels=6, audio=bytes(12)))
    with pytest.raises(UnsupportedAudio, match="whole sample frames"):
        converted_size(AudioChunk(rate=16000, width=2, channels=1, audio=bytes(3)))
