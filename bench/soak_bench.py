"""Soak: mixed HTTP, WebSocket, Wyoming and transcription traffic with random hang-ups and
the idle-stream attacks (hardening items 5-7), then a leak check.

    .venv/bin/python bench/soak_bench.py [--clients 8] [--think 12] [--seconds 120] [--write FILE]

``polyvox serve --wyoming`` runs with three API keys and short idle deadlines. Seeded
clients send random requests for S seconds (soak_http: streamed speech in every format,
SSE, ``/tts``, ``/synthesize``, transcriptions; soak_clients: WebSocket streams, Wyoming
synthesize, streamed synthesis and transcription), each pausing ``--think`` s (x0.5-1.5)
between requests (``--think 0``: back to back, which saturates a 2-core machine), and hang
up some of them; the attacks
(soak_attacks) run throughout; a well-behaved client (soak_probe) sends a sentence every
~2 s, and is timed alone before the load too. Targets (soak_report): no 5xx on any
transport, the well-behaved client's first-audio p95 within 2x of its unloaded value, no job
in flight afterwards, settled RSS within 10% of the baseline, descriptors back (exit 1 when
one fails).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import shlex
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from machine import ROOT, OtherLoad, describe, own_seconds, wait_for_quiet
from sections import write_section
from server_process import ServerProcess, free_port, polyvox_server
from soak_attacks import Attacks, attackers
from soak_clients import WS_ROUTE, pcm_of, ws_client, ws_stream, wyoming_client, wyoming_request
from soak_http import Soak, client, warm
from soak_probe import Probe, probe
from soak_report import DESCRIPTOR_MARGIN, Result, report, targets
from soak_server import Counters, descriptors, drain, log_problems, settle_descriptors, settled_rss
from soak_tally import Tally

TITLE = "Soak: mixed traffic with hang-ups and the idle-stream attacks"
THINK = 12.0
"""Default think time of the mixed clients: chosen by measurement (docs/benchmarks.md, Soak)
so that the server, attacks included, keeps about 50-70% of a 2-core machine busy."""
WELL_BEHAVED, MIXED, ATTACKER = "soak-well-behaved-key", "soak-mixed-key", "soak-attacker-key"


def attacks_of(args: argparse.Namespace) -> Attacks:
    """The attacks the arguments ask for."""
    return Attacks(
        held=args.held,
        configs=args.configs,
        flood=args.flood,
        flood_peers=args.flood_peers,
        pause=args.pause,
        flood_pause=args.flood_pause,
        limit=args.attack_limit,
    )


async def soak(soak_at: Soak, args: argparse.Namespace, pool: ProcessPoolExecutor) -> Probe:
    """Every client, attacker and the well-behaved client at once for ``args.seconds``
    (requests under way then are finished; the attacks are cut once they are)."""
    seeds = random.Random(args.seed)
    loops = [client(soak_at, random.Random(seeds.random())) for _ in range(args.clients)]
    loops += [ws_client(soak_at, random.Random(seeds.random())) for _ in range(args.ws_clients)]
    loops += [
        wyoming_client(soak_at, random.Random(seeds.random())) for _ in range(args.wyoming_clients)
    ]
    attacker = replace(soak_at, key=ATTACKER, hangup=0.0)
    tasks = [asyncio.create_task(a) for a in attackers(attacker, attacks_of(args), seeds.random())]
    loaded = asyncio.get_running_loop().run_in_executor(
        pool, probe, soak_at.url, WELL_BEHAVED, 1_000_000, args.seconds, args.interval
    )
    await asyncio.gather(*loops, loaded)  # the attacks last as long as the clients
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return await loaded


async def warm_streams(soak_at: Soak) -> None:
    """One WebSocket stream and one Wyoming request of each kind, each to its end."""
    rng, audio = random.Random(0), pcm_of(soak_at.clips[0][1])
    outcomes = {WS_ROUTE: await ws_stream(soak_at, rng)}
    for kind in ("synthesize", "synthesize-start", "transcribe"):
        outcomes[kind] = await wyoming_request(soak_at, rng, kind, audio)
    if any(outcome != "completed" for outcome, _ in outcomes.values()):
        raise RuntimeError(f"the warm-up failed: {outcomes}")


def measure(
    server: ServerProcess, wyoming_port: int, args: argparse.Namespace, pool: ProcessPoolExecutor
) -> Result:
    """Warm up, take the baseline, time the well-behaved client alone, soak, wait for the
    jobs and sockets to end and measure again."""
    url = server.url
    clips = warm(url, {"Authorization": f"Bearer {MIXED}"})
    soak_at = Soak(url, wyoming_port, MIXED, clips, time.monotonic() + 3600, 0.0, Tally())
    asyncio.run(warm_streams(soak_at))
    before = Counters.read(url, MIXED)  # readiness polls were 503s: counted from here
    wait_for_quiet(args.quiet_wait)
    rss_before, fds_before = settled_rss(server, args.settle), descriptors(server.pid)
    print(f"baseline {rss_before:.0f} MB, {fds_before} descriptors; alone", file=sys.stderr)
    unloaded = pool.submit(probe, url, WELL_BEHAVED, args.unloaded, 1e9, args.interval).result()
    print("soaking", file=sys.stderr)
    paced = replace(soak_at, hangup=args.hangup, think=args.think)
    loaded, soaked, cores = load(server, paced, args, pool)
    inflight, drain_s = drain(url, MIXED, args.drain_timeout)
    fds_after, _ = settle_descriptors(server.pid, fds_before + DESCRIPTOR_MARGIN, args.settle)
    counters = Counters.read(url, MIXED).since(before)
    return Result(
        soak_at.tally,
        unloaded,
        loaded,
        (rss_before, settled_rss(server, args.settle)),
        server.memory_mb("VmHWM"),
        (fds_before, fds_after),
        inflight,
        drain_s,
        replace(counters, waits=soaked.waits),
        cores,
    )


def load(
    server: ServerProcess, soak_at: Soak, args: argparse.Namespace, pool: ProcessPoolExecutor
) -> tuple[Probe, Counters, tuple[float, float, float]]:
    """The load for ``args.seconds``: (what the well-behaved client measured, the server's
    counters' growth, the cores the server, the bench and other processes used)."""
    before, started = Counters.read(server.url, MIXED), time.monotonic()
    server_cpu, own = server.cpu_seconds(), own_seconds()
    others = OtherLoad.start(server_cpu)
    loaded = asyncio.run(soak(replace(soak_at, stop=started + args.seconds), args, pool))
    wall = time.monotonic() - started
    cores = (
        (server.cpu_seconds() - server_cpu) / wall,
        (own_seconds() - own) / wall,
        others.cores(server.cpu_seconds()),
    )
    return loaded, Counters.read(server.url, MIXED).since(before), cores


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    add = parser.add_argument
    add("--clients", type=int, default=8, help="HTTP clients (default 8)")
    add("--ws-clients", type=int, default=2, help="WebSocket stream clients (default 2)")
    add("--wyoming-clients", type=int, default=2, help="Wyoming clients (default 2)")
    add(
        "--think", type=float, default=THINK, help=f"mean s between a client's requests ({THINK:g})"
    )
    add("--seconds", type=float, default=120.0, help="soak length (default 120)")
    add("--hangup", type=float, default=0.3, help="chance a request is hung up (default 0.3)")
    add("--seed", type=int, default=0, help="seed of the clients' choices (default 0)")
    add("--interval", type=float, default=2.0, help="s between well-behaved requests (2)")
    add("--unloaded", type=int, default=20, help="well-behaved requests alone first (20)")
    add("--held", type=int, default=12, help="attack 5: held Wyoming streams (default 12)")
    add("--configs", type=int, default=12, help="attack 6: idle WebSocket streams (12)")
    add("--flood", type=int, default=300, help="attack 7: idle Wyoming sockets (300)")
    add("--flood-peers", type=int, default=1, help="attack 7: addresses it comes from (1-5)")
    add("--pause", type=float, default=0.1, help="s before attacks 5-6 re-open (default 0.1)")
    add("--flood-pause", type=float, default=1.0, help="s before attack 7 re-opens (1)")
    add("--attack-limit", type=float, default=60.0, help="s the server has to end one (60)")
    add("--stream-idle", type=float, default=5.0, help="limits.stream_idle_timeout (5)")
    add("--wyoming-idle", type=float, default=5.0, help="wyoming.idle_timeout (5)")
    add("--drain-timeout", type=float, default=30.0, help="most s to wait for 0 jobs (default 30)")
    add("--settle", type=float, default=20.0, help="most s to wait for RSS and descriptors (20)")
    add("--quiet-wait", type=float, default=20.0, help="most s to wait for a quiet machine")
    add("--server-env", action="append", default=[], help="POLYVOX_X=VALUE for the server")
    add("--log", type=Path, help="keep the server's log in this file")
    add("--write", type=Path, help="update this markdown file's soak section")
    return parser.parse_args(argv)


def server_settings(args: argparse.Namespace) -> tuple[dict[str, str], list[str]]:
    """(the server's environment, its settings as the report lists them)."""
    env = {
        "POLYVOX_LOG_LEVEL": "warning",
        "POLYVOX_API_KEYS": json.dumps([WELL_BEHAVED, MIXED, ATTACKER]),
        "POLYVOX_LIMITS__STREAM_IDLE_TIMEOUT": f"{args.stream_idle:g}",
        "POLYVOX_WYOMING__IDLE_TIMEOUT": f"{args.wyoming_idle:g}",
        **dict(e.split("=", 1) for e in args.server_env),
    }
    shown = [
        f"{k}={v}" for k, v in env.items() if k not in ("POLYVOX_API_KEYS", "POLYVOX_LOG_LEVEL")
    ]
    return env, ["--wyoming tcp://127.0.0.1:PORT", "POLYVOX_API_KEYS=(3 keys)", *shown]


def main(argv: list[str] | None = None) -> int:
    """Run the soak, print the summary, write markdown if asked; 1 when a target fails."""
    args = parse_args(argv)
    wyoming_port = free_port()
    env, shown = server_settings(args)
    wyoming = ["--wyoming", f"tcp://127.0.0.1:{wyoming_port}"]
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(1, mp_context=spawn) as pool:
        log = args.log or Path(tmp) / "server.log"
        executable = Path(sys.executable).parent / "polyvox"
        with polyvox_server(executable, env, args=wyoming, log_path=log) as server:
            result = measure(server, wyoming_port, args, pool)
        result = replace(result, log_problems=log_problems(log))
    python = os.path.relpath(sys.executable) if sys.executable.startswith(str(ROOT)) else "python"
    argv = sys.argv[1:] if argv is None else argv
    command = shlex.join([python, os.path.relpath(__file__), *argv])
    body = report(result, args, command, describe(shown))
    print(body)
    if args.write:
        write_section(args.write, "soak", TITLE, body)
        print(f"wrote {args.write}")
    return 0 if all(t.passed for t in targets(result)) else 1


if __name__ == "__main__":
    sys.exit(main())
