"""How many CPU threads a synthesis gets: its slots' share of the cores."""

from __future__ import annotations

import os

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
"""Cores this process may run on."""


def threads_for(held: int, slots: int, cores: int = CORES) -> int:
    """Threads for a chunk holding ``held`` of ``slots`` slots (at least one)."""
    return max(1, round(held * cores / slots))
