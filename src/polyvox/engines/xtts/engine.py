"""XTTS-v2 (Coqui, ``coqui-tts``): 17 languages, voices cloned from reference audio.

Runs in the ``xtts`` engine environment (``polyvox engines install xtts``); this module
imports torch only when the model loads, so a gateway can read its options. The engine
splits text itself (sentences within XTTS's per-language limits) and streams each one
with ``inference_stream``: audio arrives every ``stream_chunk_size`` GPT tokens, inside a
sentence. A voice's speaker latents (``gpt_cond_latent``, ``speaker_embedding``) are
computed once per (model, reference digest) and kept in memory and on disk
(``engines.xtts_voices``). One synthesis at a time per model: a request's seed is
torch's global one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from polyvox.engines.torch_support import (
    TorchEngine,
    checkpoint_directory,
    inference_steps,
    torch_device,
)
from polyvox.engines.xtts.model import LANGUAGES, SAMPLE_RATE, missing_files
from polyvox.engines.xtts.options import XttsOptions, language_code, params
from polyvox.engines.xtts.text import readable, sentences_of
from polyvox.engines.xtts.voices import XttsVoices
from polyvox.errors import InvalidRequest
from polyvox.types import AudioChunk, EngineInfo, ParamValue, SpeechRequest, VoiceInfo

if TYPE_CHECKING:
    from polyvox.engines.spec import ModelSpec

SPEED_RANGE = (0.5, 2.0)


class XttsEngine(TorchEngine):
    """One XTTS-v2 checkpoint; blocking (the registry runs it behind threads)."""

    Options = XttsOptions

    def __init__(self, spec: ModelSpec) -> None:
        self._options = cast(XttsOptions, spec.options)
        super().__init__(spec)
        device = torch_device(self._options.device)
        self._voices = XttsVoices(spec.id, self._options, device)
        self.info = EngineInfo(
            model=spec.id,
            engine="xtts",
            kind="tts",
            sample_rate=SAMPLE_RATE,
            description="XTTS-v2 (Coqui, 17 languages); clones reference audio; weights "
            "under the Coqui Public Model License",
            languages=LANGUAGES,
            voice_cloning=True,
            speed=True,
            speed_range=SPEED_RANGE,
            params=params(),
            splits_text=True,
            max_concurrency=1,
            device=device,
        )

    # -- voices --------------------------------------------------------------------------
    @property
    def default_voice(self) -> str:
        return self._voices.default_voice

    @property
    def events(self) -> dict[str, int]:
        """Speaker-latent lookups by outcome (built, memory, disk), for the metrics."""
        return dict(self._voices.cache.events)

    def forget_reference(self, digest: str) -> None:
        """Drop the speaker latents built from reference ``digest`` (memory and disk)."""
        self._voices.cache.forget(digest)

    def voices(self) -> list[VoiceInfo]:
        return self._voices.listed()

    # -- lifecycle -----------------------------------------------------------------------

    def _open(self) -> Any:
        from polyvox.engines.xtts import model as xtts_model

        options = self._options
        directory = checkpoint_directory(
            self._model,
            options.checkpoint,
            options.threads,
            lambda: xtts_model.download(options.hub_repo),
            missing_files,
            "XTTS-v2",
        )
        tts = xtts_model.load(directory, self.info.device)
        self._voices.read_studio(tts)
        return tts

    def _forget_memory(self) -> None:
        self._voices.cache.clear_memory()

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
        if req.reference_audio is None and not self._voices.knows(req.voice):
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
            latent, embedding = self._voices.latents(tts, req)
            for sentence in sentences:
                if not options.stream:
                    out = tts.inference(sentence, code, latent, embedding, **sampling)
                    yield _chunk(out["wav"])
                    continue
                for piece in tts.inference_stream(
                    sentence,
                    code,
                    latent,
                    embedding,
                    stream_chunk_size=options.stream_chunk_size,
                    overlap_wav_len=options.overlap_wav_len,
                    **sampling,
                ):
                    yield _chunk(piece)


def _chunk(audio: Any) -> AudioChunk:
    if hasattr(audio, "detach"):
        audio = audio.detach().cpu().numpy()
    samples = np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1.0, 1.0)
    return AudioChunk(samples, SAMPLE_RATE)
