"""VoiceLibrary on a directory, as two replicas see it: records read again when they change,
names per owner, audio replaced and orphaned, transcripts kept; and preparation's output."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from polyvox.errors import InvalidRequest, VoiceAmbiguous, VoiceExists, VoiceNotFound
from polyvox.settings import StorageSettings, VoiceLibrarySettings
from polyvox.storage import ObjectStore
from polyvox.types import TRUSTED, Caller
from polyvox.voices.library import VoiceLibrary
from polyvox.voices.preparation import SAMPLE_RATE, prepare
from polyvox.voices.records import Consent, VoiceDraft
from tests.stt_audio import speech_file, speech_wav

ALICE = Caller(key="alice", admin=False)
BOB = Caller(key="bob", admin=False)
CONSENT = Consent(by="Jo", at="2026-12-03")


def library(folder: Path) -> VoiceLibrary:
    settings = VoiceLibrarySettings(url=str(folder))
    return VoiceLibrary(settings, ObjectStore(StorageSettings()))


def draft(name: str, *audio: bytes) -> VoiceDraft:
    return VoiceDraft(name=name, audio=list(audio or [speech_wav()]), consent=CONSENT)


def test_two_replicas_on_one_directory_see_each_others_changes(tmp_path: Path) -> None:
    one, two = library(tmp_path), library(tmp_path)
    assert two.voices(TRUSTED) == []
    voice = one.create(ALICE, draft("Ada"))
    assert [v.id for v in two.voices(ALICE)] == [voice.id]
    assert two.voices(BOB) == []
    one.update(ALICE, voice.id, VoiceDraft(name="Ada L."))
    assert two.get(ALICE, "ada l.").id == voice.id  # the changed record is read again
    assert two.find(ALICE, "Ada") is None
    two.delete(ALICE, voice.id)
    assert one.voices(TRUSTED) == []


def test_names_are_unique_per_owner_and_an_owners_own_wins(tmp_path: Path) -> None:
    lib = library(tmp_path)
    mine = lib.create(ALICE, draft("Echo"))
    with pytest.raises(VoiceExists):
        lib.create(ALICE, draft("ECHO"))
    theirs = lib.create(BOB, draft("Echo"))
    admin = Caller(key="bob", admin=True)
    assert lib.get(admin, "Echo").id == theirs.id  # an admin's own voice first
    assert lib.get(ALICE, "Echo").id == mine.id
    with pytest.raises(VoiceAmbiguous):  # another admin sees two: the id says which
        lib.get(Caller(key="carol", admin=True), "echo")
    lib.create(ALICE, draft("Other"))
    with pytest.raises(VoiceExists):  # an admin renaming Alice's voice: Alice's names count
        lib.update(admin, mine.id, VoiceDraft(name="other"))
    with pytest.raises(VoiceNotFound):
        lib.get(BOB, mine.id)
    with pytest.raises(InvalidRequest) as looks_like_an_id:
        lib.create(ALICE, draft("voice_0123456789abcdef01234567"))
    assert looks_like_an_id.value.param == "name"


def test_new_audio_orphans_the_old_and_drops_its_transcript(tmp_path: Path) -> None:
    lib = library(tmp_path)
    voice = lib.create(ALICE, VoiceDraft(
        name="Changing", audio=[speech_wav()], consent=CONSENT, transcript="old words",
    ))  # fmt: skip
    twin = lib.create(ALICE, draft("Twin"))  # the same audio: one file
    assert twin.digest == voice.digest
    assert len(list((tmp_path / "audio").iterdir())) == 1
    other = speech_wav("A different sentence for a different reference recording.")
    changed, orphaned = lib.update(ALICE, voice.id, VoiceDraft(audio=[other]))
    assert orphaned is None  # the twin still uses the old audio
    assert changed.digest != voice.digest
    assert changed.transcript is None  # it described the old audio
    _, orphaned = lib.update(ALICE, twin.id, VoiceDraft(audio=[other]))
    assert orphaned == voice.digest
    assert [p.name for p in (tmp_path / "audio").iterdir()] == [f"{changed.digest}.wav"]
    lib.note_transcript(changed, "new words", "whisper")
    kept = lib.get(ALICE, changed.id)
    assert (kept.transcript, kept.transcribed_by) == ("new words", "whisper")
    lib.note_transcript(kept, "other words", "whisper")  # one it has is never overwritten
    assert lib.get(ALICE, changed.id).transcript == "new words"


def test_preparation_joins_files_and_gives_the_same_bytes_for_the_same_audio() -> None:
    settings = VoiceLibrarySettings()
    mp3 = speech_file("mp3")
    one = prepare([speech_wav(), mp3], settings)
    assert prepare([speech_wav(), mp3], settings).digest == one.digest
    with wave.open(io.BytesIO(one.wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (SAMPLE_RATE, 1, 2)
        samples = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    single = prepare([speech_wav()], settings).seconds
    assert one.seconds > 2 * single  # both files, with a pause between them
    assert len(samples) / SAMPLE_RATE == pytest.approx(one.seconds, abs=0.01)
    clipped = prepare([speech_wav()] * 8, VoiceLibrarySettings(max_seconds=5))
    assert clipped.seconds == pytest.approx(5.0, abs=0.01)
    with pytest.raises(InvalidRequest) as too_many:
        prepare([speech_wav()] * 9, settings)
    assert too_many.value.param == "audio_sample"
    with pytest.raises(InvalidRequest) as second_bad:
        prepare([speech_wav(), b"garbage" * 100], settings)
    assert second_bad.value.param == "audio_sample[1]"
