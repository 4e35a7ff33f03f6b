"""Voice conditioning built once per (model, reference): memory LRU in front of a disk cache.

Cloning engines turn reference audio into conditioning (Chatterbox ``Conditionals``, XTTS
speaker latents, Qwen clone prompts) at a cost of seconds; the same voice comes back
request after request. Entries are named by the model and the reference's content digest,
so a changed reference is a new entry and an unchanged one is never rebuilt, across
restarts too. ``events`` counts where each lookup was answered (``conditioning_built``,
``conditioning_memory``, ``conditioning_disk``); the server exports them as metrics.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def file_digest(path: Path) -> str:
    """SHA-256 of a configured voice's reference file; an unreadable one is a 503."""
    from polyvox.errors import EngineUnavailable

    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as exc:
        raise EngineUnavailable(f"a voice's reference file cannot be read: {exc}") from exc


def default_directory(model: str, root: Path | None = None) -> Path:
    """``root`` (default ``POLYVOX_CONDITIONING_DIR``, else ``~/.cache/polyvox/conditioning``)
    / model."""
    if root is None:
        base = os.environ.get("POLYVOX_CONDITIONING_DIR")
        root = Path(base) if base else home_directory()
    return root / _UNSAFE.sub("_", model)


def home_directory() -> Path:
    """Where conditioning lives when nothing says otherwise."""
    return Path.home() / ".cache" / "polyvox" / "conditioning"


def forget_on_disk(digest: str, directories: set[Path]) -> int:
    """Delete every conditioning file built from reference ``digest``; returns how many."""
    removed = 0
    for directory in directories:
        if directory.is_dir():
            for path in directory.glob(f"*{_UNSAFE.sub('_', digest)}*.pt"):
                path.unlink(missing_ok=True)
                removed += 1
    return removed


class ConditioningCache(Generic[T]):
    """Up to ``entries`` conditionings in memory; every one built also kept on disk."""

    def __init__(
        self,
        directory: Path | None,
        entries: int,
        save: Callable[[T, Path], None],
        load: Callable[[Path], T],
    ) -> None:
        self.directory = directory
        self._entries = entries
        self._save = save
        self._load = load
        self._memory: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()
        self.events: dict[str, int] = {}

    def _count(self, event: str) -> None:
        with self._lock:
            self.events[event] = self.events.get(event, 0) + 1

    def _path(self, key: str) -> Path | None:
        return None if self.directory is None else self.directory / f"{_UNSAFE.sub('_', key)}.pt"

    def get(self, key: str, build: Callable[[], T]) -> T:
        """The conditioning named ``key``: from memory, else disk, else ``build()``."""
        with self._lock:
            found = self._memory.get(key)
            if found is not None:
                self._memory.move_to_end(key)
        if found is not None:
            self._count("conditioning_memory")
            return found
        path = self._path(key)
        value = self._from_disk(path)
        if value is not None:
            self._count("conditioning_disk")
        else:
            value = build()
            self._count("conditioning_built")
            self._to_disk(value, path)
        self._remember(key, value)
        return value

    def _from_disk(self, path: Path | None) -> T | None:
        if path is None or not path.is_file():
            return None
        try:
            return self._load(path)
        except Exception:  # a torn or stale file is rebuilt, not fatal
            log.warning("conditioning %s is unreadable; building it again", path, exc_info=True)
            return None

    def _to_disk(self, value: T, path: Path | None) -> None:
        if path is None:
            return
        temporary: Path | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                dir=path.parent, prefix="part-", suffix=".tmp", delete=False
            ) as f:
                temporary = Path(f.name)
            self._save(value, temporary)
            os.replace(temporary, path)
        except Exception:  # the conditioning still serves this process from memory
            log.warning("cannot keep conditioning in %s", path, exc_info=True)
            if temporary is not None:
                temporary.unlink(missing_ok=True)

    def _remember(self, key: str, value: T) -> None:
        with self._lock:
            self._memory[key] = value
            self._memory.move_to_end(key)
            while len(self._memory) > self._entries:
                self._memory.popitem(last=False)

    def drop(self, prefix: str = "") -> None:
        """Forget entries whose key starts with ``prefix`` (all by default), here and on disk."""
        with self._lock:
            for key in [k for k in self._memory if k.startswith(prefix)]:
                del self._memory[key]
        if self.directory is not None and self.directory.is_dir():
            for path in self.directory.glob(f"{_UNSAFE.sub('_', prefix)}*.pt"):
                path.unlink(missing_ok=True)

    def forget(self, digest: str) -> None:
        """Forget every entry built from reference ``digest`` (keys hold the digest)."""
        with self._lock:
            for key in [k for k in self._memory if digest in k]:
                del self._memory[key]
        if self.directory is not None:
            forget_on_disk(digest, {self.directory})

    def clear_memory(self) -> None:
        """Forget what is in memory (the model was unloaded); the disk copies stay."""
        with self._lock:
            self._memory.clear()
