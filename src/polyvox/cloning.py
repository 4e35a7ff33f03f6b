"""What cloning models get with a request: library voices, reference audio, transcripts.

A request names a library voice in ``voice`` (its id, or its name where no engine voice of
the model has that name); the voice becomes the request's reference audio (the prepared
file, named by digest), its transcript, its language and its per-engine defaults, each
only where the request sets none. Reference audio sent with a request is fetched once and
cached by digest; a model that reads what the reference says gets it transcribed once per
reference. Forgetting a reference drops all of that, and every engine's conditioning.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from urllib.parse import quote

import numpy as np

from polyvox import codecs, decoding
from polyvox.catalogue import Catalogue
from polyvox.checks import speaks
from polyvox.engines.base import ForgetsReferences, TTSEngine
from polyvox.engines.conditioning import default_directory, forget_on_disk, home_directory
from polyvox.engines.pool import ModelPool
from polyvox.errors import InvalidRequest, PolyvoxError, ReferenceNotFound, VoiceNotFound
from polyvox.settings import Settings
from polyvox.storage import ObjectStore
from polyvox.threads import run_blocking
from polyvox.transcription_job import TranscriptionJob
from polyvox.types import (
    STT_SAMPLE_RATE,
    Caller,
    EngineInfo,
    ReferenceAudio,
    SpeechParams,
    TranscriptionParams,
    VoiceInfo,
)
from polyvox.voices.library import VoiceLibrary
from polyvox.voices.records import VOICE_ID, LibraryVoice
from polyvox.voices.reference import HASH_PREFIX, ReferenceStore
from polyvox.voices.transcripts import Transcript, Transcripts

log = logging.getLogger(__name__)
TRANSCRIPT_HEADER = "x-reference-transcript"
"""The transcript polyvox made of a request's reference audio (percent-encoded UTF-8)."""
TRANSCRIBED_BY_HEADER = "x-reference-transcribed-by"
"""The speech-to-text model that made it."""
MAX_TRANSCRIPT_HEADER = 4096
"""Longest percent-encoded transcript sent as a header (proxies limit header sizes)."""
REFERENCE_SECONDS = 30.0
"""What cloning engines read of a reference (its first 30 s), and so what is transcribed."""
Transcribe = Callable[[TranscriptionParams], Awaitable[TranscriptionJob]]


def _reference_clip(reference: Path) -> bytes:
    """The first ``REFERENCE_SECONDS`` of a cached reference, as 16 kHz WAV."""
    samples = decoding.read_mono(
        reference.read_bytes(), STT_SAMPLE_RATE, REFERENCE_SECONDS, param="reference_audio"
    )
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    return codecs.wav_header(STT_SAMPLE_RATE, len(pcm)) + pcm


class Cloning:
    """Library voices, cached references and transcripts for the speech service."""

    def __init__(
        self,
        settings: Settings,
        catalogue: Catalogue,
        pool: ModelPool,
        objects: ObjectStore,
        transcribe: Transcribe,
    ) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self.pool = pool
        self.library = VoiceLibrary(settings.voices, objects)
        self.references = ReferenceStore(settings.reference, objects, (self.library.root,))
        self.transcripts = Transcripts(settings.reference.cache_dir / ".transcripts")
        self._transcribe = transcribe

    # -- library voices ----------------------------------------------------------------
    async def voice(
        self, engine: TTSEngine, params: SpeechParams, caller: Caller
    ) -> tuple[SpeechParams, VoiceInfo, LibraryVoice | None]:
        """The voice a request names, resolved once: the engine's own voice of that name
        (it wins), else a library voice ``caller`` may use, applied to the request (it
        speaks through the engine's default voice, cloned from the library's audio)."""
        name = params.voice
        if name and not VOICE_ID.fullmatch(name):  # a library voice id is no engine voice
            with contextlib.suppress(VoiceNotFound):
                return params, self.catalogue.voice(engine, name), None
        found = None
        if name:
            found = await run_blocking(partial(self.library.find, caller, name, fresh=False))
        if found is None:
            return params, self.catalogue.voice(engine, name), None  # the default, or a 404
        params = self._library_voice(engine.info, params, found)
        return params, self.catalogue.voice(engine, None), found

    def _library_voice(
        self, info: EngineInfo, params: SpeechParams, found: LibraryVoice
    ) -> SpeechParams:
        """The request with a library voice applied (its audio as the reference)."""
        name = params.voice
        if not info.voice_cloning:
            raise InvalidRequest(
                f"{name!r} is a library voice and model {info.model!r} does not clone voices; "
                "use a model whose capabilities say voice_cloning",
                param="voice",
            )
        if params.reference_audio is not None:
            raise InvalidRequest(
                "send either a library voice or reference audio, not both",
                param=params.reference_audio.param,
            )
        language = params.language
        if language is None and found.language and speaks(info, found.language):
            language = found.language
        text = params.reference_text or (found.transcript if info.reference_text else None)
        return dataclasses.replace(
            params,
            voice=None,
            language=language,
            reference_text=text,
            params={**found.defaults_for(info.engine, info.model), **params.params},
            reference_audio=ReferenceAudio(f"{HASH_PREFIX}{found.digest}", param="voice"),
        )

    # -- reference audio -----------------------------------------------------------------
    async def reference(
        self, params: SpeechParams, voice: LibraryVoice | None, caller: Caller
    ) -> Path | None:
        """The request's reference audio in the cache (fetched or copied from the library)."""
        if voice is not None:
            return await run_blocking(partial(self._library_reference, voice))
        ref = params.reference_audio
        if ref is None:
            return None
        if isinstance(ref.source, str) and ref.source.startswith(HASH_PREFIX):
            # a library voice's audio, named by its digest, is its owner's alone
            digest = ref.source.removeprefix(HASH_PREFIX)
            if not caller.admin and await run_blocking(partial(self._others, caller, digest)):
                raise ReferenceNotFound(
                    f"{ref.param}: no reference audio with hash {digest[:12]}... is cached "
                    "here; send the audio itself",
                    param=ref.param,
                )
        return await run_blocking(partial(self.references.resolve, ref))

    def _others(self, caller: Caller, digest: str) -> bool:
        """Whether ``digest`` is the audio of library voices ``caller`` may not use only."""
        users = [v for v in self.library.all_voices(fresh=False) if v.digest == digest]
        return bool(users) and not any(caller.sees(v.owner) for v in users)

    def _library_reference(self, voice: LibraryVoice) -> Path:
        found = self.references.find(voice.digest)
        if found is not None:
            return found
        return self.references.put(self.library.audio(voice.digest), param="voice")

    async def transcript(
        self,
        info: EngineInfo,
        params: SpeechParams,
        reference: Path | None,
        voice: LibraryVoice | None,
    ) -> tuple[str | None, dict[str, str]]:
        """What the reference says: the client's ``reference_text`` (or the library
        voice's transcript), or, for a model that reads one, the server's speech-to-text
        model's transcript, made once per reference and named in the response headers."""
        if reference is None or not info.reference_text or params.reference_text:
            return params.reference_text, {}
        known = await run_blocking(partial(self.transcripts.get, reference.name))
        if known is None:
            known = await self._transcribed(info, reference)
            await run_blocking(partial(self.transcripts.put, reference.name, known))
        if voice is not None and not voice.transcript:  # the voice keeps it from now on
            note = partial(self.library.note_transcript, voice, known.text, known.model)
            await run_blocking(note)
        headers = {TRANSCRIBED_BY_HEADER: known.model}
        quoted = quote(known.text)
        if len(quoted) <= MAX_TRANSCRIPT_HEADER:
            headers[TRANSCRIPT_HEADER] = quoted
        return known.text, headers

    async def _transcribed(self, info: EngineInfo, reference: Path) -> Transcript:
        stt = self.settings.default_stt_model
        if stt not in self.settings.served:
            raise InvalidRequest(
                f"model {info.model!r} needs what the reference audio says: send "
                f"reference_text (no speech-to-text model {stt!r} is served to transcribe it)",
                param="reference_text",
            )
        # what cloning reads of the reference, and no more: a longer transcript than
        # its audio would have the model speak the rest
        clip = await run_blocking(partial(_reference_clip, reference), "codec")
        job = await self._transcribe(TranscriptionParams(stt, clip, response_format="text"))
        said = str(await job.render()).strip()
        if not said:
            raise InvalidRequest(
                "no speech was recognised in the reference audio: send reference_text",
                param="reference_text",
            )
        return Transcript(said, stt)

    # -- forgetting ----------------------------------------------------------------------
    async def forget(self, digest: str) -> None:
        """Drop a reference everywhere: its cached file and transcript, the conditioning
        every engine built from it (in this process, supervised and remote polyvox
        workers), and conditioning files of models that are not running."""
        await run_blocking(partial(self._forget_files, digest))
        for model in self.settings.served:
            try:
                engine = self.pool.engine(model)
            except PolyvoxError:
                continue
            if isinstance(engine, ForgetsReferences):
                await engine.forget_reference(digest)
        log.info("reference %s... forgotten", digest[:12])

    async def collect_orphans(self) -> None:
        """Sweep library audio no voice uses (past its grace period) and forget what was
        built from it; in the background, so a failure is logged, never raised."""
        try:
            removed = await run_blocking(self.library.collect_orphans)
            for digest in removed:
                await self.forget(digest)
        except PolyvoxError as exc:
            log.warning("voice library: sweeping unused audio failed: %s", exc.message)

    def _forget_files(self, digest: str) -> None:
        (self.settings.reference.cache_dir / digest).unlink(missing_ok=True)
        self.transcripts.forget(digest)
        forget_on_disk(digest, self._conditioning_directories())

    def _conditioning_directories(self) -> set[Path]:
        """Where served models keep conditioning (configured, or the default per model)."""
        found: set[Path] = set()
        for model in self.settings.served:
            configured = self.settings.models[model].options().get("conditioning_dir")
            found.add(Path(configured) if configured else default_directory(model))
            # a supervised worker does not inherit POLYVOX_* variables: it uses the home one
            found.add(default_directory(model, home_directory()))
        return found
