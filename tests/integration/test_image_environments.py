"""Every image whose command is the RunPod worker carries what that command imports.

Docker does not run here, so each such image's environment is built the way its
Dockerfile builds it: polyvox with the image's own ``EXTRAS`` (CPU torch in place of the
image's CUDA torch, as every engine environment on this machine), and then the worker's
command runs in it as the image's build step does: ``python -m polyvox.worker.runpod
--warm-only`` loads the models (tiny checkpoints here) and imports the RunPod SDK. The
Chatterbox and XTTS images used to lack the ``runpod`` extra: their documented worker
command warmed the models and then failed with ``No module named 'runpod'``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from polyvox.engines.families import FAMILIES
from polyvox.placement import environments
from tests.integration.test_chatterbox import tiny
from tests.integration.test_environments import ENV_DIR, polyvox
from tests.unit.test_containers import DOCKERFILES, instructions

pytestmark = [pytest.mark.integration, pytest.mark.slow]
WORKER = "polyvox.worker.runpod"
WORKER_IMAGES = [p for p in DOCKERFILES if WORKER in p.read_text(encoding="utf-8")]
"""Images whose command, or documented start command, is the worker."""


def image_extras(dockerfile: Path) -> tuple[str, ...]:
    """The extras the image installs (``ARG EXTRAS=...``, used by ``pip install .[...]``)."""
    for name, args in instructions(dockerfile):
        if name == "ARG" and args.startswith("EXTRAS="):
            return tuple(args.removeprefix("EXTRAS=").split(","))
    raise AssertionError(f"{dockerfile.name} declares no EXTRAS")


def split(extras: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The engine family whose extra the image installs, and the image's other extras."""
    found = [f for f in FAMILIES.values() if f.extra in extras]
    family = next((f for f in found if f.torch), found[0] if found else None)
    assert family is not None, f"no engine family among {extras}"
    return family.name, tuple(e for e in extras if e != family.extra)


def piper_models(_: Path) -> dict[str, str]:
    return {"POLYVOX_PRELOAD": '["piper"]', "POLYVOX_PIPER__USE_CUDA": "false"}


def chatterbox_models(family_env: Path) -> dict[str, str]:
    checkpoint = tiny(family_env, "chatterbox-en", False)
    models = {"chatterbox": {"engine": "chatterbox", "checkpoint": str(checkpoint)}}
    return {
        "POLYVOX_MODELS": json.dumps(models),
        "POLYVOX_PRELOAD": '["chatterbox"]',
        "POLYVOX_WORKER__CHATTERBOX_MODELS": '{"english": "chatterbox"}',
    }


def xtts_models(family_env: Path) -> dict[str, str]:
    from tests.integration.conftest import XTTS_TINY_DIR

    python = family_env / "bin" / "python"
    if not (XTTS_TINY_DIR / "polyvox-tiny.json").is_file():
        command = [str(python), "-m", "polyvox.testing", "xtts", str(XTTS_TINY_DIR)]
        written = subprocess.run(command, capture_output=True, text=True, timeout=900)
        assert written.returncode == 0, written.stderr[-3000:]
    models = {"xtts": {"engine": "xtts", "checkpoint": str(XTTS_TINY_DIR)}}
    return {
        "POLYVOX_MODELS": json.dumps(models),
        "POLYVOX_PRELOAD": '["xtts"]',
        "POLYVOX_WORKER__XTTS_MODEL": "xtts",
    }


MODELS: dict[str, Callable[[Path], dict[str, str]]] = {
    "core": piper_models,
    "chatterbox": chatterbox_models,
    "xtts": xtts_models,
}
"""The models each family's image warms, as tiny stand-ins for its real weights."""


def test_the_worker_images_are_the_runpod_chatterbox_and_xtts_ones() -> None:
    names = [p.name for p in WORKER_IMAGES]
    assert names == ["Dockerfile.chatterbox", "Dockerfile.runpod", "Dockerfile.xtts"]


@pytest.mark.parametrize("dockerfile", WORKER_IMAGES, ids=lambda p: p.name)
def test_the_worker_command_runs_in_an_environment_of_the_images_extras(
    dockerfile: Path, tmp_path: Path
) -> None:
    family, extras = split(image_extras(dockerfile))
    assert polyvox("engines", "install", family).returncode == 0  # the tiny models' writer
    env = environments.install(family, ENV_DIR, log=False, extras=extras)
    settings = {
        **MODELS[family](ENV_DIR / family),
        "POLYVOX_REFERENCE__CACHE_DIR": str(tmp_path / "references"),
        "POLYVOX_CONDITIONING_DIR": str(tmp_path / "conditioning"),
    }
    environment = {k: v for k, v in os.environ.items() if not k.startswith("POLYVOX_")}
    command = [str(env / "bin" / "python"), "-m", WORKER, "--warm-only"]
    env_vars = {**environment, **settings}
    warmed = subprocess.run(command, env=env_vars, capture_output=True, text=True, timeout=900)
    assert warmed.returncode == 0, (warmed.stdout + warmed.stderr)[-3000:]
