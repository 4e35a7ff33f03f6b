"""Uploaded audio decoded in bounded blocks: memory per file is one block, whatever its length.

A 645 KB FLAC can hold an hour of silence, 230 MB as 16 kHz float32 and several GB once a
speech model has computed features for all of it. So an upload is first *probed* (its
container opened, its first frame decoded, its declared length checked: cheap, before the
request is admitted), and then decoded a block at a time while it is transcribed. Blocks end
at the quietest moment near their nominal length, so no word is cut in two.

Lengths can also hide: one 65,535-sample FLAC frame at 32 Hz is 34 minutes, 131 MB once
resampled to 16 kHz, and no header need say so. So every decode here checks each frame
before resampling it (``FrameBudget``): its sample rate and channels against sane bounds,
what it would make, and the running length against the caller's limit.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

from polyvox.audio import Float32
from polyvox.errors import PolyvoxError, RequestTooLarge, UnsupportedAudio

log = logging.getLogger(__name__)
_DECLARED_TOLERANCE = 1.1
"""Declared lengths can be estimates (an MP3 without a Xing header); decoding checks exactly."""
_QUIET_FRAME_SECONDS = 0.02
_QUIET_SEARCH_SECONDS = 5.0
MIN_RATE = 4_000
"""Lowest sample rate decoded (Hz). No speech-bearing audio is sampled lower (telephones use
8 kHz), and with it up-sampling to 24 kHz is at most 6x: one 65,535-sample FLAC frame (the
largest) makes 393,210 samples, 1.5 MB of float32."""
MAX_RATE = 768_000
"""Highest sample rate decoded (Hz): the highest any recorder or codec writes."""
MAX_CHANNELS = 64
"""Most channels decoded (libswresample mixes no more)."""
MAX_FRAME_SAMPLES = 1 << 20
"""Most samples one decoded frame may make once resampled (4 MiB of float32): real codecs'
frames make at most a few hundred thousand within the sample-rate bounds."""


@dataclass(frozen=True)
class Block:
    """A stretch of decoded audio and where it starts in the file."""

    start: float
    samples: Float32
    rate: int

    @property
    def end(self) -> float:
        """Seconds from the file's start to this block's end."""
        return self.start + len(self.samples) / self.rate


def _too_long(max_seconds: float) -> RequestTooLarge:
    return RequestTooLarge(
        f"the audio file is longer than the limit of {max_seconds:g} seconds "
        "(POLYVOX_MAX_AUDIO_SECONDS)",
        param="file",
    )


def _undecodable(exc: BaseException, param: str = "file") -> UnsupportedAudio:
    # FFmpeg's reason describes the input ("Invalid data found..."); other exceptions
    # PyAV raises on hostile input are internal and stay in the log
    reason = getattr(exc, "strerror", None) if isinstance(exc, av.FFmpegError) else None
    if reason is None:
        log.info("undecodable upload: %s", type(exc).__name__)
    return UnsupportedAudio(
        f"could not decode the audio file: {reason or 'invalid data'}", param=param
    )


@contextmanager
def reading(param: str = "file") -> Iterator[None]:
    """Errors PyAV raises on bad input become 415s naming ``param``; polyvox's own pass."""
    try:
        yield
    except PolyvoxError:
        raise
    except Exception as exc:
        raise _undecodable(exc, param) from exc


def check_format(rate: int, channels: int, param: str = "file") -> None:
    """A 415 for a sample rate outside ``MIN_RATE``-``MAX_RATE`` or too many channels."""
    if not MIN_RATE <= rate <= MAX_RATE:
        raise UnsupportedAudio(
            f"the audio's sample rate is {rate} Hz; polyvox reads {MIN_RATE} to {MAX_RATE} Hz",
            param=param,
        )
    if channels > MAX_CHANNELS:
        raise UnsupportedAudio(
            f"the audio has {channels} channels; polyvox reads at most {MAX_CHANNELS}",
            param=param,
        )


class FrameBudget:
    """Checks every decoded frame *before* it is resampled to ``rate`` (None: its own rate):
    its format (``check_format``), what it would make (at most ``MAX_FRAME_SAMPLES``), and
    the length so far, raising ``too_long()`` once that passes ``max_seconds``."""

    def __init__(
        self,
        rate: int | None,
        max_seconds: float | None,
        too_long: Callable[[], PolyvoxError],
        param: str = "file",
    ) -> None:
        self.rate = rate
        self.max_seconds = max_seconds
        self.seconds = 0.0
        """Seconds of audio admitted so far."""
        self._too_long = too_long
        self._param = param

    def admit(self, frame: Any) -> None:
        """Check one decoded frame and count its length; raises a PolyvoxError if refused."""
        rate = int(frame.sample_rate)
        check_format(rate, frame.layout.nb_channels, self._param)
        made = math.ceil(frame.samples * (self.rate or rate) / rate)
        if made > MAX_FRAME_SAMPLES:
            raise UnsupportedAudio(
                f"a frame of the audio holds {frame.samples} samples at {rate} Hz; "
                f"polyvox reads frames of at most {MAX_FRAME_SAMPLES} samples once resampled",
                param=self._param,
            )
        self.seconds += frame.samples / rate
        if self.max_seconds is not None and self.seconds > self.max_seconds:
            raise self._too_long()


def _declared_seconds(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / av.time_base
    return None


@contextmanager
def open_audio(data: bytes, param: str = "file") -> Iterator[tuple[Any, Any]]:
    """The container and its first audio stream; empty or audio-less files are 415s."""
    if not data:
        raise UnsupportedAudio("the audio file is empty", param=param)
    with av.open(io.BytesIO(data), "r") as container:
        if not container.streams.audio:
            raise UnsupportedAudio("the file has no audio stream", param=param)
        yield container, container.streams.audio[0]


def probe(data: bytes, *, max_bytes: int, max_seconds: float) -> float | None:
    """Check an upload without decoding it all; returns its declared length, if it has one.

    Empty, undecodable or audio-less files are 415; files over ``max_bytes`` or declaring
    more than ``max_seconds`` are 413.
    """
    if len(data) > max_bytes:
        raise RequestTooLarge(
            f"the file is {len(data)} bytes; the limit is {max_bytes}", param="file"
        )
    with reading(), open_audio(data) as (container, stream):
        declared = _declared_seconds(container, stream)
        if declared is not None and declared > max_seconds * _DECLARED_TOLERANCE:
            raise _too_long(max_seconds)
        first = next(iter(container.decode(stream)), None)
        if first is None:
            raise UnsupportedAudio("the file contains no audio samples", param="file")
        check_format(first.sample_rate, first.layout.nb_channels)
    return declared


def measure(data: bytes, *, max_seconds: float, param: str = "file") -> float:
    """Seconds of audio in a file, decoded a frame at a time and kept nowhere; stops with
    RequestTooLarge as soon as it passes ``max_seconds``. Bad input is a 415 naming ``param``."""

    def too_long() -> RequestTooLarge:
        return RequestTooLarge(f"the audio is longer than {max_seconds:g} seconds", param=param)

    budget = FrameBudget(None, max_seconds, too_long, param)
    with reading(param), open_audio(data, param) as (container, stream):
        for frame in container.decode(stream):
            budget.admit(frame)
    return budget.seconds


def quiet_cut(samples: Float32, target: int, rate: int) -> int:
    """The index to end a block at: the quietest 20 ms in the 5 s before ``target``."""
    frame = max(1, int(rate * _QUIET_FRAME_SECONDS))
    search = min(target, int(rate * _QUIET_SEARCH_SECONDS)) // frame * frame
    if search < frame:
        return target
    region = samples[target - search : target].reshape(-1, frame)
    energy = np.einsum("ij,ij->i", region, region)
    return target - search + int(np.argmin(energy)) * frame + frame // 2


class BlockDecoder:
    """Iterates over an upload as mono float32 blocks of at most ``block_seconds``.

    Each ``next()`` decodes only as far as the block needs; call ``close()`` when done.
    """

    def __init__(self, data: bytes, *, rate: int, block_seconds: float, max_seconds: float):
        self.rate = rate
        self._block = max(1, int(block_seconds * rate))
        self._budget = FrameBudget(rate, max_seconds, lambda: _too_long(max_seconds))
        self._pending: list[Float32] = []
        self._buffered = 0
        self._position = 0.0
        self._done = False
        with reading():
            self._container: Any = av.open(io.BytesIO(data), "r")
            self._frames = self._container.decode(self._container.streams.audio[0])
        self._resampler = av.AudioResampler("flt", "mono", rate)

    def __iter__(self) -> BlockDecoder:
        return self

    def __next__(self) -> Block:
        while not self._done and self._buffered < self._block:
            self._pull()
        if not self._buffered:
            self.close()
            raise StopIteration
        audio = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        cut = len(audio) if len(audio) <= self._block else quiet_cut(audio, self._block, self.rate)
        rest = audio[cut:]
        self._pending = [rest] if len(rest) else []
        self._buffered = len(rest)
        block = Block(self._position, np.ascontiguousarray(audio[:cut]), self.rate)
        self._position = block.end
        return block

    def _pull(self) -> None:
        """Decode one frame, check it (``FrameBudget``), and only then resample it."""
        with reading():
            frame = next(self._frames, None)
            if frame is None:
                self._done = True
            else:
                self._budget.admit(frame)
            outputs = self._resampler.resample(frame)
        for out in outputs:
            samples = out.to_ndarray()[0].astype(np.float32, copy=False)
            self._pending.append(samples)
            self._buffered += len(samples)

    def close(self) -> None:
        """Release the container (idempotent)."""
        self._done = True
        self._pending = []
        self._buffered = 0
        self._container.close()


def read_mono(data: bytes, rate: int, seconds: float, *, param: str = "file") -> Float32:
    """The first ``seconds`` of an audio file as mono float32 at ``rate`` (the rest unread);
    an undecodable file is a 415 naming ``param``."""
    try:
        decoder = BlockDecoder(data, rate=rate, block_seconds=seconds, max_seconds=seconds + 60)
        try:
            block = next(decoder, None)
        finally:
            decoder.close()
    except UnsupportedAudio as exc:
        raise UnsupportedAudio(exc.message, param=param) from None
    return np.zeros(0, np.float32) if block is None else block.samples[: int(seconds * rate)]
