"""Voice library request bodies: multipart (files as ``audio_sample``) or JSON (URLs/base64)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from polyvox.api.schemas import ConsentBody, VoiceBody
from polyvox.errors import InvalidRequest, MalformedRequest
from polyvox.service import SpeechService
from polyvox.threads import run_blocking
from polyvox.voices.records import Consent, VoiceDraft, check_draft
from polyvox.voices.reference import decode_base64

_TEXT_FIELDS = ("name", "language", "transcript", "defaults", "consent")
MAX_FORM_FIELDS = 32


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


_UNION_MEMBER = re.compile(r"^([A-Z]\w*|str|int|float|bool|list\[.*\]|dict\[.*\])$")


def _consent(value: str | ConsentBody | None) -> Consent | None:
    if value is None:
        return None
    if isinstance(value, str):
        return Consent(by=value.strip(), at=_now())
    return Consent(by=value.by.strip(), at=value.at or _now(), statement=value.statement)


def _body(data: dict[str, Any]) -> VoiceBody:
    try:
        return VoiceBody.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        # a union's member names (str, ConsentBody, list[str]) say nothing to the client
        parts = [str(p) for p in error["loc"] if not _UNION_MEMBER.match(str(p))]
        where = ".".join(parts) or "body"
        param = parts[0] if parts else None
        raise InvalidRequest(f"{where}: {error['msg']}", param=param) from None


async def _form(request: Request, files: int) -> tuple[dict[str, Any], list[bytes] | None]:
    """Text fields and uploaded files of a multipart (or urlencoded) body."""
    form = await request.form(max_files=files, max_fields=MAX_FORM_FIELDS)
    fields: dict[str, Any] = {}
    for key in _TEXT_FIELDS:
        value = form.get(key)
        if isinstance(value, str):
            fields[key] = value
    if "defaults" in fields:
        try:
            fields["defaults"] = json.loads(fields["defaults"])
        except ValueError:
            raise InvalidRequest("defaults must be a JSON object", param="defaults") from None
    if form.get("consent_at") or form.get("consent_statement"):
        by = fields.get("consent", "")
        if not by.strip():
            message = "consent must name who agreed (consent=NAME beside consent_statement)"
            raise InvalidRequest(message, param="consent")
        at, statement = form.get("consent_at"), form.get("consent_statement")
        fields["consent"] = {"by": by, "at": at, "statement": statement}
    uploads = [f for f in form.getlist("audio_sample") if isinstance(f, UploadFile)]
    if not uploads and any(isinstance(v, str) for v in form.getlist("audio_sample")):
        fields["audio_sample"] = [v for v in form.getlist("audio_sample") if isinstance(v, str)]
    audio = [await f.read() for f in uploads] or None
    await form.close()
    return fields, audio


async def read_draft(request: Request, service: SpeechService, *, creating: bool) -> VoiceDraft:
    """The voice a request describes, its fields checked first (422s before any download);
    URLs are fetched (SSRF-guarded) and base64 decoded."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    audio: list[bytes] | None = None
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields, audio = await _form(request, service.settings.voices.max_files)
    else:
        try:
            fields = await request.json()
        except (ValueError, RecursionError):
            raise MalformedRequest("the body is neither JSON nor a multipart form") from None
        if not isinstance(fields, dict):
            raise MalformedRequest("the body must be a JSON object")
    body = _body(fields)
    defaults = None if body.defaults is None else {k: dict(v) for k, v in body.defaults.items()}
    draft = VoiceDraft(
        name=body.name,
        language=body.language,
        transcript=body.transcript,
        defaults=defaults,
        consent=_consent(body.consent),
    )
    check_draft(draft, creating=creating)
    if audio is None and body.audio_sample is not None:
        sources = [body.audio_sample] if isinstance(body.audio_sample, str) else body.audio_sample
        most = service.settings.voices.max_files
        if len(sources) > most:  # before anything is downloaded
            raise InvalidRequest(
                f"a voice takes at most {most} reference files", param="audio_sample"
            )
        audio = [await _fetch(service, s, f"audio_sample[{i}]") for i, s in enumerate(sources)]
    return replace(draft, audio=audio)


async def _fetch(service: SpeechService, source: str, param: str) -> bytes:
    if "://" in source:
        return await run_blocking(partial(service.references.fetch, source, param=param))
    return decode_base64(source, param)
