"""XTTS-v2 (Coqui, ``coqui-tts``): 17 languages, voices cloned from reference audio.

Runs in the ``xtts`` engine environment (``polyvox engines install xtts``); this module
imports torch only when the model loads, so a gateway can read its options. The engine
splits text itself (sentences within XTTS's per-language limits) and streams each one
with ``inference_stream``: audio arrives every ``stream_chunk_size`` GPT tokens, inside a
sentence. A voice's speaker latents (``gpt_cond_latent``, ``speaker_embedding``) are
computed once per (model, reference digest) and kept in memory and on disk
(``engines.conditioning``). One synthesis at a time per model: a request's seed is
torch's global one.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from polyvox.engines.conditioning import ConditioningCache, default_directory, file_digest
from polyvox.engines.torch_support import checkpoint_directory, inference_steps, torch_device
from polyvox.engines.xtts_model import LANGUAGES, SPEAKERS, missing_files
from polyvox.engines.xtts_options import XttsOptions, language_code, params
from polyvox.engines.xtts_text import readable, sentences_of
from polyvox.errors import InvalidRequest
from polyvox.types import AudioChunk, EngineInfo, ParamValue, SpeechRequest, VoiceInfo

if TYPE_CHECKING:
    from polyvox.engines.spec import ModelSpec

SAMPLE_RATE = 24000
COND_RATE = 22050
"""XTTS reads reference audio at 22.05 kHz (the speaker encoder resamples to 16 kHz)."""
MIN_REFERENCE_SECONDS = 1.0
SPEED_RANGE = (0.5, 2.0)
Latents = tuple[Any, Any]
"""(gpt_cond_latent, speaker_embedding)"""


class XttsEngine:
    """One XTTS-v2 checkpoint; blocking (the registry runs it behind threads)."""

    Options = XttsOptions
    blocking = True
    kind = "tts"

    @staticmethod
    def clones(options: Any) -> bool:
        """Whether a model with these options clones voices (known before it loads)."""
        return True

    def __init__(self, spec: ModelSpec) -> None:
        self._options = cast(XttsOptions, spec.options)
        self._model = spec.id
        self._tts: Any = None
        self._studio: dict[str, Latents] | None = None
        self._lock = threading.Lock()
        self._cloning = _cloning_key(self._options)
        self._voice_keys: dict[str, str] = {}
        self._cache: ConditioningCache[Latents] = ConditioningCache(
            self._options.conditioning_dir or default_directory(spec.id),
            self._options.conditioning_entries, save=_save, load=self._read_latents,
        )  # fmt: skip
        self.info = EngineInfo(
            model=spec.id, engine="xtts", kind="tts", sample_rate=SAMPLE_RATE,
            description="XTTS-v2 (Coqui, 17 languages); clones reference audio; weights "
            "under the Coqui Public Model License",
            languages=LANGUAGES, voice_cloning=True, speed=True, speed_range=SPEED_RANGE,
            params=params(), splits_text=True, max_concurrency=1,
            device=torch_device(self._options.device),
        )  # fmt: skip

    # -- voices --------------------------------------------------------------------------
    @property
    def default_voice(self) -> str:
        if self._options.default_voice:
            return self._options.default_voice
        names = [*self._studio_names(), *self._options.voices]
        return names[0] if names else "default"

    @property
    def events(self) -> dict[str, int]:
        """Speaker-latent lookups by outcome (built, memory, disk), for the metrics."""
        return dict(self._cache.events)

    def forget_reference(self, digest: str) -> None:
        """Drop the speaker latents built from reference ``digest`` (memory and disk)."""
        self._cache.forget(digest)

    def voices(self) -> list[VoiceInfo]:
        language = self._options.default_language or "en"
        found = [
            VoiceInfo(id=name, name=name, language=language, model=self._model,
                      sample_rate=SAMPLE_RATE, description="an XTTS-v2 studio voice")
            for name in self._studio_names()
        ]  # fmt: skip
        for name, files in self._options.voices.items():
            found.append(
                VoiceInfo(id=name, name=name, language=language, model=self._model,
                          sample_rate=SAMPLE_RATE,
                          description=f"cloned from {len(files)} reference file(s)")
            )  # fmt: skip
        if not found:
            found.append(
                VoiceInfo(id="default", name="default", language=language, model=self._model,
                          sample_rate=SAMPLE_RATE,
                          description="no built-in voice: send reference audio to clone one")
            )  # fmt: skip
        return found

    def _studio_names(self) -> list[str]:
        """The studio voices' names: loaded with the model, or read from the checkpoint."""
        if self._studio is None:
            directory = self._options.checkpoint
            if directory is None or not (directory / SPEAKERS).is_file():
                return []
            self._studio = _read_speakers(directory / SPEAKERS)
        return list(self._studio)

    # -- lifecycle -----------------------------------------------------------------------
    def load(self) -> None:
        with self._lock:
            if self._tts is None:
                self._tts = self._open()

    def _open(self) -> Any:
        from polyvox.engines import xtts_model

        options = self._options
        directory = checkpoint_directory(
            self._model, options.checkpoint, options.threads,
            lambda: xtts_model.download(options.hub_repo), missing_files, "XTTS-v2",
        )  # fmt: skip
        tts = xtts_model.load(directory, self.info.device)
        manager = getattr(tts, "speaker_manager", None)
        self._studio = {
            name: (voice["gpt_cond_latent"], voice["speaker_embedding"])
            for name, voice in (manager.speakers.items() if manager is not None else ())
        }
        return tts

    def unload(self) -> None:
        with self._lock:
            self._tts = None
            self._cache.clear_memory()

    # -- synthesis -----------------------------------------------------------------------
    def synthesize(self, req: SpeechRequest) -> Iterator[AudioChunk]:
        """Checks language, voice and parameters now; speaks as the iterator is read."""
        language = req.language or self._options.default_language
        if language is None:
            raise InvalidRequest(
                f"model {self._model!r} needs 'language': one of {', '.join(LANGUAGES)}",
                param="language",
            )
        code = language_code(language)
        if code is None:
            raise InvalidRequest(
                f"model {self._model!r} speaks {', '.join(LANGUAGES)}, not {language!r}",
                param="language",
            )
        known = req.voice in (*self._options.voices, *self._studio_names(), self.default_voice)
        if req.reference_audio is None and not known:
            raise InvalidRequest(f"model {self._model!r} has no voice {req.voice!r}", param="voice")
        values = {name: spec.default for name, spec in self.info.params.items()}
        return inference_steps(self._speak(req, code, {**values, **req.params}))

    def _speak(
        self, req: SpeechRequest, code: str, values: dict[str, ParamValue | None]
    ) -> Iterator[AudioChunk]:
        import torch

        options = self._options
        sampling = {
            "temperature": float(cast(float, values["temperature"])),
            "top_k": int(cast(int, values["top_k"])),
            "top_p": float(cast(float, values["top_p"])),
            "repetition_penalty": float(cast(float, values["repetition_penalty"])),
            "length_penalty": float(cast(float, values["length_penalty"])),
            "speed": req.speed or 1.0,
        }
        with self._lock:  # per-call state: torch's global seed and the GPT's caches
            tts = self._tts if self._tts is not None else self._open()
            self._tts = tts
            sentences = readable(tts, sentences_of(req.text, code), code)  # before any audio
            if values["seed"] is not None:
                torch.manual_seed(int(cast(int, values["seed"])))
            latent, embedding = self._latents(tts, req)
            for sentence in sentences:
                if not options.stream:
                    out = tts.inference(sentence, code, latent, embedding, **sampling)
                    yield _chunk(out["wav"])
                    continue
                for piece in tts.inference_stream(
                    sentence, code, latent, embedding, stream_chunk_size=options.stream_chunk_size,
                    overlap_wav_len=options.overlap_wav_len, **sampling,
                ):  # fmt: skip
                    yield _chunk(piece)

    # -- cloning -------------------------------------------------------------------------
    def _latents(self, tts: Any, req: SpeechRequest) -> Latents:
        """The voice's speaker latents: a reference (cached by digest), a configured
        voice (cached by its files' digests) or a studio voice."""
        if req.reference_audio is not None:  # cached files are named by their content's SHA-256
            reference = req.reference_audio
            key = f"{self._cloning}-{reference.name}"
            return self._cache.get(key, lambda: self._clone(tts, [reference]))
        files = self._options.voices.get(req.voice)
        if files is not None:
            if req.voice not in self._voice_keys:  # hashed once per process, not per request
                digests = hashlib.sha256()
                for path in files:
                    digests.update(file_digest(path).encode())
                self._voice_keys[req.voice] = f"{self._cloning}-voice-{digests.hexdigest()}"
            key = self._voice_keys[req.voice]
            return self._cache.get(key, lambda: self._clone(tts, files))
        studio = self._studio or {}
        if req.voice not in studio:
            raise InvalidRequest(
                f"model {self._model!r} has no built-in voice: send reference audio",
                param="reference_audio",
            )
        return studio[req.voice]

    def _clone(self, tts: Any, files: Sequence[Path]) -> Latents:
        """``get_conditioning_latents`` of the library, from audio polyvox decoded (any
        format): one speaker embedding per file, averaged; GPT latents over them all."""
        import torch

        from polyvox.decoding import read_mono

        options = self._options
        audios, embeddings = [], []
        for path in files:
            param = "reference_audio" if len(files) == 1 else f"voices.{path.name}"
            wav = read_mono(path.read_bytes(), COND_RATE, options.max_ref_length, param=param)
            wav = wav[: COND_RATE * options.max_ref_length]
            if len(wav) < MIN_REFERENCE_SECONDS * COND_RATE or not np.any(np.abs(wav) > 1e-3):
                raise InvalidRequest(
                    f"reference audio must hold at least {MIN_REFERENCE_SECONDS:g} s of sound",
                    param="reference_audio",
                )
            audio = torch.from_numpy(np.ascontiguousarray(wav)).unsqueeze(0).to(tts.device)
            embeddings.append(tts.get_speaker_embedding(audio, COND_RATE))
            audios.append(audio)
        latent = tts.get_gpt_cond_latents(
            torch.cat(audios, dim=-1), COND_RATE, length=options.gpt_cond_len,
            chunk_length=min(options.gpt_cond_chunk_len, options.gpt_cond_len),
        )  # fmt: skip
        return latent, torch.stack(embeddings).mean(dim=0)

    def _read_latents(self, path: Path) -> Latents:
        import torch

        saved = torch.load(path, map_location=self.info.device, weights_only=True)
        return saved["gpt_cond_latent"], saved["speaker_embedding"]


def _cloning_key(options: XttsOptions) -> str:
    """What latents depend on besides the audio: the weights and how references are read
    (a cache kept across a checkpoint change or new options would hand back stale ones)."""
    where = str(options.checkpoint.resolve()) if options.checkpoint else options.hub_repo
    weights = options.checkpoint / "model.pth" if options.checkpoint else None
    size = weights.stat().st_size if weights is not None and weights.is_file() else 0
    reads = (options.gpt_cond_len, options.gpt_cond_chunk_len, options.max_ref_length)
    return hashlib.sha256(f"{where}|{size}|{reads}".encode()).hexdigest()[:12]


def _save(latents: Latents, path: Path) -> None:
    import torch

    torch.save({"gpt_cond_latent": latents[0], "speaker_embedding": latents[1]}, path)


def _read_speakers(path: Path) -> dict[str, Latents]:
    import torch

    speakers = torch.load(path, map_location="cpu", weights_only=True)
    return {n: (v["gpt_cond_latent"], v["speaker_embedding"]) for n, v in speakers.items()}


def _chunk(audio: Any) -> AudioChunk:
    if hasattr(audio, "detach"):
        audio = audio.detach().cpu().numpy()
    samples = np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1.0, 1.0)
    return AudioChunk(samples, SAMPLE_RATE)
