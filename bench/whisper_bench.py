"""Transcription real-time factor: polyvox over HTTP vs raw faster-whisper, same audio, one run.

    .venv/bin/python bench/whisper_bench.py --rounds 7 --write docs/benchmarks.md

Piper speaks a passage once. A ``polyvox serve`` subprocess transcribes the WAV file (timed
from upload to JSON: multipart parsing, PyAV decoding, inference, formatting), and
faster-whisper in this process transcribes the very samples polyvox decodes (timed: inference
only), so both do identical model work and the overhead is all polyvox's. Runs alternate,
order flipped every round, after one warm-up each. RTF = seconds / audio seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from polyvox import codecs
from polyvox.engines.core.whisper import bundled_model
from polyvox.service import SpeechService
from polyvox.settings import Settings
from polyvox.types import STT_SAMPLE_RATE, SpeechParams

PASSAGE = (
    "Speech recognition has improved a great deal over the last few years. Modern systems can "
    "transcribe a meeting, a podcast, or a phone call with very few mistakes. They still "
    "struggle with heavy accents, noisy rooms, and people talking over each other. A small "
    "model running on an ordinary computer can keep up with live speech, which makes it "
    "useful for captions, notes and voice commands. The trade off is accuracy: larger models "
    "make fewer errors but need more memory and much more time. This benchmark measures how "
    "much a server adds on top of the model itself, from the moment a file is uploaded to the "
    "moment the text comes back."
)
HEADING = "## Speech-to-text"


async def _synthesize(text: str) -> bytes:
    service = SpeechService(Settings(engines=["piper"], preload=[]))
    job = await service.prepare(SpeechParams(model="piper", input=text, response_format="wav"))
    return b"".join([part async for part in job.stream()])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def polyvox_server(settings: Settings) -> Iterator[str]:
    """``polyvox serve`` in a subprocess, serving only whisper, preloaded; yields its URL."""
    port = free_port()
    env = {
        **os.environ, "POLYVOX_ENGINES": '["whisper"]', "POLYVOX_PRELOAD": '["whisper"]',
        "POLYVOX_LOG_LEVEL": "warning",
        "POLYVOX_WHISPER__COMPUTE_TYPE": settings.whisper.compute_type,
        "POLYVOX_WHISPER__CPU_THREADS": str(settings.whisper.cpu_threads),
        "POLYVOX_WHISPER__DEVICE": settings.whisper.device,
    }  # fmt: skip
    polyvox = str(Path(sys.executable).parent / "polyvox")
    proc = subprocess.Popen([polyvox, "serve", "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError("polyvox did not become ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def time_raw(model: object, audio: codecs.Float32, beam_size: int) -> tuple[float, str]:
    started = time.perf_counter()
    segments, _ = model.transcribe(audio, beam_size=beam_size)  # type: ignore[attr-defined]
    text = "".join(s.text for s in segments).strip()
    return time.perf_counter() - started, text


def time_polyvox(client: httpx.Client, url: str, wav: bytes) -> tuple[float, str]:
    started = time.perf_counter()
    response = client.post(
        f"{url}/v1/audio/transcriptions",
        files={"file": ("passage.wav", wav, "audio/wav")},
        data={"model": "whisper-1"},
    )
    response.raise_for_status()
    return time.perf_counter() - started, str(response.json()["text"])


def measure(wav: bytes, rounds: int, settings: Settings) -> dict[str, list[float]]:
    """Alternate raw and polyvox runs (order flipped each round) after one warm-up each."""
    from faster_whisper import WhisperModel

    w = settings.whisper
    model = WhisperModel(
        str(bundled_model()), device=w.device, compute_type=w.compute_type,
        cpu_threads=w.cpu_threads,
    )  # fmt: skip
    audio, _ = codecs.decode(wav, sample_rate=STT_SAMPLE_RATE)  # what polyvox decodes
    times: dict[str, list[float]] = {"raw": [], "polyvox": []}
    with polyvox_server(settings) as url, httpx.Client(timeout=600) as client:
        runs = {
            "raw": lambda: time_raw(model, audio, w.beam_size),
            "polyvox": lambda: time_polyvox(client, url, wav),
        }
        texts = {name: run()[1] for name, run in runs.items()}  # warm-up
        if texts["raw"] != texts["polyvox"]:
            raise RuntimeError(f"transcripts differ:\n{texts['raw']}\n{texts['polyvox']}")
        for i in range(rounds):
            order = ["raw", "polyvox"] if i % 2 == 0 else ["polyvox", "raw"]
            for name in order:
                elapsed, text = runs[name]()
                if text != texts[name]:
                    raise RuntimeError(f"{name} transcript changed between runs")
                times[name].append(elapsed)
                print(f"round {i + 1}: {name:8s} {elapsed:.3f}s", flush=True)
    return times


def report(times: dict[str, list[float]], audio_seconds: float, args: argparse.Namespace) -> str:
    def rtf(values: list[float], pick: str) -> float:
        value = statistics.median(values) if pick == "median" else min(values)
        return value / audio_seconds

    rows = []
    for pick in ("median", "min"):
        raw, pv = rtf(times["raw"], pick), rtf(times["polyvox"], pick)
        rows.append(f"| {pick} | {raw:.4f} | {pv:.4f} | {pv / raw:.3f}x |")
    paired = statistics.median(p / r for p, r in zip(times["polyvox"], times["raw"], strict=True))
    rows.append(f"| median of per-round ratios | | | {paired:.3f}x |")
    s = Settings().whisper
    return "\n".join([
        HEADING, "",
        "Transcription real-time factor (seconds of work per second of audio; lower is "
        "better) of polyvox over HTTP against raw faster-whisper on the same WAV file, "
        "measured in one run with alternating order.", "",
        f"- Command: `.venv/bin/python bench/whisper_bench.py --rounds {args.rounds} "
        f"--repeat-text {args.repeat_text} --write docs/benchmarks.md` "
        "(`make bench-whisper` runs the defaults)",
        f"- Audio: {audio_seconds:.1f} s of Piper speech (en_US-joe-medium), 16-bit WAV",
        f"- Model: bundled tiny.en (CTranslate2), device={s.device}, "
        f"compute_type={s.compute_type}, cpu_threads={s.cpu_threads}, beam_size={s.beam_size}",
        f"- Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}; {args.rounds} rounds per side after one warm-up",
        "- polyvox time: upload, PyAV decode, inference, JSON response (client wall clock); "
        "raw time: `WhisperModel.transcribe(samples)` on the samples polyvox decodes "
        "(the transcripts are checked to be identical)", "",
        "| statistic | raw faster-whisper RTF | polyvox RTF | polyvox / raw |",
        "|---|---|---|---|", *rows, "",
        "Every run, in seconds (a shared machine: the spread is other jobs' noise):", "",
        f"- raw: {', '.join(f'{t:.2f}' for t in times['raw'])}",
        f"- polyvox: {', '.join(f'{t:.2f}' for t in times['polyvox'])}", "",
    ])  # fmt: skip


def write_section(path: Path, section: str) -> None:
    """Replace (or append) the Speech-to-text section of docs/benchmarks.md."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--repeat-text", type=int, default=2, help="Passage copies to speak.")
    parser.add_argument("--write", type=Path, help="Update this markdown file's STT section.")
    args = parser.parse_args()
    wav = asyncio.run(_synthesize(" ".join([PASSAGE] * args.repeat_text)))
    samples, rate = codecs.decode(wav)
    audio_seconds = len(samples) / rate
    print(f"audio: {audio_seconds:.1f} s", flush=True)
    times = measure(wav, args.rounds, Settings())
    section = report(times, audio_seconds, args)
    print(section)
    if args.write:
        write_section(args.write, section)


if __name__ == "__main__":
    main()
