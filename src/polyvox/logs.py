"""Logging setup: text or JSON lines, each carrying the id of the request it belongs to."""

from __future__ import annotations

import json
import logging
import logging.config
import math
import queue
import re
import sys
import threading
import time
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

FLUSH_SECONDS = 2.0
"""At most this long, a BackgroundHandler's flush waits for its queued lines."""
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


def redact_url(url: str) -> str:
    """A URL without its query string or user info (signatures, keys and passwords stay
    out of logs, error messages and model cards)."""
    parts = urlsplit(url)
    if not parts.scheme:
        return url
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def redact_query(path: str) -> str:
    """A path with the values of secret-looking query parameters replaced (``api_key=...``)."""
    return _SECRET_PARAM.sub(r"\1REDACTED", path)


class RedactQueryFilter(logging.Filter):
    """Redacts secrets in the query strings of every log line's arguments.

    uvicorn logs paths with their query strings: HTTP requests in its access log
    ``(client, method, path?query, http_version, status)``, WebSockets in its error log
    ``'%s - "WebSocket %s" [accepted]'``; a key passed as ``?api_key=...`` must not end up
    in log files.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, str) and "=" in a for a in args):
            record.args = tuple(redact_query(a) if isinstance(a, str) else a for a in args)
        return True


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """``text`` with line breaks and other control characters written as escapes, so a
    value a client chose (a voice name, a URL) cannot begin a forged log line."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class TextFormatter(logging.Formatter):
    """The text format, one line per message (tracebacks follow as they are)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


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


class BackgroundHandler(logging.Handler):
    """Formats a record on the caller's thread and writes it on a thread of its own.

    A logging call never blocks: when the stream cannot take lines as fast as they come
    (a supervised worker whose server stopped reading its pipe), lines wait in a bounded
    queue, and past it they are dropped and counted, instead of blocking the event loop
    in a pipe write (a worker blocked so answers nothing, and cannot even notice that its
    server is gone)."""

    def __init__(self, stream: Any = None, capacity: int = 10_000) -> None:
        super().__init__()
        self.stream = stream if stream is not None else sys.stderr
        self.dropped = 0
        self._lines: queue.Queue[str] = queue.Queue(capacity)
        threading.Thread(target=self._write, name="polyvox-log", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the formatted line; drop it when the queue is full."""
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        try:
            self._lines.put_nowait(line)
        except queue.Full:
            self.dropped += 1

    def _write(self) -> None:
        while True:
            line = self._lines.get()
            dropped, self.dropped = self.dropped, 0
            if dropped:
                line = f"({dropped} log lines dropped: the log could not keep up)\n{line}"
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass  # nowhere to write to any more
            finally:
                self._lines.task_done()

    def flush(self) -> None:
        """Wait (briefly) for queued lines to be written: at exit, the last lines matter."""
        deadline = time.monotonic() + FLUSH_SECONDS
        while self._lines.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)


def logging_config(level: str, fmt: str, *, background: bool = False) -> dict[str, Any]:
    """A dictConfig for polyvox and uvicorn with request ids on every line; ``background``:
    lines are written by a thread of their own (``BackgroundHandler``)."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter}
        if fmt == "json"
        else {
            "()": TextFormatter,
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        }
    )
    handler = {
        ("()" if background else "class"): (
            BackgroundHandler if background else "logging.StreamHandler"
        ),
        "formatter": "default",
        "filters": ["request_id", "redact_query"],
        "stream": "ext://sys.stderr",
    }
    loggers = {
        name: {"handlers": ["default"], "level": level.upper(), "propagate": False}
        for name in ("polyvox", "uvicorn", "uvicorn.error", "uvicorn.access")
    }
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


def configure(level: str, fmt: str, *, background: bool = False) -> None:
    """Apply logging_config (used by the RunPod worker and the CLI)."""
    logging.config.dictConfig(logging_config(level, fmt, background=background))


class LogEvery:
    """Logs the first event, then at most one line per interval with a count.

    A flood of refused or timed-out sockets must not turn into a flood of log lines.
    """

    def __init__(self, level: int, logger: logging.Logger, interval: float = 10.0) -> None:
        self.level = level
        self.logger = logger
        self.interval = interval
        self.last = -math.inf
        self.count = 0

    def __call__(self, message: str) -> None:
        """Count one event; log it (with the events counted since the last line) if due."""
        self.count += 1
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.logger.log(
                self.level, "%s (%d connection(s) since the last report)", message, self.count
            )
            self.last, self.count = now, 0
