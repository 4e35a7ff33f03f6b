"""Fixtures shared by integration modules: the XTTS gateway (a tiny checkpoint served by a
supervised worker in the ``xtts`` engine environment), started once per session."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyvox.settings import ModelConfig, Settings
from polyvox.testing.xtts import TINY_VERSION
from tests.conftest import LiveServer
from tests.integration.test_environments import ENV_DIR, polyvox, serve_with_environments
from tests.samples import sine_wav

XTTS_TINY_DIR = ENV_DIR.parent / "tiny" / "xtts"


@pytest.fixture(scope="session")
def xtts_checkpoint() -> Path:
    """``polyvox engines install xtts``, then the tiny checkpoint (minutes on a fresh clone)."""
    built = polyvox("engines", "install", "xtts")
    assert built.returncode == 0, built.stderr[-2000:]
    marker = XTTS_TINY_DIR / "polyvox-tiny.json"
    if marker.is_file() and json.loads(marker.read_text()).get("version") == TINY_VERSION:
        return XTTS_TINY_DIR
    python = ENV_DIR / "xtts" / "bin" / "python"
    written = subprocess.run(
        [str(python), "-m", "polyvox.testing", "xtts", str(XTTS_TINY_DIR)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert written.returncode == 0, written.stderr[-3000:]
    return XTTS_TINY_DIR


@pytest.fixture(scope="session")
def xtts_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The XTTS gateway's files: its configured voice and its conditioning cache."""
    return tmp_path_factory.mktemp("xtts")


@pytest.fixture(scope="session")
def xtts_gateway(xtts_checkpoint: Path, xtts_folder: Path) -> Iterator[LiveServer]:
    """A gateway serving ``xtts`` from a supervised worker (and Piper in-process)."""
    voices = []
    for i, freq in enumerate((180.0, 240.0)):  # one voice, two reference files
        path = xtts_folder / f"duo-{i}.wav"
        path.write_bytes(sine_wav(2.0, 22050, freq))
        voices.append(str(path))
    models = {
        "piper": ModelConfig(engine="piper"),
        "xtts": ModelConfig(
            engine="xtts", environment="xtts", checkpoint=str(xtts_checkpoint),
            conditioning_dir=str(xtts_folder / "conditioning"), voices={"duo": voices},
        ),
    }  # fmt: skip
    settings = Settings(models=models, preload=["piper"], request_timeout=600)
    yield from serve_with_environments(settings)
