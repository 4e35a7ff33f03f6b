"""``POST /v1/audio/transcriptions`` and ``/translations``: OpenAI-compatible speech-to-text."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.datastructures import FormData

from polyvox.api.deps import ServiceDep
from polyvox.api.streaming import sse_event, started, unless_disconnected
from polyvox.api.uploads import UploadLimitRoute, form_value
from polyvox.errors import EngineFailure, InvalidRequest, PolyvoxError
from polyvox.subtitles import MEDIA_TYPES, TranscriptFormat
from polyvox.transcription_job import TranscriptionJob
from polyvox.types import ParamValue, Segment, Task, TranscriptionParams

router = APIRouter(tags=["transcriptions"], route_class=UploadLimitRoute)
log = logging.getLogger(__name__)

Granularity = Literal["word", "segment"]
_KNOWN_FIELDS = {
    "file", "model", "language", "prompt", "response_format", "temperature", "stream",
    "timestamp_granularities", "timestamp_granularities[]",
}  # fmt: skip
_TEXT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "content": {"text/plain": {}, "text/vtt": {}, "text/event-stream": {}},
        "description": "json/verbose_json, text/srt/vtt as text, or SSE when stream=true.",
    }
}

FileField = Annotated[UploadFile, File(description="Audio: wav, mp3, m4a, ogg, webm, flac, ...")]
ModelField = Annotated[str, Form(min_length=1, description="Model id, alias or whisper-1.")]
PromptField = Annotated[str | None, Form(description="Text to guide style or spelling.")]
FormatField = Annotated[TranscriptFormat, Form()]
TemperatureField = Annotated[float | None, Form(ge=0.0, le=1.0, allow_inf_nan=False)]
LanguageField = Annotated[str | None, Form(description="ISO-639-1 code of the speech, e.g. en.")]
GranularityField = Annotated[
    list[Granularity] | None,
    Form(alias="timestamp_granularities[]", description="word and/or segment (verbose_json)."),
]


def _engine_params(form: FormData) -> dict[str, ParamValue]:
    """Form fields beyond OpenAI's, as engine parameters (``beam_size=1``, ...)."""
    return {
        key: form_value(value)
        for key, value in form.multi_items()
        if key not in _KNOWN_FIELDS and isinstance(value, str)
    }


async def _sse(job: TranscriptionJob, segments: AsyncIterator[Segment]) -> AsyncIterator[str]:
    try:
        async for segment in segments:
            yield sse_event({"type": "transcript.text.delta", "delta": segment.text})
    except PolyvoxError as exc:
        yield sse_event({"type": "error", **exc.to_dict()})
        return
    except Exception:
        log.exception("transcription stream failed")
        yield sse_event({"type": "error", **EngineFailure("transcription failed").to_dict()})
        return
    text = "".join(job.text_parts).strip()
    yield sse_event({"type": "transcript.text.done", "text": text})


def _one_file(form: FormData) -> None:
    """Several ``file`` parts would leave the choice to the parser: refuse them."""
    count = len(form.getlist("file"))
    if count > 1:
        raise InvalidRequest(
            f"send one audio file per request; this one has {count} 'file' parts", param="file"
        )


async def _respond(request: Request, job: TranscriptionJob, stream: bool) -> Response:
    if stream:
        segments = await started(request, job.segments())
        return StreamingResponse(_sse(job, segments), media_type="text/event-stream")
    body = await unless_disconnected(request, job.render())
    if isinstance(body, dict):
        return JSONResponse(body)
    return PlainTextResponse(body, media_type=MEDIA_TYPES[job.response_format])


@router.post("/v1/audio/transcriptions", responses=_TEXT_RESPONSES)
async def create_transcription(
    request: Request,
    service: ServiceDep,
    file: FileField,
    model: ModelField,
    language: LanguageField = None,
    prompt: PromptField = None,
    response_format: FormatField = "json",
    temperature: TemperatureField = None,
    granularities: GranularityField = None,
    granularities_plain: Annotated[
        list[Granularity] | None, Form(alias="timestamp_granularities")
    ] = None,
    stream: Annotated[bool, Form()] = False,
) -> Response:
    """Transcribe audio; every request error is raised before the first byte is sent."""
    form = await request.form()
    _one_file(form)
    both = [*(granularities or ()), *(granularities_plain or ())]
    params = TranscriptionParams(
        model=model,
        file=await file.read(),
        language=language,
        prompt=prompt,
        response_format=response_format,
        temperature=temperature,
        timestamp_granularities=tuple(dict.fromkeys(both)),
        stream=stream,
        params=_engine_params(form),
    )
    job = await unless_disconnected(request, service.transcribe(params))
    return await _respond(request, job, stream)


@router.post("/v1/audio/translations", responses=_TEXT_RESPONSES)
async def create_translation(
    request: Request,
    service: ServiceDep,
    file: FileField,
    model: ModelField,
    prompt: PromptField = None,
    response_format: FormatField = "json",
    temperature: TemperatureField = None,
    language: LanguageField = None,
) -> Response:
    """Translate speech into English text (``language``, a polyvox extension, names the source)."""
    task: Task = "translate"
    form = await request.form()
    _one_file(form)
    params = TranscriptionParams(
        model=model,
        file=await file.read(),
        language=language,
        prompt=prompt,
        response_format=response_format,
        temperature=temperature,
        task=task,
        params=_engine_params(form),
    )
    job = await unless_disconnected(request, service.transcribe(params))
    return await _respond(request, job, False)
