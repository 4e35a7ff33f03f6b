"""Chatterbox models' options and the parameters a request may set (no torch here: a
gateway validates a Chatterbox model's configuration without the engine environment)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from polyvox.engines.chatterbox.model import HUB_REPO, LANGUAGES
from polyvox.engines.chatterbox.stream import LOOKAHEAD_TOKENS
from polyvox.engines.torch_support import TorchOptions
from polyvox.types import ParamSpec

CROSSFADE_TOKENS = 2
"""Tokens of audio at a window's end held back and crossfaded into the next window's."""


class ChatterboxOptions(TorchOptions):
    """A Chatterbox model's options (config file ``[models.ID]`` keys)."""

    variant: Literal["english", "multilingual"] = "english"
    """``english`` (ChatterboxTTS) or ``multilingual`` (23 languages)."""
    checkpoint: Path | None = None
    """A directory with the checkpoint's files (English: ve.safetensors, t3_cfg.safetensors,
    s3gen.safetensors, tokenizer.json, conds.pt; multilingual: ve.pt,
    t3_mtl23ls_v2.safetensors, s3gen.pt, grapheme_mtl_merged_expanded_v1.json, conds.pt);
    None: downloaded from ``hub_repo`` on the first load."""
    hub_repo: str = HUB_REPO
    default_language: str = "en"
    """Language when a request names none (the multilingual model's ``language_id``)."""
    max_new_tokens: Annotated[int, Field(ge=1, le=4096)] = 1000
    """Most speech tokens (25 per second of audio) one call may sample."""
    tokens_per_char: Annotated[float, Field(gt=0, le=100)] = 6.0
    """A call samples at most 25 + this x its characters tokens (T3 can fail to stop)."""
    stream: bool = True
    """Audio in windows while T3 samples; off: each call's audio in one piece."""
    first_window: Annotated[int, Field(ge=LOOKAHEAD_TOKENS + CROSSFADE_TOKENS + 1, le=1000)] = 12
    """Tokens before the first window is decoded (its audio: all but the last three, which
    wait for their lookahead, and the crossfade); each later window doubles the tokens."""
    context_tokens: Annotated[int, Field(ge=0, le=500)] = 25
    """Tokens before a window decoded again as its context (and then dropped)."""
    max_call_chars: Annotated[int, Field(ge=20, le=2000)] = 300
    """Longest text one call gets: Chatterbox degrades on long inputs."""
    conditioning_entries: Annotated[int, Field(ge=1, le=100_000)] = 32
    """Cloned voices' conditionals kept in memory (all of them stay on disk)."""

    @model_validator(mode="after")
    def _known_language(self) -> ChatterboxOptions:
        if self.default_language not in languages(self.variant == "multilingual"):
            raise ValueError(f"default_language {self.default_language!r} is not spoken")
        return self


def languages(multilingual: bool) -> tuple[str, ...]:
    return LANGUAGES if multilingual else ("en",)


def _params(multilingual: bool) -> dict[str, ParamSpec]:
    def number(description: str, default: float, low: float, high: float) -> ParamSpec:
        return ParamSpec("float", description, default, low, high)

    return {
        "exaggeration": number("Emotion intensity; 0.5 is neutral.", 0.5, 0.25, 2.0),
        "cfg_weight": number(
            "Guidance weight: lower is slower, more deliberate speech; 0 turns it off.",
            0.5,
            0.0,
            1.0,
        ),
        "temperature": number("Sampling temperature of the speech tokens.", 0.8, 0.05, 5.0),
        "min_p": number("Min-p sampling threshold (0 turns it off).", 0.05, 0.0, 1.0),
        "top_p": number("Top-p sampling (1 turns it off).", 1.0, 0.01, 1.0),
        "repetition_penalty": number(
            "Penalty on repeated speech tokens.", 2.0 if multilingual else 1.2, 1.0, 3.0
        ),
        "seed": ParamSpec(
            "int",
            "Makes the synthesis reproducible (same text, voice and parameters).",
            None,
            0,
            2**32 - 1,
        ),
    }
