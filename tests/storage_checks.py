"""Checks both object-storage backends (S3 and GCS servers on 127.0.0.1) must pass alike."""

from __future__ import annotations

import hashlib
from pathlib import Path

from polyvox.settings import ReferenceSettings
from polyvox.storage import ObjectStore
from polyvox.types import ReferenceAudio
from polyvox.voices.reference import ReferenceStore
from tests.samples import sine_wav


def check_reference_cached_by_content(objects: ObjectStore, cache_dir: Path) -> None:
    """Upload a reference under ``output_url``, resolve it by URL: cached under its SHA-256."""
    wav = sine_wav(1.0, freq=250.0)
    stored = objects.upload(wav, "refs/voice.wav", "audio/wav")
    refs = ReferenceStore(ReferenceSettings(cache_dir=cache_dir), objects)
    path = refs.resolve(ReferenceAudio(stored.url, "ref_audio_url"))
    assert path.read_bytes() == wav
    assert path.name == hashlib.sha256(wav).hexdigest()
