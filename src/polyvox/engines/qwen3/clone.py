"""Qwen3-TTS Base clone prompts: built once per (weights, reference digest, transcript).

A prompt (``VoiceClonePromptItem``: the reference's codec codes and speaker embedding) is
what ``create_voice_clone_prompt`` makes of reference audio polyvox decoded (any format);
it is kept in a memory LRU and on disk (``engines.conditioning``), across restarts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from polyvox.engines.conditioning import ConditioningCache, default_directory, file_digest
from polyvox.engines.qwen3.model import SAMPLE_RATE
from polyvox.engines.qwen3.options import Qwen3Options
from polyvox.errors import InvalidRequest
from polyvox.types import SpeechRequest

MIN_REFERENCE_SECONDS = 1.0
MAX_REFERENCE_SECONDS = 30


class ClonePrompts:
    """One model's clone prompts, and the checks of what a request clones."""

    def __init__(self, model: str, options: Qwen3Options, device: str) -> None:
        self._model = model
        self._options = options
        self._device = device
        self._cache: ConditioningCache[Any] = ConditioningCache(
            options.conditioning_dir or default_directory(model),
            options.conditioning_entries,
            save=_save,
            load=self._read_prompt,
        )
        self._cloning = _cloning_key(options)
        self._voice_keys: dict[str, str] = {}

    @property
    def events(self) -> dict[str, int]:
        return dict(self._cache.events)

    def clear_memory(self) -> None:
        self._cache.clear_memory()

    def forget(self, digest: str) -> None:
        self._cache.forget(digest)

    def source(self, req: SpeechRequest) -> tuple[Path, str | None, str]:
        """The reference file, its transcript and its cache key; a 422 when one is missing."""
        options = self._options
        if req.reference_audio is not None:
            path, text, name = req.reference_audio, req.reference_text, req.reference_audio.name
        elif req.voice in options.voices:
            configured = options.voices[req.voice]
            path, text = configured.audio, configured.text
            if req.voice not in self._voice_keys:  # hashed once per process, not per request
                self._voice_keys[req.voice] = f"voice-{file_digest(path)}"
            name = self._voice_keys[req.voice]
        else:
            raise InvalidRequest(
                f"model {self._model!r} clones reference audio: send reference_audio "
                "(or name one of its configured voices)",
                param="reference_audio",
            )
        if options.x_vector_only:
            text = None
        elif not text:
            raise InvalidRequest(
                f"model {self._model!r} needs the transcript of the reference audio: "
                "send reference_text",
                param="reference_text",
            )
        transcript = hashlib.sha256((text or "").encode()).hexdigest()[:16]
        return path, text, f"{self._cloning}-{name}-{transcript}"

    def get(self, tts: Any, req: SpeechRequest) -> Any:
        """The request's clone prompt: from memory, else disk, else built now."""
        path, text, key = self.source(req)
        return self._cache.get(key, lambda: self._build(tts, path, text))

    def _build(self, tts: Any, path: Path, text: str | None) -> Any:
        """``create_voice_clone_prompt`` on audio polyvox decoded (any format)."""
        from polyvox.decoding import read_mono

        wav = read_mono(
            path.read_bytes(), SAMPLE_RATE, MAX_REFERENCE_SECONDS, param="reference_audio"
        )
        wav = wav[: SAMPLE_RATE * MAX_REFERENCE_SECONDS]
        if len(wav) < MIN_REFERENCE_SECONDS * SAMPLE_RATE or not np.any(np.abs(wav) > 1e-3):
            raise InvalidRequest(
                f"reference audio must hold at least {MIN_REFERENCE_SECONDS:g} s of sound",
                param="reference_audio",
            )
        items = tts.create_voice_clone_prompt(
            ref_audio=(wav, SAMPLE_RATE), ref_text=text, x_vector_only_mode=text is None
        )
        return items[0]

    def _read_prompt(self, path: Path) -> Any:
        import torch
        from qwen_tts import VoiceClonePromptItem

        saved = torch.load(path, map_location=self._device, weights_only=True)
        return VoiceClonePromptItem(**saved)


def _cloning_key(options: Qwen3Options) -> str:
    """What a clone prompt depends on besides the audio and transcript: the weights."""
    where = str(options.checkpoint.resolve()) if options.checkpoint else options.repo
    weights = options.checkpoint / "model.safetensors" if options.checkpoint else None
    size = weights.stat().st_size if weights is not None and weights.is_file() else 0
    return hashlib.sha256(f"{where}|{size}|{options.x_vector_only}".encode()).hexdigest()[:12]


def _save(item: Any, path: Path) -> None:
    import dataclasses

    import torch

    torch.save(dataclasses.asdict(item), path)
