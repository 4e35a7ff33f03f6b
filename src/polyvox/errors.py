"""The PolyvoxError hierarchy: each error knows its HTTP status and machine-readable code."""

from __future__ import annotations


class PolyvoxError(Exception):
    """Base of every error polyvox raises on purpose; rendered once per transport."""

    status_code: int = 500
    code: str = "internal_error"
    type: str = "server_error"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    @classmethod
    def from_dict(cls, body: object, status_code: int) -> PolyvoxError:
        """The error an OpenAI-shaped error body describes (inverse of ``to_dict``).

        The class is found by ``code``; the status is the one the response carried.
        """
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            error = {"message": f"HTTP {status_code}", "code": None}
        kind = _by_code().get(str(error.get("code")), cls)
        param = error.get("param")
        found = kind.__new__(kind)
        PolyvoxError.__init__(
            found, str(error.get("message", "")), param=param if isinstance(param, str) else None
        )
        found.status_code = status_code
        if isinstance(found, Overloaded):
            found.retry_after = 1.0
        return found

    def to_dict(self) -> dict[str, object]:
        """The OpenAI error body: ``{"error": {message, type, param, code}}``."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(PolyvoxError):
    """The request is well-formed JSON but asks for something we cannot do."""

    status_code = 422
    code = "invalid_request"
    type = "invalid_request_error"


class MalformedRequest(InvalidRequest):
    """The body could not be parsed at all."""

    status_code = 400
    code = "malformed_request"


class RequestTooLarge(InvalidRequest):
    """The body or input exceeds a configured limit."""

    status_code = 413
    code = "request_too_large"


class ModelNotFound(InvalidRequest):
    """No configured model (or alias) has that name."""

    status_code = 404
    code = "model_not_found"


class VoiceNotFound(InvalidRequest):
    """The model has no voice with that name."""

    status_code = 404
    code = "voice_not_found"


class VoiceExists(InvalidRequest):
    """The caller already has a library voice of that name."""

    status_code = 409
    code = "voice_exists"


class VoiceAmbiguous(InvalidRequest):
    """A library voice name that several owners use, asked for by a caller who sees them all."""

    status_code = 409
    code = "voice_ambiguous"


class UnsupportedAudio(InvalidRequest):
    """Uploaded audio is empty, corrupt or in a format we cannot decode."""

    status_code = 415
    code = "unsupported_audio"


class Unauthorized(InvalidRequest):
    """A missing or wrong API key."""

    status_code = 401
    code = "invalid_api_key"


class Forbidden(InvalidRequest):
    """A valid API key that may not do this (an operation for admin keys)."""

    status_code = 403
    code = "forbidden"


class ClientGone(PolyvoxError):
    """The client hung up before its response; the work was stopped (logged as 499)."""

    status_code = 499
    code = "client_closed_request"
    type = "invalid_request_error"


class Overloaded(PolyvoxError):
    """No capacity right now; the client should retry after ``retry_after`` seconds."""

    status_code = 429
    code = "overloaded"
    type = "rate_limit_error"

    def __init__(self, message: str, *, retry_after: float = 1.0, param: str | None = None):
        super().__init__(message, param=param)
        self.retry_after = retry_after


class QueueTimeout(Overloaded):
    """A request waited longer than the queue timeout for a synthesis slot."""

    status_code = 503
    code = "queue_timeout"


class RequestTimeout(PolyvoxError):
    """A request ran longer than the per-request timeout."""

    status_code = 504
    code = "request_timeout"


class IdleTimeout(InvalidRequest):
    """A client kept a stream open without sending what it needs for too long."""

    status_code = 408
    code = "idle_timeout"


class EngineUnavailable(PolyvoxError):
    """The engine cannot be used here (missing extra, failed load)."""

    status_code = 503
    code = "engine_unavailable"


class EngineFailure(PolyvoxError):
    """The engine failed while producing audio or text."""

    status_code = 500
    code = "engine_failure"


class UpstreamFailure(EngineFailure):
    """A remote engine answered with something unusable (malformed or cut-off audio, an
    unexpected sample rate, an error it did not describe)."""

    status_code = 502
    code = "upstream_failure"


class ReferenceNotFound(InvalidRequest):
    """A reference named by its content hash (``sha256:...``) is not in the cache."""

    status_code = 422
    code = "reference_not_found"


class StorageUnavailable(PolyvoxError):
    """Object storage is not configured or its libraries are not installed."""

    status_code = 503
    code = "storage_unavailable"


class StorageFailure(PolyvoxError):
    """Uploading, reading or signing an object failed."""

    status_code = 502
    code = "storage_failure"


def _by_code() -> dict[str, type[PolyvoxError]]:
    """Every error class by its code (the most derived class wins a shared code)."""
    found: dict[str, type[PolyvoxError]] = {}
    pending: list[type[PolyvoxError]] = [PolyvoxError]
    while pending:
        kind = pending.pop(0)
        found[kind.code] = kind
        pending.extend(kind.__subclasses__())
    return found
