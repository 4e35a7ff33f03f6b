"""Logging setup: text or JSON lines, each carrying the id of the request it belongs to."""

from __future__ import annotations

import json
import logging
import logging.config
import re
from contextvars import ContextVar
from typing import Any

request_id: ContextVar[str] = ContextVar("request_id", default="-")
"""The id of the request being handled in this context ('-' outside requests)."""


def with_request_id(message: str) -> str:
    """A client-facing message for an internal failure: what failed and where to look.

    The exception itself is logged with the same id; its text (library paths, internal
    addresses) never reaches the client.
    """
    return f"{message} (request id {request_id.get()}; the server log has the details)"


class RequestIdFilter(logging.Filter):
    """Stamps every record with the current request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


_SECRET_PARAM = re.compile(
    r"(?i)([?&][^=&#]*(?:key|token|secret|passw|signature|sig|auth|credential)[^=&#]*=)[^&#]*"
)


def redact_query(path: str) -> str:
    """A path with the values of secret-looking query parameters replaced (``api_key=...``)."""
    return _SECRET_PARAM.sub(r"\1REDACTED", path)


class RedactQueryFilter(logging.Filter):
    """Redacts secrets in the query strings of uvicorn's access log lines.

    uvicorn logs ``(client, method, path?query, http_version, status)``; a key passed as
    ``?api_key=...`` must not end up in log files.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request_id, message (and exc_info)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def logging_config(level: str, fmt: str) -> dict[str, Any]:
    """A dictConfig for polyvox and uvicorn with request ids on every line."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    loggers = {
        name: {"handlers": ["default"], "level": level.upper(), "propagate": False}
        for name in ("polyvox", "uvicorn", "uvicorn.error", "uvicorn.access")
    }
    loggers["uvicorn.access"]["filters"] = ["redact_query"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": RequestIdFilter},
            "redact_query": {"()": RedactQueryFilter},
        },
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "loggers": loggers,
    }


def configure(level: str, fmt: str) -> None:
    """Apply logging_config (used by ``polyvox serve`` and the worker)."""
    logging.config.dictConfig(logging_config(level, fmt))
