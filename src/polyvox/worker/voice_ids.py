"""The XTTS worker's ``voice_id``: a name for a reference fetched before, so later jobs can
send the name alone. The names live beside the reference cache (``.voice-ids.json``,
which its eviction skips) and survive restarts; a name whose audio was evicted since asks
for the URL again."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from pathlib import Path

log = logging.getLogger(__name__)
FILE = ".voice-ids.json"
MAX_NAMES = 100_000


class VoiceIds:
    """``voice_id`` -> the SHA-256 of its reference audio, kept on disk."""

    def __init__(self, directory: Path) -> None:
        self._path = directory / FILE
        self._lock = threading.Lock()
        self._names: dict[str, str] = self._read()

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            log.warning("voice ids in %s are unreadable; starting afresh", self._path)
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): str(v) for k, v in data.items()}

    def find(self, name: str) -> str | None:
        """The digest of ``name``'s reference, or None."""
        with self._lock:
            return self._names.get(name)

    def remember(self, name: str, digest: str) -> None:
        """Name ``digest``'s audio ``name`` (the latest reference sent with it wins)."""
        with self._lock:
            if self._names.get(name) == digest:
                return
            self._names.pop(name, None)
            self._names[name] = digest
            while len(self._names) > MAX_NAMES:  # the oldest names go first
                self._names.pop(next(iter(self._names)))
            try:  # under the lock: an older snapshot never replaces a newer one
                self._path.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(
                    "w", dir=self._path.parent, prefix=".part-", delete=False, encoding="utf-8"
                ) as f:
                    json.dump(self._names, f)
                os.replace(f.name, self._path)
            except OSError:  # still known to this process
                log.warning("cannot keep voice ids in %s", self._path, exc_info=True)
