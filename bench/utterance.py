"""Two checks beside the Piper grid: one utterance per clause-less sentence, and the
WebSocket route's time to first audio once a sentence is complete."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.sync.client import connect

from runners import RawPiper
from texts import PARAGRAPH, SENTENCE

NOISE_OFF = {"noise_scale": 0.0, "noise_w_scale": 0.0}


@dataclass(frozen=True)
class Utterance:
    """A clause-less sentence, noise off: polyvox's audio length against raw Piper's."""

    raw_s: float
    polyvox_s: float

    @property
    def ratio(self) -> float:
        """polyvox / raw duration (1.0: one utterance, as raw Piper speaks it)."""
        return self.polyvox_s / self.raw_s


def measure_utterance(raw: RawPiper, url: str) -> Utterance:
    """Raw Piper and polyvox speak SENTENCE with Piper's noise off; durations compared."""
    from piper.config import SynthesisConfig

    chunks = list(raw.voice.synthesize(SENTENCE, SynthesisConfig(**NOISE_OFF)))
    raw_s = sum(len(c.audio_int16_bytes) // 2 for c in chunks) / chunks[0].sample_rate
    body: dict[str, Any] = {"model": "piper", "input": SENTENCE, "response_format": "pcm"}
    data = httpx.post(f"{url}/v1/audio/speech", json={**body, **NOISE_OFF}, timeout=120).content
    return Utterance(raw_s, len(data) / 2 / 24000)


def _first_audio_after_sentence(url: str, first: str, rest: str) -> float:
    """Seconds from sending the character that completes ``first`` to the first audio."""
    with connect(url.replace("http://", "ws://") + "/v1/audio/speech/stream") as ws:
        ws.send(json.dumps({"type": "config", "model": "piper", "response_format": "pcm"}))
        ws.send(json.dumps({"type": "text", "text": first}))
        sent = time.perf_counter()
        ws.send(json.dumps({"type": "text", "text": " " + rest}))  # the space ends it
        while not isinstance(ws.recv(timeout=60), bytes):
            pass
        waited = time.perf_counter() - sent
        ws.send(json.dumps({"type": "end"}))
        while isinstance(message := ws.recv(timeout=120), bytes):
            pass
        assert json.loads(message)["type"] == "speech.audio.done"
    return waited


def measure_ws_first_audio(url: str, repeats: int) -> float:
    """Median over ``repeats`` of the WebSocket route's first audio after a sentence ends.

    The first sentence is the clause-less 12-word one, so no audio can start before it ends.
    """
    return statistics.median(
        _first_audio_after_sentence(url, SENTENCE, PARAGRAPH) for _ in range(repeats)
    )
