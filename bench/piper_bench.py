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
import platform
import shlex
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from codec_cost import measure_codec_cost
from report import text_report, write_markdown
from results import BenchRun, Cell, Memory
from runners import PolyvoxClient, RawPiper, Round, Synthesize, medians, run_round
from server_process import ServerProcess, polyvox_server
from texts import SENTENCE, TEXTS

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; --quick shrinks the run to a smoke test."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=3, help="samples per cell (default 3)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--texts", nargs="+", choices=list(TEXTS), default=list(TEXTS))
    parser.add_argument("--codec-repeats", type=int, default=2, help="requests per format")
    parser.add_argument("--quick", action="store_true", help="sentence only, 1 repeat")
    parser.add_argument("--write", type=Path, help="write the results as markdown here")
    parser.add_argument(
        "--polyvox", type=Path, default=Path(sys.executable).parent / "polyvox",
        help="the polyvox executable (default: beside this Python)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.codec_repeats, args.texts = 1, 1, ["sentence"]
    return args


def rounds_for(concurrency: int, repeats: int) -> int:
    """Rounds at a concurrency so each cell has at least ``repeats`` syntheses per system."""
    return math.ceil(repeats / concurrency)


def measure(
    systems: dict[str, Synthesize], labels: list[str], concurrencies: list[int], repeats: int
) -> list[Cell]:
    """Every (text, concurrency) cell, interleaving the systems round by round."""
    rounds: dict[tuple[str, int, str], list[Round]] = defaultdict(list)
    for index in range(repeats):
        order = list(systems) if index % 2 == 0 else list(reversed(systems))
        for label in labels:
            for concurrency in concurrencies:
                if index >= rounds_for(concurrency, repeats):
                    continue
                for name in order:
                    done = run_round(systems[name], TEXTS[label], concurrency)
                    rounds[label, concurrency, name].append(done)
                    print(f"  round {index + 1} {label:>9} c={concurrency} {name:>7} "
                          f"{done.wall_s:7.2f} s", file=sys.stderr, flush=True)  # fmt: skip
    return [
        Cell(label, c, medians(rounds[label, c, "raw"]), medians(rounds[label, c, "polyvox"]))
        for label in labels
        for c in concurrencies
    ]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def machine() -> dict[str, str]:
    """Where the run happened: cores, CPU model, memory, software versions."""
    info = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in info if "model name" in line), "?")
    meminfo = Path("/proc/meminfo").read_text().split()
    memory_gb = int(meminfo[meminfo.index("MemTotal:") + 1]) * 1024 / 1e9
    versions = ", ".join(f"{p} {_version(p)}" for p in ("piper-tts", "onnxruntime", "av"))
    return {
        "Machine": f"nproc {os.cpu_count()}, {model}, {memory_gb:.1f} GB RAM",
        "Software": f"Python {platform.python_version()}, {versions}",
        "polyvox": f"{_version('polyvox')} at commit {_commit()}, default settings",
    }


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
        systems: dict[str, Synthesize] = {"raw": raw, "polyvox": client}
        cells = measure(systems, args.texts, args.concurrency, args.repeats)
        codec_text = args.texts[-1]
        codec = measure_codec_cost(
            server, client, codec_text, TEXTS[codec_text], args.codec_repeats
        )
    finally:
        client.close()
    memory = Memory(ready_mb, server.memory_mb(), server.memory_mb("VmHWM"))
    return BenchRun(cells, codec, memory, machine(), "", datetime.now(UTC))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, and write markdown if asked."""
    args = parse_args(argv)
    started, clock, load_before = datetime.now(UTC), time.monotonic(), _load()
    raw = RawPiper()
    with polyvox_server(args.polyvox) as server:
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
