"""Engine environments: one isolated Python environment per engine family.

Engine libraries pin clashing versions of torch, transformers and numpy, so a family that
cannot share the server's environment gets one of its own, built from the pins kept here
(uv when it is available, else venv + pip), with polyvox itself installed in it: a model
placed in an environment is served by a polyvox process started from there
(``polyvox.placement.supervised``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from polyvox.engines.families import FAMILIES, EnvironmentMissing, Family, family

__all__ = ["FAMILIES", "EnvironmentMissing", "Family", "family"]

if TYPE_CHECKING:
    pass

MANIFEST = "polyvox-env.json"
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
"""Where CPU torch builds come from (``POLYVOX_TORCH_INDEX`` overrides it), unless pip is
configured with a local wheel location (``pip config list``), as on an offline build host."""


def root(env_dir: Path | None = None) -> Path:
    """Where environments live: ``POLYVOX_ENV_DIR`` or ``~/.cache/polyvox/envs``."""
    if env_dir is not None:
        return env_dir
    configured = os.environ.get("POLYVOX_ENV_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "polyvox" / "envs"


def path(name: str, env_dir: Path | None = None, extras: tuple[str, ...] = ()) -> Path:
    """The directory of family ``name``'s environment (with ``extras``: a separate one,
    ``chatterbox+runpod+storage``, as an image that adds them is built)."""
    return root(env_dir) / "+".join((name, *sorted(extras)))


def python(env: Path) -> Path:
    """The environment's interpreter."""
    return env / "bin" / "python"


def executable(name: str, env_dir: Path | None = None) -> Path:
    """The ``polyvox`` command inside family ``name``'s environment; raises if not built."""
    env = path(name, env_dir)
    command = env / "bin" / "polyvox"
    if not (env / MANIFEST).is_file() or not command.exists():
        raise EnvironmentMissing(
            f"the {name!r} engine environment is not installed; run: polyvox engines install {name}"
        )
    return command


def _source() -> str | None:
    """This checkout's project directory, when polyvox runs from source (editable)."""
    project = Path(__file__).resolve().parents[3]
    return str(project) if (project / "pyproject.toml").is_file() else None


def _requirement(extra: str) -> list[str]:
    source = _source()
    if source is not None:
        return ["-e", f"{source}[{extra}]"]
    return [f"polyvox[{extra}]=={metadata.version('polyvox')}"]


def _pip_locations() -> list[str]:
    """pip's configured package locations (this machine's CPU torch wheel, say), for uv,
    which does not read pip's configuration."""
    try:
        listed = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    flags = {
        "find-links": "--find-links",
        "index-url": "--index-url",
        "extra-index-url": "--extra-index-url",
        "constraint": "--constraint",
    }
    found: list[str] = []
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        option = flags.get(key.rsplit(".", 1)[-1])
        if option is not None and (value := value.strip().strip("'\"")):
            for item in value.split():
                found += [option, item]
    if any(option.endswith("index-url") for option in found):
        found += ["--index-strategy", "unsafe-best-match"]  # pip's way: every index is equal
    return found


def _uv() -> str | None:
    found = shutil.which("uv")
    if found is not None:
        return found
    try:
        from uv import find_uv_bin  # the ``uv`` wheel from PyPI

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


def lock(name: str, device: str = "cpu", extras: tuple[str, ...] = ()) -> str:
    """What family ``name``'s environment is built from, as a digest: its requirement
    (this checkout's path and ``pyproject.toml`` when polyvox runs from source, else the
    polyvox version), pins, pruned files, device, interpreter, builder and package
    locations. An environment built from the same lock is up to date."""
    spec = family(name)
    pins = spec.overrides + (spec.cpu_overrides if device == "cpu" else ())
    where = [*_pip_locations(), os.environ.get("POLYVOX_TORCH_INDEX", TORCH_INDEX)]
    requirement = _requirement(",".join((spec.extra, *sorted(extras))))
    builder = "uv" if _uv() else "pip"
    parts = [*requirement, *pins, *spec.prune, device, sys.version, sys.executable, builder]
    parts += where
    source = _source()
    if source is not None:
        parts.append((Path(source) / "pyproject.toml").read_text(encoding="utf-8"))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def up_to_date(
    name: str,
    env_dir: Path | None = None,
    device: str = "cpu",
    current: str | None = None,
    extras: tuple[str, ...] = (),
) -> bool:
    """The environment exists, was built from this lock (``current``, computed when not
    given), and its ``polyvox`` is there."""
    env = path(name, env_dir, extras)
    try:
        manifest = json.loads((env / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    built = manifest.get("lock")
    return built == (current or lock(name, device, extras)) and (env / "bin" / "polyvox").exists()


def _forget_lock(env: Path) -> None:
    manifest = env / MANIFEST
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    data.pop("lock", None)
    manifest.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def install(
    name: str,
    env_dir: Path | None = None,
    log: bool = True,
    device: str = "cpu",
    force: bool = False,
    extras: tuple[str, ...] = (),
) -> Path:
    """Build (or update) family ``name``'s environment; returns its directory. ``cpu``
    replaces a torch family's CUDA pins with CPU builds; ``cuda`` keeps the library's own
    (PyPI's torch wheels are CUDA builds). One already built from the same lock is left as
    it is, unless ``force``. ``extras``: polyvox extras installed beside the family's (an
    image's, say ``runpod`` and ``storage``), in an environment of their own."""
    if device not in ("cpu", "cuda"):
        raise EnvironmentMissing(f"device must be cpu or cuda, not {device!r}")
    spec = family(name)
    env = path(name, env_dir, extras)
    built_from = lock(name, device, extras)
    if not force and up_to_date(name, env_dir, device, built_from, extras):
        return env
    _forget_lock(env)  # an install that fails halfway leaves an environment to rebuild
    cpu = device == "cpu"
    pins = spec.overrides + (spec.cpu_overrides if cpu else ())
    env.parent.mkdir(parents=True, exist_ok=True)
    requirement = _requirement(",".join((spec.extra, *sorted(extras))))
    overrides = env / "overrides.txt"
    uv = _uv()
    started = time.monotonic()
    output = None if log else subprocess.DEVNULL
    if uv is not None:
        if not python(env).exists():
            _run([uv, "venv", "--quiet", "--python", sys.executable, str(env)], output)
        locations = _pip_locations()
        if spec.torch and cpu and "--find-links" not in locations:
            locations += ["--extra-index-url", os.environ.get("POLYVOX_TORCH_INDEX", TORCH_INDEX)]
        command = [uv, "pip", "install", "--python", str(python(env)), *locations]
        if pins:
            overrides.write_text("\n".join(pins) + "\n", encoding="utf-8")
            command += ["--override", str(overrides)]
        _run([*command, *requirement], output)
    else:
        if not python(env).exists():
            _run([sys.executable, "-m", "venv", str(env)], output)
        # pip has no overrides: the override pins go in as ordinary requirements
        _run([str(python(env)), "-m", "pip", "install", "--quiet", *pins, *requirement], output)
    if cpu:
        _prune(env, spec.prune)
    manifest = {
        "family": name,
        "extras": sorted(extras),
        "engines": list(spec.engines),
        "builder": "uv" if uv else "pip",
        "device": device,
        "installed": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.monotonic() - started, 1),
        "requirement": " ".join(requirement),
        "lock": built_from,
    }
    (env / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return env


def _prune(env: Path, patterns: tuple[str, ...]) -> None:
    for site in env.glob("lib/python*/site-packages"):
        for pattern in patterns:
            for found in site.glob(pattern):
                found.unlink()


def _run(command: list[str], output: int | None) -> None:
    try:
        subprocess.run(command, check=True, stdout=output)  # noqa: S603 - our own commands
    except subprocess.CalledProcessError as exc:
        raise EnvironmentMissing(
            f"{' '.join(command[:3])} ... failed with {exc.returncode}"
        ) from exc


@dataclass(frozen=True)
class Installed:
    """One built environment, as ``engines list`` shows it."""

    family: str
    path: Path
    versions: dict[str, str]
    size_bytes: int
    device: str


def installed(env_dir: Path | None = None) -> list[Installed]:
    """Every environment built under the environment root."""
    found = []
    base = root(env_dir)
    for manifest in sorted(base.glob(f"*/{MANIFEST}")) if base.is_dir() else []:
        env = manifest.parent
        data = json.loads(manifest.read_text(encoding="utf-8"))
        name = env.name  # the family's, or the family's with extras (chatterbox+runpod)
        spec = FAMILIES.get(data.get("family", name))
        packages = ("polyvox", *(spec.packages if spec else ()))
        versions = _versions(env, packages)
        size = sum(f.stat().st_size for f in env.rglob("*") if f.is_file() and not f.is_symlink())
        found.append(Installed(name, env, versions, size, data.get("device", "cpu")))
    return found


def _versions(env: Path, packages: tuple[str, ...]) -> dict[str, str]:
    """Versions of ``packages`` in ``env``, read from its dist-info (no interpreter start)."""
    wanted = {p.lower().replace("-", "_"): p for p in packages}
    versions = {}
    for info in env.glob("lib/python*/site-packages/*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        if name.lower() in wanted:
            versions[wanted[name.lower()]] = version
    return versions
