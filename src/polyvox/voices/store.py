"""LibraryStore: the voice library's objects, records and audio, in a directory or a bucket.

No write leaves half an object where a reader looks: on a directory each object is written
beside its place (``.part-<hex>``) and renamed over it; an object store replaces an object
at once. Stored audio is hashed before it is used again, so a file a crash cut short is
written anew instead of being reused for ever. Records read once are kept by their listing
signature (size and modification time): a listing costs one LIST, and only changed records
are read again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal, TypeVar

from polyvox.errors import PolyvoxError, StorageFailure, VoiceNotFound
from polyvox.storage import ObjectStore
from polyvox.storage.objects import is_local, redact
from polyvox.voices.preparation import PreparedAudio
from polyvox.voices.records import VOICE_ID, LibraryVoice

log = logging.getLogger(__name__)
T = TypeVar("T")
Folder = Literal["audio", "voices"]
PART = ".part-"
"""How the name of an object still being written starts (on a directory)."""


class LibraryStore:
    """Read, write, list and delete the library's records and audio (blocking)."""

    def __init__(self, url: str, objects: ObjectStore) -> None:
        self.root = os.path.expanduser(url).rstrip("/")
        self._objects = objects
        self._records: dict[str, tuple[Any, LibraryVoice]] = {}
        self._listed: tuple[float, list[LibraryVoice]] | None = None
        """The last listing and when it began (``records(max_age)``)."""
        self._generation = 0
        """Counts this store's writes: a listing a write overtook is not kept."""
        self._lock = threading.Lock()

    def _io(self, what: str, action: Callable[[Any, str], T]) -> T:
        fs, root = self._objects.filesystem(self.root)
        try:
            return action(fs, root)
        except (PolyvoxError, FileNotFoundError):
            raise
        except Exception as exc:
            log.warning("voice library: %s failed: %s", what, exc)
            raise StorageFailure(
                f"the voice library at {redact(self.root)}: {what} failed ({type(exc).__name__})"
            ) from exc

    def _put(self, fs: Any, root: str, path: str, body: bytes) -> None:
        """Write ``body`` at ``root/path`` whole or not at all."""
        if not is_local(self.root):
            fs.pipe_file(f"{root}/{path}", body)  # an object store replaces an object at once
            return
        folder = path.rsplit("/", 1)[0]
        part = f"{root}/{folder}/{PART}{uuid.uuid4().hex}"
        fs.pipe_file(part, body)
        try:
            os.replace(part, f"{root}/{path}")
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(part)
            raise

    # -- records -------------------------------------------------------------------------
    def read_record(self, voice_id: str) -> LibraryVoice | None:
        """A voice's record; None when there is none, or it cannot be read."""

        def read(fs: Any, root: str) -> bytes:
            data: bytes = fs.cat_file(f"{root}/voices/{voice_id}.json")
            return data

        try:
            return _parse(self._io("reading a voice", read))
        except FileNotFoundError:
            return None

    def write_record(self, voice: LibraryVoice) -> None:
        body = json.dumps(voice.to_json(), ensure_ascii=False).encode()
        path = f"voices/{voice.id}.json"
        try:
            self._io("saving a voice", lambda fs, root: self._put(fs, root, path, body))
        finally:
            self._forget_listing()

    def remove_record(self, voice_id: str) -> None:
        """Delete a voice's record (FileNotFoundError when it is gone already)."""
        try:
            self._rm("deleting a voice", f"voices/{voice_id}.json")
        finally:
            with self._lock:
                self._records.pop(f"{voice_id}.json", None)
            self._forget_listing()

    def records(self, max_age: float = 0.0) -> list[LibraryVoice]:
        """Every record in the store (changed ones read again, unreadable ones skipped).

        ``max_age``: a listing made at most this many seconds ago serves (no LIST); this
        store's own writes drop it, other replicas' show once it is that old."""
        with self._lock:
            listed, generation = self._listed, self._generation
        if max_age > 0 and listed is not None and time.monotonic() - listed[0] <= max_age:
            return listed[1]
        started = time.monotonic()
        found = self._list_records()
        with self._lock:
            if generation == self._generation:  # no write of ours came between
                self._listed = (started, found)
        return found

    def _forget_listing(self) -> None:
        with self._lock:
            self._listed = None
            self._generation += 1

    def _list_records(self) -> list[LibraryVoice]:
        found: list[LibraryVoice] = []
        for entry in self._listing("voices"):
            name = str(entry["name"]).rsplit("/", 1)[-1]
            if not (name.endswith(".json") and VOICE_ID.fullmatch(name[:-5])):
                continue
            signature = tuple(
                str(entry.get(k))
                for k in ("size", "mtime", "LastModified", "ETag", "updated", "generation")
            )
            with self._lock:
                cached = self._records.get(name)
            if cached is None or cached[0] != signature:
                voice = self.read_record(name[:-5])
                if voice is None:
                    continue
                cached = (signature, voice)
                with self._lock:
                    self._records[name] = cached
            found.append(cached[1])
        return found

    def _listing(self, folder: Folder) -> list[dict[str, Any]]:
        def listing(fs: Any, root: str) -> list[dict[str, Any]]:
            fs.invalidate_cache(f"{root}/{folder}")
            try:
                entries: list[dict[str, Any]] = fs.ls(f"{root}/{folder}", detail=True)
            except FileNotFoundError:
                return []
            return entries

        return self._io(f"listing {folder}", listing)

    # -- audio ---------------------------------------------------------------------------
    def audio(self, digest: str) -> bytes:
        """The prepared reference audio named ``digest``."""

        def read(fs: Any, root: str) -> bytes:
            data: bytes = fs.cat_file(f"{root}/audio/{digest}.wav")
            return data

        try:
            return self._io("reading voice audio", read)
        except FileNotFoundError:
            raise VoiceNotFound(
                "the voice's audio is missing from the library", param="voice"
            ) from None

    def store_audio(self, prepared: PreparedAudio) -> None:
        """Store audio once per digest: stored audio is used again only if it hashes to its
        digest (a crash may have cut it short), else it is written anew."""
        path = f"audio/{prepared.digest}.wav"

        def write(fs: Any, root: str) -> None:
            try:
                stored: bytes = fs.cat_file(f"{root}/{path}")
            except FileNotFoundError:
                stored = b""
            if stored and hashlib.sha256(stored).hexdigest() == prepared.digest:
                return
            if stored:
                log.warning("voice library: %s is damaged and is written again", path)
            self._put(fs, root, path, prepared.wav)

        self._io("storing voice audio", write)

    def files(self, folder: Folder) -> list[tuple[str, float | None]]:
        """The names in ``folder`` and when each was last written (None: not known)."""
        return [
            (str(entry["name"]).rsplit("/", 1)[-1], _mtime(entry))
            for entry in self._listing(folder)
        ]

    def remove(self, folder: Folder, name: str) -> None:
        """Delete ``folder/name`` (gone already: nothing to do)."""
        with contextlib.suppress(FileNotFoundError):
            self._rm(f"deleting {folder}/{name}", f"{folder}/{name}")

    def _rm(self, what: str, path: str) -> None:
        self._io(what, lambda fs, root: fs.rm_file(f"{root}/{path}"))


def _mtime(entry: Mapping[str, Any]) -> float | None:
    """When a listed object was written, from what each filesystem lists."""
    for key in ("mtime", "LastModified", "updated", "last_modified"):
        value = entry.get(key)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None


def _parse(data: bytes) -> LibraryVoice | None:
    try:
        return LibraryVoice.from_json(json.loads(data))
    except (ValueError, KeyError, TypeError):
        log.warning("voice library: an unreadable voice record is skipped")
        return None
