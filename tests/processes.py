"""Helpers for tests that run polyvox as a separate process, as users and CI do."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port


def wait_until_ready(
    url: str, proc: subprocess.Popen[Any] | None = None, timeout: float = 90
) -> None:
    """Poll ``url`` until it answers 200; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready in {timeout}s")


def spawn_server(
    env: dict[str, str] | None = None, args: tuple[str, ...] = (), **popen: Any
) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m polyvox serve [args]`` on a free port of 127.0.0.1, waited for until ready."""
    port = free_port()
    environment = {
        **os.environ,
        "POLYVOX_LOG_LEVEL": "warning",
        "POLYVOX_MEMORY_RELEASE_DELAY": str(RELEASE_DELAY),
        **(env or {}),
    }
    command = [sys.executable, "-m", "polyvox", "serve", "--port", str(port), *args]
    proc = subprocess.Popen(command, env=environment, **popen)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{url}/health/ready", proc)
    except RuntimeError:
        proc.kill()
        raise
    return proc, url


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


RELEASE_DELAY = 1.0
"""The servers of the tests give memory back after 1 s idle (``spawn_server``), not the
default 30 s, so a test can wait for it."""


def settled_rss_mb(pid: int, timeout: float = 10.0) -> float:
    """Resident memory once the server has given memory back after its last job.

    Memory goes back on a background thread when a model goes idle; sample until two
    readings half a second apart agree within 1 MiB (or ``timeout`` passes).
    """
    time.sleep(RELEASE_DELAY + 0.5)  # memory goes back once the model has been idle a while
    deadline = time.monotonic() + timeout
    last = rss_mb(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = rss_mb(pid)
        if abs(now - last) < 1:
            return now
        last = now
    return last


def stop(proc: subprocess.Popen[Any], timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if the process is still there after ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
