"""Wyoming events read within bounds, and client audio checked before it is converted.

The ``wyoming`` library's reader trusts the header: ``payload_length`` of 300 MiB is read
into memory whole, a header that is JSON but not an event object raises from the handler's
task ("Task exception was never retrieved"), and an ``audio-chunk`` declaring ``rate: 1`` is
resampled to 16 kHz (32,000 times its size) before anything is checked. Here every length
is checked at the header, before its bytes are read, and an audio chunk's converted size is
known before it is converted; what is wrong is a PolyvoxError the handler answers with an
``error`` event.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from wyoming.audio import AudioChunk
from wyoming.event import Event

from polyvox.decoding import MAX_RATE, MIN_RATE
from polyvox.errors import MalformedRequest, RequestTooLarge, UnsupportedAudio
from polyvox.types import STT_SAMPLE_RATE

WIDTHS = (1, 2, 3, 4)
CHANNELS = (1, 2)
"""What the library's converter can turn into 16 kHz mono 16-bit audio."""


async def read_event(reader: asyncio.StreamReader, max_bytes: int) -> Event | None:
    """The next event, None when the client closed the connection between events.

    Raises MalformedRequest (not an event) or RequestTooLarge (a declared length over
    ``max_bytes``) before reading what the header announces; IncompleteReadError when the
    client leaves in the middle of an event.
    """
    try:
        line = await reader.readline()
    except ValueError:  # longer than the reader's line limit (64 KiB)
        raise RequestTooLarge("an event header line is too long") from None
    if not line:
        return None
    header = _json_object(line, "the event header")
    kind = header.get("type")
    if not isinstance(kind, str) or not kind:
        raise MalformedRequest("an event needs a type")
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise MalformedRequest("an event's data must be a JSON object")
    data_length = _length(header, "data_length", max_bytes)
    payload_length = _length(header, "payload_length", max_bytes)
    if data_length:
        data.update(_json_object(await reader.readexactly(data_length), "the event data"))
    payload = await reader.readexactly(payload_length) if payload_length else None
    return Event(type=kind, data=data, payload=payload)


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        found = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        raise MalformedRequest(f"{what} is not JSON") from None
    if not isinstance(found, dict):
        raise MalformedRequest(f"{what} must be a JSON object")
    return found


def _length(header: dict[str, Any], key: str, max_bytes: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedRequest(f"{key} must be a whole number of bytes")
    if value > max_bytes:
        raise RequestTooLarge(
            f"{key} is {value} bytes; an event may carry at most {max_bytes} "
            "(POLYVOX_WYOMING__MAX_EVENT_BYTES)"
        )
    return value


def converted_size(chunk: AudioChunk) -> int:
    """Bytes the chunk makes as 16 kHz mono 16-bit audio; a 415 for a format the server
    does not take (checked before anything is converted)."""
    if not (MIN_RATE <= chunk.rate <= MAX_RATE):
        raise UnsupportedAudio(
            f"audio at {chunk.rate} Hz is not supported ({MIN_RATE} to {MAX_RATE} Hz)",
            param="rate",
        )
    if chunk.width not in WIDTHS or chunk.channels not in CHANNELS:
        raise UnsupportedAudio(
            f"audio of {chunk.width}-byte samples in {chunk.channels} channel(s) is not "
            "supported (1 to 4 bytes, 1 or 2 channels)",
            param="width",
        )
    frame = chunk.width * chunk.channels
    if len(chunk.audio) % frame:
        raise UnsupportedAudio("an audio chunk must hold whole sample frames", param="audio")
    return 2 * math.ceil(len(chunk.audio) // frame * STT_SAMPLE_RATE / chunk.rate)


def audio_chunk(event: Event) -> AudioChunk:
    """An ``audio-chunk`` event's audio; a 400 when its fields are missing or of a wrong type."""
    data = event.data
    fields = [data.get(k) for k in ("rate", "width", "channels")]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in fields):
        raise MalformedRequest("audio-chunk needs whole-number rate, width and channels")
    return AudioChunk.from_event(event)


def text_of(event: Event) -> str:
    """The ``text`` of a ``synthesize`` or ``synthesize-chunk`` event; a 400 unless a string."""
    text = event.data.get("text")
    if not isinstance(text, str):
        raise MalformedRequest(f"{event.type} needs its text as a string")
    return text
