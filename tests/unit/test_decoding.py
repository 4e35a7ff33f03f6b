"""Uploads probed before admission and decoded in bounded blocks cut at quiet moments."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from polyvox import codecs
from polyvox.decoding import BlockDecoder, probe, quiet_cut
from polyvox.errors import RequestTooLarge, UnsupportedAudio
from tests.stt_audio import duration, silent_flac, speech_wav

RATE = 16000


def blocks(data: bytes, block_seconds: float, max_seconds: float = 3600) -> list[np.ndarray]:
    decoder = BlockDecoder(data, rate=RATE, block_seconds=block_seconds, max_seconds=max_seconds)
    return [block.samples for block in decoder]


def test_probe_checks_without_decoding_everything() -> None:
    wav = speech_wav("Short.")
    assert probe(wav, max_bytes=len(wav), max_seconds=60) == pytest.approx(duration(wav), abs=0.05)
    with pytest.raises(RequestTooLarge, match="bytes"):
        probe(wav, max_bytes=len(wav) - 1, max_seconds=60)
    with pytest.raises(RequestTooLarge, match="seconds"):
        probe(wav, max_bytes=len(wav), max_seconds=0.2)
    for bad in (b"", b"just some text\n", wav[:44], b"\x00" * 2000):
        with pytest.raises(UnsupportedAudio):
            probe(bad, max_bytes=10_000, max_seconds=60)


def test_an_hour_of_silence_is_small_and_declares_its_length() -> None:
    flac = silent_flac(59 * 60)
    assert len(flac) < 2_000_000
    with pytest.raises(RequestTooLarge, match="POLYVOX_MAX_AUDIO_SECONDS"):
        probe(flac, max_bytes=len(flac), max_seconds=1800)
    assert probe(flac, max_bytes=len(flac), max_seconds=3600) == pytest.approx(59 * 60)


def test_blocks_put_together_are_the_whole_file() -> None:
    wav = speech_wav("One sentence. Then another one, a little longer than the first.")
    whole, _ = codecs.decode(wav, sample_rate=RATE)
    parts = blocks(wav, block_seconds=1.0)
    assert len(parts) > 2
    assert all(len(p) <= RATE for p in parts)
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_a_block_ends_at_the_quiet_moment() -> None:
    loud = np.sin(np.arange(RATE * 10) / 3).astype(np.float32)
    loud[int(RATE * 7.5) : int(RATE * 7.7)] = 0.0  # a pause 2.3-2.5 s before the nominal end
    cut = quiet_cut(loud, RATE * 10, RATE)
    assert RATE * 7.5 <= cut <= RATE * 7.7


def test_decoding_past_the_limit_fails_even_when_the_header_says_less() -> None:
    flac = silent_flac(100)
    with pytest.raises(RequestTooLarge, match="seconds"):
        blocks(flac, block_seconds=30, max_seconds=50)


def test_memory_is_one_block_whatever_the_length() -> None:
    """20 minutes of audio (77 MB as float32) decoded with at most ~2 blocks alive at once."""
    flac = silent_flac(20 * 60)
    block_bytes = 30 * RATE * 4
    tracemalloc.start()
    try:
        total = 0
        for block in BlockDecoder(flac, rate=RATE, block_seconds=30, max_seconds=3600):
            total += len(block.samples)
            del block
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 20 * 60 * RATE
    assert peak < 3 * block_bytes, peak
