"""The HTTP connection layer: uvicorn's httptools protocol with read deadlines and a bound.

What uvicorn (httptools protocol, read in 0.54) does and does not do on its own:

- ``timeout_keep_alive`` is armed only once a response is complete, and any byte received
  cancels it; nothing arms it again until the next response. A socket that never sends, or
  sends part of a request, or dribbles a body, is held for ever.
- ``limit_concurrency`` is checked only when a request's headers are complete, so sockets
  that send nothing are never refused; it answers a plain-text 503, and it counts the
  connection asking, so a limit of N refuses every request on the N-th connection.

``GuardedHttpProtocol`` adds what is missing: a header deadline from the moment a socket
connects (and from the first byte of each later request), a whole-body deadline, and a
bound on open connections enforced when a socket connects. uvicorn's keep-alive timer
still closes idle kept-alive connections. Client-facing errors use OpenAI's error JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from typing import Any, ClassVar, Literal

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from polyvox.logs import LogEvery
from polyvox.settings import HttpSettings, Settings

log = logging.getLogger(__name__)

Phase = Literal["idle", "headers", "body", "closing"]

FD_HEADROOM = 64
"""Descriptors the process needs besides connections (models, logs, event loop, pipes)."""


refusals = LogEvery(logging.WARNING, log)
timeouts = LogEvery(logging.INFO, log)


def error_response(
    status: int, code: str, message: str, headers: list[tuple[bytes, bytes]]
) -> bytes:
    """A whole HTTP/1.1 response carrying OpenAI's error JSON, announcing ``close``."""
    kind = "server_error" if status >= 500 else "invalid_request_error"
    error = {"message": message, "type": kind, "param": None, "code": code}
    body = json.dumps({"error": error}).encode()
    headers = [
        *headers,
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    lines = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return STATUS_LINE[status] + lines + b"\r\n" + body


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body deadlines and a connection bound.

    One timer per connection, in one of four phases: ``idle`` (connected, no request
    begun), ``headers`` (a request has begun; both share the header deadline, which the
    first byte does not restart), ``body`` (until the whole body is in) and ``closing``
    (we closed; abort if the peer will not take our last bytes). While the app handles a
    request no timer runs, and between requests uvicorn's own keep-alive timer does.
    """

    limits: ClassVar[HttpSettings] = HttpSettings()
    """The limits; ``uvicorn_config`` binds them in a subclass (uvicorn builds from a class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._phase: Phase | None = None
        self._upgraded = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Refuse the socket when the bound is reached, else start the header deadline."""
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse()
        else:
            self._arm("idle")

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the timer; uvicorn tells the app ``http.disconnect``."""
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Feed the parser; keep a deadline on sockets between requests."""
        super().data_received(data)
        # uvicorn cancels its keep-alive timer on any byte; bytes that begin no request
        # (blank lines, the rest of a body the app already answered) would leave the
        # socket with no deadline at all, so the header deadline takes over
        idle = self.cycle is None or self.cycle.response_complete
        waiting = self._timer is not None or self.timeout_keep_alive_task is not None
        if idle and not waiting and not self.transport.is_closing():
            self._arm("idle")

    def on_message_begin(self) -> None:
        """A request starts: start its header deadline unless one is already running."""
        super().on_message_begin()
        # not restarted: a client must not buy time by sending a byte now and then
        if self._phase == "idle":
            self._phase = "headers"
        elif self._phase != "headers":
            self._arm("headers")

    def on_headers_complete(self) -> None:
        """Headers are in: the body deadline replaces the header deadline."""
        self._disarm()
        super().on_headers_complete()
        self._arm("body")

    def on_message_complete(self) -> None:
        """The whole request is in: the app has it, no deadline until the response ends."""
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        """The socket becomes a WebSocket (uvicorn hands it to its ws protocol, which keeps
        it in the connection count): our deadlines end here, the ws pings take over."""
        self._upgraded = True
        self._disarm()
        super().handle_websocket_upgrade()

    def _arm(self, phase: Phase) -> None:
        self._disarm()
        if self._upgraded:
            return
        seconds = self.limits.body_timeout if phase == "body" else self.limits.header_timeout
        self._phase = phase
        self._timer = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._phase = None, None

    def _expire(self) -> None:
        """A deadline passed: a 408 if a request began and the wire is free, then close."""
        phase, self._timer = self._phase, None
        if phase == "closing" or self.transport.is_closing():
            self.transport.abort()  # the peer would not take our last bytes in time
        elif self.flow.read_paused:
            # we stopped reading (a pipelined request waits, the app has not taken the
            # body yet): the stall is ours, not the client's, so the clock restarts
            self._arm(phase or "headers")
        elif phase == "idle":
            # nothing to answer: a 408 here could pass for the answer to a request a
            # pooling client is sending just now; closing quietly is what keep-alive does
            timeouts(f"closed a connection: no request within {self.limits.header_timeout:g} s")
            self._give_up()
        else:
            self._time_out("body" if phase == "body" else "headers")

    def _time_out(self, part: Literal["headers", "body"]) -> None:
        setting = "body_timeout" if part == "body" else "header_timeout"
        seconds = getattr(self.limits, setting)
        message = (
            f"request {part} not received within {seconds:g} s (POLYVOX_HTTP__{setting.upper()})"
        )
        timeouts(f"closed a connection: {message}")
        if self._may_answer(part):
            self.transport.write(error_response(408, "request_timeout", message, self._headers()))
        self._give_up()

    def _may_answer(self, part: Literal["headers", "body"]) -> bool:
        """Whether a 408 can be written: no response is under way or queued on this socket."""
        cycle = self.cycle
        if self.pipeline:  # a queued request: an earlier response is still going out
            return False
        if cycle is None:
            return True
        if part == "headers":  # ``cycle`` is the previous request's
            return cycle.response_complete
        return not cycle.response_started

    def _refuse(self) -> None:
        # a refused socket does not count against the bound it was refused by
        self.connections.discard(self)
        refusals(f"refused a connection: {self.limits.max_connections} are open")
        message = "too many open connections; retry shortly"
        headers = [*self._headers(), (b"retry-after", b"1")]
        self.transport.write(error_response(503, "too_many_connections", message, headers))
        self._give_up()

    def _give_up(self) -> None:
        """Close the connection; the app sees ``http.disconnect`` and its writes go nowhere."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # at once, not when the socket is gone: a response the app sends meanwhile
            # must not follow our error onto the wire
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()
        self._arm("closing")

    def _headers(self) -> list[tuple[bytes, bytes]]:
        return list(self.server_state.default_headers)  # date, server


def check_fd_limit(max_connections: int, wyoming: int = 0) -> None:
    """Warn when the open-file limit cannot hold ``max_connections`` HTTP sockets,
    ``wyoming`` Wyoming sockets and the rest."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and max_connections + wyoming + FD_HEADROOM > soft:
        log.warning(
            "POLYVOX_HTTP__MAX_CONNECTIONS=%d and POLYVOX_WYOMING__MAX_CONNECTIONS=%d are close "
            "to the open-file limit %d (ulimit -n): raise the limit or lower the settings, or "
            "model files may fail to open",
            max_connections,
            wyoming,
            soft,
        )


def uvicorn_config(app: ASGIApp, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """The uvicorn Config polyvox serves with: the guarded protocol and ``settings.http``.

    ``overrides`` are passed to ``uvicorn.Config`` as they are (log config, test ports).
    """
    limits = settings.http

    class BoundProtocol(GuardedHttpProtocol):
        """GuardedHttpProtocol with this configuration's limits."""

    BoundProtocol.limits = limits
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "http": BoundProtocol,
        # WebSockets (/v1/audio/speech/stream): uvicorn's ws protocol keeps an upgraded
        # socket in the connection count, and its pings find peers that went away
        "ws": "auto",
        # a message is at most what a request body may be (a config carrying reference audio)
        "ws_max_size": settings.max_body_bytes,
        # annotated int in uvicorn, but only ever handed to loop.call_later
        "timeout_keep_alive": limits.keepalive_timeout,
        # GuardedHttpProtocol bounds connections as they open; uvicorn's limit would refuse
        # the last permitted connection's requests (it counts the asking connection)
        "limit_concurrency": None,
    }
    config = uvicorn.Config(app, **{**options, **overrides})
    wyoming = settings.wyoming.max_connections if settings.wyoming.uri else 0
    check_fd_limit(limits.max_connections, wyoming)  # after Config, which sets up logging
    return config
