"""Engine names -> implementing classes, imported lazily so extras stay optional."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from polyvox.errors import EngineUnavailable, ModelNotFound

if TYPE_CHECKING:
    from polyvox.engines.base import Engine, EngineClass
    from polyvox.engines.spec import ModelSpec

BUILTIN: dict[str, tuple[str, str]] = {
    # name: ("module:Class", the extra that installs its libraries)
    "piper": ("polyvox.engines.piper:PiperEngine", "piper"),
    "whisper": ("polyvox.engines.whisper:WhisperEngine", "whisper"),
    "kokoro": ("polyvox.engines.kokoro:KokoroEngine", "kokoro"),
    # in its own environment: polyvox engines install chatterbox
    "chatterbox": ("polyvox.engines.chatterbox:ChatterboxEngine", "chatterbox"),
    "xtts": ("polyvox.engines.xtts:XttsEngine", "xtts"),  # polyvox engines install xtts
    "qwen3": ("polyvox.engines.qwen3:Qwen3Engine", "qwen-tts"),  # ... install qwen-tts
    # remote kinds: a model served by another server (httpx is a core dependency)
    "polyvox": ("polyvox.engines.remote.polyvox:PolyvoxRemote", ""),
    "openai": ("polyvox.engines.remote.openai:OpenAIRemote", ""),
    "indextts-vllm": ("polyvox.engines.remote.indextts:IndexTTSRemote", ""),
    "runpod": ("polyvox.engines.remote.runpod:RunPodRemote", ""),
}
ENTRY_POINT_GROUP = "polyvox.engines"


def available() -> dict[str, str]:
    """Every engine name known here (built-in and from entry points) -> its import path.
    An engine may also be named by its import path itself (``package.module:Class``)."""
    names = {name: target for name, (target, _) in BUILTIN.items()}
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


def create_engine(spec: ModelSpec) -> Engine:
    """Construct (but do not load) the engine of one model; blocking ones run in threads."""
    from polyvox.engines.threaded import ThreadedSTT, ThreadedTask, ThreadedTTS

    cls = load_class(spec.engine)
    if spec.environment is not None:
        from polyvox.engines.supervised import SupervisedEngine

        # known before the worker runs: the voice library prepares references for it
        return SupervisedEngine(spec, cls.kind, cls.clones(spec.options))
    built: Any = cls(spec)
    if not cls.blocking:
        engine: Engine = built
        return engine
    if cls.kind == "stt":
        return ThreadedSTT(built)
    return ThreadedTTS(built) if cls.kind == "tts" else ThreadedTask(built)
