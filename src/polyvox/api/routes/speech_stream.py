"""``WS /v1/audio/speech/stream``: text in as it is written, audio out as it is spoken.

The shape an LLM pipeline needs: the client sends a config message, then text deltas,
then an end message; each sentence is spoken as soon as it is complete, and audio frames
(binary, in the chosen ``response_format``) flow back while more text arrives. Same
validation, admission, fairness, metrics and cancellation as ``POST /v1/audio/speech``.

Client -> server (JSON text frames):
  ``{"type": "config", "model": ..., "voice": ..., "response_format": "pcm", ...}``
  ``{"type": "text", "text": "Hello "}`` (any number)
  ``{"type": "end"}``
Server -> client: binary audio frames, then ``{"type": "speech.audio.done", "usage": ...}``,
or ``{"type": "error", "error": {...}}`` (OpenAI's error shape) and a close.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from polyvox.api.deps import get_caller, get_state
from polyvox.api.errors import from_validation
from polyvox.api.schemas import SpeechBody
from polyvox.errors import (
    ClientGone,
    EngineFailure,
    IdleTimeout,
    InvalidRequest,
    MalformedRequest,
    PolyvoxError,
)
from polyvox.jobs import SpeechJob
from polyvox.logs import with_request_id
from polyvox.metrics import Metrics

router = APIRouter(tags=["speech"])
log = logging.getLogger(__name__)
ROUTE = "/v1/audio/speech/stream"
_CLOSE_POLICY, _CLOSE_ERROR = 1008, 1011


async def _message(ws: WebSocket) -> dict[str, Any]:
    """The next client message as a JSON object; a hang-up is ClientGone."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise ClientGone("the client closed the connection")
    try:
        data = json.loads(message.get("text") or message.get("bytes") or b"")
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise MalformedRequest("each message must be a JSON object") from None
    if not isinstance(data, dict):
        raise MalformedRequest("each message must be a JSON object")
    return data


def _config(data: dict[str, Any]) -> SpeechBody:
    if data.pop("type", None) != "config":
        raise InvalidRequest('the first message must be {"type": "config", ...}', param="type")
    try:
        return SpeechBody.model_validate({**data, "input": data.get("input", "")})
    except ValidationError as exc:
        raise from_validation(exc) from None


async def _next(ws: WebSocket, idle: float) -> dict[str, Any]:
    """The next message within ``idle`` seconds; a stream left idle longer is a 408."""
    try:
        async with asyncio.timeout(idle):  # not wait_for: it can swallow a cancellation
            return await _message(ws)
    except TimeoutError:
        raise IdleTimeout(
            f"no text for {idle:g} s: the stream ends (POLYVOX_LIMITS__STREAM_IDLE_TIMEOUT)",
            param="text",
        ) from None


async def _deltas(ws: WebSocket, idle: float) -> AsyncIterator[str]:
    """Text deltas until ``end`` (the service refuses them past its input limit); a pause
    of more than ``idle`` seconds is a 408."""
    while (data := await _next(ws, idle)).get("type") != "end":
        text = data.get("text")
        if data.get("type") != "text" or not isinstance(text, str):
            raise InvalidRequest('expected {"type": "text", "text": "..."} or {"type": "end"}')
        yield text


async def _send_error(ws: WebSocket, error: PolyvoxError) -> None:
    try:
        await ws.send_json({"type": "error", **error.to_dict()})
        await ws.close(_CLOSE_POLICY if error.status_code < 500 else _CLOSE_ERROR)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client is gone already


async def _speak(ws: WebSocket, job: SpeechJob) -> None:
    async for data in job.stream():
        await ws.send_bytes(data)
    await ws.send_json({"type": "speech.audio.done", "usage": job.usage()})
    await ws.close()


def _observe(metrics: Metrics, model: str, status: int, started: float) -> None:
    metrics.observe_request(ROUTE, model, status, time.perf_counter() - started)


@router.websocket(ROUTE)
async def speech_stream(ws: WebSocket) -> None:
    """Speak text that arrives as a stream; see the module docstring for the messages."""
    state = get_state(ws)
    service, settings = state.service, state.settings
    started, model, status = time.perf_counter(), "", 200
    await ws.accept()
    try:
        first = await asyncio.wait_for(_message(ws), settings.http.header_timeout)
        params = _config(first).to_params()
        deltas = _deltas(ws, settings.limits.stream_idle_timeout)
        job = await service.prepare_stream(params, deltas, get_caller(ws))
        model = job.model
        await _speak(ws, job)
    except TimeoutError:
        status = 408
        await _send_error(ws, InvalidRequest("no config message in time", param="type"))
    except (ClientGone, WebSocketDisconnect, OSError):  # OSError: a send to a closed socket
        status = 499
    except PolyvoxError as exc:
        status = exc.status_code
        service.metrics.errors.labels(exc.code).inc()
        await _send_error(ws, exc)
    except Exception:
        log.exception("speech stream failed")
        status = 500
        failure = EngineFailure(with_request_id("the speech stream failed"))
        service.metrics.errors.labels(failure.code).inc()
        await _send_error(ws, failure)
    finally:
        _observe(service.metrics, model, status, started)
