"""What an engine family declares, once, in its package's ``family.py``: its engines, the
extra and pins its environment is built from, its container image and where its real
checkpoints come from. The registry, ``polyvox engines install``, the images and the
checkpoint downloads all read it (``polyvox.engines.families`` gathers them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from polyvox.errors import EngineUnavailable


@dataclass(frozen=True)
class Family:
    """An engine family: the engines it serves, the extra that installs them, and pins."""

    name: str
    engines: Mapping[str, str]
    """Engine name -> its class's import path (``package.module:Class``)."""
    extra: str
    packages: tuple[str, ...]
    """Distributions whose versions ``engines list`` reports."""
    overrides: tuple[str, ...] = ()
    """Requirements that replace a library's own hard pins, on every device."""
    cpu_overrides: tuple[str, ...] = ()
    """Overrides for a CPU build only (torch's CPU wheels in place of a CUDA pin)."""
    prune: tuple[str, ...] = ()
    """Files (globs under site-packages) removed after a CPU build: native libraries built
    for CUDA torch, whose pure-Python modules work without them."""
    torch: bool = False
    """The family runs on torch: CPU builds from ``TORCH_INDEX`` or pip's wheel location."""
    image: str | None = None
    """Its GPU image's Dockerfile (under ``docker/``), which installs ``extra``."""
    fetch: str | None = None
    """``module:function`` that fetches its real checkpoints into the hub cache
    (``python -m polyvox.engines.download FAMILY``)."""
    extras: Mapping[str, str] = field(default_factory=dict)
    """An engine whose libraries come from another extra than ``extra`` -> that extra."""

    def extra_of(self, engine: str) -> str:
        """The extra that installs ``engine``'s libraries."""
        return self.extras.get(engine, self.extra)


class EnvironmentMissing(EngineUnavailable):
    """An environment is not built or cannot be built; the message says what to do."""
