"""Transport parity: the same polyvox server's Piper over HTTP and over Wyoming.

    .venv/bin/python bench/transport_bench.py [--rounds N] [--write docs/benchmarks.md]

One ``polyvox serve --wyoming`` (default settings: 2 Piper slots, fair scheduling) serves
both. The HTTP client streams ``POST /v1/audio/speech`` (wav, first audio = the first byte
past the header, one keep-alive connection pool); the Wyoming client sends one
``synthesize`` event per fresh connection, as Home Assistant does (first audio = the first
``audio-chunk``). Rounds alternate between the transports, at concurrency 1 and 4, for the
12-word sentence and the 400-word text of ``bench/texts.py``. The same service should cost
about the same on every transport: the target is Wyoming's median first audio and
throughput within 1.10x of HTTP's.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

from machine import ROOT, describe
from runners import PolyvoxClient, Round, Synthesize, medians, run_round
from sections import write_section
from server_process import free_port, polyvox_server
from texts import LONG_TEXT, SENTENCE
from wyoming_bench import VOICE, WyomingClient

TITLE = "Transport parity: HTTP vs Wyoming on one server"
TEXTS = {"sentence": SENTENCE, "400 words": LONG_TEXT}
TARGET = 1.10


def measure(rounds_per: int, clients: dict[str, Synthesize]) -> dict[str, list[Round]]:
    rounds: dict[str, list[Round]] = {}
    for client in clients.values():
        client("Warm up.")
    for text_name, text in TEXTS.items():
        for concurrency in (1, 4):
            for index in range(rounds_per):
                order = list(clients) if index % 2 == 0 else list(reversed(clients))
                for name in order:
                    done = run_round(clients[name], text, concurrency)
                    rounds.setdefault(f"{name}@{text_name}@{concurrency}", []).append(done)
    return rounds


def report(rounds: dict[str, list[Round]], rounds_per: int, command: str) -> str:
    machine = describe(["POLYVOX_WYOMING__URI=tcp://127.0.0.1:PORT"])
    lines = [
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Command: `{command}`",
        f"- {machine['Machine']}; {machine['Software']}; polyvox {machine['polyvox']}",
        f"- {rounds_per} rounds per transport, text and concurrency, transports alternating; "
        f"voice `{VOICE}`. Target: Wyoming within {TARGET:.2f}x of HTTP (first audio and "
        "audio seconds per wall second, medians).",
        "",
        "| text | concurrency | HTTP first audio (s) | Wyoming first audio (s) | ratio | "
        "HTTP audio s/s | Wyoming audio s/s | ratio | result |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for text_name in TEXTS:
        for concurrency in (1, 4):
            http = medians(rounds[f"http@{text_name}@{concurrency}"])
            wyoming = medians(rounds[f"wyoming@{text_name}@{concurrency}"])
            first = wyoming.first_audio_s / http.first_audio_s
            rate = http.audio_per_wall / wyoming.audio_per_wall
            verdict = "PASS" if first <= TARGET and rate <= TARGET else "FAIL"
            lines.append(
                f"| {text_name} | {concurrency} | {http.first_audio_s:.3f} | "
                f"{wyoming.first_audio_s:.3f} | {first:.2f}x | {http.audio_per_wall:.1f} | "
                f"{wyoming.audio_per_wall:.1f} | {rate:.2f}x | **{verdict}** |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", type=Path, help="update this markdown file")
    parser.add_argument(
        "--polyvox",
        type=Path,
        default=Path(sys.executable).parent / "polyvox",
        help="the polyvox executable (default: beside this Python)",
    )
    args = parser.parse_args(argv)
    python = os.path.relpath(sys.executable) if sys.executable.startswith(str(ROOT)) else "python"
    command = shlex.join([python, os.path.relpath(__file__), *(argv or sys.argv[1:])])
    port = free_port()
    env = {"POLYVOX_WYOMING__URI": f"tcp://127.0.0.1:{port}"}
    with polyvox_server(args.polyvox, env) as server:
        http = PolyvoxClient(server.url)
        clients: dict[str, Synthesize] = {
            "http": http,
            "wyoming": WyomingClient(port, f"piper/{VOICE}"),
        }
        rounds = measure(args.rounds, clients)
        http.close()
    body = report(rounds, args.rounds, command)
    print(body)
    if args.write:
        write_section(args.write, "transport-parity", TITLE, body)
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
