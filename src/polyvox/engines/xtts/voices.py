"""XTTS-v2 voices: the checkpoint's studio voices, configured voice files and reference
audio, each as speaker latents (``gpt_cond_latent``, ``speaker_embedding``).

Latents cloned from audio are computed once per (model, reference digest) and kept in
memory and on disk (``engines.conditioning``). Imports torch only where latents are built
or read, so a gateway can list an XTTS model's voices without the engine environment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from polyvox.engines.conditioning import ConditioningCache, default_directory, file_digest
from polyvox.engines.xtts.model import SAMPLE_RATE, SPEAKERS
from polyvox.engines.xtts.options import XttsOptions
from polyvox.errors import InvalidRequest
from polyvox.types import SpeechRequest, VoiceInfo

COND_RATE = 22050
"""XTTS reads reference audio at 22.05 kHz (the speaker encoder resamples to 16 kHz)."""
MIN_REFERENCE_SECONDS = 1.0
Latents = tuple[Any, Any]
"""(gpt_cond_latent, speaker_embedding)"""


class XttsVoices:
    """One XTTS-v2 model's voices and the speaker latents each one speaks with."""

    def __init__(self, model: str, options: XttsOptions, device: str) -> None:
        self._model = model
        self._options = options
        self._device = device
        self.studio: dict[str, Latents] | None = None
        self._cloning = _cloning_key(options)
        self._voice_keys: dict[str, str] = {}
        self.cache: ConditioningCache[Latents] = ConditioningCache(
            options.conditioning_dir or default_directory(model),
            options.conditioning_entries,
            save=_save,
            load=self._read_latents,
        )

    @property
    def default_voice(self) -> str:
        if self._options.default_voice:
            return self._options.default_voice
        names = [*self.studio_names(), *self._options.voices]
        return names[0] if names else "default"

    def listed(self) -> list[VoiceInfo]:
        """The studio voices, then the configured ones (or a ``default`` that clones)."""
        language = self._options.default_language or "en"
        found = [
            VoiceInfo(
                id=name,
                name=name,
                language=language,
                model=self._model,
                sample_rate=SAMPLE_RATE,
                description="an XTTS-v2 studio voice",
            )
            for name in self.studio_names()
        ]
        for name, files in self._options.voices.items():
            found.append(
                VoiceInfo(
                    id=name,
                    name=name,
                    language=language,
                    model=self._model,
                    sample_rate=SAMPLE_RATE,
                    description=f"cloned from {len(files)} reference file(s)",
                )
            )
        if not found:
            found.append(
                VoiceInfo(
                    id="default",
                    name="default",
                    language=language,
                    model=self._model,
                    sample_rate=SAMPLE_RATE,
                    description="no built-in voice: send reference audio to clone one",
                )
            )
        return found

    def knows(self, name: str) -> bool:
        """Whether ``name`` is a configured, studio or the default voice."""
        return name in (*self._options.voices, *self.studio_names(), self.default_voice)

    def studio_names(self) -> list[str]:
        """The studio voices' names: loaded with the model, or read from the checkpoint."""
        if self.studio is None:
            directory = self._options.checkpoint
            if directory is None or not (directory / SPEAKERS).is_file():
                return []
            self.studio = _read_speakers(directory / SPEAKERS)
        return list(self.studio)

    def read_studio(self, tts: Any) -> None:
        """The studio voices of a loaded model (its speaker manager's latents)."""
        manager = getattr(tts, "speaker_manager", None)
        self.studio = {
            name: (voice["gpt_cond_latent"], voice["speaker_embedding"])
            for name, voice in (manager.speakers.items() if manager is not None else ())
        }

    def latents(self, tts: Any, req: SpeechRequest) -> Latents:
        """The voice's speaker latents: a reference (cached by digest), a configured
        voice (cached by its files' digests) or a studio voice."""
        if req.reference_audio is not None:  # cached files are named by their content's SHA-256
            reference = req.reference_audio
            key = f"{self._cloning}-{reference.name}"
            return self.cache.get(key, lambda: self._clone(tts, [reference]))
        files = self._options.voices.get(req.voice)
        if files is not None:
            if req.voice not in self._voice_keys:  # hashed once per process, not per request
                digests = hashlib.sha256()
                for path in files:
                    digests.update(file_digest(path).encode())
                self._voice_keys[req.voice] = f"{self._cloning}-voice-{digests.hexdigest()}"
            key = self._voice_keys[req.voice]
            return self.cache.get(key, lambda: self._clone(tts, files))
        studio = self.studio or {}
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
            torch.cat(audios, dim=-1),
            COND_RATE,
            length=options.gpt_cond_len,
            chunk_length=min(options.gpt_cond_chunk_len, options.gpt_cond_len),
        )
        return latent, torch.stack(embeddings).mean(dim=0)

    def _read_latents(self, path: Path) -> Latents:
        import torch

        saved = torch.load(path, map_location=self._device, weights_only=True)
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
