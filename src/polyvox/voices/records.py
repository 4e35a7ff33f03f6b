"""Library voices as stored: one JSON record per voice, naming its audio by digest."""

from __future__ import annotations

import json
import math
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from polyvox.errors import InvalidRequest
from polyvox.types import ParamValue

VOICE_ID = re.compile(r"voice_[0-9a-f]{24}")
"""Library voice ids: ``voice_`` and 24 hex digits (OpenAI's custom voices look alike)."""
DIGEST = re.compile(r"[0-9a-f]{64}")
MAX_NAME = 256
"""Characters of a voice's name, and of who consented (``consent.by``)."""
MAX_TEXT = 4000
"""Characters of a transcript, and of a consent's statement."""
MAX_AT = 64
"""Characters of ``consent.at`` (an ISO-8601 date or date-time)."""
MAX_LANGUAGE = 35
MAX_DEFAULT_KEYS = 32
"""Engines and models a voice's ``defaults`` name, at most."""
MAX_DEFAULT_PARAMS = 64
"""Parameters per engine or model in ``defaults``, at most."""
MAX_DEFAULT_KEY = 128
"""Characters of an engine name or model id in ``defaults``."""
MAX_PARAM_NAME = 64
"""Characters of a parameter's name in ``defaults``."""
MAX_DEFAULT_STRING = 1024
"""Characters of a string value in ``defaults``."""
MAX_DEFAULTS_BYTES = 16 * 1024
"""Bytes of a voice's whole ``defaults`` as compact UTF-8 JSON."""
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
        return _stored(cls(**fields))

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


def _stored(voice: LibraryVoice) -> LibraryVoice:
    """``voice`` if every field has the type an answer shows (TypeError/ValueError if not):
    a record that cannot be shown is skipped as unreadable, never a 500 for the listing."""
    texts = (voice.id, voice.name, voice.digest, voice.consent.by, voice.consent.at)
    optional = (voice.owner, voice.language, voice.transcript, voice.transcribed_by)
    if not all(isinstance(t, str) for t in texts) or not all(
        t is None or isinstance(t, str) for t in (*optional, voice.consent.statement)
    ):
        raise TypeError("a text field of a voice record is not text")
    if not (isinstance(voice.created_at, int) and isinstance(voice.updated_at, int)):
        raise TypeError("a time of a voice record is not a number")
    if not (VOICE_ID.fullmatch(voice.id) and DIGEST.fullmatch(voice.digest)):
        raise ValueError(f"not a voice id and digest: {voice.id!r}, {voice.digest!r}")
    if not isinstance(voice.defaults, Mapping) or not all(
        isinstance(k, str) and _parameters(v) for k, v in voice.defaults.items()
    ):
        raise TypeError("the defaults of a voice record are not parameters")
    values = (v for params in voice.defaults.values() for v in params.values())
    if not all(math.isfinite(n) for n in (voice.seconds, *values) if isinstance(n, float)):
        raise ValueError("a number of a voice record is not finite")
    return voice


def _parameters(values: object) -> bool:
    """Whether ``values`` maps parameter names to numbers, strings or booleans."""
    return isinstance(values, Mapping) and all(
        isinstance(k, str) and isinstance(v, bool | int | float | str) for k, v in values.items()
    )


def required_consent(draft: VoiceDraft) -> Consent:
    """The draft's consent; a 422 without one (a new voice needs it)."""
    if draft.consent is None:
        raise InvalidRequest(
            "cloning a voice needs the speaker's consent: say who consented in 'consent'",
            param="consent",
        )
    return draft.consent


def check_draft(draft: VoiceDraft, *, creating: bool) -> None:
    """Every field's checks, before any audio is fetched or anything written: 422s naming
    the field."""
    if creating and not draft.name:
        raise InvalidRequest("a voice needs a name", param="name")
    if draft.name is not None:
        _check_name(draft.name.strip())
    if creating:
        required_consent(draft)
    if draft.consent is not None:
        _check_consent(draft.consent)
    if draft.language is not None and not (
        len(draft.language) <= MAX_LANGUAGE and _LANGUAGE.fullmatch(draft.language)
    ):
        raise InvalidRequest(
            "language must be a language code (en, fr, pt-BR, ...)", param="language"
        )
    if draft.transcript is not None and len(draft.transcript) > MAX_TEXT:
        message = f"transcript must be at most {MAX_TEXT} characters"
        raise InvalidRequest(message, param="transcript")
    if draft.defaults is not None:
        check_defaults(draft.defaults)


def _controls(text: str) -> bool:
    """Whether ``text`` has control, format or unassigned characters (newlines, NUL, ...)."""
    return any(unicodedata.category(c).startswith("C") for c in text)


def _check_name(name: str) -> None:
    if not 0 < len(name) <= MAX_NAME:
        raise InvalidRequest(f"name must be 1 to {MAX_NAME} characters", param="name")
    if _controls(name):
        message = "name must not contain control characters (newlines, tabs, ...)"
        raise InvalidRequest(message, param="name")
    if VOICE_ID.fullmatch(name):
        raise InvalidRequest("a name must not look like a voice id", param="name")


def _check_consent(consent: Consent) -> None:
    by = consent.by.strip()
    if not by:
        raise InvalidRequest("consent must name who consented", param="consent")
    if len(by) > MAX_NAME or _controls(consent.by):
        message = f"consent: who consented is 1 to {MAX_NAME} characters, no control characters"
        raise InvalidRequest(message, param="consent")
    if len(consent.at) > MAX_AT or not _iso_date(consent.at):
        message = "consent.at must be an ISO-8601 date or date-time (2026-12-03, 2026-12-03T10:15Z)"
        raise InvalidRequest(message, param="consent")
    if consent.statement is not None and len(consent.statement) > MAX_TEXT:
        message = f"consent.statement must be at most {MAX_TEXT} characters"
        raise InvalidRequest(message, param="consent")


def _iso_date(text: str) -> bool:
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            parse(text)
        except ValueError:
            continue
        return True
    return False


def check_defaults(defaults: object) -> None:
    """422s naming ``defaults`` past its bounds: keys and parameters counted, names and
    strings measured, the whole at most ``MAX_DEFAULTS_BYTES`` of JSON."""
    if not isinstance(defaults, Mapping) or len(defaults) > MAX_DEFAULT_KEYS:
        message = f"defaults must map at most {MAX_DEFAULT_KEYS} engines or models to parameters"
        raise InvalidRequest(message, param="defaults")
    for key, values in defaults.items():
        if not _short_name(key, MAX_DEFAULT_KEY):
            message = f"defaults: an engine or model is 1 to {MAX_DEFAULT_KEY} characters"
            raise InvalidRequest(message, param="defaults")
        if not _parameters(values) or len(values) > MAX_DEFAULT_PARAMS:
            raise InvalidRequest(
                f"defaults.{key} must map at most {MAX_DEFAULT_PARAMS} parameter names to "
                "numbers, strings or booleans",
                param="defaults",
            )
        for name, value in values.items():
            _check_parameter(key, name, value)
    size = len(json.dumps(defaults, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_DEFAULTS_BYTES:
        message = f"defaults must be at most {MAX_DEFAULTS_BYTES} bytes of JSON, not {size}"
        raise InvalidRequest(message, param="defaults")


def _short_name(text: object, most: int) -> bool:
    return isinstance(text, str) and 0 < len(text) <= most and not _controls(text)


def _check_parameter(key: str, name: str, value: ParamValue) -> None:
    if not _short_name(name, MAX_PARAM_NAME):
        message = f"defaults.{key}: a parameter's name is 1 to {MAX_PARAM_NAME} characters"
        raise InvalidRequest(message, param="defaults")
    if isinstance(value, str) and len(value) > MAX_DEFAULT_STRING:
        message = f"defaults.{key}.{name} must be at most {MAX_DEFAULT_STRING} characters"
        raise InvalidRequest(message, param="defaults")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidRequest(f"defaults.{key}.{name} must be a finite number", param="defaults")
