"""What splitting costs Kokoro itself: the paragraph as one input against the pieces
polyvox's splitter makes of it, both through raw kokoro-onnx (no polyvox in the loop).

    .venv/bin/python bench/kokoro_split.py [--rounds 2]

Same model, voice (``jf_alpha``), language (``en-us``) and text as ``kokoro_bench.py``; the
pieces are ``polyvox.text.split`` of the paragraph with the server's default settings
(every sentence its own piece, the first clause first). ``Kokoro.create`` per input,
rounds alternating after a warm-up.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from kokoro_bench import RawKokoro
from polyvox import text
from polyvox.settings import Settings
from texts import PARAGRAPH


def speak(kokoro: Any, words: str) -> tuple[float, float]:
    """Seconds to speak ``words`` and seconds of audio."""
    start = time.perf_counter()
    audio, rate = kokoro.create(words, voice="jf_alpha", lang="en-us")
    return time.perf_counter() - start, len(audio) / rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    kokoro = RawKokoro().kokoro
    settings = Settings()
    pieces = [c.text for c in text.split(
        PARAGRAPH, max_chars=settings.chunk_max_chars,
        first_max_words=settings.first_chunk_max_words,
    )]  # fmt: skip
    print(f"{len(pieces)} pieces of {[len(p) for p in pieces]} characters")
    speak(kokoro, "Warm up.")
    for index in range(args.rounds):
        order = (True, False) if index % 2 == 0 else (False, True)
        for whole in order:
            spoken = [speak(kokoro, PARAGRAPH)] if whole else [speak(kokoro, p) for p in pieces]
            wall, audio = sum(s[0] for s in spoken), sum(s[1] for s in spoken)
            name = "whole paragraph" if whole else f"{len(pieces)} pieces"
            print(f"round {index + 1}: {name:>15}: {wall:6.2f} s for {audio:5.2f} s of audio "
                  f"({wall / audio:.3f} s per audio second)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
