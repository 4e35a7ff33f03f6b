"""Chatterbox streaming inside a sentence: first audio against the whole sentence.

    ~/.cache/polyvox/test/envs/chatterbox/bin/python bench/chatterbox_bench.py \\
        --checkpoint ~/.cache/polyvox/test/tiny/chatterbox-en \\
        [--rounds 3] [--full-t3] [--write docs/benchmarks.md]

Runs in the ``chatterbox`` engine environment, in process, on a checkpoint (the tiny
random one of the tests unless you point it at real weights). One 12-word sentence, one
engine call: polyvox's engine with windows (``stream``) against the same engine decoding
the sentence's tokens once at the end (``stream = false``, what ``generate`` does), rounds
alternating. A random T3 never samples its stop token, and one sample in five is a
special token (speech tokens are 6561 of its 8194 ids), which is dropped, as the real
model's would be. So both stop at the speech tokens the real model speaks this sentence
in (95: 3.8 s at 25 tokens per second), however many samples that takes. Target: first
audio <= 0.5x the time to the whole sentence without windows.

``--full-t3`` measures again with a randomly initialised T3 of the real model's size (30
layers, 520 M parameters) in place of the tiny one: the tiny T3 samples its tokens almost
for free, which the real one never does, so this is the same measure at the real model's
cost (its weights are random; the arithmetic is the real model's).
"""

from __future__ import annotations

import argparse
import itertools
import os
import shlex
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from machine import describe
from polyvox.engines.chatterbox import engine as chatterbox
from polyvox.engines.chatterbox.engine import ChatterboxEngine
from polyvox.engines.chatterbox.options import ChatterboxOptions
from polyvox.models import ModelSpec
from polyvox.types import SpeechRequest
from sections import write_section
from texts import SENTENCE

TOKENS = 95
"""Speech tokens of the sentence: ~3.8 s of speech at S3's 25 tokens per second."""
TITLE = "Chatterbox: first audio inside a sentence (tiny checkpoint)"


def spoken_sentence() -> None:
    """Every synthesis ends after the sentence's ``TOKENS`` speech tokens."""
    sample = chatterbox.speech_tokens

    def sentence(*args: object) -> Iterator[int]:
        return itertools.islice(sample(*args), TOKENS)

    chatterbox.speech_tokens = sentence  # type: ignore[assignment]


def engine(checkpoint: Path, stream: bool) -> ChatterboxEngine:
    options = ChatterboxOptions(checkpoint=checkpoint, stream=stream)
    built = ChatterboxEngine(ModelSpec(f"chatterbox-{stream}", "chatterbox", options, 1))
    built.load()
    return built


def full_size_t3(systems: dict[str, ChatterboxEngine]) -> None:
    """Both engines' T3 replaced by one random T3 of the real model's size."""
    import torch
    from chatterbox.models.t3 import T3
    from chatterbox.models.t3.modules.t3_config import T3Config

    torch.manual_seed(0)
    t3 = T3(T3Config.english_only()).eval()
    for tts in systems.values():
        tts._tts.t3 = t3


def first_audio(tts: ChatterboxEngine, seed: int) -> float:
    """Seconds to the first piece (the synthesis is then abandoned)."""
    request = SpeechRequest(text=SENTENCE, voice="default", params={"seed": seed})
    start = time.perf_counter()
    pieces = tts.synthesize(request)
    next(pieces)
    seconds = time.perf_counter() - start
    pieces.close()
    return seconds


def whole(tts: ChatterboxEngine, seed: int) -> tuple[float, float, int]:
    """Seconds to the last piece, audio seconds and pieces of one synthesis."""
    request = SpeechRequest(text=SENTENCE, voice="default", params={"seed": seed})
    start = time.perf_counter()
    chunks = list(tts.synthesize(request))
    return time.perf_counter() - start, sum(c.duration for c in chunks), len(chunks)


def measure(systems: dict[str, ChatterboxEngine], rounds: int) -> dict[str, float]:
    """One whole synthesis each (also the warm-up), then ``rounds`` alternating rounds of
    first audio with windows against the whole sentence in one piece."""
    windows_total, audio, pieces = whole(systems["windows"], 0)
    whole(systems["one piece"], 0)
    firsts: list[float] = []
    wholes: list[float] = []
    for index in range(rounds):
        steps = [("windows", index), ("one piece", index)]
        for name, seed in steps if index % 2 == 0 else reversed(steps):
            if name == "windows":
                firsts.append(first_audio(systems[name], seed))
            else:
                wholes.append(whole(systems[name], seed)[0])
        print(f"  round {index + 1}: first {firsts[-1]:.2f} s, whole {wholes[-1]:.2f} s",
              file=sys.stderr)  # fmt: skip
    first, one_piece = statistics.median(firsts), statistics.median(wholes)
    return {"first": first, "one piece": one_piece, "windows total": windows_total,
            "audio": audio, "pieces": pieces, "ratio": first / one_piece}  # fmt: skip


def rows(label: str, r: dict[str, float]) -> str:
    verdict = "PASS" if r["ratio"] <= 0.5 else "FAIL"
    return (f"| {label} | {r['first']:.2f} | {r['one piece']:.2f} | **{r['ratio']:.2f}x** "
            f"{verdict} | {r['windows total']:.2f} ({r['pieces']:.0f} pieces) |")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--full-t3", action="store_true")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args(argv)
    command = shlex.join(["python", os.path.relpath(__file__), *(argv or sys.argv[1:])])
    spoken_sentence()
    systems = {
        "windows": engine(args.checkpoint, True),
        "one piece": engine(args.checkpoint, False),
    }
    results = {"tiny T3 (2 layers)": measure(systems, args.rounds)}
    if args.full_t3:
        full_size_t3(systems)
        results["random T3 of the real size (30 layers)"] = measure(systems, args.rounds)
    tiny = results["tiny T3 (2 layers)"]
    machine = describe([])
    body = "\n".join([
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Command: `{command}`",
        f"- {machine['Machine']}; {machine['Software']}; polyvox {machine['polyvox']}",
        "",
        f"Text: `{SENTENCE}` ({TOKENS} speech tokens, {tiny['audio']:.2f} s of audio), one "
        f"engine call, CPU (torch threads: one per core), the checkpoint's built-in voice. "
        f"Medians of {args.rounds} alternating rounds after a warm-up; the windows' whole "
        "time is from one run.",
        "",
        "| T3 | first audio, windows (s) | whole sentence in one piece (s) | first / whole "
        "(target <= 0.5x) | whole sentence, windows (s) |",
        "|---|---|---|---|---|",
        *(rows(label, r) for label, r in results.items()),
    ])  # fmt: skip
    print(body)
    if args.write:
        write_section(args.write, "chatterbox", TITLE, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
