"""Tiny generated audio for tests: sine tones as WAV bytes."""

from __future__ import annotations

import numpy as np

from polyvox import codecs


def sine_wav(seconds: float, rate: int = 16000, freq: float = 220.0) -> bytes:
    """A mono 16-bit WAV of a quiet sine tone, with its real sizes in the header."""
    t = np.arange(round(seconds * rate), dtype=np.float32) / rate
    samples = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    encoder = codecs.create_encoder("wav", rate, rate)
    data = encoder.encode(samples) + encoder.finish()
    return codecs.wav_header(rate, len(data) - 44) + data[44:]
