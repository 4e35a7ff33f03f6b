"""VoiceLibrary: cloned voices kept in the configured object store, owned and consented.

Layout under ``voices.url`` (a directory, ``s3://`` or ``gs://``)::

    audio/<sha256>.wav     prepared reference audio, stored once however many voices use it
    voices/<id>.json       one record per voice (name, owner, consent, digest, ...)

Nothing lives only in memory: a server restarted, or another replica on the same bucket,
sees the same voices. Records read once are kept by their listing signature (size and
modification time), so a listing costs one LIST and only changed records are read again.
Names are unique per owner; two replicas creating one name at the same instant can both
succeed (the store has no transactions), and ids stay unique.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from polyvox.errors import (
    PolyvoxError,
    StorageFailure,
    VoiceAmbiguous,
    VoiceExists,
    VoiceNotFound,
)
from polyvox.settings import VoiceLibrarySettings
from polyvox.storage import ObjectStore
from polyvox.storage.objects import is_local, redact
from polyvox.types import Caller
from polyvox.voices.preparation import PreparedAudio, prepare
from polyvox.voices.records import (
    VOICE_ID,
    LibraryVoice,
    VoiceDraft,
    check_draft,
    new_id,
    required_consent,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


class VoiceLibrary:
    """Create, list, find, change and delete library voices (blocking: call off the loop)."""

    def __init__(self, settings: VoiceLibrarySettings, objects: ObjectStore) -> None:
        self.settings = settings
        self._objects = objects
        self.root = os.path.expanduser(settings.url).rstrip("/")
        """Where the library lives (its directory or object-store URL)."""
        self._records: dict[str, tuple[Any, LibraryVoice]] = {}
        self._lock = threading.Lock()

    # -- storage -----------------------------------------------------------------------
    def _io(self, what: str, action: Callable[[Any], T]) -> T:
        fs, root = self._objects.filesystem(self.root)
        try:
            return action((fs, root))
        except (PolyvoxError, FileNotFoundError):
            raise
        except Exception as exc:
            log.warning("voice library: %s failed: %s", what, exc)
            raise StorageFailure(
                f"the voice library at {redact(self.root)}: {what} failed ({type(exc).__name__})"
            ) from exc

    def _read_record(self, voice_id: str) -> LibraryVoice | None:
        def read(where: Any) -> bytes:
            fs, root = where
            data: bytes = fs.cat_file(f"{root}/voices/{voice_id}.json")
            return data

        try:
            return _parse(self._io("reading a voice", read))
        except FileNotFoundError:
            return None

    def _write_record(self, voice: LibraryVoice) -> None:
        body = json.dumps(voice.to_json(), ensure_ascii=False).encode()

        def write(where: Any) -> None:
            fs, root = where
            path = f"{root}/voices/{voice.id}.json"
            if not is_local(self.root):
                fs.pipe_file(path, body)  # an object store replaces an object at once
                return
            # a reader must never see half a record: write beside it, then rename over it
            part = f"{root}/voices/.part-{uuid.uuid4().hex}"
            fs.pipe_file(part, body)
            os.replace(part, path)

        self._io("saving a voice", write)

    def _all(self) -> list[LibraryVoice]:
        """Every record in the store (changed ones read again)."""

        def listing(where: Any) -> list[dict[str, Any]]:
            fs, root = where
            fs.invalidate_cache(f"{root}/voices")
            try:
                entries: list[dict[str, Any]] = fs.ls(f"{root}/voices", detail=True)
            except FileNotFoundError:
                return []
            return entries

        found: list[LibraryVoice] = []
        for entry in self._io("listing voices", listing):
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
                voice = self._read_record(name[:-5])
                if voice is None:
                    continue
                cached = (signature, voice)
                with self._lock:
                    self._records[name] = cached
            found.append(cached[1])
        return found

    def audio(self, digest: str) -> bytes:
        """The prepared reference audio named ``digest``."""

        def read(where: Any) -> bytes:
            fs, root = where
            data: bytes = fs.cat_file(f"{root}/audio/{digest}.wav")
            return data

        try:
            return self._io("reading voice audio", read)
        except FileNotFoundError:
            raise VoiceNotFound(
                "the voice's audio is missing from the library", param="voice"
            ) from None

    def _store_audio(self, prepared: PreparedAudio) -> None:
        def write(where: Any) -> None:
            fs, root = where
            path = f"{root}/audio/{prepared.digest}.wav"
            if not fs.exists(path):  # the same audio is stored once
                fs.pipe_file(path, prepared.wav)

        self._io("storing voice audio", write)

    def _drop_audio(self, digest: str) -> bool:
        """Delete ``digest``'s audio if no voice uses it any more; True if it was deleted."""
        if any(v.digest == digest for v in self._all()):
            return False

        def remove(where: Any) -> None:
            fs, root = where
            fs.rm_file(f"{root}/audio/{digest}.wav")

        with contextlib.suppress(FileNotFoundError):
            self._io("deleting voice audio", remove)
        return True

    # -- operations --------------------------------------------------------------------
    def all_voices(self) -> list[LibraryVoice]:
        """Every voice, whoever owns it (for checks, never for answers)."""
        return self._all()

    def voices(self, caller: Caller) -> list[LibraryVoice]:
        """The voices ``caller`` may see, oldest first."""
        visible = [v for v in self._all() if caller.sees(v.owner)]
        return sorted(visible, key=lambda v: (v.created_at, v.id))

    def find(self, caller: Caller, ref: str) -> LibraryVoice | None:
        """A voice by id or name, if ``caller`` may use it; a name that several owners use
        is the caller's own, or a 409 for an admin who sees them all."""
        if VOICE_ID.fullmatch(ref):
            voice = self._read_record(ref)
            return voice if voice is not None and caller.sees(voice.owner) else None
        named = [v for v in self.voices(caller) if v.name.casefold() == ref.casefold()]
        own = [v for v in named if v.owner == caller.key]
        if own:
            return own[0]
        if len(named) > 1:
            raise VoiceAmbiguous(
                f"{len(named)} library voices are named {ref!r} (of different API keys): "
                "name one by its id",
                param="voice",
            )
        return named[0] if named else None

    def get(self, caller: Caller, ref: str) -> LibraryVoice:
        """A voice by id or name; a 404 when it does not exist or is someone else's."""
        voice = self.find(caller, ref)
        if voice is None:
            raise VoiceNotFound(f"no library voice {ref!r}", param="voice")
        return voice

    def create(self, caller: Caller, draft: VoiceDraft) -> LibraryVoice:
        """Prepare the audio, store it (once per digest) and the record."""
        check_draft(draft, creating=True)
        consent = required_consent(draft)
        name = (draft.name or "").strip()
        self._unique(caller.key, name)
        prepared = prepare(draft.audio or [], self.settings)
        self._store_audio(prepared)
        now = int(time.time())
        voice = LibraryVoice(
            id=new_id(), name=name, owner=caller.key, digest=prepared.digest,
            seconds=round(prepared.seconds, 3), consent=consent, created_at=now,
            updated_at=now, language=draft.language, transcript=draft.transcript,
            defaults=dict(draft.defaults or {}),
        )  # fmt: skip
        self._write_record(voice)
        log.info("voice library: created %s (%s, %.1f s)", voice.id, name, prepared.seconds)
        return voice

    def _unique(self, owner: str | None, name: str, keep: str | None = None) -> None:
        mine = (v for v in self._all() if v.owner == owner and v.id != keep)
        if any(v.name.casefold() == name.casefold() for v in mine):
            raise VoiceExists(f"a voice named {name!r} exists already", param="name")

    def update(
        self, caller: Caller, ref: str, draft: VoiceDraft
    ) -> tuple[LibraryVoice, str | None]:
        """Change a voice; returns it and the digest of audio no voice uses any more."""
        check_draft(draft, creating=False)
        old = self.get(caller, ref)
        changes: dict[str, Any] = {"updated_at": int(time.time())}
        if draft.name is not None:
            self._unique(old.owner, draft.name.strip(), keep=old.id)
            changes["name"] = draft.name.strip()
        if draft.audio is not None:
            prepared = prepare(draft.audio, self.settings)
            self._store_audio(prepared)
            changes.update(digest=prepared.digest, seconds=round(prepared.seconds, 3))
            if draft.transcript is None:  # the old transcript said what the old audio said
                changes.update(transcript=None, transcribed_by=None)
        if draft.transcript is not None:
            changes.update(transcript=draft.transcript or None, transcribed_by=None)
        for key in ("language", "defaults", "consent"):
            if getattr(draft, key) is not None:
                changes[key] = getattr(draft, key)
        voice = replace(old, **changes)
        self._write_record(voice)
        orphaned = None
        if voice.digest != old.digest and self._drop_audio(old.digest):
            orphaned = old.digest
        return voice, orphaned

    def delete(self, caller: Caller, ref: str) -> tuple[LibraryVoice, bool]:
        """Delete a voice; returns it and whether its audio went too (no other voice uses it)."""
        voice = self.get(caller, ref)

        def remove(where: Any) -> None:
            fs, root = where
            fs.rm_file(f"{root}/voices/{voice.id}.json")

        try:
            self._io("deleting a voice", remove)
        except FileNotFoundError:  # deleted meanwhile, by another request or replica
            raise VoiceNotFound(f"no library voice {ref!r}", param="voice") from None
        with self._lock:
            self._records.pop(f"{voice.id}.json", None)
        log.info("voice library: deleted %s (%s)", voice.id, voice.name)
        return voice, self._drop_audio(voice.digest)

    def note_transcript(self, voice: LibraryVoice, text: str, model: str) -> None:
        """Keep a transcript the server made for a voice that had none (best effort)."""
        current = self._read_record(voice.id)
        if current is None or current.transcript or current.digest != voice.digest:
            return
        try:
            self._write_record(replace(current, transcript=text, transcribed_by=model))
        except PolyvoxError:
            log.warning("voice library: cannot keep the transcript of %s", voice.id)


def _parse(data: bytes) -> LibraryVoice | None:
    try:
        return LibraryVoice.from_json(json.loads(data))
    except (ValueError, KeyError, TypeError):
        log.warning("voice library: an unreadable voice record is skipped")
        return None
