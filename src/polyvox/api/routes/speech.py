"""``POST /v1/audio/speech``: OpenAI-compatible speech, streamed as audio bytes or SSE."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from polyvox.api.deps import ServiceDep
from polyvox.api.schemas import SpeechBody
from polyvox.errors import EngineFailure, PolyvoxError
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


async def _chain(first: bytes | None, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for data in rest:
        yield data


def _event(payload: dict[str, object]) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


async def _sse(job: SpeechJob, audio: AsyncIterator[bytes]) -> AsyncIterator[str]:
    try:
        async for data in audio:
            delta = base64.b64encode(data).decode("ascii")
            yield _event({"type": "speech.audio.delta", "audio": delta})
    except PolyvoxError as exc:
        yield _event({"type": "error", **exc.to_dict()})
        return
    except Exception:
        log.exception("speech stream failed")
        yield _event({"type": "error", **EngineFailure("synthesis failed").to_dict()})
        return
    usage = {
        "input_tokens": job.characters,
        "output_tokens": 0,
        "total_tokens": job.characters,
        "audio_seconds": round(job.audio_seconds, 3),
    }
    yield _event({"type": "speech.audio.done", "usage": usage})


@router.post("/v1/audio/speech", responses=_AUDIO_RESPONSES, response_class=StreamingResponse)
async def create_speech(
    body: SpeechBody, request: Request, service: ServiceDep
) -> StreamingResponse:
    """Speak ``input``; every request error is raised here, before the first byte is sent."""
    job = await service.prepare(body.to_params())
    request.state.model = job.model
    log.info(
        "speech model=%s voice=%s format=%s stream=%s chars=%d chunks=%d",
        job.model, job.request.voice, job.response_format, body.stream_format,
        job.characters, len(job.chunks),
    )  # fmt: skip
    stream = job.stream()
    # Produce the first audio before answering, so a failure on it is still a proper status.
    first = await anext(stream, None)
    audio = _chain(first, stream)
    if body.stream_format == "sse":
        return StreamingResponse(_sse(job, audio), media_type="text/event-stream")
    return StreamingResponse(audio, media_type=job.media_type)
