"""Engine families, gathered from their declarations: each built-in family package's
``family.py`` and any plugin's under the ``polyvox.families`` entry points (a plugin engine
can have an environment of its own)."""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points

from polyvox.engines.family import EnvironmentMissing, Family

__all__ = ["BUILTIN", "FAMILIES", "PLUGINS", "EnvironmentMissing", "Family", "family"]
log = logging.getLogger(__name__)
PACKAGES = ("core", "kokoro", "chatterbox", "xtts", "qwen3")
"""The built-in family packages under ``polyvox.engines``."""
ENTRY_POINT_GROUP = "polyvox.families"


def _builtin() -> dict[str, Family]:
    modules = [importlib.import_module(f"polyvox.engines.{p}.family") for p in PACKAGES]
    return {module.FAMILY.name: module.FAMILY for module in modules}


def _plugins() -> dict[str, Family]:
    """Plugin families; one that cannot be loaded is logged and left out, never fatal."""
    found: dict[str, Family] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            declared = ep.load()
        except Exception:
            log.exception("engine family plugin %s cannot be loaded", ep.value)
            continue
        if isinstance(declared, Family):
            found.setdefault(declared.name, declared)
        else:
            log.error("engine family plugin %s is not a Family", ep.value)
    return found


BUILTIN: dict[str, Family] = _builtin()
PLUGINS: dict[str, Family] = {k: v for k, v in _plugins().items() if k not in BUILTIN}
FAMILIES: dict[str, Family] = {**BUILTIN, **PLUGINS}


def family(name: str) -> Family:
    """The family called ``name``; an unknown one names the known ones."""
    found = FAMILIES.get(name)
    if found is None:
        raise EnvironmentMissing(f"no engine family {name!r}; known: {', '.join(FAMILIES)}")
    return found
