"""Qwen3-TTS models' options, request parameters and voice attributes (no torch here: a
gateway validates a Qwen3 model's configuration without the engine environment).

Voice attributes (the Qwen-TTS service's ``voice_attributes``) become instruction text,
in this order: gender, age, emotion, then the request's own ``instructions``:

| attribute | value | instruction text |
|---|---|---|
| gender | male / female / neutral | "Male voice." / "Female voice." / "Gender-neutral voice." |
| age | 1-120 | "About N years old." |
| emotion | happy, sad, angry, neutral, ... | see ``EMOTIONS`` |

On CustomVoice the timbre is the speaker's: a request that names no voice gets the
speaker closest to its gender and age (``pick_speaker``), and only the emotion and the
instructions go into the prompt. On VoiceDesign the whole description is the prompt.
The Base model clones reference audio and takes no instructions or attributes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from polyvox.engines.qwen3.model import HUB_REPOS
from polyvox.engines.qwen3.voices import LANGUAGES, SPEAKERS
from polyvox.engines.torch_support import TorchOptions
from polyvox.types import ParamSpec, ParamValue

Variant = Literal["custom_voice", "voice_design", "base"]
GENDERS = {"male": "Male voice.", "female": "Female voice.", "neutral": "Gender-neutral voice."}
EMOTIONS = {
    "neutral": "Speak in a calm, neutral tone.",
    "happy": "Speak happily, in a bright and cheerful tone.",
    "sad": "Speak sadly, in a low and subdued tone.",
    "angry": "Speak angrily, in a sharp and forceful tone.",
    "excited": "Speak with excitement and high energy.",
    "calm": "Speak calmly and slowly, in a soothing tone.",
    "surprised": "Speak with surprise, as if hearing unexpected news.",
    "fearful": "Speak fearfully, in a tense and shaky tone.",
    "serious": "Speak seriously, in a firm and steady tone.",
    "whisper": "Whisper softly.",
}
AGE_GROUPS = ((35, "young"), (55, "adult"), (200, "senior"))
"""Age (years, inclusive upper bounds) -> the age group of CustomVoice's speakers."""


class CloneVoice(BaseModel):
    """A Base model's configured voice: reference audio on this machine and what it says."""

    model_config = ConfigDict(extra="forbid")
    audio: Path
    text: str | None = None
    """Transcript of the audio (needed unless the model is ``x_vector_only``)."""


class Qwen3Options(TorchOptions):
    """A Qwen3-TTS model's options (config file ``[models.ID]`` keys)."""

    variant: Variant = "custom_voice"
    """Which checkpoint: ``custom_voice`` (named speakers + instructions), ``voice_design``
    (a voice described in instructions) or ``base`` (cloning reference audio)."""
    checkpoint: Path | None = None
    """A local checkpoint directory; None: downloaded from ``hub_repo`` on the first load."""
    hub_repo: str | None = None
    """None: the 1.7B checkpoint of ``variant`` (``Qwen/Qwen3-TTS-12Hz-1.7B-...``)."""
    flash_attention: bool = True
    """FlashAttention 2 on CUDA when ``flash_attn`` is installed (the seed's
    ``USE_FLASH_ATTENTION``); otherwise PyTorch attention."""
    default_language: str = "auto"
    """Language when a request names none: a code (en, zh, ...) or ``auto`` (the model guesses)."""
    default_voice: str | None = None
    """CustomVoice: the speaker when a request names none and gives no gender or age;
    None: ``ryan``. Base: one of ``voices``."""
    voices: dict[str, CloneVoice] = Field(default_factory=dict)
    """Base: voices cloned from reference files on this machine."""
    x_vector_only: bool = False
    """Base: clone from the speaker embedding alone (no transcript needed; lower quality)."""
    stream: bool = True
    """Audio as codec frames are generated; off: each engine call's audio in one piece."""
    first_frames: Annotated[int, Field(ge=1, le=500)] = 4
    """Codec frames (80 ms each) in a call's first streamed piece."""
    stream_frames: Annotated[int, Field(ge=1, le=500)] = 12
    """Codec frames in each later piece."""
    left_context: Annotated[int, Field(ge=0, le=500)] = 25
    """Frames of context each piece's decoding re-reads (the library's chunked decode uses 25)."""
    max_new_tokens: Annotated[int, Field(ge=1, le=8192)] | None = None
    """Codec frames one engine call may generate, and the most a request may ask for; None:
    the checkpoint's generation config (requests up to 8192)."""
    conditioning_entries: Annotated[int, Field(ge=1, le=100_000)] = 64
    """Clone prompts kept in memory (all of them stay on disk)."""

    @model_validator(mode="after")
    def _consistent(self) -> Qwen3Options:
        if language_name(self.default_language) is None:
            raise ValueError(f"default_language {self.default_language!r} is not spoken")
        if self.voices and self.variant != "base":
            raise ValueError("voices cloned from reference audio need variant = 'base'")
        speaker = (self.default_voice or "ryan").lower()
        if self.variant == "custom_voice" and speaker not in SPEAKERS:
            raise ValueError(f"default_voice must be one of {', '.join(SPEAKERS)}")
        if self.variant == "base" and self.default_voice not in (None, *self.voices):
            raise ValueError("default_voice must be one of voices")
        untold = [name for name, voice in self.voices.items() if not voice.text]
        if untold and not self.x_vector_only:
            raise ValueError(f"voices {', '.join(untold)} need text: what their audio says")
        return self

    @property
    def repo(self) -> str:
        return self.hub_repo or HUB_REPOS[self.variant]


def language_name(language: str) -> str | None:
    """Qwen's name for a language a client sent (``en``, ``en-US``, ``English``, ``auto``)."""
    code = language.lower().replace("_", "-")
    if code in ("auto", *LANGUAGES.values()):
        return code
    return LANGUAGES.get(code.split("-")[0])


def params(
    defaults: dict[str, ParamValue] | None = None, cap: int | None = None
) -> dict[str, ParamSpec]:
    """Sampling parameters of ``generate`` (defaults: the checkpoint's generation config;
    ``cap``: the model's ``max_new_tokens``, the most frames a request may ask for)."""
    found = defaults or {}
    frames = cap or 8192

    def number(name: str, description: str, default: float, low: float, high: float) -> ParamSpec:
        return ParamSpec("float", description, found.get(name, default), low, high)

    return {
        "temperature": number(
            "temperature", "Sampling temperature of the talker (0: greedy).", 0.9, 0.0, 2.0
        ),
        "top_k": ParamSpec("int", "Top-k sampling of the talker.", found.get("top_k", 50), 1, 4096),
        "top_p": number("top_p", "Nucleus (top-p) sampling of the talker.", 1.0, 0.01, 1.0),
        "repetition_penalty": number(
            "repetition_penalty", "Penalty on repeated codec tokens.", 1.05, 1.0, 10.0
        ),
        "subtalker_temperature": number(
            "subtalker_temperature",
            "Sampling temperature of the code predictor (0: greedy).",
            0.9,
            0.0,
            2.0,
        ),
        "max_new_tokens": ParamSpec(
            "int",
            "Codec frames (80 ms each) one call may generate.",
            cap or found.get("max_new_tokens"),
            1,
            frames,
        ),
        "max_length": ParamSpec(
            "int", "The Qwen-TTS service's name for max_new_tokens.", None, 1, frames
        ),
        "seed": ParamSpec("int", SEED, None, 0, 2**32 - 1),
    }


SEED = "Makes the synthesis reproducible (same text, voice and parameters)."


def attributes(variant: Variant) -> dict[str, ParamSpec]:
    """The voice attributes a variant accepts, with their values."""
    if variant == "base":
        return {}
    return {
        "gender": ParamSpec("str", "Speaker gender.", choices=tuple(GENDERS)),
        "age": ParamSpec("int", "Speaker age in years.", minimum=1, maximum=120),
        "emotion": ParamSpec("str", "Emotion of the speech.", choices=tuple(EMOTIONS)),
    }


def instruction(
    variant: Variant, voice_attributes: dict[str, ParamValue], instructions: str | None
) -> str:
    """The instruction text for a request (the order is the module docstring's table)."""
    parts = []
    if variant == "voice_design":
        gender = voice_attributes.get("gender")
        if gender is not None:
            parts.append(GENDERS[str(gender)])
        age = voice_attributes.get("age")
        if age is not None:
            parts.append(f"About {int(age)} years old.")
    emotion = voice_attributes.get("emotion")
    if emotion is not None:
        parts.append(EMOTIONS[str(emotion)])
    if instructions:
        parts.append(instructions.strip())
    return " ".join(parts)


def age_group(age: int) -> str:
    return next(group for bound, group in AGE_GROUPS if age <= bound)


def pick_speaker(voice_attributes: dict[str, ParamValue], language: str, fallback: str) -> str:
    """CustomVoice's speaker closest to a request's gender and age (``fallback`` when it
    gives neither): matching gender first, then age group, then the language spoken."""
    gender = voice_attributes.get("gender")
    age = voice_attributes.get("age")
    if gender is None and age is None:
        return fallback
    group = age_group(int(age)) if age is not None else None
    code = next((c for c, name in LANGUAGES.items() if name == language), None)

    def score(name: str) -> tuple[int, int, int, int]:
        sex, ages, native, _ = SPEAKERS[name]
        return (
            int(gender in ("male", "female") and sex != gender),
            int(group is not None and ages != group),
            int(code is not None and native != code),
            int(name != fallback),
        )

    return min(SPEAKERS, key=score)
