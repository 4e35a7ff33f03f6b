"""Engine families, gathered from their declarations: each built-in family package's
``family.py`` and any plugin's under the ``polyvox.families`` entry points (a plugin engine
can have an environment of its own)."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from polyvox.engines.family import EnvironmentMissing, Family

__all__ = ["FAMILIES", "EnvironmentMissing", "Family", "family"]
PACKAGES = ("core", "kokoro", "chatterbox", "xtts", "qwen3")
"""The built-in family packages under ``polyvox.engines``."""
ENTRY_POINT_GROUP = "polyvox.families"


def _gather() -> dict[str, Family]:
    declared = [
        importlib.import_module(f"polyvox.engines.{package}.family").FAMILY for package in PACKAGES
    ]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        declared.append(ep.load())
    return {found.name: found for found in declared}


FAMILIES: dict[str, Family] = _gather()


def family(name: str) -> Family:
    """The family called ``name``; an unknown one names the known ones."""
    found = FAMILIES.get(name)
    if found is None:
        raise EnvironmentMissing(f"no engine family {name!r}; known: {', '.join(FAMILIES)}")
    return found
