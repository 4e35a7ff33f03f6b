"""What mp3 costs over wav: server CPU per audio second, and the encoders alone."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

from machine import QuietGate
from polyvox import codecs
from runners import PolyvoxClient
from server_process import ServerProcess

FORMATS = ("wav", "mp3")
_SETTLE_S = 0.5  # onnxruntime's worker threads spin briefly after a run; count that for both


@dataclass(frozen=True)
class CodecCost:
    """CPU seconds per second of audio, by response format."""

    text: str
    """Label of the text sent."""

    server: dict[str, float]
    """Whole server process (synthesis + encoding + HTTP), per format."""
    encoder: dict[str, float]
    """The polyvox encoder alone on the same audio, per format."""
    requests: int
    """Requests per format the server figures are summed over."""
    server_ratio: float
    """Median over back-to-back (wav, mp3) pairs of mp3's over wav's server CPU per audio s."""

    @property
    def encoder_share(self) -> float:
        """Extra CPU of the mp3 encoder over the wav one, as a fraction of the wav server CPU."""
        return (self.encoder["mp3"] - self.encoder["wav"]) / self.server["wav"]


@dataclass(frozen=True)
class _Response:
    cpu_s: float
    samples: np.ndarray
    rate: int

    @property
    def audio_s(self) -> float:
        return len(self.samples) / self.rate

    @property
    def cpu_per_audio_s(self) -> float:
        return self.cpu_s / self.audio_s


def _request(
    server: ServerProcess, client: PolyvoxClient, text: str, fmt: str, gate: QuietGate
) -> _Response:
    gate.wait()
    before = server.cpu_seconds()
    data = client.fetch(text, fmt)
    time.sleep(_SETTLE_S)
    cpu = server.cpu_seconds() - before
    samples, rate = codecs.decode(data)
    return _Response(cpu, samples, rate)


def _encoder_cpu(fmt: str, samples: np.ndarray, rate: int, repeats: int = 3) -> float:
    """Best-of-``repeats`` thread CPU seconds to encode ``samples`` in 2-second chunks."""
    best = float("inf")
    step = 2 * rate
    for _ in range(repeats):
        start = time.thread_time()
        encoder = codecs.create_encoder(fmt, rate, codecs.output_rate(fmt, rate))
        for i in range(0, len(samples), step):
            encoder.encode(samples[i : i + step])
        encoder.finish()
        best = min(best, time.thread_time() - start)
    return best


def measure_codec_cost(
    server: ServerProcess,
    client: PolyvoxClient,
    label: str,
    text: str,
    *,
    repeats: int,
    gate: QuietGate,
) -> CodecCost:
    """Send ``text`` ``repeats`` times per format, alternating which format goes first."""
    pairs: list[dict[str, _Response]] = []
    for i in range(repeats):
        pair = {}
        for fmt in FORMATS if i % 2 == 0 else FORMATS[::-1]:
            pair[fmt] = _request(server, client, text, fmt, gate)
        pairs.append(pair)
    wav = pairs[-1]["wav"]
    encoder = {fmt: _encoder_cpu(fmt, wav.samples, wav.rate) / wav.audio_s for fmt in FORMATS}
    server_cost = {
        fmt: sum(p[fmt].cpu_s for p in pairs) / sum(p[fmt].audio_s for p in pairs)
        for fmt in FORMATS
    }
    ratio = statistics.median(p["mp3"].cpu_per_audio_s / p["wav"].cpu_per_audio_s for p in pairs)
    return CodecCost(label, server_cost, encoder, repeats, ratio)
