"""A load-test client process: bounded loops of varied speech requests against one server."""

from __future__ import annotations

import random
import time

import httpx

TEXTS = [
    "Hi.",
    "Yes, that works.",
    "The train leaves at nine tomorrow morning.",
    "Please hold the line. Someone will be with you shortly.",
    "Numbers like 42 and 1999 are read aloud too.",
]
FORMATS = ["mp3", "wav", "opus", "pcm", "flac", "aac"]


def run_client(url: str, seconds: float, seed: int) -> list[tuple[int, bool]]:
    """Send requests until ``seconds`` pass; returns (status, had Retry-After) per request."""
    rng = random.Random(seed)
    results: list[tuple[int, bool]] = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=60) as client:
        while time.monotonic() < deadline:
            body = {
                "model": "tts-1",
                "input": rng.choice(TEXTS),
                "response_format": rng.choice(FORMATS),
                "stream_format": rng.choice(["audio", "audio", "sse"]),
            }
            try:
                response = client.post("/v1/audio/speech", json=body)
                status = response.status_code
                results.append((status, "retry-after" in response.headers))
            except httpx.HTTPError:
                results.append((0, False))
                continue
            if status == 429:
                time.sleep(rng.uniform(0.05, 0.3))
    return results
