"""What reference audio says, for cloning engines that read it (Qwen3-TTS Base, ICL mode).

A transcript is kept per reference digest (the reference cache names its files by their
SHA-256): in memory and as ``.transcripts/<digest>.txt`` beside the cached references, so
the server's speech-to-text model runs once per reference, across restarts too. The cache
eviction skips dot entries; transcripts are a few hundred bytes each.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

log = logging.getLogger(__name__)
MEMORY_ENTRIES = 1024


class Transcripts:
    """Transcripts of cached references by digest: memory LRU in front of text files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._memory: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> str | None:
        """The transcript of reference ``digest``, if one was made (blocking: reads a file)."""
        with self._lock:
            found = self._memory.get(digest)
        if found is None:
            try:
                found = (self.directory / f"{digest}.txt").read_text(encoding="utf-8")
            except OSError:
                return None
        self._remember(digest, found)
        return found

    def put(self, digest: str, text: str) -> None:
        """Keep a transcript (blocking: writes a file; a failed write only logs)."""
        self._remember(digest, text)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=self.directory, suffix=".tmp", delete=False
            ) as f:
                f.write(text)
            os.replace(f.name, self.directory / f"{digest}.txt")
        except OSError:
            log.warning("cannot keep the transcript of reference %s", digest, exc_info=True)

    def _remember(self, digest: str, text: str) -> None:
        with self._lock:
            self._memory[digest] = text
            self._memory.move_to_end(digest)
            while len(self._memory) > MEMORY_ENTRIES:
                self._memory.popitem(last=False)
