"""The Wyoming server: started beside the HTTP server, over the same SpeechService."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from polyvox.errors import EngineUnavailable
from polyvox.service import SpeechService
from polyvox.settings import WyomingSettings
from polyvox.wyoming.peers import Connections

log = logging.getLogger(__name__)
STOP_TIMEOUT = 10.0
"""Seconds connections get to wind down at shutdown."""


class WyomingServer:
    """A ``tcp://`` (or ``unix://``) Wyoming endpoint, optionally announced by zeroconf."""

    def __init__(self, settings: WyomingSettings, service: SpeechService) -> None:
        self.settings = settings
        self.service = service
        self._server: object | None = None
        self._zeroconf: object | None = None

    async def start(self) -> None:
        """Listen (and announce, when asked); a missing ``wyoming`` package is a 503."""
        try:
            from wyoming.server import AsyncServer
        except ImportError as exc:
            raise EngineUnavailable(
                "the Wyoming server needs the wyoming package: pip install 'polyvox[wyoming]'"
            ) from exc
        from polyvox.wyoming.handler import PolyvoxHandler

        uri = str(self.settings.uri)
        server = AsyncServer.from_uri(uri)
        connections = Connections(
            self.settings.max_connections, self.settings.max_connections_per_peer
        )
        await server.start(
            lambda reader, writer: PolyvoxHandler(self.service, connections, reader, writer)
        )
        self._server = server
        log.info("wyoming: listening on %s", uri)
        if self.settings.zeroconf:
            await self._announce(uri)

    async def _announce(self, uri: str) -> None:
        from wyoming.zeroconf import HomeAssistantZeroconf

        port = urlsplit(uri).port
        if port is None:
            log.warning("wyoming: zeroconf announces tcp:// servers only")
            return
        zeroconf = HomeAssistantZeroconf(port=port, name=self.settings.zeroconf_name)
        await zeroconf.register_server()
        self._zeroconf = zeroconf
        log.info("wyoming: announced as %s", zeroconf.name)

    async def stop(self) -> None:
        """Stop listening, end every connection's work (before the models unload) and say
        goodbye over mDNS."""
        server, self._server = self._server, None
        if server is not None:
            connections = list(getattr(server, "_handlers", {}))
            await server.stop()  # type: ignore[attr-defined]
            if connections:
                await asyncio.wait(connections, timeout=STOP_TIMEOUT)
            listener = getattr(server, "_server", None)
            if listener is not None:
                await listener.wait_closed()
        zeroconf, self._zeroconf = self._zeroconf, None
        announcer = getattr(zeroconf, "_aiozc", None)
        if announcer is not None:
            await announcer.async_close()


@contextlib.asynccontextmanager
async def serving(service: SpeechService) -> AsyncIterator[None]:
    """The Wyoming server of ``service.settings.wyoming``, for the life of the block."""
    server = WyomingServer(service.settings.wyoming, service)
    try:
        await server.start()
        yield
    finally:
        await server.stop()
