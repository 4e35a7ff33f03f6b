"""Request checks against a model's declared capabilities: every 4xx before any work."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from polyvox import codecs, subtitles
from polyvox.errors import InvalidRequest
from polyvox.languages import language_code
from polyvox.types import (
    SPEED_RANGE,
    EngineInfo,
    ParamSpec,
    ParamValue,
    SpeechParams,
    TranscriptionParams,
)

GRANULARITIES = ("word", "segment")
STREAM_FORMATS = ("json", "text")
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "float": (int, float), "int": (int,), "str": (str,), "bool": (bool,),
}  # fmt: skip


def engine_params(extra: Mapping[str, object] | None) -> dict[str, ParamValue]:
    """A body's extra fields as engine parameters; anything but a scalar is a 422.

    Every transport (JSON bodies, seed routes, RunPod jobs) passes its extras through here;
    ranges, types and finiteness are checked later against the model (``check_params``).
    """
    params: dict[str, ParamValue] = {}
    for key, value in (extra or {}).items():
        if not isinstance(value, bool | int | float | str):
            raise InvalidRequest(
                f"parameter {key!r} must be a number, string or boolean", param=key
            )
        params[key] = value
    return params


def check_speech(info: EngineInfo, params: SpeechParams) -> None:
    """Everything about a speech request the model can judge: capabilities, voice request,
    engine parameters and the output format."""
    _check_capabilities(info, params)
    _check_voice_request(info, params)
    check_params(info, params.params)
    if params.response_format not in codecs.FORMATS:
        raise InvalidRequest(
            f"response_format must be one of {', '.join(codecs.FORMATS)}",
            param="response_format",
        )


def _unsupported(info: EngineInfo, param: str) -> InvalidRequest:
    return InvalidRequest(
        f"model {info.model!r} (engine {info.engine}) does not support {param!r}", param=param
    )


def _check_capabilities(info: EngineInfo, params: SpeechParams) -> None:
    if params.instructions and not info.instructions:
        raise _unsupported(info, "instructions")
    if params.speed is None:
        return
    if not info.speed:
        raise _unsupported(info, "speed")
    low, high = info.speed_range
    if not (math.isfinite(params.speed) and low <= params.speed <= high):
        model = "" if info.speed_range == SPEED_RANGE else f" for model {info.model!r}"
        raise InvalidRequest(f"speed must be a number from {low} to {high}{model}", param="speed")


def check_params(info: EngineInfo, params: Mapping[str, ParamValue]) -> None:
    for key, value in params.items():
        spec = info.params.get(key)
        if spec is None:
            accepted = ", ".join(info.params) or "none"
            raise InvalidRequest(
                f"model {info.model!r} (engine {info.engine}) does not accept the parameter "
                f"{key!r}; it accepts: {accepted}",
                param=key,
            )
        _check_value(info, key, spec, value)


def _check_value(info: EngineInfo, key: str, spec: ParamSpec, value: ParamValue) -> None:
    ok_type = isinstance(value, _PY_TYPES[spec.type]) and not (
        spec.type != "bool" and isinstance(value, bool)
    )
    where = f"{key!r} of model {info.model!r}"
    if "." not in key:
        where = f"parameter {where}"
    if not ok_type:
        raise InvalidRequest(f"{where} must be a {spec.type}", param=key)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidRequest(f"{where} must be a finite number, not {value}", param=key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            raise InvalidRequest(f"{where} must be >= {spec.minimum}", param=key)
        if spec.maximum is not None and value > spec.maximum:
            raise InvalidRequest(f"{where} must be <= {spec.maximum}", param=key)
    if spec.choices is not None and value not in spec.choices:
        raise InvalidRequest(f"{where} must be one of {', '.join(spec.choices)}", param=key)


def _check_voice_request(info: EngineInfo, params: SpeechParams) -> None:
    """Reference audio, voice attributes and language against what the engine declares."""
    engine = f"model {info.model!r} (engine {info.engine})"
    ref = params.reference_audio
    if ref is not None and not info.voice_cloning:
        raise InvalidRequest(
            f"{engine} does not support {ref.param!r}: it cannot clone a reference voice",
            param=ref.param,
        )
    unsupported = [k for k in params.voice_attributes if k not in info.voice_attributes]
    if unsupported:
        accepted = ", ".join(info.voice_attributes) or "none"
        raise InvalidRequest(
            f"{engine} does not support the voice attributes {', '.join(unsupported)} "
            f"in 'voice_attributes'; it supports: {accepted}",
            param="voice_attributes",
        )
    for key, value in params.voice_attributes.items():
        _check_value(info, f"voice_attributes.{key}", info.voice_attributes[key], value)
    if params.reference_text is not None and not (ref is not None and info.reference_text):
        raise InvalidRequest(
            f"{engine} reads no transcript of reference audio: 'reference_text' goes with "
            "'reference_audio' to models that read one",
            param="reference_text",
        )
    if params.language and info.languages and not speaks(info, params.language):
        raise InvalidRequest(
            f"{engine} does not support language {params.language!r}; "
            f"it speaks: {', '.join(info.languages)}",
            param="language",
        )


def apply_seed_defaults(info: EngineInfo, params: SpeechParams) -> SpeechParams:
    """``params`` with its seed shape's defaults filled in where the request left them
    unset and the model takes them (``takes``); the rest stay the model's own."""
    seed = params.defaults
    if seed is None:
        return params
    unset = {"language": params.language is None, "speed": params.speed is None}
    chosen = {
        key: value
        for key, value in seed.values.items()
        if unset.get(key, key not in params.params) and takes(info, key, value)
    }
    seed.applied.update(chosen)
    speed = chosen.get("speed", params.speed)
    language = chosen.get("language", params.language)
    engine = {k: v for k, v in chosen.items() if k not in unset}
    return dataclasses.replace(
        params,
        speed=None if speed is None else float(speed),
        language=None if language is None else str(language),
        params={**engine, **params.params},
    )


def takes(info: EngineInfo, key: str, value: ParamValue) -> bool:
    """Whether the model takes ``value`` for ``key``: a language it says it speaks, a speed
    in its range, or one of its parameters with a value it accepts."""
    if key == "language":
        return isinstance(value, str) and bool(info.languages) and speaks(info, value)
    if key == "speed":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        low, high = info.speed_range
        return info.speed and math.isfinite(value) and low <= value <= high
    spec = info.params.get(key)
    if spec is None:
        return False
    try:
        _check_value(info, key, spec, value)
    except InvalidRequest:
        return False
    return True


def speaks(info: EngineInfo, language: str) -> bool:
    """``en`` matches ``en_US``; ``en-us`` matches ``en_US``."""
    wanted = language.lower().replace("-", "_")
    known = {lang.lower().replace("-", "_") for lang in info.languages}
    return wanted in known or wanted in {lang.split("_", 1)[0] for lang in known}


def check_transcription(info: EngineInfo, params: TranscriptionParams) -> str | None:
    """Validate the options against the model; returns the language code (or None)."""
    fmt = params.response_format
    if fmt not in subtitles.TRANSCRIPT_FORMATS:
        allowed = ", ".join(subtitles.TRANSCRIPT_FORMATS)
        raise InvalidRequest(f"response_format must be one of {allowed}", param="response_format")
    bad = [g for g in params.timestamp_granularities if g not in GRANULARITIES]
    if bad:
        raise InvalidRequest(
            f"timestamp_granularities may hold word and segment, not {bad[0]!r}",
            param="timestamp_granularities",
        )
    if params.timestamp_granularities and fmt != "verbose_json":
        raise InvalidRequest(
            "timestamp_granularities needs response_format=verbose_json",
            param="timestamp_granularities",
        )
    if params.stream and fmt not in STREAM_FORMATS:
        raise InvalidRequest(
            f"stream=true sends text events; response_format must be json or text, not {fmt}",
            param="stream",
        )
    if params.temperature is not None and not 0.0 <= params.temperature <= 1.0:
        raise InvalidRequest("temperature must be between 0 and 1", param="temperature")
    if params.task == "translate" and len(info.languages) <= 1:
        raise InvalidRequest(
            f"model {info.model!r} is English-only and cannot translate; "
            "configure a multilingual Whisper model (POLYVOX_WHISPER__MODEL) for translations",
            param="model",
        )
    return _language(info, params.language)


def _language(info: EngineInfo, language: str | None) -> str | None:
    if not language:
        return None
    code = language_code(language)
    if code not in info.languages:
        known = ", ".join(info.languages[:12]) + (", ..." if len(info.languages) > 12 else "")
        raise InvalidRequest(
            f"model {info.model!r} does not know the language {language!r}; it knows: {known}",
            param="language",
        )
    return code
