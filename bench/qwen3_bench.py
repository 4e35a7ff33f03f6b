"""Qwen3-TTS first audio: frames as generated against whole engine calls.

    ~/.cache/polyvox/test/envs/qwen-tts/bin/python bench/qwen3_bench.py \\
        --checkpoint ~/.cache/polyvox/test/tiny/qwen3-custom_voice \\
        [--rounds 3] [--write docs/benchmarks.md]

Runs in the ``qwen-tts`` engine environment, in process, through polyvox's SpeechService
(its phrase splitting, scheduler and PCM encoding; no HTTP), on a CustomVoice checkpoint
(the tiny random one of the tests unless you point it at real weights). The text is the
first three sentences of ``bench/texts.py``'s paragraph. Two models of the same
checkpoint: ``stream = true`` (pieces of ``first_frames`` then ``stream_frames`` codec
frames, decoded as the talker generates them) and ``stream = false`` (each engine call's
audio at once: streaming by phrase only). Rounds alternate, the same seed for both.
First audio = the first PCM bytes out of the job; whole = its last.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from machine import describe
from polyvox.service import SpeechService
from polyvox.settings import ModelConfig, Settings
from polyvox.types import SpeechParams
from sections import write_section
from texts import PARAGRAPH

TEXT = " ".join(PARAGRAPH.split(". ")[:3]) + "."
TITLE = "Qwen3-TTS: first audio while the talker generates (tiny checkpoint)"
SYSTEMS = {"frames": True, "whole calls": False}


async def run(service: SpeechService, model: str, seed: int) -> tuple[float, float, float]:
    """First audio (s), whole text (s) and audio seconds of one synthesis."""
    params = SpeechParams(model, TEXT, response_format="pcm", params={"seed": seed})
    start = time.perf_counter()
    job = await service.prepare(params)
    first, size = 0.0, 0
    async for data in job.stream():
        if not size:
            first = time.perf_counter() - start
        size += len(data)
    return first, time.perf_counter() - start, size / 2 / job.out_rate


async def measure(checkpoint: Path, rounds: int) -> dict[str, dict[str, float]]:
    models = {
        name: ModelConfig(engine="qwen3", checkpoint=str(checkpoint), stream=stream)
        for name, stream in SYSTEMS.items()
    }
    settings = Settings(models=models, preload=list(models), engines=list(models))
    seen: dict[str, list[tuple[float, float, float]]] = {name: [] for name in SYSTEMS}
    async with SpeechService(settings) as service:
        await service.preloaded()
        for name in SYSTEMS:  # warm-up
            await run(service, name, 0)
        for index in range(rounds):
            names = list(SYSTEMS) if index % 2 == 0 else list(reversed(SYSTEMS))
            for name in names:
                seen[name].append(await run(service, name, index + 1))
            line = ", ".join(f"{n} first {seen[n][-1][0]:.2f} s / whole {seen[n][-1][1]:.2f} s"
                             for n in SYSTEMS)  # fmt: skip
            print(f"  round {index + 1}: {line}", file=sys.stderr)
    return {
        name: {key: statistics.median(r[i] for r in runs)
               for i, key in enumerate(("first", "whole", "audio"))}
        for name, runs in seen.items()
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args(argv)
    command = shlex.join(["python", os.path.relpath(__file__), *(argv or sys.argv[1:])])
    results = asyncio.run(measure(args.checkpoint, args.rounds))
    frames, whole = results["frames"], results["whole calls"]
    machine = describe([])
    body = "\n".join([
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Command: `{command}`",
        f"- {machine['Machine']}; {machine['Software']}; polyvox {machine['polyvox']}",
        "",
        f"Text: three sentences (`{TEXT[:50]}...`), CustomVoice's default speaker, CPU "
        "(torch threads: one per core), in process through `SpeechService` (PCM out). "
        f"Medians of {args.rounds} alternating rounds after a warm-up, the same seeds for "
        "both. The tiny talker samples from random weights: every engine call runs to its "
        f"30-frame cap ({frames['audio']:.1f} s of audio per text, median).",
        "",
        "| engine calls | first audio (s) | whole text (s) | first / whole |",
        "|---|---|---|---|",
        *(f"| {name} | {r['first']:.2f} | {r['whole']:.2f} | {r['first'] / r['whole']:.2f}x |"
          for name, r in results.items()),
        "",
        f"- First audio, frames / whole calls: **{frames['first'] / whole['first']:.2f}x**",
        f"- Whole text, frames / whole calls: {frames['whole'] / whole['whole']:.2f}x",
    ])  # fmt: skip
    print(body)
    if args.write:
        write_section(args.write, "qwen3", TITLE, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
