"""``POST /v1/audio/speech``: OpenAI-compatible speech, streamed as audio bytes or SSE."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from polyvox.api.deps import CallerDep, ServiceDep
from polyvox.api.schemas import SpeechBody
from polyvox.api.streaming import sse_event, started, unless_disconnected
from polyvox.engines.remote.polyvox import SAMPLE_RATE_HEADER
from polyvox.errors import EngineFailure, InvalidRequest, PolyvoxError
from polyvox.jobs import SpeechJob

router = APIRouter(tags=["speech"])
log = logging.getLogger(__name__)

_AUDIO_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "content": {
            "audio/mpeg": {},
            "audio/ogg": {},
            "audio/aac": {},
            "audio/flac": {},
            "audio/wav": {},
            "audio/pcm": {},
            "text/event-stream": {},
        },
        "description": "Audio in the requested format, streamed as it is synthesised.",
    }
}


async def _sse(job: SpeechJob, audio: AsyncIterator[bytes]) -> AsyncIterator[str]:
    try:
        async for data in audio:
            delta = base64.b64encode(data).decode("ascii")
            yield sse_event({"type": "speech.audio.delta", "audio": delta})
    except PolyvoxError as exc:
        yield sse_event({"type": "error", **exc.to_dict()})
        return
    except Exception:
        log.exception("speech stream failed")
        yield sse_event({"type": "error", **EngineFailure("synthesis failed").to_dict()})
        return
    yield sse_event({"type": "speech.audio.done", "usage": job.usage()})


@router.post("/v1/audio/speech", responses=_AUDIO_RESPONSES, response_class=StreamingResponse)
async def create_speech(
    body: SpeechBody, request: Request, service: ServiceDep, caller: CallerDep
) -> Response:
    """Speak ``input``; every request error is raised here, before the first byte is sent."""
    if body.stream is False and body.stream_format == "sse":
        raise InvalidRequest(
            "stream_format sse streams the audio; stream false asks for the whole file",
            param="stream",
        )
    job = await unless_disconnected(request, service.prepare(body.to_params(), caller))
    request.state.model = job.model
    log.info(
        "speech model=%s voice=%s format=%s stream=%s chars=%d",
        job.model,
        job.request.voice,
        job.response_format,
        body.stream_format,
        len(body.input),
    )
    headers = {**job.headers, SAMPLE_RATE_HEADER: str(job.out_rate)}  # a gateway checks it
    if body.stream is False:  # the whole file, once it is all made
        whole = await unless_disconnected(request, job.collect())
        return Response(whole, media_type=job.media_type, headers=headers)
    audio = await started(request, job.stream())
    if body.stream_format == "sse":
        return StreamingResponse(
            _sse(job, audio), media_type="text/event-stream", headers=job.headers
        )
    return StreamingResponse(audio, media_type=job.media_type, headers=headers)
