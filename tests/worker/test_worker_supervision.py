"""A RunPod worker whose model runs in an engine environment, as the README sets up the
Chatterbox seed's users: behind the SDK's own local API, for a thousand jobs, through a
killed child, and leaving no child behind when it stops.

Piper in the ``core`` environment stands in for Chatterbox in the ``chatterbox`` one: the
worker, its supervised child and the child's log pipe are the same; only the engine is
cheaper. Before the worker's service had a loop of its own, the child's log reader died
with the loop the models were warmed in, the child blocked on a full pipe after ~64 KiB of
log lines, and job ~217 hung.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_environments import ENV_DIR, polyvox
from tests.worker.test_runpod_api import start_worker

pytestmark = [pytest.mark.integration, pytest.mark.slow]
JOBS = 1000
TEXT = "A job for the worker."


@pytest.fixture(scope="module")
def core_env() -> Path:
    """The ``core`` environment (Piper and Whisper), built the way a user builds it."""
    built = polyvox("engines", "install", "core")
    assert built.returncode == 0, built.stderr[-2000:]
    return ENV_DIR / "core"


def worker_env() -> dict[str, str]:
    models = {"piper": {"engine": "piper"}, "piper-env": {"engine": "piper", "environment": "core"}}
    return {
        "POLYVOX_ENV_DIR": str(ENV_DIR),
        "POLYVOX_MODELS": json.dumps(models),
        "POLYVOX_PRELOAD": '["piper-env"]',
        "POLYVOX_WORKER__CHATTERBOX_MODELS": '{"english": "piper-env"}',
        "POLYVOX_LOG_LEVEL": "info",  # the child logs a line per job (its access log)
    }


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def job(url: str, text: str = TEXT) -> dict[str, Any]:
    """One Chatterbox-shaped job (the seed's own field names), synchronously."""
    body = {"input": {"text": text, "model_type": "english"}}
    response = httpx.post(f"{url}/runsync", json=body, timeout=60)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture
def worker(core_env: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    log = tmp_path / "worker.log"
    started: list[subprocess.Popen[bytes]] = []
    urls = start_worker(worker_env(), log, started)
    url = next(urls)
    try:
        yield url, started[0]
    finally:
        urls.close()


def test_a_thousand_jobs_and_a_killed_child(worker: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, proc = worker
    (child,) = children(proc.pid)
    for n in range(JOBS // 2):
        assert job(url)["status"] == "COMPLETED", n
    os.kill(child, signal.SIGKILL)  # mid-run: the next jobs wait for the restarted child
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda _: job(url)["status"], range(JOBS // 2)))
    failed = [n for n, status in enumerate(done) if status != "COMPLETED"]
    # at most the jobs in flight when the child died fail (503: being restarted)
    assert len(failed) <= 2, failed
    assert done[-1] == "COMPLETED"
    (restarted,) = children(proc.pid)
    assert restarted != child


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_a_stopped_worker_leaves_no_child(
    worker: tuple[str, subprocess.Popen[bytes]], how: signal.Signals
) -> None:
    url, proc = worker
    assert job(url)["status"] == "COMPLETED"
    (child,) = children(proc.pid)
    proc.send_signal(how)
    proc.wait(timeout=30)
    assert wait_until(lambda: not alive(child), 10), f"child {child} outlived its worker"
