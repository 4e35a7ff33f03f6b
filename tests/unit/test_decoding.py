"""Uploads probed before admission and decoded in bounded blocks cut at quiet moments."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import av
import numpy as np
import pytest

from polyvox import codecs, decoding
from polyvox.decoding import BlockDecoder, probe, quiet_cut, read_mono
from polyvox.errors import InvalidRequest, RequestTooLarge, UnsupportedAudio
from polyvox.settings import ReferenceSettings, StorageSettings
from polyvox.storage import ObjectStore
from polyvox.voices.reference import ReferenceStore
from tests.samples import sine_wav
from tests.stt_audio import FLAC_MAX_FRAME, duration, low_rate_flac, silent_flac, speech_wav

RATE = 16000
T = TypeVar("T")
PEAK_LIMIT = 8_000_000
"""Bytes of Python/numpy memory a refused hostile file may take (tracemalloc): one FLAC
frame at the lowest rate decoded, resampled to 24 kHz, is 1.5 MB; the attacks below took
131 MB to 2 GB before decoding checked each frame first."""


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


def traced_peak(work: Callable[[], T]) -> tuple[int, T | BaseException]:
    """Peak bytes traced while ``work`` runs, and what it returned or raised."""
    tracemalloc.start()
    try:
        outcome: T | BaseException = work()
    except Exception as exc:
        outcome = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, outcome


def test_the_hostile_flac_hides_its_length_behind_frames_at_a_tiny_rate() -> None:
    flac = low_rate_flac(32)
    assert len(flac) < 128 * 1024
    with av.open(io.BytesIO(flac), "r") as container:
        stream = container.streams.audio[0]
        assert (stream.duration, container.duration) == (None, None)
        frames = [(f.samples, f.sample_rate) for f in container.decode(stream)]
    assert frames == [(FLAC_MAX_FRAME, 32)]


@pytest.mark.parametrize("rate", [32, 8])
def test_a_frame_at_a_tiny_rate_is_refused_before_it_is_resampled(rate: int) -> None:
    flac = low_rate_flac(rate)
    with pytest.raises(UnsupportedAudio, match="sample rate") as refused:
        probe(flac, max_bytes=len(flac), max_seconds=3600)
    assert refused.value.param == "file"

    def first_block() -> object:
        return next(BlockDecoder(flac, rate=RATE, block_seconds=300, max_seconds=1e9))

    peak, outcome = traced_peak(first_block)
    assert isinstance(outcome, UnsupportedAudio), outcome
    assert "sample rate" in outcome.message
    assert peak < PEAK_LIMIT, peak


def test_read_mono_refuses_a_tiny_rate_naming_the_callers_param() -> None:
    flac = low_rate_flac(32)
    peak, outcome = traced_peak(lambda: read_mono(flac, 24000, 300, param="audio_sample"))
    assert isinstance(outcome, UnsupportedAudio), outcome
    assert outcome.param == "audio_sample"
    assert peak < PEAK_LIMIT, peak


def test_codecs_decode_applies_the_same_bounds() -> None:
    flac = low_rate_flac(8)
    peak, outcome = traced_peak(lambda: codecs.decode(flac, sample_rate=24000, param="ref"))
    assert isinstance(outcome, UnsupportedAudio), outcome
    assert outcome.param == "ref"
    assert peak < PEAK_LIMIT, peak
    telephone, rate = codecs.decode(sine_wav(1.0, rate=8000), sample_rate=24000)
    assert rate == 24000
    assert len(telephone) == pytest.approx(24000, abs=64)  # the floor lets 8 kHz audio in


def test_sample_rate_and_channel_bounds() -> None:
    for rate in (decoding.MIN_RATE, 8000, 48000, decoding.MAX_RATE):
        decoding.check_format(rate, 2)
    decoding.check_format(48000, decoding.MAX_CHANNELS)
    for rate in (0, 8, 32, decoding.MIN_RATE - 1, decoding.MAX_RATE + 1):
        with pytest.raises(UnsupportedAudio, match="sample rate"):
            decoding.check_format(rate, 1, "audio_sample")
    with pytest.raises(UnsupportedAudio, match="channels") as refused:
        decoding.check_format(48000, decoding.MAX_CHANNELS + 1, "audio_sample")
    assert refused.value.param == "audio_sample"


def silent_frame(samples: int, rate: int) -> av.AudioFrame:
    frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
    frame.sample_rate = rate
    return frame


def test_one_frame_may_make_only_so_much_once_resampled() -> None:
    def too_long() -> RequestTooLarge:
        return RequestTooLarge("too long")

    budget = decoding.FrameBudget(24000, None, too_long, param="file")
    budget.admit(silent_frame(FLAC_MAX_FRAME, decoding.MIN_RATE))  # the worst real frame
    largest = decoding.MAX_FRAME_SAMPLES * decoding.MIN_RATE // 24000
    budget.admit(silent_frame(largest, decoding.MIN_RATE))
    with pytest.raises(UnsupportedAudio, match="frame"):
        budget.admit(silent_frame(largest + 1, decoding.MIN_RATE))
    native = decoding.FrameBudget(None, None, too_long)  # frames keep their own rate
    native.admit(silent_frame(decoding.MAX_FRAME_SAMPLES, 48000))


def test_the_length_is_counted_before_a_frame_is_resampled() -> None:
    budget = decoding.FrameBudget(RATE, 10.0, lambda: RequestTooLarge("too long"))
    for _ in range(10):
        budget.admit(silent_frame(48000, 48000))
    assert budget.seconds == pytest.approx(10.0)
    with pytest.raises(RequestTooLarge, match="too long"):
        budget.admit(silent_frame(1, 48000))


def test_measuring_stops_at_the_limit_and_keeps_nothing() -> None:
    wav = sine_wav(1.5)
    assert decoding.measure(wav, max_seconds=60) == pytest.approx(1.5, abs=0.01)
    flac = silent_flac(20 * 60, 48000, frame_size=FLAC_MAX_FRAME)
    assert len(flac) < 32 * 1024
    peak, outcome = traced_peak(lambda: decoding.measure(flac, max_seconds=60, param="ref"))
    assert isinstance(outcome, RequestTooLarge), outcome
    assert outcome.param == "ref"
    assert peak < PEAK_LIMIT, peak
    with pytest.raises(UnsupportedAudio, match="sample rate"):
        decoding.measure(low_rate_flac(32), max_seconds=1e9)


def test_a_reference_of_twenty_silent_minutes_is_refused_at_its_limit(tmp_path: Path) -> None:
    """Decoded whole before its length was checked, this took 460 MB (230 MB of float32 at
    48 kHz, and again to join the pieces)."""
    settings = ReferenceSettings.model_validate({"cache_dir": tmp_path})
    refs = ReferenceStore(settings, ObjectStore(StorageSettings()))
    flac = silent_flac(20 * 60, 48000, frame_size=FLAC_MAX_FRAME)
    peak, outcome = traced_peak(lambda: refs.check(flac, param="reference_audio"))
    assert isinstance(outcome, InvalidRequest), outcome
    assert outcome.status_code == 422
    assert outcome.param == "reference_audio"
    assert "limit is 60s" in outcome.message
    assert peak < PEAK_LIMIT, peak
    low = low_rate_flac(32)
    with pytest.raises(UnsupportedAudio, match="sample rate") as refused:
        refs.check(low, param="audio_prompt")
    assert refused.value.param == "audio_prompt"
