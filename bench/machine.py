"""The machine a run happened on, and how much of its CPU other processes took meanwhile."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TICKS = os.sysconf("SC_CLK_TCK")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def describe(server_env: list[str]) -> dict[str, str]:
    """Cores, CPU model, memory, the versions that matter and the server's settings."""
    info = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in info if "model name" in line), "?")
    meminfo = Path("/proc/meminfo").read_text().split()
    memory_gb = int(meminfo[meminfo.index("MemTotal:") + 1]) * 1024 / 1e9
    versions = ", ".join(f"{p} {_version(p)}" for p in ("piper-tts", "onnxruntime", "av"))
    return {
        "Machine": f"nproc {os.cpu_count()}, {model}, {memory_gb:.1f} GB RAM",
        "Software": f"Python {platform.python_version()}, {versions}",
        "polyvox": f"{_version('polyvox')} at commit {_commit()}, "
        + (f"settings {' '.join(server_env)}" if server_env else "default settings"),
    }


def busy_seconds() -> float:
    """CPU seconds all processes on the machine have used since boot (every core)."""
    user, nice, system, _idle, _iowait, irq, softirq = map(
        int, Path("/proc/stat").read_text().split()[1:8]
    )
    return (user + nice + system + irq + softirq) / _TICKS


def own_seconds() -> float:
    """CPU seconds this process (every thread) has used."""
    times = os.times()
    return times.user + times.system


@dataclass
class OtherLoad:
    """CPU taken by processes other than this one and ``server_cpu`` over a stretch of time."""

    start_busy: float
    start_own: float
    start_wall: float

    @classmethod
    def start(cls, server_cpu: float) -> OtherLoad:
        """Begin measuring; ``server_cpu`` is the server's CPU seconds so far."""
        return cls(busy_seconds(), own_seconds() + server_cpu, time.monotonic())

    def cores(self, server_cpu: float) -> float:
        """Average cores the rest of the machine kept busy since ``start``."""
        others = busy_seconds() - self.start_busy - (own_seconds() + server_cpu - self.start_own)
        return max(others, 0.0) / (time.monotonic() - self.start_wall)


def wait_for_quiet(max_wait: float, threshold: float = 0.2, window: float = 1.0) -> float:
    """Wait (up to ``max_wait`` s) until other processes use < ``threshold`` cores for a window.

    The benchmark and the server are idle while this waits, so what is busy is someone else.
    Returns the seconds waited.
    """
    start = time.monotonic()
    while time.monotonic() - start < max_wait:
        before = busy_seconds() - own_seconds()
        time.sleep(window)
        if (busy_seconds() - own_seconds() - before) / window < threshold:
            break
    return time.monotonic() - start


@dataclass
class QuietGate:
    """Waits for a quiet machine before each measurement, within a budget for the whole run.

    On a machine that other work keeps busy, waiting and redoing noisy rounds could go on
    for ever; once ``budget`` seconds are spent, measurements start without waiting.
    """

    max_wait: float
    """Most seconds to wait before one measurement."""
    budget: float
    """Seconds the whole run may spend waiting and redoing noisy rounds."""

    def wait(self) -> None:
        """Wait for other processes to go idle, as long as the budget allows."""
        if self.budget > 0:
            self.budget -= wait_for_quiet(min(self.max_wait, self.budget))

    def redo(self, seconds: float) -> bool:
        """Whether a noisy measurement that took ``seconds`` may be redone (and pay for it)."""
        if seconds > self.budget:
            return False
        self.budget -= seconds
        return True
