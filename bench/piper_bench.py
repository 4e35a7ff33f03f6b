"""Piper benchmark: raw Piper in-process against polyvox over HTTP, in one run, as ratios.

    .venv/bin/python bench/piper_bench.py [--repeats N] [--quick] [--write docs/benchmarks.md]

Measures time to first audio, total latency and audio seconds per wall second for a
sentence, an 80-word paragraph and a 400-word text at concurrency 1, 2 and 4, plus the
server's CPU for mp3 against wav and its resident memory; prints a table and the targets.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from codec_cost import measure_codec_cost
from machine import ROOT, OtherLoad, QuietGate, describe
from polyvox.settings import Settings
from report import text_report, write_markdown
from results import LONG, BenchRun, Cell, Memory
from runners import (
    PolyvoxClient,
    RawPiper,
    Round,
    Synthesize,
    medians,
    paired_ratios,
    run_round,
)  # fmt: skip
from server_process import ServerProcess, polyvox_server
from texts import SENTENCE, TEXTS
from utterance import measure_utterance, measure_ws_first_audio

RELEASE_WAIT_S = Settings().memory_release_delay + 3.0
"""Seconds to let the idle model give memory back (POLYVOX_MEMORY_RELEASE_DELAY + the trim)."""
NOISY_CORES = 0.25
"""A round during which other processes used more cores than this is run again."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; --quick shrinks the run to a smoke test."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--repeats", type=int, default=3, help="syntheses per cell of the 400-word text"
    )
    parser.add_argument(
        "--short-repeats", type=int, default=7,
        help="syntheses per cell of the sentence and the paragraph (default 7)",
    )  # fmt: skip
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--texts", nargs="+", choices=list(TEXTS), default=list(TEXTS))
    parser.add_argument(
        "--codec-repeats", type=int, default=6, help="mp3/wav requests per format (default 6)"
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=20.0,
        help="seconds to wait before each round for other processes to go idle (default 20)",
    )  # fmt: skip
    parser.add_argument(
        "--quiet-budget", type=float, default=300.0,
        help="seconds the run may spend in all on waiting and redoing rounds (default 300)",
    )  # fmt: skip
    parser.add_argument(
        "--retries", type=int, default=2,
        help=f"times a round is redone when others used > {NOISY_CORES} cores (default 2)",
    )  # fmt: skip
    parser.add_argument(
        "--server-env", action="append", default=[], metavar="POLYVOX_X=VALUE",
        help="a setting for the server, e.g. POLYVOX_TTS_SLOTS=2 (repeatable)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="sentence only, 1 repeat")
    parser.add_argument("--write", type=Path, help="write the results as markdown here")
    parser.add_argument(
        "--polyvox", type=Path, default=Path(sys.executable).parent / "polyvox",
        help="the polyvox executable (default: beside this Python)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.short_repeats, args.codec_repeats = 1, 1, 1
        args.texts = ["sentence"]
    return args


def rounds_for(concurrency: int, repeats: int) -> int:
    """Rounds at a concurrency so each cell has at least ``repeats`` syntheses per system."""
    return math.ceil(repeats / concurrency)


def repeats_for(label: str, args: argparse.Namespace) -> int:
    """Syntheses per cell: the long text is costly, the short ones get more samples."""
    repeats: int = args.repeats if label == LONG else args.short_repeats
    return repeats


@dataclass
class Grid:
    """Rounds collected per (text, concurrency, system), and the other load around them."""

    systems: dict[str, Synthesize]
    server_cpu: Callable[[], float]
    gate: QuietGate
    retries: int
    rounds: dict[tuple[str, int, str], list[Round]] = field(
        default_factory=lambda: defaultdict(list)
    )
    others: dict[tuple[str, int], list[float]] = field(default_factory=lambda: defaultdict(list))

    def run(self, name: str, label: str, concurrency: int) -> Round:
        """One round, started once the machine is quiet; redone (up to ``retries`` times)
        when other processes took more than ``NOISY_CORES`` cores while it ran."""
        for attempt in range(self.retries + 1):
            self.gate.wait()
            load = OtherLoad.start(self.server_cpu())
            done = run_round(self.systems[name], TEXTS[label], concurrency)
            others = load.cores(self.server_cpu())
            if others <= NOISY_CORES or attempt == self.retries or not self.gate.redo(done.wall_s):
                break
        self.others[label, concurrency].append(others)
        self.rounds[label, concurrency, name].append(done)
        return done

    def cell(self, label: str, concurrency: int) -> Cell:
        """Medians for both systems, and the mean load of other processes during the rounds."""
        raw, poly = (self.rounds[label, concurrency, n] for n in ("raw", "polyvox"))
        others = statistics.mean(self.others[label, concurrency])
        return Cell(
            label, concurrency, medians(raw), medians(poly), paired_ratios(raw, poly), others
        )


def measure(grid: Grid, args: argparse.Namespace) -> list[Cell]:
    """Every (text, concurrency) cell, interleaving the systems round by round."""
    labels, concurrencies = args.texts, args.concurrency
    for index in range(max(repeats_for(label, args) for label in labels)):
        order = list(grid.systems) if index % 2 == 0 else list(reversed(grid.systems))
        for label in labels:
            for concurrency in concurrencies:
                if index >= rounds_for(concurrency, repeats_for(label, args)):
                    continue
                for name in order:
                    done = grid.run(name, label, concurrency)
                    print(f"  round {index + 1} {label:>9} c={concurrency} {name:>7} "
                          f"{done.wall_s:7.2f} s", file=sys.stderr, flush=True)  # fmt: skip
    return [grid.cell(label, c) for label in labels for c in concurrencies]


def _settings(server_env: list[str]) -> list[str]:
    """The POLYVOX_* settings the server runs with: inherited ones, then --server-env."""
    inherited = [f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("POLYVOX_")]
    return inherited + server_env


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _command(argv: list[str] | None) -> str:
    python = os.path.relpath(sys.executable) if sys.executable.startswith(str(ROOT)) else "python"
    script = os.path.relpath(__file__)
    return shlex.join([python, script, *(sys.argv[1:] if argv is None else argv)])


def run_bench(args: argparse.Namespace, server: ServerProcess, raw: RawPiper) -> BenchRun:
    """Warm both systems up, measure every cell, then mp3 against wav and memory."""
    client = PolyvoxClient(server.url)
    try:
        raw(SENTENCE)
        client(SENTENCE)
        ready_mb = server.memory_mb()
        others = OtherLoad.start(server.cpu_seconds())
        gate = QuietGate(args.quiet_wait, args.quiet_budget)
        grid = Grid({"raw": raw, "polyvox": client}, server.cpu_seconds, gate, args.retries)
        cells = measure(grid, args)
        codec_text = "paragraph" if "paragraph" in args.texts else args.texts[-1]
        codec = measure_codec_cost(
            server, client, codec_text, TEXTS[codec_text],
            repeats=args.codec_repeats, gate=gate,
        )  # fmt: skip
    finally:
        client.close()
    utterance = measure_utterance(raw, server.url)
    ws_first = measure_ws_first_audio(server.url, args.short_repeats) if not args.quick else None
    time.sleep(RELEASE_WAIT_S)  # memory goes back once the model has been idle a moment
    memory = Memory(ready_mb, server.memory_mb(), server.memory_mb("VmHWM"))
    run = BenchRun(
        cells, codec, memory, describe(_settings(args.server_env)), "", datetime.now(UTC),
        utterance=utterance, ws_first_audio_s=ws_first,
    )  # fmt: skip
    run.other_cores = others.cores(server.cpu_seconds())
    run.quiet_spent = args.quiet_budget - gate.budget
    return run


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, and write markdown if asked."""
    args = parse_args(argv)
    started, clock, load_before = datetime.now(UTC), time.monotonic(), _load()
    raw = RawPiper()
    env = dict(item.split("=", 1) for item in args.server_env)
    with polyvox_server(args.polyvox, env) as server:
        run = run_bench(args, server, raw)
    run.command, run.started = _command(argv), started
    run.elapsed_s = time.monotonic() - clock
    run.load = {"before": load_before, "after": _load()}
    print(text_report(run))
    if args.write:
        write_markdown(args.write, run)
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
