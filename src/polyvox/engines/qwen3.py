"""Qwen3-TTS (Alibaba Qwen, ``qwen-tts``): CustomVoice, VoiceDesign and Base checkpoints.

Runs in the ``qwen-tts`` engine environment (``polyvox engines install qwen-tts``); this
module imports torch only when the model loads, so a gateway can read its options. One
model is one checkpoint (``variant``):

- ``custom_voice``: nine named speakers; ``instructions`` and the voice attributes'
  emotion steer the delivery, gender and age pick the speaker when none is named;
- ``voice_design``: the voice is what ``instructions`` and the voice attributes describe;
- ``base``: clones reference audio; in ICL mode (the default) it also reads what the
  reference says (``reference_text``; the gateway transcribes it when a client sends
  none). The clone prompt is built once per (model, reference digest, transcript) and
  kept in memory and on disk (``engines.conditioning``).

Audio streams as the talker generates (``engines.qwen3_stream``). One synthesis at a
time per model: a request's seed is torch's global one.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from polyvox.engines.conditioning import ConditioningCache, default_directory, file_digest
from polyvox.engines.qwen3_model import LANGUAGES, SAMPLE_RATE, SPEAKERS, missing_files
from polyvox.engines.qwen3_options import (
    Qwen3Options,
    attributes,
    instruction,
    language_name,
    params,
    pick_speaker,
)
from polyvox.engines.torch_support import checkpoint_directory, inference_steps, torch_device
from polyvox.errors import EngineUnavailable, InvalidRequest
from polyvox.types import AudioChunk, EngineInfo, ParamValue, SpeechRequest, VoiceInfo

if TYPE_CHECKING:
    from polyvox.models import ModelSpec

MIN_REFERENCE_SECONDS = 1.0
MAX_REFERENCE_SECONDS = 30
DESIGN_VOICE = "design"
DESCRIPTIONS = {
    "custom_voice": "Qwen3-TTS CustomVoice: nine speakers, delivery steered by instructions",
    "voice_design": "Qwen3-TTS VoiceDesign: the voice the instructions describe",
    "base": "Qwen3-TTS Base: clones reference audio (with its transcript)",
}


class Qwen3Engine:
    """One Qwen3-TTS checkpoint; blocking (the registry runs it behind threads)."""

    Options = Qwen3Options
    blocking = True
    kind = "tts"

    def __init__(self, spec: ModelSpec) -> None:
        options = self._options = cast(Qwen3Options, spec.options)
        self._model = spec.id
        self._tts: Any = None
        self._lock = threading.Lock()
        self._cache: ConditioningCache[Any] = ConditioningCache(
            options.conditioning_dir or default_directory(spec.id),
            options.conditioning_entries, save=_save, load=self._read_prompt,
        )  # fmt: skip
        self._cloning = _cloning_key(options)
        self._voice_keys: dict[str, str] = {}
        variant = options.variant
        defaults = _generation_defaults(options.checkpoint)
        self.info = EngineInfo(
            model=spec.id, engine="qwen3", kind="tts", sample_rate=SAMPLE_RATE,
            description=f"{DESCRIPTIONS[variant]}; Apache-2.0 weights",
            languages=(*LANGUAGES, "auto"), voice_cloning=variant == "base",
            instructions=variant != "base", speed=False, voice_attributes=attributes(variant),
            params=params(defaults, options.max_new_tokens), max_concurrency=1,
            reference_text=variant == "base" and not options.x_vector_only,
            device=torch_device(options.device),
        )  # fmt: skip

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
        return dict(self._cache.events)

    def voices(self) -> list[VoiceInfo]:
        def voice(
            name: str, language: str, description: str, gender: str | None = None
        ) -> VoiceInfo:
            return VoiceInfo(
                id=name, name=name, language=language, model=self._model,
                sample_rate=SAMPLE_RATE, gender=gender, description=description,
            )  # fmt: skip

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
    def load(self) -> None:
        with self._lock:
            if self._tts is None:
                self._tts = self._open()

    def _open(self) -> Any:
        from polyvox.engines import qwen3_model

        options = self._options
        directory = checkpoint_directory(
            self._model, options.checkpoint, options.threads,
            lambda: qwen3_model.download(options.repo), missing_files, "Qwen3-TTS",
        )  # fmt: skip
        tts = qwen3_model.load(directory, self.info.device, options.flash_attention)
        found = tts.model.tts_model_type
        if found != options.variant:
            raise EngineUnavailable(
                f"model {self._model!r}: {directory} is a {found!r} checkpoint, "
                f"but variant = {options.variant!r}"
            )
        return tts

    def unload(self) -> None:
        with self._lock:
            self._tts = None
            self._cache.clear_memory()

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
            self._clone_source(req)  # a 4xx now, not after the first byte
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
        self, req: SpeechRequest, language: str, speaker: str | None,
        values: dict[str, ParamValue | None],
    ) -> Iterator[AudioChunk]:  # fmt: skip
        import torch

        from polyvox.engines import qwen3_stream

        options = self._options
        with self._lock:  # per-call state: torch's global seed and the talker's caches
            tts = self._tts if self._tts is not None else self._open()
            self._tts = tts
            if values["seed"] is not None:
                torch.manual_seed(int(cast(int, values["seed"])))
            clone = self._clone(tts, req) if options.variant == "base" else None
            instruct = instruction(options.variant, dict(req.voice_attributes), req.instructions)
            if instruct and tts.model.tts_model_size == "0b6":  # the library drops them there
                raise InvalidRequest(
                    f"model {self._model!r} is a 0.6B CustomVoice checkpoint, which takes no "
                    "instructions (nor emotion): use the 1.7B one",
                    param="instructions",
                )
            call = qwen3_stream.prompt(
                tts, req.text, language, speaker=speaker, instruct=instruct, clone=clone,
                sampling=_sampling(values),
            )  # fmt: skip
            for audio in qwen3_stream.pieces(
                tts, call, options.first_frames, options.stream_frames, options.left_context,
                options.stream,
            ):  # fmt: skip
                yield AudioChunk(np.clip(audio, -1.0, 1.0), SAMPLE_RATE)

    # -- cloning -------------------------------------------------------------------------
    def _clone_source(self, req: SpeechRequest) -> tuple[Path, str | None, str]:
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

    def _clone(self, tts: Any, req: SpeechRequest) -> Any:
        path, text, key = self._clone_source(req)
        return self._cache.get(key, lambda: self._build_prompt(tts, path, text))

    def _build_prompt(self, tts: Any, path: Path, text: str | None) -> Any:
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

        saved = torch.load(path, map_location=self.info.device, weights_only=True)
        return VoiceClonePromptItem(**saved)


def _sampling(values: dict[str, ParamValue | None]) -> dict[str, Any]:
    """``generate`` keyword arguments from a request's parameters (temperature 0: greedy)."""
    temperature = float(cast(float, values["temperature"]))
    subtalker = float(cast(float, values["subtalker_temperature"]))
    limit = values["max_length"] or values["max_new_tokens"]
    sampling: dict[str, Any] = {
        "do_sample": temperature > 0, "subtalker_dosample": subtalker > 0,
        "top_k": int(cast(int, values["top_k"])), "top_p": float(cast(float, values["top_p"])),
        "repetition_penalty": float(cast(float, values["repetition_penalty"])),
    }  # fmt: skip
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
