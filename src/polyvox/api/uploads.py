"""Upload guards for multipart routes: a body over the configured limit is a 413, early."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Message, Receive

from polyvox.api.deps import get_state
from polyvox.errors import RequestTooLarge
from polyvox.types import ParamValue

FORM_OVERHEAD = 64 * 1024
"""Bytes allowed on top of the file for the other form fields and multipart boundaries."""


def too_large(limit: int) -> RequestTooLarge:
    """The 413 for an upload over ``limit`` bytes."""
    return RequestTooLarge(
        f"the uploaded file is larger than the limit of {limit} bytes (POLYVOX_MAX_UPLOAD_BYTES)",
        param="file",
    )


class _CountingReceive:
    """Wraps ASGI ``receive`` and fails once more than ``limit`` body bytes arrived."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive = receive
        self._limit = limit
        self._seen = 0
        self.exceeded = False

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._seen += len(message.get("body", b""))
            if self._seen > self._limit:
                self.exceeded = True
                raise too_large(self._limit)
        return message


class UploadLimitRoute(APIRoute):
    """An APIRoute that refuses bodies over ``max_upload_bytes`` before parsing them all."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            file_limit = get_state(request).settings.max_upload_bytes
            limit = file_limit + FORM_OVERHEAD
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise too_large(file_limit)
            receive = _CountingReceive(request.receive, limit)
            try:
                return await handler(Request(request.scope, receive))
            except Exception as exc:
                # FastAPI turns any failure while parsing a form into a generic 400.
                if receive.exceeded:
                    raise too_large(file_limit) from exc
                raise

        return limited


def form_value(raw: str) -> ParamValue:
    """A form field as the JSON-like value it spells: true/false, an int, a float or text."""
    lowered = raw.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            continue
    return raw
