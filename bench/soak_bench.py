"""Soak: mixed speech and transcription traffic with random hang-ups, then a leak check.

    .venv/bin/python bench/soak_bench.py [--clients 8] [--seconds 120] [--write docs/benchmarks.md]

N seeded clients send random requests to ``polyvox serve`` for S seconds (streamed speech in
every format, some SSE; ``/tts``; ``/synthesize``; transcriptions of Piper speech) and hang up
some after a random delay, before or after the first byte. Targets: 0 5xx, 0 jobs in flight
afterwards, settled RSS within 10% of the baseline (exit 1 when one fails).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shlex
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from machine import ROOT, OtherLoad, describe, wait_for_quiet
from results import Target
from sections import write_section
from server_process import ServerProcess, polyvox_server
from texts import LONG_TEXT

SENTENCES = re.split(r"(?<=\.) ", LONG_TEXT)
LENGTHS = (1, 1, 1, 2, 3, 5, 10, 15)  # sentences per request; 5 sentences are 80 words
SPEECH_FORMATS = ("mp3", "wav", "pcm", "opus")
TRANSCRIPT_FORMATS = ("json", "json", "verbose_json", "srt")
BEFORE, AFTER = "hung up before 1st byte", "hung up after 1st byte"
OUTCOMES = ("completed", BEFORE, AFTER, "429", "4xx", "5xx", "errors")
REQUEST_LIMIT_S = 180.0  # the most one request may take (non-streaming routes send at the end)
MAX_REQUESTS = 100_000  # per client: the loop is bounded by a count as well as by the clock
Clip = tuple[str, bytes, str]  # a file to upload: name, content, media type
Call = tuple[str, dict[str, Any]]  # a request: route (path, maybe a note) and httpx's kwargs
HangUp = tuple[str, float]  # hang up this many seconds after "sending" or the "first byte"


@dataclass
class Tally:
    """Outcomes by route, and what each 5xx and error was (``HTTP 503``, an exception name)."""

    routes: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    failures: Counter[str] = field(default_factory=Counter)

    def total(self, outcome: str | None = None) -> int:
        """Requests with ``outcome`` (every request when None), over all routes."""
        return sum(c[outcome] if outcome else c.total() for c in self.routes.values())


def speech(words: str, fmt: str, sse: bool = False) -> Call:
    body = {"model": "tts-1", "input": words, "response_format": fmt}
    body["stream_format"] = "sse" if sse else "audio"
    return "/v1/audio/speech" + (" (sse)" if sse else ""), {"json": body}


def plain(route: str, words: str) -> Call:
    """A non-streaming synthesis: ``/tts`` (Qwen-TTS) or ``/synthesize`` (lean proxy)."""
    body = {"text": words, "format": "wav"} if route == "/tts" else {"text": words}
    return route, {"json": body}


def transcription(clip: Clip, fmt: str | None) -> Call:
    """A transcription as ``fmt``, or streamed (SSE) when ``fmt`` is None."""
    data = {"model": "whisper-1", **({"response_format": fmt} if fmt else {"stream": "true"})}
    route = "/v1/audio/transcriptions" + ("" if fmt else " (stream)")
    return route, {"files": {"file": clip}, "data": data}


def pick(rng: random.Random, clips: list[Clip]) -> Call:
    """A random request: streamed speech, /tts, /synthesize or a transcription."""
    kind = rng.choices(("speech", "/tts", "/synthesize", "stt"), weights=(4, 1, 1, 3))[0]
    start, count = rng.randrange(len(SENTENCES)), rng.choice(LENGTHS)
    words = " ".join((SENTENCES * 2)[start : start + count])  # one sentence to a few paragraphs
    if kind == "speech":
        return speech(words, rng.choice(SPEECH_FORMATS), sse=rng.random() < 0.25)
    if kind != "stt":
        return plain(kind, words)
    fmt = None if rng.random() < 0.3 else rng.choice(TRANSCRIPT_FORMATS)
    return transcription(rng.choice(clips), fmt)


async def send(http: httpx.AsyncClient, route: str, kwargs: dict[str, Any],
               hang_up: HangUp | None) -> tuple[str, str]:  # fmt: skip
    """(outcome, what failed) of a POST to ``route``, read to its end unless hung up."""
    status, tail, first_byte = 0, b"", False
    anchor, delay = hang_up or ("sending", REQUEST_LIMIT_S)
    try:
        async with asyncio.timeout(delay if anchor == "sending" else REQUEST_LIMIT_S) as timer:
            async with http.stream("POST", route.split()[0], **kwargs) as response:
                status = response.status_code
                async for chunk in response.aiter_raw():
                    if not first_byte and anchor == "first byte":
                        timer.reschedule(asyncio.get_running_loop().time() + delay)
                    first_byte, tail = True, (tail + chunk)[-1024:]
    except TimeoutError:
        if hang_up is None or not (first_byte or anchor == "sending"):
            return "errors", f"no answer in {REQUEST_LIMIT_S:.0f} s"
        if status < 400:  # (a refusal that came before the hang-up counts as that)
            return (AFTER if first_byte else BEFORE), ""
    except httpx.HTTPError as error:
        return "errors", type(error).__name__
    if status >= 400:
        return ("429" if status == 429 else "5xx" if status >= 500 else "4xx"), f"HTTP {status}"
    return ("errors", "SSE error event") if b'"type":"error"' in tail else ("completed", "")


async def client(url: str, rng: random.Random, stop: float, clips: list[Clip], tally: Tally,
                 hangup: float) -> None:  # fmt: skip
    """One client: random requests back to back until ``stop`` (time.monotonic)."""
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_LIMIT_S) as http:
        for _ in range(MAX_REQUESTS):
            if time.monotonic() >= stop:
                return
            route, kwargs = pick(rng, clips)
            anchor = rng.choice(("sending", "first byte"))
            hang_up = (anchor, rng.uniform(0.05, 1.5)) if rng.random() < hangup else None
            outcome, failure = await send(http, route, kwargs, hang_up)
            tally.routes[route][outcome] += 1
            if outcome in ("5xx", "errors"):
                tally.failures[f"{failure} ({route})"] += 1
            if outcome == "429":
                await asyncio.sleep(rng.uniform(0.1, 0.5))


async def soak(url: str, args: argparse.Namespace, clips: list[Clip]) -> Tally:
    """Every client at once for ``args.seconds`` (requests under way then are finished)."""
    tally, seeds, stop = Tally(), random.Random(args.seed), time.monotonic() + args.seconds
    await asyncio.gather(*(client(url, random.Random(seeds.random()), stop, clips, tally,
                                  args.hangup) for _ in range(args.clients)))  # fmt: skip
    return tally


def warm(url: str) -> list[Clip]:
    """Send each kind of request once (Whisper loads); returns Piper speech to transcribe."""
    with httpx.Client(base_url=url, timeout=120) as http:
        clips = []
        for fmt, mime, count in (("wav", "audio/wav", 1), ("mp3", "audio/mpeg", 3)):
            _, kwargs = speech(" ".join(SENTENCES[:count]), fmt)
            audio = http.post("/v1/audio/speech", **kwargs).raise_for_status().content
            clips.append((f"speech.{fmt}", audio, mime))
        calls = [speech(SENTENCES[0], fmt, sse) for fmt in SPEECH_FORMATS for sse in (False, True)]
        calls += [plain(route, SENTENCES[0]) for route in ("/tts", "/synthesize")]
        calls += [transcription(clips[0], fmt) for fmt in (*TRANSCRIPT_FORMATS[1:], None)]
        for route, kwargs in calls:
            http.post(route.split()[0], **kwargs).raise_for_status()
    return clips


def metric(url: str, name: str) -> float:
    """A metric of /metrics summed over its labels (the models)."""
    lines = httpx.get(f"{url}/metrics", timeout=10).text.splitlines()
    return sum(float(line.split()[-1]) for line in lines if re.match(rf"{name}[{{ ]", line))


def drain(url: str, timeout: float) -> tuple[float, float]:
    """(jobs in flight, seconds waited) once none is left or ``timeout`` s have passed."""
    started = time.monotonic()
    while (jobs := metric(url, "polyvox_inflight_jobs")) and time.monotonic() - started < timeout:
        time.sleep(0.2)
    return jobs, time.monotonic() - started


def snapshot(server: ServerProcess, timeout: float, window: float = 1.0) -> tuple[float, int]:
    """(RSS in MB of 10^6 bytes, open descriptors) once two RSS readings ``window`` s apart
    agree within 1 MB, as in tests/processes.py's settled_rss_mb (or after ``timeout`` s)."""
    deadline, last = time.monotonic() + timeout, server.memory_mb()
    while time.monotonic() < deadline:
        time.sleep(window)
        previous, last = last, server.memory_mb()
        if abs(last - previous) < 1:
            break
    return last, len(os.listdir(f"/proc/{server.pid}/fd"))


@dataclass(frozen=True)
class Result:
    """Everything one soak measured."""

    tally: Tally
    rss_mb: tuple[float, float]  # settled, before and after the soak
    descriptors: tuple[int, int]
    peak_mb: float
    inflight: float
    drain_s: float
    cancelled: float
    other_cores: float


def targets(r: Result) -> list[Target]:
    """The acceptance line of the hardening issue, judged on this run."""
    ratio, fives = r.rss_mb[1] / r.rss_mb[0], r.tally.total("5xx")
    errors = r.tally.total("errors")
    return [
        Target("0 responses with a 5xx status", str(fives), fives == 0),
        Target("0 broken responses (no status, cut body) not hung up on purpose",
               str(errors), errors == 0),
        Target("0 jobs in flight after the run",
               f"{r.inflight:g} ({r.drain_s:.1f} s of polling /metrics)", r.inflight == 0),
        Target("settled RSS after the run within 10% of the baseline",
               f"{r.rss_mb[1]:.0f} MB / {r.rss_mb[0]:.0f} MB = {ratio:.3f}x", ratio <= 1.10),
    ]  # fmt: skip


def report(r: Result, args: argparse.Namespace, command: str) -> str:
    count, routes = r.tally.total(), sorted(r.tally.routes.items())
    failures = ", ".join(f"{n}x {what}" for what, n in r.tally.failures.most_common())
    rows = [[route, counts.total(), *(counts[o] for o in OUTCOMES)] for route, counts in routes]
    rows.append(["**all**", count, *(r.tally.total(o) for o in OUTCOMES)])
    lines = [
        f"- Command: `{command}` (`make bench-soak` runs the defaults); "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        *(f"- {key}: {value}" for key, value in describe(args.server_env).items()),
        f"- {args.clients} clients for {args.seconds:.0f} s, seed {args.seed}, hang-up "
        f"probability {args.hangup} (0.05-1.5 s after sending or after the first byte): "
        f"{count} requests ({count / args.seconds:.1f}/s); other processes used "
        f"{r.other_cores:.2f} cores on average",
        "", "| route | requests | " + " | ".join(OUTCOMES) + " |", "|---" * 9 + "|",
        *("| " + " | ".join(map(str, row)) + " |" for row in rows), "",
        "`errors`: not hung up on purpose, yet no status or a broken body. 5xx and errors: "
        f"{failures or 'none'}. The server counted {r.cancelled:.0f} jobs as cancelled.", "",
        f"- RSS: baseline {r.rss_mb[0]:.0f} MB (settled, both models loaded), peak "
        f"(VmHWM) {r.peak_mb:.0f} MB, after {r.rss_mb[1]:.0f} MB (settled): "
        f"**{r.rss_mb[1] / r.rss_mb[0]:.3f}x**",
        f"- Open descriptors: {r.descriptors[0]} before, {r.descriptors[1]} after", "",
        "| target | measured | verdict |", "|---|---|---|",
        *(f"| {t.name} | {t.measured} | {t.verdict} |" for t in targets(r)),
    ]  # fmt: skip
    return "\n".join(lines)


def run(server: ServerProcess, args: argparse.Namespace) -> Result:
    """Warm up, take the baseline, soak, wait for the jobs to end and measure again."""
    clips = warm(server.url)
    wait_for_quiet(args.quiet_wait)
    rss_before, fds_before = snapshot(server, args.settle)
    load = OtherLoad.start(server.cpu_seconds())
    print(f"baseline {rss_before:.0f} MB, {fds_before} descriptors; soaking", file=sys.stderr)
    tally = asyncio.run(soak(server.url, args, clips))
    other_cores = load.cores(server.cpu_seconds())
    inflight, drain_s = drain(server.url, args.drain_timeout)
    rss_after, fds_after = snapshot(server, args.settle)
    return Result(
        tally, (rss_before, rss_after), (fds_before, fds_after), server.memory_mb("VmHWM"),
        inflight, drain_s, metric(server.url, "polyvox_jobs_cancelled_total"), other_cores,
    )  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    add = parser.add_argument
    add("--clients", type=int, default=8, help="concurrent clients (default 8)")
    add("--seconds", type=float, default=120.0, help="soak length (default 120)")
    add("--hangup", type=float, default=0.3, help="chance a request is hung up (default 0.3)")
    add("--seed", type=int, default=0, help="seed of the clients' choices (default 0)")
    add("--drain-timeout", type=float, default=30.0, help="most s to wait for 0 jobs (default 30)")
    add("--settle", type=float, default=20.0, help="most s to wait for RSS to settle (default 20)")
    add("--quiet-wait", type=float, default=20.0, help="most s to wait for a quiet machine")
    add("--server-env", action="append", default=[], help="POLYVOX_X=VALUE for the server")
    add("--write", type=Path, help="update this markdown file's soak section")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the soak, print the summary, write markdown if asked; 1 when a target fails."""
    args = parse_args(argv)
    env = {"POLYVOX_LOG_LEVEL": "warning", **dict(e.split("=", 1) for e in args.server_env)}
    with polyvox_server(Path(sys.executable).parent / "polyvox", env) as server:
        result = run(server, args)
    python = os.path.relpath(sys.executable) if sys.executable.startswith(str(ROOT)) else "python"
    argv = sys.argv[1:] if argv is None else argv
    body = report(result, args, shlex.join([python, os.path.relpath(__file__), *argv]))
    print(body)
    if args.write:
        write_section(args.write, "soak", "Soak: mixed traffic with hang-ups", body)
        print(f"wrote {args.write}")
    return 0 if all(t.passed for t in targets(result)) else 1


if __name__ == "__main__":
    sys.exit(main())
