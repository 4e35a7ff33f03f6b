"""Chatterbox (Resemble AI, ``chatterbox-tts``): English or 23 languages, cloned voices.

Runs in the ``chatterbox`` engine environment (``polyvox engines install chatterbox``);
this module imports torch only when the model loads, so a gateway can read its options.
A reference voice becomes ``Conditionals`` once per (model, reference digest)
(``engines.conditioning``); speech tokens become audio in growing windows while T3 is
still sampling (``engines.chatterbox_stream``). One synthesis at a time per model: the
seed of a request is torch's global one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from polyvox.engines.chatterbox.model import missing_files
from polyvox.engines.chatterbox.options import (
    CROSSFADE_TOKENS,
    ChatterboxOptions,
    _params,
    languages,
)
from polyvox.engines.chatterbox.stream import Sampling, Windows, s3gen_render, speech_tokens
from polyvox.engines.conditioning import ConditioningCache, default_directory
from polyvox.engines.torch_support import (
    TorchEngine,
    checkpoint_directory,
    inference_steps,
    torch_device,
)
from polyvox.errors import InvalidRequest
from polyvox.types import AudioChunk, EngineInfo, ParamValue, SpeechRequest, VoiceInfo

if TYPE_CHECKING:
    from polyvox.engines.spec import ModelSpec

SAMPLE_RATE = 24000
PROMPT_RATE = 16000
DEFAULT_VOICE = "default"
REFERENCE_SECONDS = 10.0
"""Reference audio used (the library's DEC_COND_LEN; its speech prompt takes the first 6 s)."""
PROMPT_SECONDS = 6.0
MIN_REFERENCE_SECONDS = 1.0


class ChatterboxEngine(TorchEngine):
    """One Chatterbox checkpoint; blocking (the registry runs it behind threads)."""

    Options = ChatterboxOptions

    def __init__(self, spec: ModelSpec) -> None:
        self._options = cast(ChatterboxOptions, spec.options)
        super().__init__(spec)
        self._multilingual = self._options.variant == "multilingual"
        self._cache: ConditioningCache[Any] = ConditioningCache(
            self._options.conditioning_dir or default_directory(spec.id),
            self._options.conditioning_entries,
            save=lambda conds, path: conds.save(path),
            load=self._read_conditionals,
        )
        name = "multilingual, 23 languages" if self._multilingual else "English"
        self.info = EngineInfo(
            model=spec.id,
            engine="chatterbox",
            kind="tts",
            sample_rate=SAMPLE_RATE,
            description=f"Chatterbox ({name}); clones reference audio; Perth-watermarked",
            languages=languages(self._multilingual),
            voice_cloning=True,
            speed=False,
            params=_params(self._multilingual),
            max_concurrency=1,
            max_call_chars=self._options.max_call_chars,
            device=torch_device(self._options.device),
        )

    @property
    def default_voice(self) -> str:
        return DEFAULT_VOICE

    @property
    def events(self) -> dict[str, int]:
        """Conditioning lookups by outcome (built, memory, disk), for the metrics."""
        return dict(self._cache.events)

    def forget_reference(self, digest: str) -> None:
        """Drop the conditionals built from reference ``digest`` (memory and disk)."""
        self._cache.forget(digest)

    def voices(self) -> list[VoiceInfo]:
        return [
            VoiceInfo(
                id=DEFAULT_VOICE,
                name=DEFAULT_VOICE,
                model=self._model,
                sample_rate=SAMPLE_RATE,
                language=self._options.default_language,
                description="the checkpoint's built-in voice (conds.pt); send reference "
                "audio to clone another",
            )
        ]

    def _open(self) -> Any:
        from polyvox.engines.chatterbox import model as chatterbox_model

        options, multilingual = self._options, self._multilingual
        directory = checkpoint_directory(
            self._model,
            options.checkpoint,
            options.threads,
            lambda: chatterbox_model.download(options.hub_repo, multilingual),
            lambda found: missing_files(found, multilingual),
            f"{options.variant} Chatterbox",
        )
        return chatterbox_model.load(directory, self._multilingual, self.info.device)

    def _forget_memory(self) -> None:
        self._cache.clear_memory()

    def synthesize(self, req: SpeechRequest) -> Iterator[AudioChunk]:
        """Checks language and parameters now; speaks as the iterator is read."""
        language = (req.language or self._options.default_language).lower().split("-")[0]
        if language not in self.info.languages:
            raise InvalidRequest(
                f"model {self._model!r} speaks {', '.join(self.info.languages)}, "
                f"not {req.language!r}",
                param="language",
            )
        if req.voice != DEFAULT_VOICE and req.reference_audio is None:
            raise InvalidRequest(f"model {self._model!r} has no voice {req.voice!r}", param="voice")
        values = {name: spec.default for name, spec in self.info.params.items()}
        return inference_steps(self._speak(req, language, {**values, **req.params}))

    def _speak(
        self, req: SpeechRequest, language: str, values: dict[str, ParamValue | None]
    ) -> Iterator[AudioChunk]:
        import torch

        with self._lock:  # per-call state: the model's buffers and torch's global seed
            tts = self._tts if self._tts is not None else self._open()
            self._tts = tts
            if values["seed"] is not None:
                torch.manual_seed(int(cast(int, values["seed"])))
            conds = self._conditionals(tts, req.reference_audio, _f(values["exaggeration"]))
            text = self._text_tokens(tts, req.text, language)
            sampling = Sampling(
                temperature=_f(values["temperature"]),
                cfg_weight=_f(values["cfg_weight"]),
                repetition_penalty=_f(values["repetition_penalty"]),
                min_p=_f(values["min_p"]),
                top_p=_f(values["top_p"]),
                max_new_tokens=self._token_budget(req.text),
            )
            windows = Windows(
                s3gen_render(tts.s3gen, conds.gen),
                context=self._options.context_tokens,
                crossfade=CROSSFADE_TOKENS,
            )
            tokens: list[int] = []
            window = self._options.first_window if self._options.stream else math.inf
            for token in speech_tokens(tts.t3, conds.t3, text, sampling):
                tokens.append(token)
                if len(tokens) >= window:
                    window = 2 * len(tokens)
                    yield self._chunk(tts, windows.decode(tokens, final=False))
            if tokens:
                yield self._chunk(tts, windows.decode(tokens, final=True))

    def _token_budget(self, text: str) -> int:
        bound = 25 + math.ceil(self._options.tokens_per_char * len(text))
        return min(self._options.max_new_tokens, bound)

    def _chunk(self, tts: Any, audio: np.ndarray[Any, Any]) -> AudioChunk:
        if len(audio):  # every piece carries Resemble's Perth watermark, as the library's
            audio = tts.watermarker.apply_watermark(audio, sample_rate=SAMPLE_RATE)
        samples = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
        return AudioChunk(samples, SAMPLE_RATE)

    def _text_tokens(self, tts: Any, text: str, language: str) -> Any:
        import torch
        import torch.nn.functional as F  # noqa: N812 - torch's own spelling

        if self._multilingual:
            from chatterbox.mtl_tts import punc_norm

            tokens = tts.tokenizer.text_to_tokens(punc_norm(text), language_id=language)
        else:
            from chatterbox.tts import punc_norm

            tokens = tts.tokenizer.text_to_tokens(punc_norm(text))
        tokens = torch.cat([tokens, tokens], dim=0).to(tts.device)  # CFG's second row
        tokens = F.pad(tokens, (1, 0), value=tts.t3.hp.start_text_token)
        return F.pad(tokens, (0, 1), value=tts.t3.hp.stop_text_token)

    def _conditionals(self, tts: Any, reference: Path | None, exaggeration: float) -> Any:
        """The voice's conditionals (built once per reference), at this exaggeration."""
        import torch
        from chatterbox.models.t3.modules.cond_enc import T3Cond
        from chatterbox.tts import Conditionals

        if reference is None:
            if tts.conds is None:
                raise InvalidRequest(
                    f"model {self._model!r} has no built-in voice: send reference audio",
                    param="reference_audio",
                )
            base = tts.conds
        else:  # cached files are named by their content's SHA-256
            base = self._cache.get(reference.name, lambda: self._prepare(tts, reference))
        if float(base.t3.emotion_adv.flatten()[0]) == exaggeration:
            return base
        t3 = T3Cond(
            speaker_emb=base.t3.speaker_emb,
            cond_prompt_speech_tokens=base.t3.cond_prompt_speech_tokens,
            emotion_adv=exaggeration * torch.ones(1, 1, 1),
        ).to(device=tts.device)
        return Conditionals(t3, base.gen)

    def _prepare(self, tts: Any, reference: Path) -> Any:
        """``prepare_conditionals`` of the library, from audio polyvox decoded (any format)."""
        import librosa
        import torch
        from chatterbox.models.t3.modules.cond_enc import T3Cond
        from chatterbox.tts import Conditionals

        from polyvox.decoding import read_mono

        wav = read_mono(reference.read_bytes(), SAMPLE_RATE, 60.0, param="reference_audio")
        if len(wav) < MIN_REFERENCE_SECONDS * SAMPLE_RATE or not np.any(np.abs(wav) > 1e-3):
            raise InvalidRequest(
                f"reference audio must hold at least {MIN_REFERENCE_SECONDS:g} s of sound",
                param="reference_audio",
            )
        prompt = librosa.resample(wav, orig_sr=SAMPLE_RATE, target_sr=PROMPT_RATE)
        gen = tts.s3gen.embed_ref(
            wav[: int(REFERENCE_SECONDS * SAMPLE_RATE)], SAMPLE_RATE, device=tts.device
        )
        tokens, _ = tts.s3gen.tokenizer.forward(
            [prompt[: int(PROMPT_SECONDS * PROMPT_RATE)]],
            max_len=tts.t3.hp.speech_cond_prompt_len,
        )
        speaker = torch.from_numpy(tts.ve.embeds_from_wavs([prompt], sample_rate=PROMPT_RATE))
        t3 = T3Cond(
            speaker_emb=speaker.mean(axis=0, keepdim=True),
            cond_prompt_speech_tokens=torch.atleast_2d(tokens),
            emotion_adv=0.5 * torch.ones(1, 1, 1),
        ).to(device=tts.device)
        return Conditionals(t3, gen)

    def _read_conditionals(self, path: Path) -> Any:
        from chatterbox.tts import Conditionals

        return Conditionals.load(path, map_location=self.info.device).to(self.info.device)


def _f(value: ParamValue | None) -> float:
    return float(cast(float, value))
