"""Gateway -> remote polyvox against the same polyvox directly, in one run; and cold starts.

A polyvox worker serves Piper; a second polyvox (the gateway) serves the model ``far`` from
it over HTTP. Direct and gateway rounds alternate, so each pair shares the machine's state.
Targets (issue 12): time to first audio p50 within +15 ms of direct, audio seconds per
wall second at concurrency 4 >= 0.95x direct. Cold start: a worker process from start to
ready, for Piper (this environment) and Kokoro (its engine environment, when installed).

    python bench/remote_bench.py [--rounds 7] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from runners import PolyvoxClient, Round, run_round
from sections import write_section
from server_process import free_port, polyvox_server
from texts import PARAGRAPH

HERE = Path(sys.executable).parent


def cold_start(executable: Path, models: dict[str, object], model: str) -> float:
    """Seconds from starting ``polyvox serve`` (preloading ``model``) until it is ready."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYVOX_")}
    env["POLYVOX_MODELS"] = json.dumps(models)
    env["POLYVOX_PRELOAD"] = env["POLYVOX_ENGINES"] = json.dumps([model])
    env["POLYVOX_DEFAULT_TTS_MODEL"] = model
    command = [str(executable), "serve", "--host", "127.0.0.1", "--port", str(port)]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        while process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"{command[0]} exited with {process.returncode}")
    finally:
        process.terminate()
        process.wait(30)


def p50_first(rounds: list[Round]) -> float:
    return statistics.median(s.first_audio_s for r in rounds for s in r.samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="paired rounds per concurrency")
    parser.add_argument("--write", type=Path, help="write the results as markdown here")
    args = parser.parse_args()
    polyvox = HERE / "polyvox"
    with polyvox_server(polyvox) as worker:
        far = {"engine": "polyvox", "url": worker.url, "model": "piper"}
        gateway_env = {
            "POLYVOX_MODELS": json.dumps({"far": far}),
            "POLYVOX_PRELOAD": '["far"]',
            "POLYVOX_DEFAULT_TTS_MODEL": "far",
        }
        with polyvox_server(polyvox, gateway_env) as gateway:
            direct, through = PolyvoxClient(worker.url, "piper"), PolyvoxClient(gateway.url, "far")
            for warm in (direct, through):
                warm(PARAGRAPH)
            results: dict[int, tuple[list[Round], list[Round]]] = {}
            for concurrency in (1, 4):
                pairs: tuple[list[Round], list[Round]] = ([], [])
                for i in range(args.rounds):
                    order = (0, 1) if i % 2 == 0 else (1, 0)
                    for side in order:
                        client = (direct, through)[side]
                        pairs[side].append(run_round(client, PARAGRAPH, concurrency))
                results[concurrency] = pairs
            direct.close()
            through.close()
    one_direct, one_through = results[1]
    first_d, first_g = p50_first(one_direct), p50_first(one_through)
    four_direct, four_through = results[4]
    ratio = statistics.median(
        g.audio_per_wall / d.audio_per_wall for d, g in zip(four_direct, four_through, strict=True)
    )
    piper_cold = statistics.median(
        cold_start(polyvox, {"piper": {"engine": "piper"}}, "piper") for _ in range(3)
    )
    env_dir = Path(os.environ.get("POLYVOX_ENV_DIR", Path.home() / ".cache/polyvox/envs"))
    kokoro = env_dir / "kokoro" / "bin" / "polyvox"
    kokoro_cold = (
        statistics.median(
            cold_start(kokoro, {"kokoro": {"engine": "kokoro"}}, "kokoro") for _ in range(3)
        )
        if kokoro.exists()
        else None
    )
    added_ms = (first_g - first_d) * 1000
    lines = [
        "| measure | direct | through the gateway | target |",
        "|---|---|---|---|",
        f"| paragraph c=1, first audio p50 | {first_d * 1000:.0f} ms | {first_g * 1000:.0f} ms "
        f"({added_ms:+.0f} ms) | <= +15 ms: {'PASS' if added_ms <= 15 else 'FAIL'} |",
        f"| paragraph c=4, audio s per wall s (median of paired ratios) | 1.00x | {ratio:.3f}x "
        f"| >= 0.95x: {'PASS' if ratio >= 0.95 else 'FAIL'} |",
        "",
        f"Cold start of a worker process (start to ready, model preloaded, median of 3): "
        f"Piper {piper_cold:.2f} s"
        + (f"; Kokoro from its engine environment {kokoro_cold:.2f} s" if kokoro_cold else "")
        + ".",
        "",
        f"{args.rounds} paired rounds per concurrency on this machine "
        f"({os.cpu_count()} cores); command: `python bench/remote_bench.py --rounds {args.rounds}`",
    ]
    body = "\n".join(lines)
    print(body)
    if args.write:
        write_section(args.write, "remote", "A model on another polyvox (issue 12)", body)


if __name__ == "__main__":
    main()
