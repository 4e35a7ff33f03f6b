"""The attacks of the hardening issue's items 5-7, run throughout the soak and re-opened as
the server ends them:

5. Wyoming connections (from HELD_PEER) send ``synthesize-start`` and one chunk of text
   and never stop;
6. WebSocket speech streams (with the attacker's key) send a config and nothing else;
7. a flood of idle Wyoming sockets (from FLOOD_PEERS) that never send a byte.

Each connection is counted by how it ended (ATTACK_OUTCOMES); none should be a 5xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from wyoming.event import Event, async_read_event
from wyoming.tts import SynthesizeChunk, SynthesizeStart

from soak_clients import ws_url
from soak_http import Soak
from soak_tally import refusal

ATTACK_5 = "attack 5: wyoming synthesize-start + 1 chunk, never stopped"
ATTACK_6 = "attack 6: ws config, then nothing"
ATTACK_7 = "attack 7: idle wyoming socket"
HELD_PEER = "127.0.0.2"
"""The address attack 5 connects from: a Wyoming peer of its own (all of 127/8 is local)."""
FLOOD_PEERS = ("127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7")
"""The addresses attack 7's sockets connect from, round robin over the first N."""
CONFIG = json.dumps({"type": "config", "model": "tts-1", "response_format": "pcm"})
Outcome = tuple[str, str]


@dataclass(frozen=True)
class Attacks:
    """How many connections each attack keeps open, how long each waits before it opens
    a new one once the server has ended it, and when the server must have ended one."""

    held: int = 12
    configs: int = 12
    flood: int = 300
    flood_peers: int = 1
    pause: float = 0.1
    flood_pause: float = 1.0
    limit: float = 60.0
    """Seconds a connection may stay open: past them the server failed to end it."""


def _ended(events: list[Event], lost: BaseException | None) -> Outcome:
    """How a Wyoming connection ended: by its last ``error`` event, closed silently, or
    broken (``lost``: reset) without a word."""
    errors = [e.data for e in events if e.type == "error"]
    if errors:
        return refusal(str(errors[-1].get("code")), str(errors[-1].get("text")))
    return ("broken", type(lost).__name__) if lost else ("closed", "")


class _Collect(asyncio.Protocol):
    """Keeps every byte the server sends until it closes the connection. (A StreamReader
    raises a reset before the events it holds: a server that refuses a stream closes with
    our events unread, which resets the connection, and the ``error`` event would be lost.)"""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed: asyncio.Future[BaseException | None] = (
            asyncio.get_running_loop().create_future()
        )

    def data_received(self, data: bytes) -> None:
        self.data += data

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)

    async def events(self) -> list[Event]:
        """The events received (after the connection closed)."""
        reader = asyncio.StreamReader()
        reader.feed_data(bytes(self.data))
        reader.feed_eof()
        found = []
        with contextlib.suppress(asyncio.IncompleteReadError, ValueError):
            while (event := await async_read_event(reader)) is not None:
                found.append(event)
        return found


def _wire(event: Event) -> bytes:
    """An event as the wire carries it (header line, then its data)."""
    data = json.dumps(event.data).encode()
    return json.dumps({"type": event.type, "data_length": len(data)}).encode() + b"\n" + data


async def _connection(port: int, address: str, send: bytes = b"") -> Outcome:
    """Connect from ``address``, send ``send`` unless the server answers at once (refuses
    the connection), and wait until the server closes it."""
    transport, collect = await asyncio.get_running_loop().create_connection(
        _Collect, "127.0.0.1", port, local_addr=(address, 0)
    )
    try:
        if send:
            await asyncio.wait({collect.closed}, timeout=0.2)
            if not collect.closed.done() and not collect.data:
                transport.write(send)
        lost = await collect.closed
    finally:
        transport.close()
    return _ended(await collect.events(), lost)


HELD = _wire(SynthesizeStart().event()) + _wire(SynthesizeChunk(text="This never ends").event())
"""(5) ``synthesize-start`` and one chunk without a sentence end, and then nothing."""


async def held_stream(port: int) -> Outcome:
    """(5) A streamed synthesis begun with one chunk of text and never stopped."""
    return await _connection(port, HELD_PEER, HELD)


async def idle_socket(port: int, address: str) -> Outcome:
    """(7) A connection that never sends a byte, held until the server closes it."""
    return await _connection(port, address)


async def idle_config(soak: Soak) -> Outcome:
    """(6) A WebSocket speech stream that sends its config and nothing else."""
    errors: list[dict[str, str]] = []
    close = None
    try:
        async with connect(
            ws_url(soak.url), additional_headers=soak.headers, open_timeout=30, close_timeout=2
        ) as ws:
            await ws.send(CONFIG)
            try:
                async for message in ws:
                    if isinstance(message, str) and json.loads(message).get("type") == "error":
                        errors.append(json.loads(message)["error"])
            except ConnectionClosed:
                pass
            close = ws.close_code
    except InvalidStatus as error:
        status = error.response.status_code
        return ("429" if status == 429 else "5xx" if status >= 500 else "4xx"), f"HTTP {status}"
    if close == 1011:
        return "5xx", f"close 1011 ({errors[-1] if errors else 'no error message'})"
    if not errors:
        return "closed", f"close {close}"
    return refusal(str(errors[-1].get("code")), str(errors[-1].get("message")))


async def _repeat(
    soak: Soak,
    route: str,
    attack: Callable[[], Awaitable[Outcome]],
    pause: float,
    limit: float,
    rng: random.Random,
) -> None:
    """Run ``attack`` again each time the server ends it, until ``soak.stop``."""
    await asyncio.sleep(rng.uniform(0, 1))  # the connections do not all open at once
    while time.monotonic() < soak.stop:
        try:
            async with asyncio.timeout(limit):
                outcome, failure = await attack()
        except TimeoutError:
            outcome, failure = "broken", f"not ended in {limit:.0f} s"
        except (OSError, EOFError, WebSocketException) as error:
            outcome, failure = "broken", type(error).__name__
        soak.tally.add(route, outcome, failure)
        await asyncio.sleep(pause * rng.uniform(0.5, 1.5))


def attackers(soak: Soak, attacks: Attacks, seed: float) -> list[Coroutine[Any, Any, None]]:
    """Every attacker connection's loop (``soak`` carries the attacker's key)."""
    rng, port = random.Random(seed), soak.wyoming_port
    peers = FLOOD_PEERS[: attacks.flood_peers]
    plan: list[tuple[str, Callable[[], Awaitable[Outcome]], float]] = [
        *[(ATTACK_5, partial(held_stream, port), attacks.pause)] * attacks.held,
        *[(ATTACK_6, partial(idle_config, soak), attacks.pause)] * attacks.configs,
        *[
            (ATTACK_7, partial(idle_socket, port, peers[n % len(peers)]), attacks.flood_pause)
            for n in range(attacks.flood)
        ],
    ]
    return [
        _repeat(soak, route, attack, pause, attacks.limit, random.Random(rng.random()))
        for route, attack, pause in plan
    ]
