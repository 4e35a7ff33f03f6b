"""The results of one benchmark run, and the targets they are judged against."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from codec_cost import CodecCost
from runners import Ratios, Stats

PARAGRAPH, LONG = "paragraph", "400 words"


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

    def cell(self, text: str, concurrency: int) -> Cell | None:
        """The cell for a text and concurrency, if it was measured."""
        found = [c for c in self.cells if (c.text, c.concurrency) == (text, concurrency)]
        return found[0] if found else None


def _latency_targets(run: BenchRun) -> list[Target]:
    para, long = run.cell(PARAGRAPH, 1), run.cell(LONG, 1)
    return [
        Target(
            "80-word paragraph as wav: total latency <= 1.10x raw Piper",
            f"{para.total_ratio:.3f}x" if para else "-",
            para.total_ratio <= 1.10 if para else None,
        ),
        Target(
            "400-word text: time to first audio byte <= raw Piper's time to its first sentence",
            f"{long.polyvox.first_audio_s:.3f} s vs {long.raw.first_audio_s:.3f} s "
            f"({long.first_ratio:.3f}x)"
            if long
            else "-",
            long.first_ratio <= 1.0 if long else None,
        ),
    ]


def _throughput_target(run: BenchRun) -> Target:
    cells = [c for c in run.cells if c.concurrency == 4]
    measured = ", ".join(f"{c.text} {c.throughput_ratio:.3f}x" for c in cells) or "-"
    passed = all(c.throughput_ratio >= 0.95 for c in cells) if cells else None
    name = "audio seconds per wall second at concurrency 4 >= 0.95x raw Piper (every text)"
    return Target(name, measured, passed)


def targets(run: BenchRun) -> list[Target]:
    """The five targets of the issue, judged on this run."""
    codec, memory = run.codec, run.memory
    rss = max(memory.ready_mb, memory.after_mb)
    return [
        *_latency_targets(run),
        _throughput_target(run),
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
