"""The soak's well-behaved client: one short sentence every ~2 s over HTTP (streamed speech,
its own API key), timed to the first audio byte.

It runs in a process of its own (``probe`` is submitted to a process pool): in the load's
process, hundreds of attack sockets on the same event loop (and GIL) would delay its clock
and the measurement would include the load generator's own lag.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from soak_tally import REQUEST_LIMIT_S

SENTENCE = "The weather is fine today."
BODY = {"model": "tts-1", "input": SENTENCE, "response_format": "pcm", "stream_format": "audio"}
ROUTE = "/v1/audio/speech (well-behaved)"


@dataclass
class Probe:
    """What the well-behaved client measured: first-audio times of its completed requests,
    and how each request ended."""

    first_audio_s: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile by nearest rank (nan without samples)."""
        ordered = sorted(self.first_audio_s)
        if not ordered:
            return math.nan
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _one(http: httpx.Client) -> tuple[str, float | None, str]:
    """(outcome, seconds to the first audio byte, what failed) of one request."""
    started, first, status = time.perf_counter(), None, 0
    try:
        with http.stream("POST", "/v1/audio/speech", json=BODY) as response:
            status = response.status_code
            for chunk in response.iter_raw():
                if first is None and chunk:
                    first = time.perf_counter() - started
    except httpx.HTTPError as error:
        return "errors", None, type(error).__name__
    if status >= 400:
        return (
            ("429" if status == 429 else "5xx" if status >= 500 else "4xx"),
            None,
            f"HTTP {status}",
        )
    if first is None:
        return "errors", None, "no audio"
    return "completed", first, ""


def probe(url: str, key: str, count: int, seconds: float, interval: float) -> Probe:
    """``count`` requests, or as many as ``seconds`` allow, one every ``interval`` s (the
    next one at once when one takes longer)."""
    found, start = Probe(), time.monotonic()
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=REQUEST_LIMIT_S) as http:
        for n in range(count):
            due = start + n * interval
            if due - start >= seconds:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            outcome, first, failure = _one(http)
            found.outcomes[outcome] += 1
            if first is not None:
                found.first_audio_s.append(first)
            if failure:
                found.failures[f"{failure} ({ROUTE})"] += 1
    return found
