"""The thread pools: one client's slow I/O waits its own turn, and other pools go on."""

from __future__ import annotations

import asyncio
import threading

from polyvox import clients, threads


def test_one_clients_io_steps_take_turns_and_others_and_engines_go_on() -> None:
    async def main() -> None:
        threads.configure(io_threads=8, io_per_client=2)
        release = threading.Event()
        running: list[str] = []

        def slow(who: str) -> str:
            running.append(who)
            release.wait(10)
            return who

        async def as_client(client: str | None, pool: threads.Pool = "io") -> str:
            clients.current.set(client)
            return await threads.run_blocking(lambda: slow(client or "nobody"), pool)

        hung = [asyncio.create_task(as_client("alice")) for _ in range(4)]
        await asyncio.sleep(0.2)
        assert running.count("alice") == 2  # the other two wait for alice's own turn
        bob = asyncio.create_task(as_client("bob"))
        engine = threads.run_blocking(lambda: "engine", "engine")
        assert await asyncio.wait_for(engine, 5) == "engine"
        await asyncio.sleep(0.2)
        assert "bob" in running  # bob's step runs beside alice's
        release.set()
        assert await asyncio.gather(*hung, bob) == ["alice"] * 4 + ["bob"]

    try:
        asyncio.run(main())
    finally:
        threads.configure(io_threads=16, io_per_client=4)
