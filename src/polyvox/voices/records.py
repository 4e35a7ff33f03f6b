"""Library voices as stored: one JSON record per voice, naming its audio by digest."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from polyvox.errors import InvalidRequest
from polyvox.types import ParamValue

VOICE_ID = re.compile(r"voice_[0-9a-f]{24}")
"""Library voice ids: ``voice_`` and 24 hex digits (OpenAI's custom voices look alike)."""
MAX_NAME = 256
Defaults = Mapping[str, Mapping[str, ParamValue]]


def new_id() -> str:
    """A fresh library voice id."""
    return f"voice_{secrets.token_hex(12)}"


@dataclass(frozen=True)
class Consent:
    """Who agreed to have their voice cloned, and when; shown to the voice's owner only."""

    by: str
    at: str
    """ISO-8601 date or time."""
    statement: str | None = None


@dataclass(frozen=True)
class LibraryVoice:
    """One voice of the library."""

    id: str
    name: str
    owner: str | None
    """Digest of the API key that created it (None: made without keys)."""
    digest: str
    """SHA-256 of its prepared reference audio (``audio/<digest>.wav`` in the store)."""
    seconds: float
    consent: Consent
    created_at: int
    updated_at: int
    language: str | None = None
    transcript: str | None = None
    transcribed_by: str | None = None
    """The speech-to-text model that wrote ``transcript`` (None: its owner did)."""
    defaults: Defaults = field(default_factory=dict)
    """Request parameters per engine name or model id, used where a request sets none."""

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        data = asdict(self)
        data["defaults"] = {k: dict(v) for k, v in self.defaults.items()}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LibraryVoice:
        """A stored record back (KeyError/TypeError/ValueError when it is not one)."""
        fields = dict(data)
        fields["consent"] = Consent(**fields["consent"])
        fields["seconds"] = float(fields["seconds"])
        voice = cls(**fields)
        if not VOICE_ID.fullmatch(voice.id):
            raise ValueError(f"not a voice id: {voice.id!r}")
        return voice

    def defaults_for(self, engine: str, model: str) -> dict[str, ParamValue]:
        """Its defaults for a model: the engine's, then the model's own over them."""
        return {**self.defaults.get(engine, {}), **self.defaults.get(model, {})}


@dataclass(frozen=True)
class VoiceDraft:
    """What a client sends to create a voice or change one (None: left as it is)."""

    name: str | None = None
    audio: list[bytes] | None = None
    language: str | None = None
    transcript: str | None = None
    defaults: Defaults | None = None
    consent: Consent | None = None


_LANGUAGE = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*")


def required_consent(draft: VoiceDraft) -> Consent:
    """The draft's consent; a 422 without one (a new voice needs it)."""
    if draft.consent is None:
        raise InvalidRequest(
            "cloning a voice needs the speaker's consent: say who consented in 'consent'",
            param="consent",
        )
    return draft.consent


def check_draft(draft: VoiceDraft, *, creating: bool) -> None:
    """Field checks that need no audio: 422s naming the field."""
    if creating and not draft.name:
        raise InvalidRequest("a voice needs a name", param="name")
    if draft.name is not None and not (0 < len(draft.name.strip()) <= MAX_NAME):
        raise InvalidRequest(f"name must be 1 to {MAX_NAME} characters", param="name")
    if draft.name is not None and VOICE_ID.fullmatch(draft.name.strip()):
        raise InvalidRequest("a name must not look like a voice id", param="name")
    if creating:
        required_consent(draft)
    if draft.consent is not None and not draft.consent.by.strip():
        raise InvalidRequest("consent must name who consented", param="consent")
    if draft.language is not None and not re.fullmatch(
        r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*", draft.language
    ):
        raise InvalidRequest(
            "language must be a language code (en, fr, pt-BR, ...)", param="language"
        )
    if draft.transcript is not None and len(draft.transcript) > 4000:
        raise InvalidRequest("transcript must be at most 4000 characters", param="transcript")
    for key, values in (draft.defaults or {}).items():
        if not isinstance(values, Mapping) or not all(
            isinstance(v, bool | int | float | str) for v in values.values()
        ):
            raise InvalidRequest(
                f"defaults.{key} must map parameter names to numbers, strings or booleans",
                param="defaults",
            )
