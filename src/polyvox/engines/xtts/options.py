"""XTTS-v2 models' options and the parameters a request may set (no torch here: a gateway
validates an XTTS model's configuration without the engine environment)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from polyvox.engines.torch_support import TorchOptions
from polyvox.engines.xtts.model import HUB_REPO, LANGUAGES
from polyvox.types import ParamSpec


class XttsOptions(TorchOptions):
    """An XTTS-v2 model's options (config file ``[models.ID]`` keys)."""

    checkpoint: Path | None = None
    """A directory with config.json, model.pth, vocab.json (and speakers_xtts.pth for the
    studio voices); None: downloaded from ``hub_repo`` on the first load."""
    hub_repo: str = HUB_REPO
    default_language: str | None = "en"
    """Language when a request names none; None or "": every request must name one."""
    default_voice: str | None = None
    """The voice when a request names none: a studio voice or one of ``voices``; None: the
    first studio voice (the checkpoint's speakers_xtts.pth)."""
    voices: dict[str, list[Path]] = Field(default_factory=dict)
    """Voices cloned from reference files on this machine, several files per voice allowed
    (XTTS averages their speaker embeddings and conditions on all of them)."""
    stream: bool = True
    """Audio as the GPT produces it (``inference_stream``); off: each sentence in one piece."""
    stream_chunk_size: Annotated[int, Field(ge=1, le=1000)] = 20
    """GPT tokens per streamed piece (about 1 s of audio per 21 tokens)."""
    overlap_wav_len: Annotated[int, Field(ge=1, le=24000)] = 1024
    """Samples cross-faded between streamed pieces."""
    gpt_cond_len: Annotated[int, Field(ge=1, le=120)] = 30
    """Seconds of reference audio the GPT conditioning reads."""
    gpt_cond_chunk_len: Annotated[int, Field(ge=1, le=120)] = 4
    """Seconds per chunk of that audio (their conditionings are averaged)."""
    max_ref_length: Annotated[int, Field(ge=1, le=300)] = 30
    """Seconds of each reference file that are used."""
    conditioning_entries: Annotated[int, Field(ge=1, le=100_000)] = 64
    """Cloned voices' speaker latents kept in memory (all of them stay on disk)."""

    @model_validator(mode="after")
    def _known_language(self) -> XttsOptions:
        if self.default_language == "":
            self.default_language = None
        if self.default_language is not None and language_code(self.default_language) is None:
            raise ValueError(f"default_language {self.default_language!r} is not spoken")
        for name, files in self.voices.items():
            if not files:
                raise ValueError(f"voice {name!r} needs at least one reference file")
        return self


def language_code(language: str) -> str | None:
    """XTTS's code for a language a client sent (``zh``, ``zh-CN``, ``pt-BR`` ...), or None."""
    code = language.lower().replace("_", "-")
    if code.startswith("zh"):
        return "zh-cn"
    base = code.split("-")[0]
    return base if base in LANGUAGES else None


def params() -> dict[str, ParamSpec]:
    """The sampling parameters of ``inference_stream`` (defaults: XTTS-v2's config.json)."""

    def number(description: str, default: float, low: float, high: float) -> ParamSpec:
        return ParamSpec("float", description, default, low, high)

    return {
        "temperature": number("Sampling temperature of the GPT's audio codes.", 0.75, 0.01, 2.0),
        "top_k": ParamSpec("int", "Top-k sampling of the audio codes.", 50, 1, 1026),
        "top_p": number("Nucleus (top-p) sampling of the audio codes.", 0.85, 0.01, 1.0),
        "repetition_penalty": number("Penalty on repeated audio codes.", 5.0, 1.0, 50.0),
        "length_penalty": number(
            "Length penalty of the GPT's generation (matters with beam search).", 1.0, -10.0, 10.0
        ),
        "seed": ParamSpec("int", SEED, None, 0, 2**32 - 1),
    }


SEED = "Makes the synthesis reproducible (same text, voice and parameters)."
