"""One exception handler per error family, all rendering OpenAI's error JSON."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from polyvox.errors import InvalidRequest, MalformedRequest, Overloaded, PolyvoxError
from polyvox.logs import with_request_id
from polyvox.metrics import Metrics

log = logging.getLogger(__name__)


def error_response(error: PolyvoxError) -> JSONResponse:
    """Render one PolyvoxError, with Retry-After when the server is overloaded."""
    headers = {}
    if isinstance(error, Overloaded):
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    return JSONResponse(error.to_dict(), status_code=error.status_code, headers=headers)


def from_validation(exc: RequestValidationError | ValidationError) -> PolyvoxError:
    """A pydantic validation failure as the error a client should see."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    if first.get("type") == "json_invalid":
        return MalformedRequest(f"the body is not valid JSON: {first.get('msg')}")
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    param = loc[0] if loc else None  # the top-level field; deeper parts are union members
    where = f"{'.'.join(loc)}: " if loc else ""
    return InvalidRequest(f"{where}{first.get('msg', 'invalid value')}", param=param)


def install(app: FastAPI, metrics: Metrics) -> None:
    """Register the handlers on ``app``; each error is counted by its code."""

    def respond(error: PolyvoxError) -> JSONResponse:
        metrics.errors.labels(error.code).inc()
        return error_response(error)

    async def on_polyvox(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, PolyvoxError)
        return respond(exc)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return respond(from_validation(exc))

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        if isinstance(exc.__cause__, PolyvoxError):
            # FastAPI turns any failure while reading a body into a generic 400; the
            # cause (a body over the limit: 413) is the error the client should see
            return respond(exc.__cause__)
        error = InvalidRequest(str(exc.detail))
        error.status_code = exc.status_code
        error.code = "not_found" if exc.status_code == 404 else "http_error"
        return respond(error)

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return respond(PolyvoxError(with_request_id("internal server error")))

    app.add_exception_handler(PolyvoxError, on_polyvox)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
