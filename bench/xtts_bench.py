"""XTTS-v2 first audio: ``inference_stream`` against ``inference`` (no streaming).

    ~/.cache/polyvox/test/envs/xtts/bin/python bench/xtts_bench.py \\
        --checkpoint ~/.cache/polyvox/test/tiny/xtts [--rounds 5] [--write docs/benchmarks.md]

Runs in the ``xtts`` engine environment, in process, on a checkpoint (the tiny random one
of the tests unless you point it at real weights). A text of ``bench/texts.py`` (the
12-word sentence unless ``--text paragraph``), one engine call (XTTS splits a text into
sentences itself), the checkpoint's first studio voice: polyvox's
engine with ``stream = true`` (audio every ``stream_chunk_size`` GPT codes) against the
same engine with ``stream = false`` (each sentence whole, ``Xtts.inference``), rounds
alternating, the same seed for both. First audio = the first chunk out of the engine.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from machine import describe
from polyvox.engines.xtts.engine import XttsEngine
from polyvox.engines.xtts.options import XttsOptions
from polyvox.models import ModelSpec
from polyvox.types import SpeechRequest
from sections import write_section
from texts import PARAGRAPH, SENTENCE

TEXTS = {"sentence": SENTENCE, "paragraph": PARAGRAPH}

TITLE = "XTTS-v2: first audio with inference_stream (tiny checkpoint)"


def engine(checkpoint: Path, stream: bool) -> XttsEngine:
    options = XttsOptions(checkpoint=checkpoint, stream=stream, conditioning_dir=None)
    built = XttsEngine(ModelSpec(f"xtts-{stream}", "xtts", options, 1))
    built.load()
    return built


def run(tts: XttsEngine, text: str, seed: int) -> tuple[float, float, float, int]:
    """First audio (s), whole text (s), audio seconds and pieces of one synthesis."""
    request = SpeechRequest(text, tts.default_voice, language="en", params={"seed": seed})
    start = time.perf_counter()
    first = 0.0
    audio, pieces = 0.0, 0
    for chunk in tts.synthesize(request):
        if not pieces:
            first = time.perf_counter() - start
        pieces += 1
        audio += chunk.duration
    return first, time.perf_counter() - start, audio, pieces


def measure(systems: dict[str, XttsEngine], text: str, rounds: int) -> dict[str, dict[str, float]]:
    for tts in systems.values():  # warm-up
        run(tts, text, 0)
    seen: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in systems}
    for index in range(rounds):
        names = list(systems) if index % 2 == 0 else list(reversed(systems))
        for name in names:
            seen[name].append(run(systems[name], text, index + 1))
        line = ", ".join(f"{n} first {seen[n][-1][0]:.2f} s / whole {seen[n][-1][1]:.2f} s"
                         for n in systems)  # fmt: skip
        print(f"  round {index + 1}: {line}", file=sys.stderr)
    return {
        name: {
            "first": statistics.median(r[0] for r in runs),
            "whole": statistics.median(r[1] for r in runs),
            "audio": statistics.median(r[2] for r in runs),
            "pieces": statistics.median(r[3] for r in runs),
        }
        for name, runs in seen.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--text", choices=sorted(TEXTS), default="sentence")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args(argv)
    command = shlex.join(["python", os.path.relpath(__file__), *(argv or sys.argv[1:])])
    systems = {"inference_stream": engine(args.checkpoint, True),
               "inference": engine(args.checkpoint, False)}  # fmt: skip
    results = measure(systems, TEXTS[args.text], args.rounds)
    stream, whole = results["inference_stream"], results["inference"]
    ratio = stream["first"] / whole["first"]
    machine = describe([])
    body = "\n".join([
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Command: `{command}`",
        f"- {machine['Machine']}; {machine['Software']}; polyvox {machine['polyvox']}",
        "",
        f"Text: the {args.text} of `bench/texts.py` (`{TEXTS[args.text][:40]}...`), one "
        "engine call, CPU (torch threads: one per core), the checkpoint's studio voice, "
        f"`stream_chunk_size` 20. Medians of {args.rounds} alternating rounds after a "
        "warm-up, the same seeds for both. The tiny GPT samples from random weights: a "
        "sentence runs to its 40-code cap unless it samples the stop code first "
        f"({stream['audio']:.1f} s of audio per text, median).",
        "",
        "| engine call | first audio (s) | whole text (s) | pieces |",
        "|---|---|---|---|",
        *(f"| `{name}` | {r['first']:.2f} | {r['whole']:.2f} | {r['pieces']:.0f} |"
          for name, r in results.items()),
        "",
        f"- First audio with `inference_stream` / without: **{ratio:.2f}x**",
        f"- Whole text with `inference_stream` / without: {stream['whole'] / whole['whole']:.2f}x",
    ])  # fmt: skip
    print(body)
    if args.write:
        write_section(args.write, "xtts", TITLE, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
