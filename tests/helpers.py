"""Small helpers shared by tests: decoding durations and reading SSE."""

from __future__ import annotations

import json
from collections.abc import Iterable

from polyvox import codecs

PARAGRAPH = (
    "The quick brown fox jumps over the lazy dog. Streaming speech lets a listener hear "
    "the first words while the rest of the text is still being spoken, which makes a "
    "voice assistant feel responsive. This paragraph has three sentences."
)


def duration(data: bytes, fmt: str) -> float:
    """Seconds of audio in an encoded response (pcm is s16le mono 24 kHz)."""
    if fmt == "pcm":
        return len(data) / 2 / codecs.PCM_RATE
    samples, rate = codecs.decode(data)
    return len(samples) / rate


def sse_events(lines: Iterable[str]) -> list[dict[str, object]]:
    """The JSON payloads of ``data:`` lines."""
    return [json.loads(line[5:]) for line in lines if line.startswith("data:")]
