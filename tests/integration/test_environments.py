"""Engine environments for real: ``polyvox engines install kokoro`` builds one, and a model
placed in it is served by a supervised worker process, restarted and stopped as needed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from polyvox.settings import ModelConfig, Settings
from tests.conftest import LiveServer, start_server
from tests.integration.test_streaming import wait_for
from tests.processes import spawn_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ENV_DIR = Path(os.environ.get("POLYVOX_TEST_ENV_DIR", Path.home() / ".cache/polyvox/test/envs"))
"""Engine environments of the tests (and their tiny checkpoints beside them): outside the
checkout, so a machine that keeps its home between runs reuses what is up to date."""
POLYVOX = str(Path(sys.executable).parent / "polyvox")
TEXT = "Hello from the kokoro environment."
LONG = "One, two, three, four, five. Six, seven, eight, nine, ten. " * 3


def polyvox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [POLYVOX, *args, "--env-dir", str(ENV_DIR)], capture_output=True, text=True, timeout=900
    )


def serve_with_environments(settings: Settings) -> Iterator[LiveServer]:
    """A live server whose models in engine environments find them under ENV_DIR."""
    os.environ["POLYVOX_ENV_DIR"] = str(ENV_DIR)
    try:
        yield from start_server(settings)
    finally:
        os.environ.pop("POLYVOX_ENV_DIR", None)


@pytest.fixture(scope="module")
def kokoro_env() -> Path:
    """The kokoro environment, built (or brought up to date) the way a user builds it."""
    built = polyvox("engines", "install", "kokoro")
    assert built.returncode == 0, built.stderr[-2000:]
    return ENV_DIR / "kokoro"


@pytest.fixture(scope="module")
def gateway(kokoro_env: Path) -> Iterator[LiveServer]:
    models = {
        "kokoro": ModelConfig(engine="kokoro"),
        "kokoro-env": ModelConfig(engine="kokoro", environment="kokoro"),
        "piper": ModelConfig(engine="piper"),
    }
    yield from serve_with_environments(Settings(models=models, preload=["piper"], model_ttl=2))


def speak(server: LiveServer, model: str, text: str = TEXT) -> httpx.Response:
    body = {"model": model, "input": text, "response_format": "wav"}
    return httpx.post(f"{server.url}/v1/audio/speech", json=body, timeout=300)


def inflight(server: LiveServer) -> float:
    return server.state.service.metrics.value("polyvox_inflight_jobs", model="kokoro-env")


def worker(server: LiveServer):  # type: ignore[no-untyped-def]
    return server.state.service.pool.engine("kokoro-env")


def test_list_and_doctor_describe_the_environment(kokoro_env: Path, tmp_path: Path) -> None:
    listed = polyvox("engines", "list")
    assert listed.returncode == 0
    line = next(x for x in listed.stdout.splitlines() if x.startswith("kokoro\t"))
    assert "kokoro-onnx==" in line
    assert "polyvox==" in line
    assert "\tcpu\t" in line
    doctor = polyvox("engines", "doctor", "kokoro")
    assert doctor.returncode == 0, doctor.stderr
    assert "kokoro: loaded in" in doctor.stdout
    assert str(kokoro_env) in doctor.stdout  # it ran the environment's own interpreter
    # an environment root where nothing is built (the tests' own has "core": the worker's)
    nowhere = [POLYVOX, "engines", "doctor", "core", "--env-dir", str(tmp_path)]
    missing = subprocess.run(nowhere, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1
    assert "polyvox engines install core" in missing.stderr
    again = polyvox("engines", "install", "kokoro")  # built from the same lock: left alone
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"kokoro is up to date in {kokoro_env}"


def test_the_environment_gives_the_same_samples_as_in_process(gateway: LiveServer) -> None:
    here = speak(gateway, "kokoro")
    through = speak(gateway, "kokoro-env")
    assert worker(gateway).process.returncode is None  # checked before its 2 s idle TTL
    assert through.status_code == here.status_code == 200, through.text
    assert through.content == here.content
    assert any("loaded model kokoro-env" in line for line in worker(gateway)._recent)


def test_a_killed_worker_is_a_503_then_restarted(
    gateway: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the 2 s idle TTL would otherwise unload the model while its worker restarts (on a
    # slow machine a start takes longer than that), and an unloaded model is not restarted
    monkeypatch.setattr(gateway.state.service.pool, "_ttl", 300.0)
    assert speak(gateway, "kokoro-env").status_code == 200
    engine = worker(gateway)
    pid, restarts = engine.process.pid, engine.restarts
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(speak, gateway, "kokoro-env", LONG)
        # its first phrase takes over a second here: kill the worker while it works on it
        assert wait_for(lambda: engine.process.pid == pid and inflight(gateway) == 1, 10)
        time.sleep(0.3)
        os.kill(pid, signal.SIGKILL)
        r = pending.result()
    assert r.status_code == 503, r.text
    assert "restarted" in r.json()["error"]["message"]
    assert speak(gateway, "piper").status_code == 200  # other models never noticed
    assert speak(gateway, "kokoro-env").status_code == 200  # waits for the restart
    assert engine.restarts == restarts + 1
    assert engine.process.pid != pid


def test_an_idle_worker_stops_and_starts_again_on_demand(gateway: LiveServer) -> None:
    assert speak(gateway, "kokoro-env").status_code == 200
    engine = worker(gateway)
    first = engine.process
    assert wait_for(lambda: first.returncode is not None, timeout=20), "never stopped"
    assert "kokoro-env" not in gateway.state.service.pool.loaded()
    assert speak(gateway, "kokoro-env").status_code == 200
    assert engine.process is not first
    assert engine.process.returncode is None


def test_a_worker_stops_when_its_server_is_killed(kokoro_env: Path) -> None:
    """A gateway killed outright cannot stop its workers: they notice and stop themselves."""
    models = '{"kokoro-env": {"engine": "kokoro", "environment": "kokoro"}}'
    env = {
        "POLYVOX_ENV_DIR": str(ENV_DIR), "POLYVOX_MODELS": models,
        "POLYVOX_PRELOAD": '["kokoro-env"]', "POLYVOX_DEFAULT_TTS_MODEL": "kokoro-env",
    }  # fmt: skip
    gateway, _ = spawn_server(env)
    tasks = Path(f"/proc/{gateway.pid}/task").glob("*/children")
    children = [pid for task in tasks for pid in task.read_text().split()]
    workers = [int(pid) for pid in children if "serve" in Path(f"/proc/{pid}/cmdline").read_text()]
    assert len(workers) == 1, children
    gateway.kill()
    gateway.wait(timeout=30)
    assert wait_for(lambda: not Path(f"/proc/{workers[0]}").exists(), timeout=30), "orphaned"
