"""Where a model runs: in this process, in an engine environment's supervised worker, or
on another server (a remote engine). Built on the engines; the service builds its models
through ``create_engine``."""

from __future__ import annotations

from polyvox.engines import registry
from polyvox.engines.base import Engine
from polyvox.engines.spec import ModelSpec


def create_engine(spec: ModelSpec) -> Engine:
    """Construct (but do not load) the engine of one model where its spec places it."""
    if spec.environment is None:
        return registry.create_engine(spec)
    from polyvox.placement.supervised import SupervisedEngine

    cls = registry.load_class(spec.engine)
    # known before the worker runs: the voice library prepares references for it
    return SupervisedEngine(spec, cls.kind, cls.clones(spec.options))
