"""Settings: one pydantic-settings object read from ``POLYVOX_*`` variables (nested: ``__``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

OPENAI_TTS_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
OPENAI_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable",
    "nova", "onyx", "sage", "shimmer", "verse", "marin", "cedar",
)  # fmt: skip


class PiperSettings(BaseModel):
    """Options for loading Piper voices (not per request)."""

    default_voice: str = Field(
        "en_US-joe-medium", min_length=1, description="Voice used when a request names none."
    )
    """Voice used when a request names none (or names an OpenAI voice with no alias)."""
    voices_dir: Path | None = Field(None, description="Directory scanned for *.onnx + *.onnx.json.")
    """Directory scanned (recursively) for Piper voices: ``NAME.onnx`` beside ``NAME.onnx.json``."""
    use_cuda: bool = Field(False, description="Run Piper on CUDA through onnxruntime-gpu.")
    """Run Piper on CUDA (needs onnxruntime-gpu)."""
    threads: Annotated[int, Field(ge=0, le=256)] = 0
    """onnxruntime intra-op threads per voice; 0 lets onnxruntime use every core."""


class Settings(BaseSettings):
    """Everything configurable about a polyvox process."""

    model_config = SettingsConfigDict(
        env_prefix="POLYVOX_",
        env_nested_delimiter="__",
        env_file=None,
        extra="ignore",
        protected_namespaces=(),
    )

    host: str = "127.0.0.1"
    """Address ``polyvox serve`` binds to."""
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    """Port ``polyvox serve`` listens on."""
    log_level: Annotated[str, Field(pattern="^(debug|info|warning|error|critical)$")] = "info"
    """Log level for polyvox and uvicorn."""

    engines: Annotated[list[str], Field(min_length=1)] = ["piper"]
    """Models served, by engine name (each engine is one model id)."""
    default_tts_model: Annotated[str, Field(min_length=1)] = "piper"
    """Model that OpenAI TTS model names (tts-1, tts-1-hd, gpt-4o-mini-tts) resolve to."""
    model_aliases: dict[str, str] = {}
    """Extra model names, alias -> model id (checked before the OpenAI names)."""
    voice_aliases: dict[str, str] = {}
    """OpenAI voice name -> voice id; unmapped OpenAI voices use the model's default voice."""

    preload: list[str] = ["piper"]
    """Models loaded at start-up; readiness waits for them."""
    model_ttl: Annotated[float, Field(ge=-1)] = 300.0
    """Seconds an unused model stays loaded; -1 keeps models forever, 0 unloads when idle."""
    tts_slots: Annotated[int, Field(ge=1, le=64)] = 1
    """Syntheses that run at once per model; the rest wait their turn chunk by chunk."""

    max_input_chars: Annotated[int, Field(ge=1, le=1_000_000)] = 4096
    """Longest ``input`` text accepted by /v1/audio/speech."""
    chunk_max_chars: Annotated[int, Field(ge=20, le=10_000)] = 300
    """Longest text piece synthesised in one engine call (sentences are split past this)."""
    first_chunk_max_words: Annotated[int, Field(ge=1, le=100)] = 8
    """Upper bound on words in the first chunk, so the first audio comes fast."""

    piper: PiperSettings = PiperSettings()
    """Piper engine options."""

    def resolve_model(self, name: str) -> str | None:
        """Map a requested model name (id, alias or OpenAI name) to a model id, or None."""
        if name in self.engines:
            return name
        if name in self.model_aliases:
            return self.model_aliases[name]
        if name in OPENAI_TTS_MODELS:
            return self.default_tts_model
        return None
