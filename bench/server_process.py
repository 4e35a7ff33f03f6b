"""A real ``polyvox serve`` subprocess on 127.0.0.1, with its CPU time and memory from /proc."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class ServerProcess:
    """A running server: where it listens and how to read its resource use."""

    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (all its threads)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime

    def memory_mb(self, field: str = "VmRSS") -> float:
        """A memory line of /proc/PID/status in MB of 10^6 bytes (VmRSS now, VmHWM the peak)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024 / 1e6  # the kernel's kB are KiB
        raise KeyError(field)


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"polyvox serve exited with status {process.returncode}")
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"polyvox serve was not ready after {timeout:.0f}s")


@contextmanager
def polyvox_server(
    executable: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
    args: Sequence[str] = (),
    log_path: Path | None = None,
) -> Iterator[ServerProcess]:
    """Start ``polyvox serve`` (``env``: extra POLYVOX_* settings, ``args``: more options) and
    wait until it is ready; its output goes to ``log_path`` (a temporary file when None)."""
    port = free_port()
    command = [str(executable), "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    environment = {**os.environ, **(env or {})}
    with log_path.open("w+b") if log_path else tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, process, timeout)
            yield ServerProcess(url=url, pid=process.pid)
        except Exception:
            log.seek(0)
            print(log.read().decode(errors="replace")[-4000:])
            raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
