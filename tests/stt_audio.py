"""Speech fixtures for STT tests: Piper-synthesised sentences, re-encoded with PyAV."""

from __future__ import annotations

import asyncio
import io
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import av
import numpy as np

from polyvox import codecs
from polyvox.service import SpeechService
from polyvox.settings import Settings
from polyvox.types import SpeechParams

SENTENCE = "The quick brown fox jumps over the lazy dog. Speech recognition turns sound into text."
KEYWORDS = ("brown", "fox", "jumps", "lazy", "recognition", "text")


@dataclass(frozen=True)
class Container:
    """How one upload format is written: PyAV container, codec and sample rate."""

    format: str
    codec: str
    rate: int


CONTAINERS = {
    "mp3": Container("mp3", "libmp3lame", 44100),
    "ogg": Container("ogg", "libopus", 48000),
    "flac": Container("flac", "flac", 22050),
    "m4a": Container("mp4", "aac", 44100),
    "webm": Container("webm", "libopus", 48000),
}
"""Every upload format besides wav (which Piper's output already is)."""


async def _synthesize(text: str) -> bytes:
    service = SpeechService(Settings(engines=["piper"], preload=[]))
    job = await service.prepare(SpeechParams(model="piper", input=text, response_format="wav"))
    return b"".join([part async for part in job.stream()])


@lru_cache(maxsize=64)
def speech_wav(text: str = SENTENCE) -> bytes:
    """Piper speaking ``text``, as a streaming WAV file (22.05 kHz)."""
    return asyncio.run(_synthesize(text))


def duration(data: bytes) -> float:
    """Seconds of audio in an encoded file."""
    samples, rate = codecs.decode(data)
    return len(samples) / rate


@lru_cache(maxsize=16)
def speech_file(kind: str, text: str = SENTENCE) -> bytes:
    """Piper speaking ``text`` in an upload format (wav or a key of CONTAINERS)."""
    if kind == "wav":
        return speech_wav(text)
    spec = CONTAINERS[kind]
    samples, _ = codecs.decode(speech_wav(text), sample_rate=spec.rate)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=spec.format) as out:
        stream = out.add_stream(spec.codec, rate=spec.rate)
        stream.layout = "mono"  # type: ignore[union-attr]
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples)[None, :], format="flt", layout="mono"
        )
        frame.sample_rate = spec.rate
        frame.pts = 0
        frame.time_base = Fraction(1, spec.rate)
        out.mux(stream.encode(frame))  # type: ignore[union-attr]
        out.mux(stream.encode(None))  # type: ignore[union-attr]
    return buffer.getvalue()


def normalise(text: str) -> str:
    """Lower case, no punctuation, single spaces: what word error rate compares."""
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return " ".join(text.replace("'", "").split())


@lru_cache(maxsize=4)
def silent_flac(seconds: int, rate: int = 16000, frame_size: int | None = None) -> bytes:
    """``seconds`` of digital silence as FLAC (its header carries the length, as files made
    by audio tools do): a small upload that decodes to a great deal of audio. The largest
    ``frame_size`` FLAC allows (65,535) makes it smaller still: 20 minutes at 48 kHz in 12 KB."""
    buffer = io.BytesIO()
    block = np.zeros((1, rate * 10), dtype=np.float32)
    options = {} if frame_size is None else {"frame_size": str(frame_size)}
    with av.open(buffer, "w", format="flac") as out:
        stream = out.add_stream("flac", rate=rate, options=options)
        stream.layout = "mono"  # type: ignore[union-attr]
        for start in range(0, seconds * rate, block.shape[1]):
            frame = av.AudioFrame.from_ndarray(
                block[:, : min(block.shape[1], seconds * rate - start)], format="flt", layout="mono"
            )
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            out.mux(stream.encode(frame))  # type: ignore[union-attr]
        out.mux(stream.encode(None))  # type: ignore[union-attr]
    return buffer.getvalue()


FLAC_MAX_FRAME = 65_535
"""The most samples one FLAC frame holds (its block size is a 16-bit field)."""
_STREAMINFO_TOTAL = slice(8 + 13, 8 + 18)
"""Bytes of a FLAC file holding STREAMINFO's 36-bit total sample count (low nibble first)."""


@lru_cache(maxsize=4)
def low_rate_flac(rate: int, frames: int = 1) -> bytes:
    """Noise at ``rate`` Hz (32 or 8: no real recording) in ``frames`` full 65,535-sample
    FLAC frames, with STREAMINFO's total length zeroed ("unknown", as a streamed FLAC has it)
    so nothing declares how long it is. One frame at 32 Hz is 34 minutes of "audio": 131 MB
    as float32 once resampled to 16 kHz, from about 128 KB of file."""
    buffer = io.BytesIO()
    noise = np.random.default_rng(rate).standard_normal((1, FLAC_MAX_FRAME * frames)) * 0.1
    with av.open(buffer, "w", format="flac") as out:
        options = {"frame_size": str(FLAC_MAX_FRAME)}
        stream = out.add_stream("flac", rate=rate, options=options)
        stream.layout = "mono"  # type: ignore[union-attr]
        frame = av.AudioFrame.from_ndarray(noise.astype(np.float32), format="flt", layout="mono")
        frame.sample_rate = rate
        frame.pts = 0
        frame.time_base = Fraction(1, rate)
        out.mux(stream.encode(frame))  # type: ignore[union-attr]
        out.mux(stream.encode(None))  # type: ignore[union-attr]
    data = bytearray(buffer.getvalue())
    assert data[:4] == b"fLaC"
    assert data[4] & 0x7F == 0  # STREAMINFO comes first
    data[_STREAMINFO_TOTAL.start] &= 0xF0
    data[_STREAMINFO_TOTAL.start + 1 : _STREAMINFO_TOTAL.stop] = bytes(4)
    return bytes(data)
