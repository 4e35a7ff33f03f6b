"""Admission control and fair, chunk-level turn-taking for one model's synthesis slots.

Every admitted job asks for a *turn* before each chunk. Free slots go first to jobs that
have not produced audio yet (so a new request's first audio waits about one chunk), then
round-robin in the order turns were asked for: a long text cannot block a short one.
With ``policy="fifo"`` a job keeps its slot from first chunk to last (first come, first
served), which exists to measure the difference.

A job that is alone on the model may take every free slot for a chunk (``widen``): an
engine whose one call can use several cores then runs at full speed for a single user,
and at one slot's share of the cores when several jobs take turns.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

from polyvox import clients
from polyvox.clients import places_per_client
from polyvox.errors import Overloaded, QueueTimeout

Policy = Literal["fair", "fifo"]


@dataclass(frozen=True)
class Turn:
    """One granted turn: how long it waited, and how many slots it holds for the chunk."""

    waited: float
    slots: int = 1
    share: int = 1
    """Slots' worth of CPU the chunk may use: its slots, or every slot for a first chunk
    that nobody waits behind, beside at most one other call (usually one that is ending:
    it shares the cores for a moment)."""


@dataclass(order=True)
class _Waiter:
    priority: tuple[int, int]
    future: asyncio.Future[None] = field(compare=False)


class Ticket:
    """One admitted job's right to take turns; close it when the job ends.

    A job waiting for text it has not been sent yet (a stream) is *parked*: it keeps its
    client's place but frees the model's, and takes one back (over the bound, since it
    was admitted) when its text arrives.
    """

    def __init__(self, scheduler: Scheduler, client: str | None) -> None:
        self._scheduler = scheduler
        self.client = client
        self.turns = 0
        self.holding = False
        self.closed = False
        self.parked = False

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[Turn]:
        """Hold a slot (or, alone and allowed to widen, every free slot) for one chunk."""
        scheduler = self._scheduler
        waited = 0.0
        if not self.holding:
            waited = await scheduler._acquire(first=self.turns == 0)
            self.holding = True
        extra = scheduler._widen()
        others = scheduler.slots - scheduler._free - 1 - extra  # slots other jobs hold
        first = not self.turns and not scheduler.waiting and others <= 1
        share = scheduler.slots if first else 1 + extra
        try:
            yield Turn(waited, 1 + extra, share if scheduler.widen else 1 + extra)
        finally:
            self.turns += 1
            for _ in range(extra):
                scheduler._release()
            if scheduler.policy == "fair" or self.closed:
                self.holding = False
                scheduler._release()

    def park(self) -> None:
        """Nothing to speak until more text comes: give back the slot and the model's place."""
        if self.parked or self.closed:
            return
        self.parked = True
        if self.holding:  # fifo keeps a slot between chunks
            self.holding = False
            self._scheduler._release()
        self._scheduler.active -= 1

    def unpark(self) -> None:
        """Text came: count as admitted again (the client's place was kept)."""
        if self.parked and not self.closed:
            self.parked = False
            self._scheduler.active += 1

    def close(self) -> None:
        """The job is over: give back its place (and its slot, under fifo)."""
        if self.closed:
            return
        self.closed = True
        if self.holding:
            self.holding = False
            self._scheduler._release()
        if not self.parked:
            self._scheduler.active -= 1
        self._scheduler._leave(self.client)
        if self._scheduler._on_close:
            self._scheduler._on_close()


class Scheduler:
    """Slots and a bounded queue for one model."""

    def __init__(
        self,
        *,
        slots: int,
        max_queue: int,
        queue_timeout: float,
        policy: Policy = "fair",
        on_wait: Callable[[float], None] | None = None,
        on_close: Callable[[], None] | None = None,
        widen: bool = False,
        client_share: float = 1.0,
    ) -> None:
        self.slots = slots
        self.max_queue = max_queue
        self.per_client = places_per_client(client_share, slots + max_queue)
        """Places (admitted jobs, parked or not) one client may hold at once."""
        self.clients: dict[str, int] = {}
        self.queue_timeout = queue_timeout
        self.policy = policy
        self.active = 0
        self._free = slots
        self._waiters: list[_Waiter] = []
        self._order = itertools.count()
        self._on_wait = on_wait
        self._on_close = on_close
        self.widen = widen

    @property
    def waiting(self) -> int:
        """Turns asked for and not yet given."""
        return sum(1 for w in self._waiters if not w.future.done())

    def admit(self) -> Ticket:
        """Admit a job of the current client (``polyvox.clients``), or raise Overloaded (429)
        when slots and queue are all taken, or the client holds its share of them."""
        retry = max(1.0, self.queue_timeout / 10)
        if self.active >= self.slots + self.max_queue:
            raise Overloaded(
                f"the server is busy ({self.active} requests for {self.slots} slots); retry",
                retry_after=retry,
            )
        client = clients.current.get()
        if client is not None:
            held = self.clients.get(client, 0)
            if held >= self.per_client:
                raise Overloaded(
                    f"this client already has {held} requests on the model, its share of "
                    f"{self.slots + self.max_queue} places (POLYVOX_LIMITS__CLIENT_SHARE); retry",
                    retry_after=retry,
                )
            self.clients[client] = held + 1
        self.active += 1
        return Ticket(self, client)

    def _leave(self, client: str | None) -> None:
        if client is None:
            return
        held = self.clients.get(client, 0) - 1
        if held > 0:
            self.clients[client] = held
        else:
            self.clients.pop(client, None)

    async def _acquire(self, *, first: bool) -> float:
        if self._free > 0:
            self._waiters.clear()  # with a slot free, any waiter left is a cancelled one
            self._free -= 1
            if self._on_wait:
                self._on_wait(0.0)
            return 0.0
        started = time.perf_counter()
        rank = 0 if first and self.policy == "fair" else 1
        waiter = _Waiter((rank, next(self._order)), asyncio.get_running_loop().create_future())
        heapq.heappush(self._waiters, waiter)
        try:
            async with asyncio.timeout(self.queue_timeout):
                await waiter.future
        except BaseException as exc:
            if waiter.future.done() and not waiter.future.cancelled():
                self._release()  # the slot reached us just as we gave up: pass it on
            else:
                waiter.future.cancel()
            if isinstance(exc, TimeoutError):
                raise QueueTimeout(
                    f"timed out after {self.queue_timeout:g}s waiting for a synthesis slot",
                    retry_after=self.queue_timeout / 10,
                ) from None
            raise
        waited = time.perf_counter() - started
        if self._on_wait:
            self._on_wait(waited)
        return waited

    def _widen(self) -> int:
        """Free slots a job may add to its turn (taken here): every other slot, when no
        other job holds one (nobody waits either: a waiter would have had a free slot)."""
        if not self.widen or self._free <= 0 or self._free != self.slots - 1:
            return 0
        extra, self._free = self._free, 0
        return extra

    def _release(self) -> None:
        while self._waiters:
            waiter = heapq.heappop(self._waiters)
            if not waiter.future.done():
                waiter.future.set_result(None)  # the slot passes straight to the waiter
                return
        self._free += 1
