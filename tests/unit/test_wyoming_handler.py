"""A Wyoming client that goes away is a hang-up (499), whatever the event loop raises."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest
import uvloop
from wyoming.audio import AudioStop

from polyvox.config import Settings
from polyvox.service import SpeechService
from polyvox.wyoming.handler import PolyvoxHandler
from polyvox.wyoming.peers import Connections


async def _connected() -> tuple[PolyvoxHandler, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        theirs = socket.create_connection(listener.getsockname())
        ours, _ = listener.accept()
    reader, writer = await asyncio.open_connection(sock=ours)
    handler = PolyvoxHandler(SpeechService(Settings()), Connections(4, 4), reader, writer)
    return handler, theirs


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_writing_to_a_closed_connection_is_a_hang_up(loop: str) -> None:
    async def main() -> None:
        handler, theirs = await _connected()
        theirs.close()
        handler.writer.close()  # what run() does when the client's end goes away
        with pytest.raises(ConnectionResetError):
            await handler.write_event(AudioStop().event())

    (uvloop.run if loop == "uvloop" else asyncio.run)(main())


def test_a_reset_connection_ends_the_handler_quietly() -> None:
    async def main() -> None:
        handler, theirs = await _connected()
        theirs.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        theirs.close()  # linger 0: the peer resets the connection
        await asyncio.wait_for(handler.run(), 5)

    uvloop.run(main())
