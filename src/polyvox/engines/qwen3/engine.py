"""Qwen3-TTS (Alibaba Qwen, ``qwen-tts``): CustomVoice, VoiceDesign and Base checkpoints.

Runs in the ``qwen-tts`` engine environment (``polyvox engines install qwen-tts``); this
module imports torch only when the model loads, so a gateway can read its options. One
model is one checkpoint (``variant``):

- ``custom_voice``: nine named speakers; ``instructions`` and the voice attributes'
  emotion steer the delivery, gender and age pick the speaker when none is named;
- ``voice_design``: the voice is what ``instructions`` and the voice attributes describe;
- ``base``: clones reference audio; in ICL mode (the default) it also reads what the
  reference says (``reference_text``; the gateway transcribes it when a client sends
  none); clone prompts are cached (``engines.qwen3_clone``).

Audio streams as the talker generates (``engines.qwen3_stream``). One synthesis at a
time per model: a request's seed is torch's global one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from pydantic import BaseModel

from polyvox.engines.qwen3.clone import ClonePrompts
from polyvox.engines.qwen3.model import SAMPLE_RATE, missing_files
from polyvox.engines.qwen3.options import (
    Qwen3Options,
    attributes,
    instruction,
    language_name,
    params,
    pick_speaker,
)
from polyvox.engines.qwen3.voices import LANGUAGES, SPEAKERS
from polyvox.engines.torch_support import (
    TorchEngine,
    checkpoint_directory,
    inference_steps,
    torch_device,
)
from polyvox.errors import EngineUnavailable, InvalidRequest
from polyvox.types import AudioChunk, EngineInfo, ParamValue, SpeechRequest, VoiceInfo

if TYPE_CHECKING:
    from polyvox.engines.spec import ModelSpec

DESIGN_VOICE = "design"
DESCRIPTIONS = {
    "custom_voice": "Qwen3-TTS CustomVoice: nine speakers, delivery steered by instructions",
    "voice_design": "Qwen3-TTS VoiceDesign: the voice the instructions describe",
    "base": "Qwen3-TTS Base: clones reference audio (with its transcript)",
}


class Qwen3Engine(TorchEngine):
    """One Qwen3-TTS checkpoint; blocking (the registry runs it behind threads)."""

    Options = Qwen3Options

    @classmethod
    def clones(cls, options: BaseModel) -> bool:
        """Whether a model with these options clones voices (known before it loads)."""
        return cast(Qwen3Options, options).variant == "base"

    def __init__(self, spec: ModelSpec) -> None:
        options = self._options = cast(Qwen3Options, spec.options)
        super().__init__(spec)
        variant = options.variant
        defaults = _generation_defaults(options.checkpoint)
        self.info = EngineInfo(
            model=spec.id,
            engine="qwen3",
            kind="tts",
            sample_rate=SAMPLE_RATE,
            description=f"{DESCRIPTIONS[variant]}; Apache-2.0 weights",
            languages=(*LANGUAGES, "auto"),
            voice_cloning=variant == "base",
            instructions=variant != "base",
            speed=False,
            voice_attributes=attributes(variant),
            params=params(defaults, options.max_new_tokens),
            max_concurrency=1,
            reference_text=variant == "base" and not options.x_vector_only,
            device=torch_device(options.device),
        )
        self._prompts = ClonePrompts(spec.id, options, self.info.device)

    # -- voices --------------------------------------------------------------------------
    @property
    def default_voice(self) -> str:
        options = self._options
        if options.variant == "custom_voice":
            return (options.default_voice or "ryan").lower()
        if options.variant == "voice_design":
            return DESIGN_VOICE
        return options.default_voice or next(iter(options.voices), "default")

    @property
    def events(self) -> dict[str, int]:
        """Clone-prompt lookups by outcome (built, memory, disk), for the metrics."""
        return dict(self._prompts.events)

    def forget_reference(self, digest: str) -> None:
        """Drop the clone prompts built from reference ``digest`` (memory and disk)."""
        self._prompts.forget(digest)

    def voices(self) -> list[VoiceInfo]:
        def voice(
            name: str, language: str, description: str, gender: str | None = None
        ) -> VoiceInfo:
            return VoiceInfo(
                id=name,
                name=name,
                language=language,
                model=self._model,
                sample_rate=SAMPLE_RATE,
                gender=gender,
                description=description,
            )

        variant = self._options.variant
        if variant == "custom_voice":
            return [
                voice(name, native, f"{timbre} ({ages})", gender)
                for name, (gender, ages, native, timbre) in SPEAKERS.items()
            ]
        if variant == "voice_design":
            return [voice(DESIGN_VOICE, "en", "the voice that instructions describe")]
        found = [
            voice(name, "en", f"cloned from {configured.audio.name}")
            for name, configured in self._options.voices.items()
        ]
        return found or [voice("default", "en", "send reference audio to clone a voice")]

    # -- lifecycle -----------------------------------------------------------------------

    def _open(self) -> Any:
        from polyvox.engines.qwen3 import model as qwen3_model

        options = self._options
        directory = checkpoint_directory(
            self._model,
            options.checkpoint,
            options.threads,
            lambda: qwen3_model.download(options.repo),
            missing_files,
            "Qwen3-TTS",
        )
        tts = qwen3_model.load(directory, self.info.device, options.flash_attention)
        found = tts.model.tts_model_type
        if found != options.variant:
            raise EngineUnavailable(
                f"model {self._model!r}: {directory} is a {found!r} checkpoint, "
                f"but variant = {options.variant!r}"
            )
        return tts

    def _forget_memory(self) -> None:
        self._prompts.clear_memory()

    # -- synthesis -----------------------------------------------------------------------
    def synthesize(self, req: SpeechRequest) -> Iterator[AudioChunk]:
        """Checks language, voice and reference now; speaks as the iterator is read."""
        language = language_name(req.language or self._options.default_language)
        if language is None:
            raise InvalidRequest(
                f"model {self._model!r} speaks {', '.join(LANGUAGES)} (or auto), "
                f"not {req.language!r}",
                param="language",
            )
        speaker = self._speaker(req, language)
        if self._options.variant == "base":
            self._prompts.source(req)  # a 4xx now, not after the first byte
        values = {name: spec.default for name, spec in self.info.params.items()}
        return inference_steps(self._speak(req, language, speaker, {**values, **req.params}))

    def _speaker(self, req: SpeechRequest, language: str) -> str | None:
        if self._options.variant != "custom_voice":
            return None
        name = req.voice.lower()
        if name not in SPEAKERS:
            raise InvalidRequest(
                f"model {self._model!r} has no voice {req.voice!r}; its speakers: "
                f"{', '.join(SPEAKERS)}",
                param="voice",
            )
        if name == self.default_voice:  # no voice named: gender and age choose one
            return pick_speaker(dict(req.voice_attributes), language, name)
        return name

    def _speak(
        self,
        req: SpeechRequest,
        language: str,
        speaker: str | None,
        values: dict[str, ParamValue | None],
    ) -> Iterator[AudioChunk]:
        import torch

        from polyvox.engines.qwen3 import stream as qwen3_stream

        options = self._options
        with self._lock:  # per-call state: torch's global seed and the talker's caches
            tts = self._tts if self._tts is not None else self._open()
            self._tts = tts
            if values["seed"] is not None:
                torch.manual_seed(int(cast(int, values["seed"])))
            clone = self._prompts.get(tts, req) if options.variant == "base" else None
            instruct = instruction(options.variant, dict(req.voice_attributes), req.instructions)
            if instruct and tts.model.tts_model_size == "0b6":  # the library drops them there
                raise InvalidRequest(
                    f"model {self._model!r} is a 0.6B CustomVoice checkpoint, which takes no "
                    "instructions (nor emotion): use the 1.7B one",
                    param="instructions",
                )
            call = qwen3_stream.prompt(
                tts,
                req.text,
                language,
                speaker=speaker,
                instruct=instruct,
                clone=clone,
                sampling=_sampling(values),
            )
            for audio in qwen3_stream.pieces(
                tts,
                call,
                options.first_frames,
                options.stream_frames,
                options.left_context,
                options.stream,
            ):
                yield AudioChunk(np.clip(audio, -1.0, 1.0), SAMPLE_RATE)


def _sampling(values: dict[str, ParamValue | None]) -> dict[str, Any]:
    """``generate`` keyword arguments from a request's parameters (temperature 0: greedy)."""
    temperature = float(cast(float, values["temperature"]))
    subtalker = float(cast(float, values["subtalker_temperature"]))
    limit = values["max_length"] or values["max_new_tokens"]
    sampling: dict[str, Any] = {
        "do_sample": temperature > 0,
        "subtalker_dosample": subtalker > 0,
        "top_k": int(cast(int, values["top_k"])),
        "top_p": float(cast(float, values["top_p"])),
        "repetition_penalty": float(cast(float, values["repetition_penalty"])),
    }
    if temperature > 0:  # 0 means greedy; transformers refuses a temperature of 0
        sampling["temperature"] = temperature
    if subtalker > 0:
        sampling["subtalker_temperature"] = subtalker
    if limit is not None:
        sampling["max_new_tokens"] = int(limit)
    return sampling


def _generation_defaults(checkpoint: Path | None) -> dict[str, ParamValue]:
    """A local checkpoint's ``generation_config.json`` (its sampling defaults), if readable."""
    if checkpoint is None:
        return {}
    try:
        data = json.loads((checkpoint / "generation_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, int | float | str | bool)}
