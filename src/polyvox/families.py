"""Engine families: the engines each environment serves and the pins it is built from."""

from __future__ import annotations

from dataclasses import dataclass

from polyvox.errors import EngineUnavailable


@dataclass(frozen=True)
class Family:
    """An engine family: the engines it serves, the extra that installs them, and pins."""

    name: str
    engines: tuple[str, ...]
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


FAMILIES: dict[str, Family] = {
    "kokoro": Family("kokoro", ("kokoro",), "kokoro", ("kokoro-onnx", "onnxruntime")),
    "core": Family("core", ("piper", "whisper"), "whisper", ("piper-tts", "faster-whisper")),
    "chatterbox": Family(
        "chatterbox",
        ("chatterbox",),
        "chatterbox",
        ("chatterbox-tts", "torch", "transformers", "numpy"),
        overrides=(
            "gradio; python_version < '3'",  # the demo UI: a pinned dependency, never imported
            "soundfile<0.14",  # 0.14.0 comes without libsndfile on this index
        ),
        cpu_overrides=(
            "torch==2.13.0+cpu",  # chatterbox pins 2.6.0 (a CUDA build on PyPI); see TORCH_INDEX
            "torchaudio==2.11.1",  # the last on PyPI; only its pure-Python parts are used
        ),
        prune=("torchaudio/lib/*.so",),  # CUDA-linked; torchaudio falls back to pure Python
        torch=True,
    ),
    "xtts": Family(
        "xtts",
        ("xtts",),
        "xtts",
        ("coqui-tts", "torch", "transformers", "numpy"),
        overrides=("soundfile<0.14",),  # 0.14.0 comes without libsndfile on this index
        cpu_overrides=("torch==2.13.0+cpu", "torchaudio==2.11.1"),
        prune=("torchaudio/lib/*.so",),
        torch=True,
    ),
    "qwen-tts": Family(
        "qwen-tts",
        ("qwen3",),
        "qwen-tts",
        ("qwen-tts", "torch", "transformers", "numpy"),
        overrides=(
            "gradio; python_version < '3'",  # qwen-tts's demo UI: never imported
            "soundfile<0.14",  # 0.14.0 comes without libsndfile on this index
        ),
        cpu_overrides=("torch==2.13.0+cpu", "torchaudio==2.11.1"),
        prune=("torchaudio/lib/*.so",),
        torch=True,
    ),
}


class EnvironmentMissing(EngineUnavailable):
    """An environment is not built or cannot be built; the message says what to do."""


def family(name: str) -> Family:
    """The family called ``name``; an unknown one names the known ones."""
    found = FAMILIES.get(name)
    if found is None:
        raise EnvironmentMissing(f"no engine family {name!r}; known: {', '.join(FAMILIES)}")
    return found
