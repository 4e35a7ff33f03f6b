"""Engine names -> implementing classes, imported lazily so extras stay optional."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from polyvox.engines.families import BUILTIN as BUILTIN_FAMILIES
from polyvox.engines.families import PLUGINS
from polyvox.errors import EngineUnavailable, ModelNotFound

if TYPE_CHECKING:
    from polyvox.engines.base import Engine, EngineClass
    from polyvox.engines.spec import ModelSpec

REMOTE: dict[str, str] = {
    # a model served by another server (httpx is a core dependency): no family, no extra
    "polyvox": "polyvox.engines.remote.polyvox:PolyvoxRemote",
    "openai": "polyvox.engines.remote.openai:OpenAIRemote",
    "indextts-vllm": "polyvox.engines.remote.indextts:IndexTTSRemote",
    "runpod": "polyvox.engines.remote.runpod:RunPodRemote",
}
BUILTIN: dict[str, tuple[str, str]] = {
    # name: ("module:Class", the extra that installs its libraries), from the families
    **{
        name: (target, found.extra_of(name))
        for found in BUILTIN_FAMILIES.values()
        for name, target in found.engines.items()
    },
    **{name: (target, "") for name, target in REMOTE.items()},
}
ENTRY_POINT_GROUP = "polyvox.engines"


def available() -> dict[str, str]:
    """Every engine name known here (built-in and from entry points) -> its import path.
    An engine may also be named by its import path itself (``package.module:Class``)."""
    names = {name: target for name, (target, _) in BUILTIN.items()}
    for plugin in PLUGINS.values():  # a plugin family's engines
        for name, target in plugin.engines.items():
            names.setdefault(name, target)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        names.setdefault(ep.name, ep.value)
    return names


def load_class(name: str) -> type[EngineClass]:
    """Import the class behind an engine name; a missing library becomes an install hint,
    a class that does not declare the engine contract (``EngineClass``) an error naming it."""
    from polyvox.engines.base import EngineClass

    target = available().get(name) or (name if ":" in name else None)
    if target is None:
        raise ModelNotFound(f"no engine named {name!r}; known: {', '.join(available())}")
    module_name, _, class_name = target.partition(":")
    extra = BUILTIN.get(name, ("", name))[1]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if ":" in name and _names_its_module(exc, module_name):
            raise ModelNotFound(f"no engine {name!r}: no module {exc.name!r}") from exc
        hint = f"pip install 'polyvox[{extra}]'" if name in BUILTIN else "is it installed?"
        raise EngineUnavailable(
            f"engine {name!r} needs libraries that are not installed ({exc.name}): {hint}"
        ) from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, EngineClass)):
        raise EngineUnavailable(
            f"engine {name!r}: {target} is not an engine class "
            "(one deriving from polyvox.engines.base.EngineClass)"
        )
    for declared in ("kind", "Options"):
        if not hasattr(cls, declared):
            raise EngineUnavailable(f"engine {name!r}: {target} does not declare {declared!r}")
    return cls


def _names_its_module(exc: ImportError, module: str) -> bool:
    """Whether the import failed on the named module itself (a mistyped import path, a
    configuration error), not on a library it imports (an install hint)."""
    missing = exc.name or ""
    return bool(missing) and (module == missing or module.startswith(f"{missing}."))


def create_engine(spec: ModelSpec) -> Engine:
    """Construct (but do not load) the engine of one model in this process; blocking ones
    run in threads. Where a model runs is ``polyvox.placement``'s to decide."""
    from polyvox.engines.threaded import ThreadedSTT, ThreadedTask, ThreadedTTS

    cls = load_class(spec.engine)
    built: Any = cls(spec)
    if not cls.blocking:
        engine: Engine = built
        return engine
    if cls.kind == "stt":
        return ThreadedSTT(built)
    return ThreadedTTS(built) if cls.kind == "tts" else ThreadedTask(built)
