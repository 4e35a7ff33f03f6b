"""The results of one benchmark run, and the targets they are judged against."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from codec_cost import CodecCost
from runners import Ratios, Stats
from utterance import Utterance

SENTENCE_LABEL, PARAGRAPH, LONG = "sentence", "paragraph", "400 words"


@dataclass(frozen=True)
class Cell:
    """Raw Piper and polyvox on one text at one concurrency."""

    text: str
    concurrency: int
    raw: Stats
    polyvox: Stats
    ratios: Ratios
    other_cores: float = 0.0
    """Mean cores other processes on the machine used during this cell's rounds."""

    @property
    def first_ratio(self) -> float:
        """polyvox time to first audio byte over raw Piper's time to its first sentence."""
        return self.ratios.first_audio

    @property
    def total_ratio(self) -> float:
        """polyvox total latency over raw Piper's."""
        return self.ratios.total

    @property
    def throughput_ratio(self) -> float:
        """polyvox aggregate audio seconds per wall second over raw Piper's."""
        return self.ratios.audio_per_wall


@dataclass(frozen=True)
class Memory:
    """Resident memory of the server process, MB (10^6 bytes)."""

    ready_mb: float
    """After /health/ready (Piper loaded) and one warm-up request."""
    after_mb: float
    """After every measurement."""
    peak_mb: float
    """High-water mark (VmHWM) over the whole run."""


@dataclass(frozen=True)
class Target:
    """One target of the issue: what was measured and whether it passes."""

    name: str
    measured: str
    passed: bool | None
    """None when the run did not measure it (a --quick run)."""

    @property
    def verdict(self) -> str:
        """PASS, FAIL or not measured."""
        return {True: "PASS", False: "FAIL", None: "not measured"}[self.passed]


@dataclass
class BenchRun:
    """Everything one run measured, plus where and how it ran."""

    cells: list[Cell]
    codec: CodecCost | None
    memory: Memory
    machine: dict[str, str]
    command: str
    started: datetime
    elapsed_s: float = 0.0
    load: dict[str, str] = field(default_factory=dict)
    other_cores: float = 0.0
    """Average cores other processes on the machine kept busy while this run measured."""
    quiet_spent: float = 0.0
    """Seconds spent waiting for a quiet machine and redoing noisy rounds."""
    utterance: Utterance | None = None
    """The clause-less sentence with Piper's noise off: polyvox's length against raw's."""
    ws_first_audio_s: float | None = None
    """WebSocket route: first audio after the character that completes the first sentence."""

    def cell(self, text: str, concurrency: int) -> Cell | None:
        """The cell for a text and concurrency, if it was measured."""
        found = [c for c in self.cells if (c.text, c.concurrency) == (text, concurrency)]
        return found[0] if found else None


def _total_target(run: BenchRun, text: str, limit: float) -> Target:
    cell = run.cell(text, 1)
    return Target(
        f"{text}, concurrency 1: total latency <= {limit:.2f}x raw Piper",
        f"{cell.total_ratio:.3f}x" if cell else "-",
        cell.total_ratio <= limit if cell else None,
    )


def _first_audio_target(run: BenchRun, text: str) -> Target:
    cell = run.cell(text, 1)
    return Target(
        f"{text}, concurrency 1: time to first audio <= 0.5x raw Piper's",
        f"{cell.polyvox.first_audio_s:.3f} s vs {cell.raw.first_audio_s:.3f} s "
        f"({cell.first_ratio:.3f}x)"
        if cell
        else "-",
        cell.first_ratio <= 0.5 if cell else None,
    )


def _latency_targets(run: BenchRun) -> list[Target]:
    return [
        _total_target(run, SENTENCE_LABEL, 1.10),
        _total_target(run, PARAGRAPH, 1.05),
        _total_target(run, LONG, 1.05),
        _first_audio_target(run, PARAGRAPH),
        _first_audio_target(run, LONG),
    ]


def _throughput_target(run: BenchRun) -> Target:
    cells = [c for c in run.cells if c.concurrency == 4]
    measured = ", ".join(f"{c.text} {c.throughput_ratio:.3f}x" for c in cells) or "-"
    passed = all(c.throughput_ratio >= 0.95 for c in cells) if cells else None
    name = "audio seconds per wall second at concurrency 4 >= 0.95x raw Piper (every text)"
    return Target(name, measured, passed)


def _utterance_targets(run: BenchRun) -> list[Target]:
    one, sentence = run.utterance, run.cell(SENTENCE_LABEL, 1)
    ws = run.ws_first_audio_s
    http = (
        f"; the same sentence over HTTP: {sentence.polyvox.first_audio_s:.3f} s" if sentence else ""
    )
    return [
        Target(
            "a 12-word sentence without punctuation is one utterance: length within 1% of "
            "raw Piper's (noise off)",
            f"{one.polyvox_s:.3f} s vs {one.raw_s:.3f} s ({one.ratio:.4f}x)" if one else "-",
            abs(one.ratio - 1) <= 0.01 if one else None,
        ),
        Target(
            "WebSocket: first audio after the first sentence's last character arrives",
            f"{ws:.3f} s (median){http}" if ws is not None else "-",
            True if ws is not None else None,
        ),
    ]


def targets(run: BenchRun) -> list[Target]:
    """The targets of the issues, judged on this run."""
    codec, memory = run.codec, run.memory
    rss = max(memory.ready_mb, memory.after_mb)
    return [
        *_latency_targets(run),
        _throughput_target(run),
        *_utterance_targets(run),
        Target(
            "mp3 costs <= 10% more server CPU than wav (per audio second)",
            f"{codec.server_ratio:.3f}x" if codec else "-",
            codec.server_ratio <= 1.10 if codec else None,
        ),
        Target(
            "resident memory with Piper loaded < 400 MB",
            f"{rss:.0f} MB (peak {memory.peak_mb:.0f} MB)",
            rss < 400,
        ),
    ]
