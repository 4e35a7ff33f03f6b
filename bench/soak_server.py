"""The soak's view of the server: its metrics (jobs in flight, statuses by route, errors by
code), its settled memory and open descriptors, and the problems in its log."""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from server_process import ServerProcess

LOG_PROBLEMS = re.compile(r"Traceback|\bERROR\b|\bCRITICAL\b|never retrieved|Exception in")


def samples(url: str, key: str, name: str | None = None) -> list[Sample]:
    """The samples called ``name`` (every sample when None) of ``/metrics``."""
    text = httpx.get(
        f"{url}/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=10
    ).raise_for_status()
    return [
        sample
        for family in text_string_to_metric_families(text.text)
        for sample in family.samples
        if name is None or sample.name == name
    ]


def by_label(url: str, key: str, name: str, label: str) -> dict[str, float]:
    """A metric's samples summed by one of its labels."""
    found: dict[str, float] = {}
    for sample in samples(url, key, name):
        value = sample.labels.get(label, "")
        found[value] = found.get(value, 0.0) + sample.value
    return found


@dataclass(frozen=True)
class Counters:
    """The server's counters at one moment (or their growth between two): requests by
    (route, status), errors by code, and by model the sums and counts of the wait for a
    synthesis slot (per chunk) and of the time to first audio (per job)."""

    statuses: Counter[tuple[str, str]]
    errors: Counter[str]
    waits: dict[str, float]
    """``queue/MODEL`` and ``first/MODEL`` seconds; ``... n`` the counts."""
    cancelled: int = 0
    """Jobs stopped before their end (``polyvox_jobs_cancelled_total``, every model)."""

    @classmethod
    def read(cls, url: str, key: str) -> Counters:
        statuses: Counter[tuple[str, str]] = Counter()
        errors: Counter[str] = Counter()
        waits: dict[str, float] = {}
        cancelled = 0
        for sample in samples(url, key):
            labels = sample.labels
            if sample.name == "polyvox_requests_total":
                statuses[labels["route"], labels["status"]] += int(sample.value)
            elif sample.name == "polyvox_errors_total":
                errors[labels["code"]] += int(sample.value)
            elif sample.name == "polyvox_jobs_cancelled_total":
                cancelled += int(sample.value)
            elif (kind := HISTOGRAMS.get(sample.name.rsplit("_", 1)[0])) is not None:
                suffix = " n" if sample.name.endswith("_count") else ""
                if sample.name.endswith(("_sum", "_count")):
                    name = f"{kind}/{labels['model']}{suffix}"
                    waits[name] = waits.get(name, 0.0) + sample.value
        return cls(statuses, errors, waits, cancelled)

    def since(self, earlier: Counters) -> Counters:
        """What grew since ``earlier``."""
        return Counters(
            self.statuses - earlier.statuses,
            self.errors - earlier.errors,
            {k: v - earlier.waits.get(k, 0.0) for k, v in self.waits.items()},
            self.cancelled - earlier.cancelled,
        )

    def mean(self, kind: str, model: str) -> float:
        """Mean seconds of ``queue`` waits or ``first`` audio for ``model`` (nan: none)."""
        count = self.waits.get(f"{kind}/{model} n", 0.0)
        return self.waits.get(f"{kind}/{model}", 0.0) / count if count else float("nan")


HISTOGRAMS = {
    "polyvox_queue_wait_seconds": "queue",
    "polyvox_time_to_first_audio_seconds": "first",
}


def drain(url: str, key: str, timeout: float) -> tuple[dict[str, float], float]:
    """(jobs in flight by model, seconds waited) once none is left or ``timeout`` s passed."""
    started = time.monotonic()
    while True:
        jobs = by_label(url, key, "polyvox_inflight_jobs", "model")
        if not any(jobs.values()) or time.monotonic() - started >= timeout:
            return jobs, time.monotonic() - started
        time.sleep(0.2)


def route_transport(route: str) -> str:
    """The transport of one of the server's ``route`` labels."""
    if route.startswith("wyoming"):
        return "Wyoming"
    return "WebSocket" if route.endswith("/speech/stream") else "HTTP"


def descriptors(pid: int) -> int:
    """Open file descriptors of a process."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def settle_descriptors(pid: int, most: int, timeout: float) -> tuple[int, float]:
    """(open descriptors, seconds waited) once at most ``most`` or after ``timeout`` s."""
    started = time.monotonic()
    while (count := descriptors(pid)) > most and time.monotonic() - started < timeout:
        time.sleep(0.2)
    return count, time.monotonic() - started


def settled_rss(server: ServerProcess, timeout: float, window: float = 1.0) -> float:
    """RSS in MB (10^6 bytes) once two readings ``window`` s apart agree within 1 MB, as in
    tests/processes.py's settled_rss_mb (or after ``timeout`` s)."""
    deadline, last = time.monotonic() + timeout, server.memory_mb()
    while time.monotonic() < deadline:
        time.sleep(window)
        previous, last = last, server.memory_mb()
        if abs(last - previous) < 1:
            break
    return last


def log_problems(path: Path) -> list[str]:
    """Lines of the server's log that report an error or a traceback."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return [line for line in text.splitlines() if LOG_PROBLEMS.search(line)]
