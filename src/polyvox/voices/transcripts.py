"""What reference audio says, for cloning engines that read it (Qwen3-TTS Base, ICL mode).

A transcript (and the speech-to-text model that made it) is kept per reference digest (the
reference cache names its files by their SHA-256): in memory and as
``.transcripts/<digest>.json`` beside the cached references, so
the server's speech-to-text model runs once per reference, across restarts too. The cache
eviction skips dot entries; transcripts are a few hundred bytes each.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)
MEMORY_ENTRIES = 1024


@dataclass(frozen=True)
class Transcript:
    text: str
    model: str
    """The speech-to-text model that made it."""


class Transcripts:
    """Transcripts of cached references by digest: memory LRU in front of text files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._memory: OrderedDict[str, Transcript] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> Transcript | None:
        """The transcript of reference ``digest``, if one was made (blocking: reads a file)."""
        with self._lock:
            found = self._memory.get(digest)
        if found is None:
            try:
                data = json.loads((self.directory / f"{digest}.json").read_text("utf-8"))
                found = Transcript(str(data["text"]), str(data["model"]))
            except (OSError, ValueError, KeyError, TypeError):
                return None
        self._remember(digest, found)
        return found

    def put(self, digest: str, transcript: Transcript) -> None:
        """Keep a transcript (blocking: writes a file; a failed write only logs)."""
        self._remember(digest, transcript)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=self.directory, suffix=".tmp", delete=False
            ) as f:
                json.dump(asdict(transcript), f, ensure_ascii=False)
            os.replace(f.name, self.directory / f"{digest}.json")
        except OSError:
            log.warning("cannot keep the transcript of reference %s", digest, exc_info=True)

    def forget(self, digest: str) -> None:
        """Drop the transcript of reference ``digest`` (blocking: deletes a file)."""
        with self._lock:
            self._memory.pop(digest, None)
        (self.directory / f"{digest}.json").unlink(missing_ok=True)

    def _remember(self, digest: str, transcript: Transcript) -> None:
        with self._lock:
            self._memory[digest] = transcript
            self._memory.move_to_end(digest)
            while len(self._memory) > MEMORY_ENTRIES:
                self._memory.popitem(last=False)
