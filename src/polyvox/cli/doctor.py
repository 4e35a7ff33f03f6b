"""``polyvox engines doctor``: load a family's models inside its environment and say where
they run (the checks behind the command; ``polyvox.placement.environments`` builds them)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from polyvox.engines.families import family
from polyvox.placement.environments import executable

if TYPE_CHECKING:
    from polyvox.settings import Settings


def doctor(name: str, env_dir: Path | None = None, config: Path | None = None) -> int:
    """Run ``polyvox engines doctor --here`` inside the environment; its exit status."""
    command = executable(name, env_dir)
    checked = [str(command), "engines", "doctor", name, "--here"]
    if config is not None:
        checked += ["--config", str(config)]
    return subprocess.run(checked, check=False).returncode  # noqa: S603 - our own command


def check_here(name: str, settings: Settings | None = None) -> list[str]:
    """In this interpreter: load the family's configured models (each engine's default
    model where none is configured), and say where they run. Raises what loading raises."""
    import asyncio
    import dataclasses

    from polyvox.engines.registry import create_engine, load_class
    from polyvox.models import ModelSpec, model_spec

    engines = family(name).engines
    specs = []
    if settings is not None:
        served = [m for m in settings.served if settings.models[m].engine in engines]
        specs = [dataclasses.replace(model_spec(settings, m), environment=None) for m in served]
    if not specs:
        specs = [ModelSpec(e, e, load_class(e).Options(), 1) for e in engines]
    lines = [f"python {sys.version.split()[0]} at {sys.executable}"]
    for spec in specs:
        engine = create_engine(spec)
        started = time.monotonic()
        asyncio.run(engine.load())
        seconds = time.monotonic() - started
        info = engine.info
        lines.append(f"{spec.id}: loaded in {seconds:.1f}s on {info.device}, {info.sample_rate} Hz")
        asyncio.run(engine.unload())
    return lines
