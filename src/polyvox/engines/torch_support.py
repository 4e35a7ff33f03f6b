"""What torch engines share: their class (``TorchEngine``: load once under a lock, unload
with what they keep), the device a model's ``device`` option resolves to, the checkpoint's
directory, and streaming steps under ``torch.inference_mode``."""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from polyvox.cpu import CORES
from polyvox.engines.base import EngineClass
from polyvox.engines.spec import ModelSpec
from polyvox.errors import EngineUnavailable

T = TypeVar("T")


class TorchOptions(BaseModel):
    """The options every torch family's model has (config file ``[models.ID]`` keys)."""

    model_config = ConfigDict(extra="forbid")

    device: Literal["auto", "cpu", "cuda"] = "auto"
    """``auto``: CUDA when torch sees a device, else the CPU."""
    threads: Annotated[int, Field(ge=0, le=256)] = 0
    """torch CPU threads; 0: one per core."""
    conditioning_dir: Path | None = None
    """Where what the model builds from reference audio is kept (speaker latents,
    conditionals, clone prompts); None: ``POLYVOX_CONDITIONING_DIR`` or
    ``~/.cache/polyvox/conditioning``, then the model id."""


class TorchEngine(EngineClass):
    """A torch family's speech engine: blocking (it runs behind threads) and cloning; its
    checkpoint opens once, under a lock, on first load (``_open``), and unloading drops
    it with what the engine keeps in memory beside it (``_forget_memory``)."""

    blocking = True
    kind = "tts"

    def __init__(self, spec: ModelSpec) -> None:
        self._model = spec.id
        self._tts: Any = None
        self._lock = threading.Lock()

    @classmethod
    def clones(cls, options: BaseModel) -> bool:
        """Whether a model with these options clones voices (known before it loads)."""
        return True

    def load(self) -> None:
        """Open the checkpoint (once; concurrent loads wait for the first)."""
        with self._lock:
            if self._tts is None:
                self._tts = self._open()

    def unload(self) -> None:
        """Drop the model and what the engine keeps in memory beside it."""
        with self._lock:
            self._tts = None
            self._forget_memory()

    def _open(self) -> Any:
        """The loaded model (the library's object)."""
        raise NotImplementedError

    def _forget_memory(self) -> None:
        """Drop in-memory state kept beside the model (conditioning caches)."""


def torch_device(choice: str) -> Literal["cpu", "cuda"]:
    """``cpu``, ``cuda`` or ``auto`` (CUDA when torch sees it) -> the device to use; a
    gateway without torch reports ``cpu`` (the engine's own process decides)."""
    if choice == "cpu" or importlib.util.find_spec("torch") is None:
        return "cpu"
    import torch

    available = torch.cuda.is_available()
    if choice == "cuda" and not available:
        raise EngineUnavailable("device 'cuda' was asked for, but torch sees no CUDA device")
    return "cuda" if available else "cpu"


def inference_steps(items: Iterator[T]) -> Iterator[T]:
    """Each step of ``items`` under ``torch.inference_mode``, entered and left around that
    step alone: grad mode is per thread and a streaming synthesis resumes on whichever
    worker thread reads its next chunk, so a context held across ``yield`` would leak into
    that thread's other work and be missing from the next one."""
    import torch

    try:
        while True:
            with torch.inference_mode():
                try:
                    item = next(items)
                except StopIteration:
                    return
            yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:  # a hang-up: the synthesis lets go of its model lock now
            close()


def checkpoint_directory(
    model: str,
    configured: Path | None,
    threads: int,
    download: Callable[[], Path],
    missing: Callable[[Path], list[str]],
    kind: str,
) -> Path:
    """Where a model's weights are (a configured directory, or downloaded now), with torch's
    CPU threads set (0: one per core); a directory that lacks files is an error naming them."""
    import torch

    torch.set_num_threads(threads or CORES)
    if configured is None:
        directory = download()
    else:
        directory = configured
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local checkpoint fetches nothing
    lacking = missing(directory)
    if lacking:
        raise EngineUnavailable(
            f"model {model!r}: {directory} lacks {', '.join(lacking)} (a {kind} checkpoint)"
        )
    return directory
