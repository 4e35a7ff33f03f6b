"""VoiceLibrary: cloned voices kept in the configured object store, owned and consented.

Layout under ``voices.url`` (a directory, ``s3://`` or ``gs://``)::

    audio/<sha256>.wav     prepared reference audio, stored once however many voices use it
    voices/<id>.json       one record per voice (name, owner, consent, digest, ...)

Nothing lives only in memory: a server restarted, or another replica on the same bucket,
sees the same voices (see ``polyvox.voices.store`` for how objects are written and read).

Names are unique per owner. In one process the check and the record's write are one step
(a lock per owner, held from the check to the write; audio is prepared before it), for
creates and renames alike. Two replicas sharing a bucket can still both create one name
at the same instant (the store has no transactions): ids stay unique, the name then finds
the older voice, and the other is reached by its id (or renamed). Likewise a delete on
one replica can remove audio that a create of the very same audio on another has just
found stored (in one process a lock per digest keeps them apart).

Audio a crash left behind (a voice deleted and its audio not) is swept: audio no record
names, older than ``voices.orphan_grace_seconds``, goes when the server starts and after
each delete. The grace period spares a create that stored its audio and has not yet
written its record, on this replica or another.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Any

from polyvox.errors import PolyvoxError, VoiceAmbiguous, VoiceExists, VoiceNotFound
from polyvox.settings import VoiceLibrarySettings
from polyvox.storage import ObjectStore
from polyvox.types import Caller
from polyvox.voices.preparation import PreparedAudio, prepare
from polyvox.voices.records import (
    DIGEST,
    VOICE_ID,
    LibraryVoice,
    VoiceDraft,
    check_draft,
    new_id,
    required_consent,
)
from polyvox.voices.store import PART, Folder, LibraryStore

log = logging.getLogger(__name__)


class _Locks:
    """A lock per key, from a fixed number of them (keys that share one wait for each other)."""

    def __init__(self, count: int = 64) -> None:
        self._locks = [threading.Lock() for _ in range(count)]

    def __call__(self, key: object) -> threading.Lock:
        return self._locks[hash(key) % len(self._locks)]


class VoiceLibrary:
    """Create, list, find, change and delete library voices (blocking: call off the loop)."""

    def __init__(self, settings: VoiceLibrarySettings, objects: ObjectStore) -> None:
        self.settings = settings
        self._store = LibraryStore(settings.url, objects)
        self.root = self._store.root
        """Where the library lives (its directory or object-store URL)."""
        self._owners = _Locks()
        """Held from a name's uniqueness check to its record's write, per owner."""
        self._digests = _Locks()
        """Held from storing audio to writing the record that names it, and from finding
        audio unused to deleting it, per digest: a delete never takes a new voice's audio."""
        self._sweeping = threading.Lock()

    # -- reading -------------------------------------------------------------------------
    def audio(self, digest: str) -> bytes:
        """The prepared reference audio named ``digest``."""
        return self._store.audio(digest)

    def _max_age(self, fresh: bool) -> float:
        return 0.0 if fresh else self.settings.cache_seconds

    def all_voices(self, *, fresh: bool = True) -> list[LibraryVoice]:
        """Every voice, whoever owns it (for checks, never for answers). ``fresh=False``:
        a listing up to ``voices.cache_seconds`` old serves (the speech path: no LIST per
        request; this library's own writes drop it at once)."""
        return self._store.records(self._max_age(fresh))

    def voices(self, caller: Caller, *, fresh: bool = True) -> list[LibraryVoice]:
        """The voices ``caller`` may see, oldest first."""
        records = self._store.records(self._max_age(fresh))
        visible = [v for v in records if caller.sees(v.owner)]
        return sorted(visible, key=lambda v: (v.created_at, v.id))

    def find(self, caller: Caller, ref: str, *, fresh: bool = True) -> LibraryVoice | None:
        """A voice by id or name, if ``caller`` may use it; a name that several owners use
        is the caller's own, or a 409 for an admin who sees them all."""
        if VOICE_ID.fullmatch(ref):
            voice = self._store.read_record(ref)
            return voice if voice is not None and caller.sees(voice.owner) else None
        named = [v for v in self.voices(caller, fresh=fresh) if v.name.casefold() == ref.casefold()]
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

    # -- changing ------------------------------------------------------------------------
    def create(self, caller: Caller, draft: VoiceDraft) -> LibraryVoice:
        """Prepare the audio, store it (once per digest) and the record."""
        check_draft(draft, creating=True)
        consent = required_consent(draft)
        name = (draft.name or "").strip()
        self._unique(caller.key, name)  # a quick 409, before the audio is prepared
        prepared = prepare(draft.audio or [], self.settings)
        now = int(time.time())
        voice = LibraryVoice(
            id=new_id(),
            name=name,
            owner=caller.key,
            digest=prepared.digest,
            seconds=round(prepared.seconds, 3),
            consent=consent,
            created_at=now,
            updated_at=now,
            language=draft.language,
            transcript=draft.transcript,
            defaults=dict(draft.defaults or {}),
        )
        with self._owners(caller.key):
            self._unique(caller.key, name)
            self._save(voice, prepared)
        log.info("voice library: created %s (%r, %.1f s)", voice.id, name, prepared.seconds)
        return voice

    def _unique(self, owner: str | None, name: str, keep: str | None = None) -> None:
        mine = (v for v in self._store.records() if v.owner == owner and v.id != keep)
        if any(v.name.casefold() == name.casefold() for v in mine):
            raise VoiceExists(f"a voice named {name!r} exists already", param="name")

    def _save(self, voice: LibraryVoice, prepared: PreparedAudio | None) -> None:
        """Store new audio, then the record that names it."""
        with self._digests(voice.digest):
            if prepared is not None:
                self._store.store_audio(prepared)
            self._store.write_record(voice)

    def update(
        self, caller: Caller, ref: str, draft: VoiceDraft
    ) -> tuple[LibraryVoice, str | None]:
        """Change a voice; returns it and the digest of audio no voice uses any more."""
        check_draft(draft, creating=False)
        old = self.get(caller, ref)
        name = None if draft.name is None else draft.name.strip()
        if name is not None:
            self._unique(old.owner, name, keep=old.id)
        prepared = None if draft.audio is None else prepare(draft.audio, self.settings)
        with self._owners(old.owner):
            current = self._store.read_record(old.id)  # as it is now, not as it was
            if current is None:
                raise VoiceNotFound(f"no library voice {ref!r}", param="voice")
            if name is not None:
                self._unique(old.owner, name, keep=old.id)
            voice = replace(current, **_changes(draft, name, prepared))
            self._save(voice, prepared)
        if voice.digest != current.digest and self._drop_audio(current.digest):
            return voice, current.digest
        return voice, None

    def delete(self, caller: Caller, ref: str) -> tuple[LibraryVoice, bool]:
        """Delete a voice; returns it and whether its audio went too (no other voice uses it)."""
        voice = self.get(caller, ref)
        with self._owners(voice.owner):
            try:
                self._store.remove_record(voice.id)
            except FileNotFoundError:  # deleted meanwhile, by another request or replica
                raise VoiceNotFound(f"no library voice {ref!r}", param="voice") from None
        log.info("voice library: deleted %s (%r)", voice.id, voice.name)
        return voice, self._drop_audio(voice.digest)

    def _drop_audio(self, digest: str) -> bool:
        """Delete ``digest``'s audio if no voice uses it any more; True if it was deleted."""
        with self._digests(digest):
            if any(v.digest == digest for v in self._store.records()):
                return False
            self._store.remove("audio", f"{digest}.wav")
        return True

    def note_transcript(self, voice: LibraryVoice, text: str, model: str) -> None:
        """Keep a transcript the server made for a voice that had none (best effort)."""
        with self._owners(voice.owner):
            current = self._store.read_record(voice.id)
            if current is None or current.transcript or current.digest != voice.digest:
                return
            try:
                self._store.write_record(replace(current, transcript=text, transcribed_by=model))
            except PolyvoxError:
                log.warning("voice library: cannot keep the transcript of %s", voice.id)

    # -- sweeping ------------------------------------------------------------------------
    def collect_orphans(self) -> list[str]:
        """Delete audio no voice uses, and files a crash left half written, once they are
        ``orphan_grace_seconds`` old; returns the digests of the audio deleted. One sweep
        runs at a time (another returns at once, with nothing)."""
        if not self._sweeping.acquire(blocking=False):
            return []
        try:
            cutoff = time.time() - self.settings.orphan_grace_seconds
            folders: tuple[Folder, ...] = ("audio", "voices")
            old = {folder: self._older(folder, cutoff) for folder in folders}
            for folder in folders:
                for name in old[folder]:
                    if name.startswith(PART):
                        self._store.remove(folder, name)
            used = {v.digest for v in self._store.records()}
            digests = [n.removesuffix(".wav") for n in old["audio"] if n.endswith(".wav")]
            unused = [d for d in digests if DIGEST.fullmatch(d) and d not in used]
            swept = [d for d in unused if self._drop_audio(d)]  # checked again, locked
        finally:
            self._sweeping.release()
        if swept:
            log.info("voice library: %d audio files no voice used were deleted", len(swept))
        return swept

    def _older(self, folder: Folder, cutoff: float) -> list[str]:
        """The names in ``folder`` last written before ``cutoff``."""
        files = self._store.files(folder)
        return [name for name, written in files if written is not None and written < cutoff]


def _changes(draft: VoiceDraft, name: str | None, prepared: PreparedAudio | None) -> dict[str, Any]:
    """The fields an update sets."""
    changes: dict[str, Any] = {"updated_at": int(time.time())}
    if name is not None:
        changes["name"] = name
    if prepared is not None:
        changes.update(digest=prepared.digest, seconds=round(prepared.seconds, 3))
        if draft.transcript is None:  # the old transcript said what the old audio said
            changes.update(transcript=None, transcribed_by=None)
    if draft.transcript is not None:
        changes.update(transcript=draft.transcript or None, transcribed_by=None)
    for key in ("language", "defaults", "consent"):
        if getattr(draft, key) is not None:
            changes[key] = getattr(draft, key)
    return changes
