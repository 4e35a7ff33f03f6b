"""Models as configuration: each served model id -> its engine and validated options."""

from __future__ import annotations

import logging

from pydantic import ValidationError

from polyvox.engines import registry
from polyvox.engines.spec import ModelSpec
from polyvox.errors import EngineUnavailable, ModelNotFound
from polyvox.settings import Settings

log = logging.getLogger(__name__)
__all__ = ["ConfigError", "ModelSpec", "check_models", "model_spec", "worker_environment"]


class ConfigError(Exception):
    """The configuration cannot be served; the message names the model and the key."""


def worker_environment(settings: Settings) -> dict[str, str]:
    """The settings a supervised worker must share with the server that starts it: what a
    request may be (input, body, upload and audio limits, its timeout, how text is split)
    and where reference audio is cached (the server hands references over by digest)."""
    s = settings
    return {
        "POLYVOX_MAX_INPUT_CHARS": str(s.max_input_chars),
        "POLYVOX_MAX_BODY_BYTES": str(s.max_body_bytes),
        "POLYVOX_MAX_UPLOAD_BYTES": str(s.max_upload_bytes),
        "POLYVOX_MAX_AUDIO_SECONDS": str(s.max_audio_seconds),
        "POLYVOX_REQUEST_TIMEOUT": str(s.request_timeout),
        "POLYVOX_CHUNK_MAX_CHARS": str(s.chunk_max_chars),
        "POLYVOX_FIRST_CHUNK_MAX_WORDS": str(s.first_chunk_max_words),
        "POLYVOX_REFERENCE": s.reference.model_dump_json(),
    }


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first.get("loc", ())) or "?"
    return f"option {key!r}: {first.get('msg', 'invalid value')}"


def model_spec(settings: Settings, model: str) -> ModelSpec:
    """The spec of one configured model; a bad engine name or option is a ConfigError."""
    config = settings.models[model]
    try:
        engine_class = registry.load_class(config.engine)
    except ModelNotFound as exc:
        raise ConfigError(f"model {model!r}: {exc.message}") from exc
    options_class = engine_class.Options
    try:
        options = options_class.model_validate(settings.model_options(model))
    except ValidationError as exc:
        raise ConfigError(f"model {model!r} (engine {config.engine}): {_describe(exc)}") from None
    kind_slots = settings.stt_slots if engine_class.kind == "stt" else settings.tts_slots
    slots = config.slots or engine_class.default_slots or kind_slots
    if config.environment is None:
        return ModelSpec(model, config.engine, options, slots)
    return ModelSpec(
        model, config.engine, options, slots, config.environment, worker_environment(settings)
    )


def check_models(settings: Settings) -> None:
    """Check every served model's engine and options now (start-up), not on first use.

    A model whose engine library is missing stays configured: it is listed as unavailable
    and its requests get 503 with the install hint.
    """
    for model in settings.served:
        try:
            model_spec(settings, model)
        except EngineUnavailable as exc:
            log.warning("model %s is not available: %s", model, exc.message)
