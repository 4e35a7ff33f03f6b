"""How many Wyoming connections are open, in all and per peer address.

Wyoming has no credentials, so one peer is one client: it may hold a bounded number of
connections (and, through ``polyvox.clients``, a share of each model's places), and the
server as a whole a bounded number, kept well under the open-file limit so that a flood of
sockets cannot take the HTTP server's descriptors.
"""

from __future__ import annotations

import logging
from collections import Counter

from polyvox.errors import Overloaded

log = logging.getLogger(__name__)


def peer_of(peername: object) -> str:
    """The address part of a socket's peer name (``unix`` for a Unix socket)."""
    if isinstance(peername, tuple) and peername:
        return str(peername[0])
    return "unix"


class Connections:
    """Counts open connections; ``open`` refuses one past either bound."""

    def __init__(self, max_total: int, max_per_peer: int) -> None:
        self.max_total = max_total
        self.max_per_peer = max_per_peer
        self.by_peer: Counter[str] = Counter()

    @property
    def total(self) -> int:
        """Connections open now."""
        return sum(self.by_peer.values())

    def open(self, peer: str) -> None:
        """Count a new connection of ``peer``; Overloaded when a bound is reached."""
        if self.total >= self.max_total:
            raise Overloaded(
                f"{self.max_total} Wyoming connections are open (POLYVOX_WYOMING__MAX_CONNECTIONS)"
            )
        if self.by_peer[peer] >= self.max_per_peer:
            raise Overloaded(
                f"this address has {self.max_per_peer} Wyoming connections open "
                "(POLYVOX_WYOMING__MAX_CONNECTIONS_PER_PEER)"
            )
        self.by_peer[peer] += 1

    def close(self, peer: str) -> None:
        """A connection of ``peer`` ended."""
        self.by_peer[peer] -= 1
        if self.by_peer[peer] <= 0:
            del self.by_peer[peer]
