"""What torch engines share: the device a model's ``device`` option resolves to, and
streaming steps under ``torch.inference_mode``."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, TypeVar

from polyvox.cpu import CORES
from polyvox.errors import EngineUnavailable

T = TypeVar("T")


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
