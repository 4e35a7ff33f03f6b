"""Uploaded audio decoded in bounded blocks: memory per file is one block, whatever its length.

A 645 KB FLAC can hold an hour of silence, 230 MB as 16 kHz float32 and several GB once a
speech model has computed features for all of it. So an upload is first *probed* (its
container opened, its first frame decoded, its declared length checked: cheap, before the
request is admitted), and then decoded a block at a time while it is transcribed. Blocks end
at the quietest moment near their nominal length, so no word is cut in two.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
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


def _undecodable(exc: BaseException) -> UnsupportedAudio:
    # FFmpeg's reason describes the input ("Invalid data found..."); other exceptions
    # PyAV raises on hostile input are internal and stay in the log
    reason = getattr(exc, "strerror", None) if isinstance(exc, av.FFmpegError) else None
    if reason is None:
        log.info("undecodable upload: %s", type(exc).__name__)
    return UnsupportedAudio(
        f"could not decode the audio file: {reason or 'invalid data'}", param="file"
    )


def _declared_seconds(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / av.time_base
    return None


@contextmanager
def open_audio(data: bytes) -> Iterator[tuple[Any, Any]]:
    """The container and its first audio stream; empty or audio-less files are 415s."""
    if not data:
        raise UnsupportedAudio("the audio file is empty", param="file")
    with av.open(io.BytesIO(data), "r") as container:
        if not container.streams.audio:
            raise UnsupportedAudio("the file has no audio stream", param="file")
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
    try:
        with open_audio(data) as (container, stream):
            declared = _declared_seconds(container, stream)
            if declared is not None and declared > max_seconds * _DECLARED_TOLERANCE:
                raise _too_long(max_seconds)
            if next(iter(container.decode(stream)), None) is None:
                raise UnsupportedAudio("the file contains no audio samples", param="file")
    except PolyvoxError:
        raise
    except Exception as exc:
        raise _undecodable(exc) from exc
    return declared


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
        self._max_samples = int(max_seconds * rate)
        self._max_seconds = max_seconds
        self._pending: list[Float32] = []
        self._buffered = 0
        self._decoded = 0
        self._position = 0.0
        self._done = False
        try:
            self._container: Any = av.open(io.BytesIO(data), "r")
            self._frames = self._container.decode(self._container.streams.audio[0])
        except Exception as exc:
            raise _undecodable(exc) from exc
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
        try:
            frame = next(self._frames, None)
            outputs = self._resampler.resample(frame)
        except Exception as exc:
            raise _undecodable(exc) from exc
        if frame is None:
            self._done = True
        for out in outputs:
            samples = out.to_ndarray()[0].astype(np.float32, copy=False)
            self._pending.append(samples)
            self._buffered += len(samples)
            self._decoded += len(samples)
        if self._decoded > self._max_samples:
            raise _too_long(self._max_seconds)

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
