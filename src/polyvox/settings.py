"""Settings: one pydantic-settings object read from ``POLYVOX_*`` variables (nested: ``__``)."""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from polyvox import seed_env

# re-exported: the sections are read as polyvox.settings.XSettings everywhere
from polyvox.setting_sections import CompatSettings as CompatSettings
from polyvox.setting_sections import HttpSettings as HttpSettings
from polyvox.setting_sections import LimitSettings as LimitSettings
from polyvox.setting_sections import ReferenceSettings as ReferenceSettings
from polyvox.setting_sections import StorageSettings as StorageSettings
from polyvox.setting_sections import VoiceLibrarySettings as VoiceLibrarySettings
from polyvox.setting_sections import WorkerSettings as WorkerSettings
from polyvox.setting_sections import WyomingSettings as WyomingSettings

OPENAI_TTS_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
OPENAI_STT_MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")
OPENAI_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable",
    "nova", "onyx", "sage", "shimmer", "verse", "marin", "cedar",
)  # fmt: skip


class ModelConfig(BaseModel):
    """One served model: the engine behind it, and that engine's options as the other keys.

    The options are checked against the engine's own ``Options`` model at start-up, so a
    wrong key or value stops the server with a message naming the model and the key.
    """

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    engine: Annotated[str, Field(min_length=1)]
    """Engine name: ``piper``, ``whisper``, ``kokoro``, ..., one registered under
    ``polyvox.engines``, or an engine class's import path (``package.module:Class``)."""
    slots: Annotated[int | None, Field(ge=1, le=64)] = None
    """Requests this model runs at once; None: ``tts_slots`` or ``stt_slots`` by its kind."""
    environment: Annotated[str | None, Field(min_length=1)] = None
    """Run the model in this engine environment (``polyvox engines install NAME``), in a
    supervised polyvox process of its own; None: in this process."""

    def options(self) -> dict[str, Any]:
        """The engine options: every key besides ``engine``, ``slots`` and ``environment``."""
        return dict(self.model_extra or {})


DEFAULT_MODELS = {"piper": ModelConfig(engine="piper"), "whisper": ModelConfig(engine="whisper")}


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

    models: dict[str, ModelConfig] = DEFAULT_MODELS
    """Model id -> engine and its options (``[models.ID]`` tables in a config file)."""
    engines: Annotated[list[str] | None, Field(min_length=1)] = None
    """Ids of the configured models to serve; None serves every model in ``models``."""
    default_tts_model: Annotated[str, Field(min_length=1)] = "piper"
    """Model that OpenAI TTS model names (tts-1, tts-1-hd, gpt-4o-mini-tts) resolve to."""
    default_stt_model: Annotated[str, Field(min_length=1)] = "whisper"
    """Model that OpenAI transcription model names (whisper-1, gpt-4o-transcribe) resolve to."""
    model_aliases: dict[str, str] = {}
    """Extra model names, alias -> model id (checked before the OpenAI names)."""
    voice_aliases: dict[str, str] = {}
    """OpenAI voice name -> voice id; unmapped OpenAI voices use the model's default voice."""

    preload: list[str] = ["piper"]
    """Models loaded at start-up; readiness waits for them."""
    model_ttl: Annotated[float, Field(ge=-1)] = 300.0
    """Seconds an unused model stays loaded; -1 keeps models forever, 0 unloads when idle."""
    tts_slots: Annotated[int, Field(ge=1, le=64)] = 2
    """Syntheses that run at once per model; the rest wait their turn chunk by chunk.

    Two by default: on two cores one Piper synthesis leaves part of the CPU idle
    (phonemising, Python, onnxruntime's imperfect scaling), and a second fills it."""
    tts_queue: Annotated[int, Field(ge=0, le=10_000)] = 16
    """Requests per model that may wait beyond the slots; past that a request gets 429."""
    queue_timeout: Annotated[float, Field(gt=0, le=3600)] = 30.0
    """Seconds a request may wait for a slot before it fails with 503 and Retry-After."""
    scheduling: Literal["fair", "fifo"] = "fair"
    """fair: first chunks first, then round-robin per chunk; fifo: one request at a time."""
    request_timeout: Annotated[float, Field(gt=0, le=86_400)] = 600.0
    """Longest a synthesis may run, in seconds, before it is stopped."""

    max_input_chars: Annotated[int, Field(ge=1, le=1_000_000)] = 4096
    """Longest ``input`` text accepted by /v1/audio/speech."""
    chunk_max_chars: Annotated[int, Field(ge=20, le=10_000)] = 300
    """Longest text piece synthesised in one engine call (sentences are split past this)."""
    first_chunk_max_words: Annotated[int, Field(ge=1, le=100)] = 8
    """A first sentence longer than this (plus a few words) is spoken from its first
    clause end on, so the first audio comes fast; a sentence without one is spoken whole."""
    chunk_grow_chars: Annotated[int, Field(ge=20, le=100_000)] = 1200
    """Most text one engine call gets once calls have grown: a request alone on its model,
    with audio playing ahead of real time, gets one phrase, one sentence, then up to 200,
    400, 800, ... characters of whole sentences per call; with an engine slower than real
    time, one phrase and then this much per call."""

    api_keys: list[SecretStr] = []
    """Accepted API keys (``Authorization: Bearer KEY``); empty: no auth. /health stays open.
    Each key owns the library voices it creates."""
    admin_api_keys: list[SecretStr] = []
    """Keys that are accepted too and see, use and delete every key's library voices."""
    ui: bool = True
    """Serve the web UI at ``/`` (its files are open; what it calls needs a key as usual)."""
    cors_origins: list[str] = []
    """Origins allowed by CORS (e.g. ``["https://app.example"]``, or ``["*"]``); empty: no CORS."""
    max_body_bytes: Annotated[int, Field(ge=1024, le=2**34)] = 32 * 1024 * 1024
    """Largest request body accepted, in bytes (413 past it)."""
    log_format: Literal["text", "json"] = "text"
    """Log lines as text or as JSON objects; both carry the request id."""
    trim_memory: bool = True
    """Return freed heap pages to the OS after each job (glibc ``malloc_trim``).

    Without it resident memory ratchets up under concurrent load (the load test fails:
    +45% over a minute of 8 clients); the trim runs off the request path."""
    memory_release_delay: Annotated[float, Field(ge=0, le=3600)] = 30.0
    """Seconds a model must stay idle before memory goes back (the engine's scratch arena,
    then the heap's free pages); while it is busy, the heap every 5 s, the arena every 30 s.

    A request after memory went back faults it in again: on 2 cores a Piper sentence took
    1.17x raw Piper's time that way, 1.01x without (measured). 30 s covers the gaps of a
    conversation; an idle server still returns to its resting memory half a minute on."""
    malloc_arenas: Annotated[int, Field(ge=0, le=1024)] = 2
    """glibc malloc arenas for the process; 0 keeps glibc's default (8 per core).

    Every thread that allocates under contention gets an arena of its own, and each keeps
    fragments the trim cannot return: with the default, resident memory after the same
    load varied by +-10%; with 2 it came back within 1-3% of where it started."""
    shutdown_grace: Annotated[int, Field(ge=0, le=3600)] = 30
    """Seconds in-flight streams may take to finish after SIGTERM before they are cut."""
    max_upload_bytes: Annotated[int, Field(ge=1, le=2**34)] = 25 * 1024 * 1024
    """Largest audio file accepted for transcription (bytes); larger uploads get a 413."""
    max_audio_seconds: Annotated[float, Field(gt=0, le=86_400)] = 3600.0
    """Longest audio accepted for transcription (seconds, after decoding)."""
    stt_block_seconds: Annotated[float, Field(ge=30, le=3600)] = 300.0
    """Uploads are decoded and transcribed this many seconds at a time (cut at a quiet
    moment), so memory per transcription is bounded by the block, not the file's length."""
    stt_slots: Annotated[int, Field(ge=1, le=64)] = 1
    """Transcription windows that run at once per model; other jobs wait window by window."""

    piper: dict[str, Any] = {}
    """Options for every Piper model that does not set them itself
    (``POLYVOX_PIPER__VOICES_DIR=/voices`` is ``voices_dir`` for each)."""
    whisper: dict[str, Any] = {}
    """Options for every Whisper model that does not set them itself
    (``POLYVOX_WHISPER__MODEL=small`` is ``model`` for each)."""
    kokoro: dict[str, Any] = {}
    """Options for every Kokoro model that does not set them itself
    (``POLYVOX_KOKORO__THREADS=2`` is ``threads`` for each)."""
    storage: StorageSettings = StorageSettings()
    """Object storage for generated audio."""
    reference: ReferenceSettings = ReferenceSettings()
    """Reference audio fetch and cache (voice cloning)."""
    voices: VoiceLibrarySettings = VoiceLibrarySettings()
    """The voice library."""
    wyoming: WyomingSettings = WyomingSettings()
    """The Wyoming server (Home Assistant)."""
    compat: CompatSettings = CompatSettings()
    """Routes compatible with the services polyvox replaces."""
    worker: WorkerSettings = WorkerSettings()
    """RunPod serverless worker."""
    http: HttpSettings = HttpSettings()
    """HTTP connections: header and body read timeouts, keep-alive, open-connection bound."""
    limits: LimitSettings = LimitSettings()
    """Per-client shares of models, threads and streams."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then ``POLYVOX_*`` variables, then the env file, then a config file."""
        toml = TomlConfigSettingsSource(settings_cls)  # reads model_config["toml_file"]
        return init_settings, env_settings, dotenv_settings, toml, file_secret_settings

    @model_validator(mode="after")
    def _seed_environment(self) -> Settings:
        """The replaced services' variables (``GCS_BUCKET_NAME``, ``TTS_REMOTE_URL``, the
        Qwen service's ``MODEL_PATH``, ...) fill in what no source above set."""
        seed_env.apply(self, os.environ)
        return self

    @property
    def served(self) -> list[str]:
        """Ids of the models this process serves, in configuration order."""
        if self.engines is None:
            return list(self.models)
        return [name for name in self.engines if name in self.models]

    def model_options(self, model: str) -> dict[str, Any]:
        """A model's engine options: the engine-wide shorthand under the model's own keys."""
        config = self.models[model]
        shared = {"piper": self.piper, "whisper": self.whisper, "kokoro": self.kokoro}.get(
            config.engine, {}
        )
        return {**shared, **config.options()}

    def resolve_model(self, name: str) -> str | None:
        """Map a requested model name (id, alias or OpenAI name) to a model id, or None."""
        served = self.served
        if name in served:
            return name
        if name in self.model_aliases:
            return self.model_aliases[name]
        if name in OPENAI_TTS_MODELS:
            return self.default_tts_model
        if name in OPENAI_STT_MODELS and self.default_stt_model in served:
            return self.default_stt_model
        return None
