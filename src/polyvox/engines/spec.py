"""What an engine is built from: a model's id, engine, validated options, slots and placement.

Built by ``polyvox.models`` from the configuration; engines read it and import nothing above.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel


@dataclass(frozen=True)
class ModelSpec:
    """Everything an engine is built from: its model id, its options and its slots."""

    id: str
    engine: str
    options: BaseModel
    slots: int
    environment: str | None = None
    """The engine environment the model runs in (a supervised process), or None."""
    worker_env: Mapping[str, str] = field(default_factory=dict)
    """For a model in an environment: the server's settings that shape a request, as the
    worker's ``POLYVOX_*`` variables (``worker_environment``)."""
