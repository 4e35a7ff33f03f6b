"""EngineInfo as the ``/v1/models`` JSON and back, so a remote model is rebuilt exactly."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from polyvox.tasks import SPEECH
from polyvox.types import SPEED_RANGE, EngineInfo, ParamSpec

COMMON = ("engine", "max_concurrency", "device", "placement")
"""Capabilities every model's card has, whatever its task."""


def capabilities(info: EngineInfo) -> dict[str, Any]:
    """What a model can do, as JSON-ready data (the ``capabilities`` of a model card)."""
    if info.kind not in SPEECH:  # a task's own record, beside the common fields
        common = {"engine": info.engine, "max_concurrency": info.max_concurrency}
        where = {"device": info.device, "placement": info.placement}
        return {**common, **where, **info.capabilities}
    return {
        "engine": info.engine,
        "streaming": info.streaming,
        "voice_cloning": info.voice_cloning,
        "instructions": info.instructions,
        "speed": info.speed,
        "speed_range": list(info.speed_range),
        "voice_attributes": {name: asdict(s) for name, s in info.voice_attributes.items()},
        "reference_text": info.reference_text,
        "sample_rate": info.sample_rate,
        "params": {name: asdict(spec) for name, spec in info.params.items()},
        "splits_text": info.splits_text,
        "max_concurrency": info.max_concurrency,
        "max_call_chars": info.max_call_chars,
        "device": info.device,
        "placement": info.placement,
    }


def card(info: EngineInfo) -> dict[str, Any]:
    """The ``/v1/models`` entry of one model."""
    return {
        "id": info.model,
        "object": "model",
        "created": 0,
        "owned_by": "polyvox",
        "kind": info.kind,
        "description": info.description,
        "languages": list(info.languages),
        "capabilities": capabilities(info),
    }


def _param(data: dict[str, Any]) -> ParamSpec:
    choices = data.get("choices")
    return ParamSpec(
        type=data["type"],
        description=data.get("description", ""),
        default=data.get("default"),
        minimum=data.get("minimum"),
        maximum=data.get("maximum"),
        choices=tuple(choices) if choices is not None else None,
    )


def _attributes(data: object) -> dict[str, ParamSpec]:
    """A card's voice attributes: name -> spec (an older server lists names only)."""
    if isinstance(data, dict):
        return {name: _param(spec) for name, spec in data.items()}
    if isinstance(data, list):
        return {str(name): ParamSpec("str", "") for name in data}
    return {}


def _speed_range(data: object) -> tuple[float, float]:
    """A card's ``[low, high]`` speeds; a card without it (an older server) has OpenAI's."""
    if isinstance(data, list | tuple) and len(data) == 2:
        return float(data[0]), float(data[1])
    return SPEED_RANGE


def from_card(data: dict[str, Any]) -> EngineInfo:
    """The EngineInfo a ``/v1/models`` entry describes (inverse of ``card``)."""
    caps = data.get("capabilities", {})
    if data["kind"] not in SPEECH:
        return EngineInfo(
            model=data["id"],
            engine=caps.get("engine", ""),
            kind=data["kind"],
            description=data.get("description", ""),
            languages=tuple(data.get("languages", ())),
            max_concurrency=caps.get("max_concurrency"),
            device=caps.get("device", "cpu"),
            placement=caps.get("placement", "in-process"),
            capabilities={k: v for k, v in caps.items() if k not in COMMON},
        )
    return EngineInfo(
        model=data["id"],
        engine=caps.get("engine", ""),
        kind=data["kind"],
        description=data.get("description", ""),
        languages=tuple(data.get("languages", ())),
        sample_rate=int(caps.get("sample_rate", 22050)),
        streaming=caps.get("streaming", True),
        voice_cloning=caps.get("voice_cloning", False),
        instructions=caps.get("instructions", False),
        speed=caps.get("speed", True),
        speed_range=_speed_range(caps.get("speed_range")),
        voice_attributes=_attributes(caps.get("voice_attributes")),
        reference_text=caps.get("reference_text", False),
        params={name: _param(spec) for name, spec in caps.get("params", {}).items()},
        splits_text=caps.get("splits_text", False),
        max_concurrency=caps.get("max_concurrency"),
        max_call_chars=caps.get("max_call_chars"),
        device=caps.get("device", "cpu"),
        placement=caps.get("placement", "in-process"),
    )
