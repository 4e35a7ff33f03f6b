"""Streaming audio encoders (float32 PCM -> mp3/opus/aac/flac/wav/pcm) and decoding, on PyAV."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal, Protocol, cast, get_args

import av
import numpy as np

from polyvox.audio import Float32, float_to_int16
from polyvox.decoding import FrameBudget, check_format, open_audio, reading
from polyvox.errors import InvalidRequest, RequestTooLarge

AudioFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
FORMATS: tuple[str, ...] = get_args(AudioFormat)
PCM_RATE = 24000
"""OpenAI clients assume ``pcm`` is 16-bit little-endian mono at 24 kHz."""
_UNKNOWN_SIZE = 0xFFFFFFFF


@dataclass(frozen=True)
class FormatSpec:
    """How one response format is encoded and labelled."""

    media_type: str
    container: str | None
    codec: str | None
    rates: tuple[int, ...] | None = None
    options: tuple[tuple[str, str], ...] = ()
    bit_rate: int | None = None
    codec_options: tuple[tuple[str, str], ...] = ()


_ANY_RATE = None
_SPECS: dict[str, FormatSpec] = {
    "mp3": FormatSpec(
        "audio/mpeg", "mp3", "libmp3lame",
        (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000), bit_rate=64000,
        # LAME's fast mode (-q 7): about half the CPU of its default (measured)
        codec_options=(("compression_level", "7"),),
    ),
    "opus": FormatSpec(
        "audio/ogg", "ogg", "libopus", (8000, 12000, 16000, 24000, 48000),
        (("page_duration", "60000"),), bit_rate=32000,
    ),
    "aac": FormatSpec(
        "audio/aac", "adts", "aac",
        (7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000),
        bit_rate=64000,
    ),
    "flac": FormatSpec("audio/flac", "flac", "flac", _ANY_RATE),
    "wav": FormatSpec("audio/wav", None, None, _ANY_RATE),
    "pcm": FormatSpec("audio/pcm", None, None, _ANY_RATE),
}  # fmt: skip


def media_type(fmt: str) -> str:
    """The Content-Type for a response format."""
    return _SPECS[fmt].media_type


def output_rate(fmt: str, engine_rate: int, requested: int | None = None) -> int:
    """The sample rate a format is encoded at; raises InvalidRequest for one it cannot carry."""
    rates = _SPECS[fmt].rates
    if requested is not None:
        if rates is not None and requested not in rates:
            allowed = ", ".join(map(str, rates))
            raise InvalidRequest(
                f"sample_rate {requested} is not possible for {fmt}; use one of {allowed}",
                param="sample_rate",
            )
        return requested
    if fmt == "pcm":
        return PCM_RATE
    if rates is None or engine_rate in rates:
        return engine_rate
    return min((r for r in rates if r >= engine_rate), default=max(rates))


class Encoder(Protocol):
    """Turns float32 PCM into bytes of one format, chunk by chunk."""

    def encode(self, samples: Float32) -> bytes:
        """Encode more audio; returns whatever bytes are ready now (maybe none)."""
        ...

    def finish(self) -> bytes:
        """Flush the encoder and return the last bytes of the stream."""
        ...


class _Sink:
    """A write-only, non-seekable file for PyAV, so muxers write a streamable layout."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


class _Resampler:
    """Float32 mono at one rate -> int16 mono bytes at another (libswresample)."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self._in_rate = in_rate
        self._pts = 0
        self._swr = None if in_rate == out_rate else av.AudioResampler("s16", "mono", out_rate)

    def convert(self, samples: Float32 | None) -> bytes:
        if self._swr is None:
            return b"" if samples is None else float_to_int16(samples).tobytes()
        frame = None if samples is None else _frame(samples, self._in_rate, self._pts)
        if samples is not None:
            self._pts += len(samples)
        return b"".join(bytes(f.planes[0])[: f.samples * 2] for f in self._swr.resample(frame))


def _frame(samples: Float32, rate: int, pts: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples, dtype=np.float32)[None, :], format="flt", layout="mono"
    )
    frame.sample_rate = rate
    frame.pts = pts
    frame.time_base = Fraction(1, rate)
    return frame


def wav_header(sample_rate: int, data_bytes: int | None = None) -> bytes:
    """A 44-byte PCM s16 mono WAV header; unknown sizes are 0xFFFFFFFF, as streaming servers do."""
    data = _UNKNOWN_SIZE if data_bytes is None else data_bytes
    riff = _UNKNOWN_SIZE if data_bytes is None else 36 + data_bytes
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        riff,
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        sample_rate,
        sample_rate * 2,
        2,
        16,
        b"data",
        data,
    )


def with_wav_sizes(data: bytes, sample_rate: int) -> bytes:
    """A streamed WAV (sizes 0xFFFFFFFF) as a file: the header carries the real sizes."""
    if len(data) < 44:
        return data
    return wav_header(sample_rate, len(data) - 44) + data[44:]


class _PcmEncoder:
    """Raw s16le (``pcm``) or the same behind a streaming WAV header (``wav``)."""

    def __init__(self, in_rate: int, out_rate: int, *, header: bool) -> None:
        self._resampler = _Resampler(in_rate, out_rate)
        self._pending = wav_header(out_rate) if header else b""

    def encode(self, samples: Float32) -> bytes:
        out = self._pending + self._resampler.convert(samples)
        self._pending = b""
        return out

    def finish(self) -> bytes:
        out = self._pending + self._resampler.convert(None)
        self._pending = b""
        return out


class _AvEncoder:
    """A PyAV container + codec writing into a non-seekable sink."""

    def __init__(self, spec: FormatSpec, in_rate: int, out_rate: int) -> None:
        self._sink = _Sink()
        self._in_rate = in_rate
        self._pts = 0
        container: Any = av.open(
            cast(Any, self._sink), "w", format=spec.container, options=dict(spec.options)
        )
        stream: Any = container.add_stream(
            spec.codec, rate=out_rate, options=dict(spec.codec_options)
        )
        stream.layout = "mono"
        if spec.bit_rate:
            stream.bit_rate = spec.bit_rate
        self._container, self._stream = container, stream

    def encode(self, samples: Float32) -> bytes:
        if len(samples):
            frame = _frame(samples, self._in_rate, self._pts)
            self._pts += len(samples)
            self._container.mux(self._stream.encode(frame))
        return self._sink.drain()

    def finish(self) -> bytes:
        self._container.mux(self._stream.encode(None))
        self._container.close()
        return self._sink.drain()


def create_encoder(fmt: str, in_rate: int, out_rate: int) -> Encoder:
    """A fresh streaming encoder for ``fmt`` taking float32 at in_rate, writing out_rate."""
    if fmt in ("wav", "pcm"):
        return _PcmEncoder(in_rate, out_rate, header=fmt == "wav")
    return _AvEncoder(_SPECS[fmt], in_rate, out_rate)


def decode(
    data: bytes,
    *,
    sample_rate: int | None = None,
    max_seconds: float | None = None,
    param: str = "file",
) -> tuple[Float32, int]:
    """Decode any container PyAV reads to mono float32 (resampled when sample_rate is set).

    Each frame is checked before it is resampled (``decoding.FrameBudget``): audio longer
    than ``max_seconds`` raises RequestTooLarge as soon as decoding passes it, and absurd
    sample rates, channel counts or frame sizes are 415s naming ``param``.
    """

    def too_long() -> RequestTooLarge:
        return RequestTooLarge(
            f"the audio file is longer than the limit of {max_seconds:g} seconds", param=param
        )

    with reading(param), open_audio(data, param) as (container, stream):
        rate = int(sample_rate or stream.codec_context.sample_rate)
        check_format(rate, 1, param)
        budget = FrameBudget(rate, max_seconds, too_long, param)
        resampler = av.AudioResampler("flt", "mono", rate)
        parts: list[Float32] = []
        for frame in container.decode(stream):
            budget.admit(frame)
            parts += [out.to_ndarray()[0] for out in resampler.resample(frame)]
        parts += [out.to_ndarray()[0] for out in resampler.resample(None)]
    samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    return samples.astype(np.float32, copy=False), rate
