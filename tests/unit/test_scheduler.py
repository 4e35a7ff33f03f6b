"""The scheduler: admission, first-chunk priority, round-robin turns, timeouts, cancellation."""

from __future__ import annotations

import asyncio

import pytest

from polyvox import clients
from polyvox.errors import Overloaded, QueueTimeout
from polyvox.scheduler import Scheduler, Ticket


def make(slots: int = 1, queue: int = 8, timeout: float = 5.0, policy: str = "fair") -> Scheduler:
    return Scheduler(slots=slots, max_queue=queue, queue_timeout=timeout, policy=policy)  # type: ignore[arg-type]


async def run_job(
    ticket: Ticket, name: str, chunks: int, log: list[str], gate: asyncio.Event
) -> None:
    try:
        for i in range(chunks):
            async with ticket.turn():
                await gate.wait()
                log.append(f"{name}{i}")
                await asyncio.sleep(0)
    finally:
        ticket.close()


def test_admission_is_bounded_by_slots_plus_queue() -> None:
    scheduler = make(slots=2, queue=1)
    tickets = [scheduler.admit() for _ in range(3)]
    with pytest.raises(Overloaded) as info:
        scheduler.admit()
    assert info.value.status_code == 429
    assert info.value.retry_after >= 1
    tickets[0].close()
    tickets[0].close()  # closing twice frees once
    scheduler.admit()
    with pytest.raises(Overloaded):
        scheduler.admit()


async def test_new_request_goes_first_then_round_robin() -> None:
    scheduler = make()
    gate = asyncio.Event()
    log: list[str] = []
    long = asyncio.create_task(run_job(scheduler.admit(), "L", 4, log, gate))
    await asyncio.sleep(0.01)  # L holds the slot, blocked on the gate
    other = asyncio.create_task(run_job(scheduler.admit(), "M", 3, log, gate))
    await asyncio.sleep(0.01)
    short = asyncio.create_task(run_job(scheduler.admit(), "S", 2, log, gate))
    await asyncio.sleep(0.01)
    gate.set()
    await asyncio.gather(long, other, short)
    # M and S get their first chunks before L's second; then everyone takes turns
    assert log[:3] == ["L0", "M0", "S0"]
    assert log == ["L0", "M0", "S0", "L1", "M1", "S1", "L2", "M2", "L3"]
    assert scheduler.active == 0


async def test_fifo_runs_one_request_to_the_end() -> None:
    scheduler = make(policy="fifo")
    gate = asyncio.Event()
    log: list[str] = []
    first = asyncio.create_task(run_job(scheduler.admit(), "A", 3, log, gate))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(run_job(scheduler.admit(), "B", 2, log, gate))
    await asyncio.sleep(0.01)
    gate.set()
    await asyncio.gather(first, second)
    assert log == ["A0", "A1", "A2", "B0", "B1"]


async def test_waiting_too_long_is_a_queue_timeout() -> None:
    scheduler = make(timeout=0.05)
    holder = scheduler.admit()
    async with holder.turn():
        waiter = scheduler.admit()
        with pytest.raises(QueueTimeout) as info:
            async with waiter.turn():
                pass
        assert info.value.status_code == 503
        waiter.close()
    holder.close()
    assert scheduler.active == 0
    async with scheduler.admit().turn() as turn:  # the slot is free again
        assert turn.waited == 0.0


async def test_cancelled_waiters_do_not_leak_slots() -> None:
    scheduler = make(slots=1)
    holder = scheduler.admit()
    async with holder.turn():
        waiters = [asyncio.create_task(_one_turn(scheduler)) for _ in range(3)]
        await asyncio.sleep(0.01)
        assert scheduler.waiting == 3
        for task in waiters:
            task.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        assert scheduler.waiting == 0
    holder.close()
    results = await asyncio.gather(*(_one_turn(scheduler) for _ in range(3)))
    assert len(results) == 3


async def _one_turn(scheduler: Scheduler) -> float:
    ticket = scheduler.admit()
    try:
        async with ticket.turn() as turn:
            await asyncio.sleep(0)
            return turn.waited
    finally:
        ticket.close()


def test_on_close_runs_once_per_finished_job() -> None:
    closed: list[int] = []
    scheduler = Scheduler(
        slots=1, max_queue=1, queue_timeout=5.0, on_close=lambda: closed.append(1)
    )
    ticket = scheduler.admit()
    ticket.close()
    ticket.close()
    assert closed == [1]


@pytest.mark.parametrize("policy", ["fair", "fifo"])
async def test_a_lone_job_widens_to_every_slot_and_gives_them_back(policy: str) -> None:
    scheduler = Scheduler(slots=3, max_queue=4, queue_timeout=5.0, policy=policy, widen=True)  # type: ignore[arg-type]
    alone = scheduler.admit()
    async with alone.turn() as turn:
        assert turn.slots == 3
        late = scheduler.admit()  # arrives mid-chunk: waits for the wide chunk
        waiting = asyncio.create_task(_turn_slots(late))
        await asyncio.sleep(0.01)
        assert not waiting.done()
    async with alone.turn() as turn:  # no longer alone: one slot each
        assert turn.slots == 1
        assert await waiting == 1
    alone.close()
    late.close()
    async with scheduler.admit().turn() as turn:
        assert turn.slots == 3, "every slot came back"


async def test_a_job_widens_when_no_other_job_holds_a_slot() -> None:
    """A second request that starts as the first one ends runs on every core, not one."""
    scheduler = Scheduler(slots=2, max_queue=4, queue_timeout=5.0, widen=True)
    first, second = scheduler.admit(), scheduler.admit()
    async with first.turn() as turn:
        assert (turn.slots, turn.share) == (2, 2)
    # the first job is still open (its client is reading its audio) but holds no slot
    async with second.turn() as turn:
        assert (turn.slots, turn.share) == (2, 2)
        waiting = asyncio.create_task(_turn_slots(first))
        await asyncio.sleep(0.01)
        assert not waiting.done(), "the first job's next chunk waits for the wide one"
    assert await waiting == 2, "the wide chunk gave both slots back: widen again"
    first.close()
    second.close()


async def test_a_first_chunk_nobody_waits_behind_shares_every_core() -> None:
    scheduler = Scheduler(slots=2, max_queue=4, queue_timeout=5.0, widen=True)
    wide, first, second = scheduler.admit(), scheduler.admit(), scheduler.admit()
    turns: list[tuple[str, int, int]] = []
    holds = {"a": asyncio.Event(), "b": asyncio.Event()}

    async def take(ticket: Ticket, name: str) -> None:
        async with ticket.turn() as turn:
            turns.append((name, turn.slots, turn.share))
            await holds[name].wait()

    async with wide.turn():
        a = asyncio.create_task(take(first, "a"))
        b = asyncio.create_task(take(second, "b"))
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.01)
    # one slot each, yet all the cores for a first chunk when nobody waits behind it
    assert sorted(turns) == [("a", 1, 2), ("b", 1, 2)]
    holds["a"].set()
    await a
    async with first.turn() as turn:  # "b" still holds a slot: a later chunk gets its share
        assert (turn.slots, turn.share) == (1, 1)
    holds["b"].set()
    await b
    for ticket in (wide, first, second):
        ticket.close()


async def test_a_burst_released_at_once_keeps_one_slot_s_share_each() -> None:
    scheduler = Scheduler(slots=4, max_queue=4, queue_timeout=5.0, widen=True)
    wide = scheduler.admit()
    burst = [scheduler.admit() for _ in range(3)]
    shares: list[int] = []

    async def take(ticket: Ticket) -> None:
        async with ticket.turn() as turn:
            shares.append(turn.share)
            await asyncio.sleep(0.01)

    async with wide.turn():
        tasks = [asyncio.create_task(take(t)) for t in burst]
        await asyncio.sleep(0.01)
    await asyncio.gather(*tasks)
    assert shares == [1, 1, 1], "three first chunks at once: no one takes every core"
    for ticket in (wide, *burst):
        ticket.close()


async def test_without_widen_a_turn_is_one_slot() -> None:
    async with make(slots=2).admit().turn() as turn:
        assert turn.slots == 1


async def _turn_slots(ticket: Ticket) -> int:
    async with ticket.turn() as turn:
        return turn.slots


def _as(client: str | None, scheduler: Scheduler) -> Ticket:
    token = clients.current.set(client)
    try:
        return scheduler.admit()
    finally:
        clients.current.reset(token)


def test_one_client_holds_at_most_its_share_of_the_places() -> None:
    scheduler = Scheduler(slots=2, max_queue=6, queue_timeout=5.0, client_share=0.5)
    mine = [_as("alice", scheduler) for _ in range(4)]
    with pytest.raises(Overloaded, match="CLIENT_SHARE"):
        _as("alice", scheduler)
    theirs = [_as("bob", scheduler) for _ in range(4)]  # the other half is the others'
    with pytest.raises(Overloaded, match="busy"):
        _as(None, scheduler)  # the model is full: nobody else gets in
    mine[0].close()
    mine.append(_as("alice", scheduler))  # a place given back is a place to take
    for ticket in mine + theirs:
        ticket.close()
    assert scheduler.active == 0
    assert scheduler.clients == {}


def test_without_a_client_there_is_no_share_but_the_model_bound() -> None:
    scheduler = Scheduler(slots=1, max_queue=3, queue_timeout=5.0, client_share=0.25)
    tickets = [_as(None, scheduler) for _ in range(4)]
    with pytest.raises(Overloaded):
        _as(None, scheduler)
    for ticket in tickets:
        ticket.close()


@pytest.mark.parametrize("policy", ["fair", "fifo"])
def test_a_parked_job_frees_the_models_place_and_slot_but_not_its_clients(policy: str) -> None:
    async def main() -> None:
        scheduler = Scheduler(
            slots=1,
            max_queue=1,
            queue_timeout=5.0,
            policy=policy,
            client_share=1.0,  # type: ignore[arg-type]
        )
        waiting = _as("alice", scheduler)
        async with waiting.turn():
            pass
        waiting.park()  # a stream with no text: under fifo it held the slot until now
        assert scheduler.active == 0
        others = [_as("bob", scheduler), _as("bob", scheduler)]  # both places are free
        async with others[0].turn():
            pass
        waiting.unpark()  # its text came: admitted over the bound, it takes turns again
        assert scheduler.active == 3
        for ticket in others:
            ticket.close()
        async with waiting.turn():
            pass
        waiting.park()
        waiting.close()  # closing a parked job counts it out once
        assert scheduler.active == 0
        assert scheduler.clients == {}

    asyncio.run(main())


def test_a_parked_job_still_counts_against_its_client() -> None:
    scheduler = Scheduler(slots=1, max_queue=1, queue_timeout=5.0, client_share=0.5)
    first = _as("alice", scheduler)
    first.park()
    with pytest.raises(Overloaded, match="CLIENT_SHARE"):
        _as("alice", scheduler)
    assert _as("bob", scheduler).parked is False
