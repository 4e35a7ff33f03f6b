"""Helpers for the attack replays (Hardening 3): a real server with its log captured, its
resident memory watched while an attack runs, its metrics read, and raw Wyoming events."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port
from tests.processes import rss_mb, wait_until_ready

ALICE, BOB = "alice-key", "bob-key"
"""The two API keys the attack servers accept."""
MEMORY_BOUND_MB = 300
"""What one attack may add to the server's resident memory while it runs (README,
security section). Measured after the fixes: under 60 MB for every memory attack."""


@dataclass
class Server:
    """A ``polyvox serve`` process: where it listens and where its log goes."""

    proc: subprocess.Popen[bytes]
    url: str
    wyoming_port: int
    log: Path
    headers: dict[str, str] = field(default_factory=lambda: {"Authorization": f"Bearer {ALICE}"})

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def metric(self, name: str, **labels: str) -> float:
        """A sample of ``/metrics`` (0 when it has none yet)."""
        text = httpx.get(f"{self.url}/metrics", headers=self.headers, timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return float(sample.value)
        return 0.0

    def speak(self, key: str = BOB, text: str = "Hello there.") -> httpx.Response:
        """A normal one-sentence Piper request of ``key``."""
        return httpx.post(
            f"{self.url}/v1/audio/speech",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": "piper", "input": text, "response_format": "wav"},
            timeout=60,
        )


def _limit_descriptors(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


@contextmanager
def attack_server(
    env: dict[str, str] | None = None, fd_limit: int | None = None
) -> Iterator[Server]:
    """``polyvox serve --wyoming`` with keys for ALICE and BOB, its log (level info) in a file."""
    port, wyoming = free_port(), free_port()
    environment = {
        **os.environ,
        "POLYVOX_LOG_LEVEL": "info",
        "POLYVOX_API_KEYS": json.dumps([ALICE, BOB]),
        **(env or {}),
    }
    command = [sys.executable, "-m", "polyvox", "serve", "--port", str(port)]
    command += ["--wyoming", f"tcp://127.0.0.1:{wyoming}"]
    with tempfile.NamedTemporaryFile("wb", suffix=".log", delete=False) as log:
        limit = (lambda: _limit_descriptors(fd_limit)) if fd_limit else None
        proc = subprocess.Popen(
            command, env=environment, stdout=log, stderr=subprocess.STDOUT, preexec_fn=limit
        )
    server = Server(proc, f"http://127.0.0.1:{port}", wyoming, Path(log.name))
    try:
        wait_until_ready(f"{server.url}/health/ready", proc)
        yield server
    finally:
        proc.kill()
        proc.wait(timeout=30)
        server.log.unlink(missing_ok=True)


class PeakRss:
    """Samples a process's resident memory every 20 ms while the ``with`` block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = rss_mb(pid)
        self.peak = self.start
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @property
    def growth(self) -> float:
        """MiB the peak rose above the memory at the start."""
        return self.peak - self.start

    def _sample(self) -> None:
        while not self._done.is_set():
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except (OSError, AssertionError):
                return  # the process is gone
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def wyoming_event(kind: str, data: dict[str, Any] | None = None, payload: bytes = b"") -> bytes:
    """One Wyoming event as the wire carries it (header line, data, payload)."""
    header: dict[str, Any] = {"type": kind}
    body = json.dumps(data).encode() if data else b""
    if body:
        header["data_length"] = len(body)
    if payload:
        header["payload_length"] = len(payload)
    return json.dumps(header).encode() + b"\n" + body + payload


def raise_descriptor_limit(wanted: int) -> None:
    """Let this process open ``wanted`` sockets (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
