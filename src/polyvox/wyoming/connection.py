"""One Wyoming connection within its bounds: events read with size caps and an idle
deadline, work run in order in tasks of its own, errors answered and the connection closed.

``PolyvoxHandler`` (handler.py) answers the events; this is what every connection needs
whatever it asks for. Nothing a client sends escapes as an exception of the connection's
task: a malformed or oversized event is answered with an ``error`` event and the
connection closes; a client that goes away has its work cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable

from wyoming.error import Error
from wyoming.event import Event
from wyoming.server import AsyncEventHandler

from polyvox import clients
from polyvox.errors import MalformedRequest, PolyvoxError
from polyvox.logs import LogEvery
from polyvox.settings import WyomingSettings
from polyvox.wyoming.events import read_event
from polyvox.wyoming.peers import Connections, peer_of

log = logging.getLogger(__name__)
refusals = LogEvery(logging.WARNING, log)
timeouts = LogEvery(logging.INFO, log)
WRITE_TIMEOUT = 30.0
"""Seconds one event may take to send: a client that stops reading (a half-open
connection) gives its slot back after this, not when the kernel gives up on it."""
LINGER_SECONDS = 2.0
"""After its error event a failed connection half-closes and reads (and drops) what the
client still sends, for at most this long or until the client closes: closing with the
client's bytes unread makes the kernel reset the connection, and a client's reader then
raises the reset before it returns the error event it had received."""
LINGER_BYTES = 1 << 24
"""What a failed connection reads and drops at most before it closes anyway."""
Work = Callable[[], Awaitable[None]]


class Connection(AsyncEventHandler):
    """A Wyoming connection: bounds, ordered work, errors; subclasses answer the events."""

    def __init__(
        self,
        settings: WyomingSettings,
        connections: Connections,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        super().__init__(reader, writer)
        self.settings = settings
        self.connections = connections
        self.peer = peer_of(writer.get_extra_info("peername"))
        self._tasks: list[asyncio.Task[None]] = []
        self._failing = False
        self._ended = asyncio.Event()
        """Set once the connection has failed: its error is sent, it only lingers."""

    def _refused(self, exc: PolyvoxError) -> None:
        """Count an error the connection answers (metrics live with the subclass)."""

    # -- the connection ------------------------------------------------------------------
    async def run(self) -> None:
        """Serve the connection within its bounds; nothing it does escapes as an error.

        The connection's work counts against its peer (``polyvox.clients``): one address
        holds a share of each model's places and a bounded number of connections, and an
        idle connection is closed after ``wyoming.idle_timeout``."""
        clients.current.set(f"peer:{self.peer}")  # this connection's task and its work
        opened = False
        try:
            try:
                self.connections.open(self.peer)
                opened = True
            except PolyvoxError as exc:
                refusals(f"wyoming: refused a connection from {self.peer}: {exc.message}")
                # closed at once: a flood of refused sockets must not hold descriptors
                await self._error(exc, linger=False)
                return
            await self._serve()
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away (or stopped reading): its work is cancelled below
        except Exception:
            log.exception("wyoming: the connection failed")
        finally:
            if opened:
                self.connections.close(self.peer)
            self.writer.close()
            await self.disconnect()

    async def _serve(self) -> None:
        """Answer events until the client leaves; after an error, linger and close."""
        self._is_running = not self._ended.is_set()
        if self._is_running:
            failure = await self._events()
            if failure is not None:
                log.info("wyoming: %s from %s: %s", failure.code, self.peer, failure.message)
                await self._error(failure)
        if self._ended.is_set():
            await self._linger()

    async def _events(self) -> PolyvoxError | None:
        """Read and answer events until the client leaves or the connection fails (None),
        or the client sends an event that cannot be answered (its error)."""
        kind = "event"
        try:
            while (event := await self._next_event()) is not None:
                kind = event.type
                await self.handle_event(event)
            return None
        except PolyvoxError as exc:  # not an event, or over a bound
            return exc
        except (KeyError, TypeError, ValueError, AttributeError):  # fields of wrong types
            return MalformedRequest(f"a malformed {kind[:40]!r} event")

    async def _next_event(self) -> Event | None:
        """The next event; None when the client left, or the connection failed, or it
        stayed idle (nothing running for it) for ``idle_timeout`` seconds, or began an
        event and did not finish it then."""
        idle = self.settings.idle_timeout
        reading = asyncio.ensure_future(read_event(self.reader, self.settings.max_event_bytes))
        ended = asyncio.ensure_future(self._ended.wait())
        try:
            while not reading.done():
                done, _ = await asyncio.wait(
                    {reading, ended}, timeout=idle, return_when=FIRST_COMPLETED
                )
                if reading.done():
                    break
                if ended.done():
                    return None
                if not done and not any(not t.done() for t in self._tasks):
                    timeouts(f"wyoming: closed a connection idle for {idle:g} s")
                    return None
            return reading.result()
        finally:
            for waiter in (reading, ended):
                if not waiter.done():
                    waiter.cancel()
                    await asyncio.wait({waiter})

    async def _linger(self) -> None:
        """Read and drop what the client still sends, until it closes (see LINGER_SECONDS)."""
        dropped = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LINGER_SECONDS):
                while dropped < LINGER_BYTES and (data := await self.reader.read(1 << 16)):
                    dropped += len(data)

    # -- work ----------------------------------------------------------------------------
    def _run(self, work: Work) -> None:
        """Start ``work`` after the connection's earlier work, whatever became of it."""
        self._tasks = [t for t in self._tasks if not t.done()]
        previous = self._tasks[-1] if self._tasks else None

        async def after() -> None:
            if previous is not None:
                await asyncio.wait({previous})  # neither its error nor a cancel passes on
            try:
                await work()
            except (ConnectionError, TimeoutError):
                pass  # the client went away (or stopped reading): nothing to tell it
            except Exception:
                log.exception("wyoming: a request failed")

        self._tasks.append(asyncio.create_task(after()))

    async def write_event(self, event: Event) -> None:
        """Send one event, within ``WRITE_TIMEOUT``; a closed connection is a hang-up."""
        if self.writer.is_closing() or self._ended.is_set():
            raise ConnectionResetError("the client went away, or the connection failed")
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
            # that arrives as the write completes, and a client's hang-up would go unheeded
            async with asyncio.timeout(WRITE_TIMEOUT):
                await super().write_event(event)
        except RuntimeError as exc:  # uvloop: the transport closed under the write
            if not self.writer.is_closing():
                raise
            raise ConnectionResetError("the client went away") from exc

    def _hang_up(self) -> None:
        """Close at once (the client is gone or not reading), unless the connection is
        lingering after its error (its end is under way)."""
        if not self._ended.is_set():
            self.writer.close()

    async def disconnect(self) -> None:
        """The client went away: stop everything it asked for (jobs close, slots free)."""
        pending = [t for t in self._tasks if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def _error(self, exc: PolyvoxError, *, linger: bool = True) -> None:
        """The ``error`` event, then the connection ends (as wyoming-piper does): a client
        that waits for the end of an exchange learns of the failure at once. Once.

        ``linger``: half-close, and let the connection read and drop what the client still
        sends before it closes (LINGER_SECONDS); else close at once."""
        if self._failing:
            return
        self._failing = True
        self._is_running = False
        self._refused(exc)
        try:
            await self.write_event(Error(text=exc.message, code=exc.code).event())
            if not (linger and self.writer.can_write_eof()):
                raise ConnectionResetError("closed at once")
            self.writer.write_eof()  # the client reads the error, then the end of the stream
        except (ConnectionError, TimeoutError, RuntimeError):
            self.writer.close()
        finally:
            self._ended.set()
