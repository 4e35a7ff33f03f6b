"""The soak's well-behaved client beside one kind of background load at a time.

    .venv/bin/python bench/soak_interference.py [--server-env POLYVOX_X=VALUE ...]

A diagnostic for the soak's first-audio target (docs/benchmarks.md, Soak): ``polyvox
serve`` alone, then for each phase background clients loop on one kind of request (a
transcription of three sentences; a 15-sentence wav read as fast as it comes) while the
well-behaved client of the soak (soak_probe) sends its sentence every 2 s. Prints its
first-audio p50/p95/max and the server's cores per phase.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import httpx

from server_process import ServerProcess, polyvox_server
from soak_http import SENTENCES, Clip, warm
from soak_probe import probe

WELL_BEHAVED, LOAD = "interference-well-behaved-key", "interference-load-key"
PHASES = (
    (),
    ("whisper",),
    ("piper",),
    ("piper", "piper"),
    ("whisper", "piper"),
    (),
)
"""Background clients per phase: none, one transcription loop, one long speech loop, ..."""


def _loop(url: str, kind: str, clip: Clip, stop: threading.Event) -> None:
    """Requests of ``kind`` back to back until ``stop``."""
    text = " ".join(SENTENCES[:15])
    headers = {"Authorization": f"Bearer {LOAD}"}
    with httpx.Client(base_url=url, headers=headers, timeout=180) as http:
        while not stop.is_set():
            if kind == "whisper":
                data = {"model": "whisper-1"}
                http.post("/v1/audio/transcriptions", files={"file": clip}, data=data)
                continue
            body = {"model": "tts-1", "input": text, "response_format": "wav"}
            with http.stream("POST", "/v1/audio/speech", json=body) as response:
                for _ in response.iter_raw():
                    pass


def phase(server: ServerProcess, kinds: tuple[str, ...], clip: Clip, count: int) -> str:
    """One phase: the background clients start, the well-behaved client sends ``count``
    requests, the clients stop; a line of what it measured."""
    stop = threading.Event()
    threads = [
        threading.Thread(target=_loop, args=(server.url, kind, clip, stop)) for kind in kinds
    ]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    cpu, started = server.cpu_seconds(), time.monotonic()
    found = probe(server.url, WELL_BEHAVED, count, 1e9, 2.0)
    cores = (server.cpu_seconds() - cpu) / (time.monotonic() - started)
    stop.set()
    for thread in threads:
        thread.join()
    return (
        f"| {' + '.join(kinds) or 'nothing'} | {cores:.2f} | {found.percentile(50):.3f} | "
        f"{found.percentile(95):.3f} | {max(found.first_audio_s, default=float('nan')):.3f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=20, help="per phase (default 20)")
    parser.add_argument("--server-env", action="append", default=[], help="POLYVOX_X=VALUE")
    args = parser.parse_args(argv)
    env = {
        "POLYVOX_LOG_LEVEL": "warning",
        "POLYVOX_API_KEYS": json.dumps([WELL_BEHAVED, LOAD]),
        **dict(e.split("=", 1) for e in args.server_env),
    }
    print("| beside | server cores | p50 s | p95 s | max s |\n|---|---|---|---|---|")
    with polyvox_server(Path(sys.executable).parent / "polyvox", env) as server:
        clips = warm(server.url, {"Authorization": f"Bearer {LOAD}"})
        for kinds in PHASES:
            print(phase(server, kinds, clips[1], args.requests), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
