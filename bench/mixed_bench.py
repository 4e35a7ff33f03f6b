"""Mixed traffic: a 400-word request plus a stream of one-sentence requests at concurrency 4.

Measures the short requests' time to first audio (p50/p95) with fair chunk-level
scheduling and with first-come-first-served, plus aggregate audio seconds per wall second,
all in one run. Each policy gets three phases on a fresh server: one short request at a
time (idle), the four short clients alone, and the four short clients with the long one.

Four closed-loop clients on two cores cannot each be served as fast as one request alone:
by Little's law their mean response time is at least 4 / (requests per second the machine
can finish), which the shorts-alone phase measures. The report gives that floor next to
the ratios. Results go between the ``mixed`` markers of docs/benchmarks.md.

    .venv/bin/python bench/mixed_bench.py --write docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from sections import write_section

SHORTS = [
    "Please confirm your appointment for tomorrow at nine.",
    "Your package has been delivered to the front door.",
    "The meeting moved to the third floor conference room.",
    "Thanks for calling, how can I help you today?",
]
LONG = " ".join(
    f"Paragraph {i} of the long reading continues the story with calm and steady detail, "
    "so that the listener has something to follow for a while."
    for i in range(20)
)  # about 400 words
RATE = 22050
CLIENTS = 4  # short-request clients


@dataclass
class Run:
    """What one phase measured."""

    ttfa: list[float] = field(default_factory=list)
    audio_seconds: float = 0.0
    wall: float = 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(policy: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "POLYVOX_SCHEDULING": policy, "POLYVOX_LOG_LEVEL": "warning"}
    cmd = [sys.executable, "-m", "polyvox", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def speak(client: httpx.Client, text: str, stop: float = float("inf")) -> tuple[float, float]:
    """(time to first byte, audio seconds received before ``stop``) of one wav request."""
    body = {"model": "piper", "input": text, "response_format": "wav"}
    started = time.perf_counter()
    first = 0.0
    size = 0
    with client.stream("POST", "/v1/audio/speech", json=body) as response:
        response.raise_for_status()
        for part in response.iter_raw():
            if not size:
                first = time.perf_counter() - started
            size += len(part)
            if time.perf_counter() >= stop:
                break  # the window is over: hang up (the server stops this job)
    return first, max(0, size - 44) / 2 / RATE


def idle(url: str, rounds: int) -> Run:
    run = Run()
    with httpx.Client(base_url=url, timeout=120) as client:
        speak(client, SHORTS[0])  # warm
        for i in range(rounds):
            ttfa, _ = speak(client, SHORTS[i % len(SHORTS)])
            run.ttfa.append(ttfa)
    return run


def mixed(url: str, seconds: float, long: bool = True) -> Run:
    """Four short-request clients, with the long-request client when ``long``."""
    run = Run()
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def loop(texts: list[str], record: bool) -> None:
        with httpx.Client(base_url=url, timeout=300) as client:
            i = 0
            while time.perf_counter() < stop:
                ttfa, audio = speak(client, texts[i % len(texts)], stop)
                i += 1
                with lock:
                    run.audio_seconds += audio
                    if record and ttfa:
                        run.ttfa.append(ttfa)

    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=([LONG], False))] if long else []
    threads += [
        threading.Thread(target=loop, args=(SHORTS[i:] + SHORTS[:i], True)) for i in range(CLIENTS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.wall = min(time.perf_counter(), stop) - started  # audio counts only inside the window
    return run


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(policy: str, seconds: float, rounds: int) -> dict[str, float]:
    proc, url = start(policy)
    try:
        base = idle(url, rounds)
        alone = mixed(url, seconds / 2, long=False)
        load = mixed(url, seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {
        "idle_p50": statistics.median(base.ttfa), "idle_p95": pct(base.ttfa, 0.95),
        "alone_p50": statistics.median(alone.ttfa), "alone_p95": pct(alone.ttfa, 0.95),
        "floor": CLIENTS * alone.wall / len(alone.ttfa),
        "p50": statistics.median(load.ttfa), "p95": pct(load.ttfa, 0.95),
        "shorts": len(load.ttfa), "throughput": load.audio_seconds / load.wall,
    }  # fmt: skip


def report(results: dict[str, dict[str, float]], command: str) -> str:
    fair, fifo = results["fair"], results["fifo"]
    lines = [
        f"Command: `{command}` (2 cores: `nproc` = {os.cpu_count()}, one run, same requests).",
        "",
        "| scheduling | idle TTFA p50 / p95 (s) | 4 shorts alone p50 / p95 (s) "
        "| Little's-law floor (s) | with the long request p50 / p95 (s) "
        "| p95 / idle p50 | p95 / shorts-alone p95 | short requests | audio s per wall s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['idle_p50']:.3f} / {r['idle_p95']:.3f} "
            f"| {r['alone_p50']:.3f} / {r['alone_p95']:.3f} | {r['floor']:.3f} "
            f"| {r['p50']:.3f} / {r['p95']:.3f} | {r['p95'] / r['idle_p50']:.2f}x "
            f"| {r['p95'] / r['alone_p95']:.2f}x | {r['shorts']:.0f} | {r['throughput']:.2f} |"
        )
    idle = fair["p95"] / fair["idle_p50"]
    floor = fair["floor"] / fair["idle_p50"]
    alone = fair["p95"] / fair["alone_p95"]
    tput = fair["throughput"] / fifo["throughput"]
    lines += [
        "",
        f"- fair p95 with the long request / the four shorts alone: **{alone:.2f}x** "
        f"(target <= 2x): {'PASS' if alone <= 2 else 'FAIL'}",
        f"- fair p95 / one idle request: **{idle:.2f}x** (target <= 2x): "
        f"{'PASS' if idle <= 2 else 'FAIL'}; no scheduler can beat the shorts' own "
        f"Little's-law floor, here {floor:.2f}x one idle request",
        f"- fair / fifo throughput: **{tput:.3f}x** (target >= 1.0x, within noise): "
        f"{'PASS' if tput >= 0.97 else 'FAIL'}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=40.0, help="mixed phase length")
    parser.add_argument("--rounds", type=int, default=20, help="idle short requests")
    parser.add_argument("--write", type=Path, help="update this markdown file")
    args = parser.parse_args()
    results = {p: measure(p, args.seconds, args.rounds) for p in ("fair", "fifo")}
    command = "python bench/mixed_bench.py " + " ".join(sys.argv[1:])
    body = report(results, command.strip())
    print(body)
    if args.write:
        write_section(args.write, "mixed", "Mixed traffic: fair vs first-come-first-served", body)


if __name__ == "__main__":
    main()
