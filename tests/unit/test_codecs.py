"""Codecs: byte-exact PCM/WAV, rate rules, streaming encoders and decoding errors."""

from __future__ import annotations

import struct
import wave
from io import BytesIO

import numpy as np
import pytest

from polyvox import codecs
from polyvox.errors import InvalidRequest, UnsupportedAudio

RATE = 22050


def tone(seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def test_wav_header_is_byte_exact() -> None:
    assert codecs.wav_header(22050, 100) == (
        b"RIFF" + struct.pack("<I", 136) + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 22050, 44100, 2, 16)
        + b"data" + struct.pack("<I", 100)
    )  # fmt: skip
    streaming = codecs.wav_header(24000)
    assert streaming[4:8] == streaming[40:44] == b"\xff\xff\xff\xff"


def test_pcm_at_engine_rate_is_exact_int16() -> None:
    samples = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0], dtype=np.float32)
    encoder = codecs.create_encoder("pcm", RATE, RATE)
    data = encoder.encode(samples) + encoder.finish()
    # rounded to the nearest step, so int16 -> float -> int16 (a remote engine) is exact
    assert np.frombuffer(data, "<i2").tolist() == [0, 16384, -16384, 32767, -32767, 32767]


def test_wav_stream_is_header_then_pcm_and_readable() -> None:
    encoder = codecs.create_encoder("wav", RATE, RATE)
    parts = [encoder.encode(tone(0.5)), encoder.encode(tone(0.5)), encoder.finish()]
    data = b"".join(parts)
    assert parts[0][:4] == b"RIFF"
    assert len(data) == 44 + 2 * RATE
    fixed = codecs.wav_header(RATE, len(data) - 44) + data[44:]
    with wave.open(BytesIO(fixed)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getnframes()) == (RATE, 1, RATE)


def test_pcm_is_resampled_to_24k() -> None:
    encoder = codecs.create_encoder("pcm", RATE, codecs.PCM_RATE)
    data = encoder.encode(tone(1.0)) + encoder.finish()
    assert abs(len(data) / 2 - codecs.PCM_RATE) <= 32


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac"])
def test_compressed_formats_stream_incrementally(fmt: str) -> None:
    rate = codecs.output_rate(fmt, RATE)
    encoder = codecs.create_encoder(fmt, RATE, rate)
    parts = [encoder.encode(tone(1.0)) for _ in range(3)] + [encoder.finish()]
    assert all(parts[:3]), "each second of audio yields bytes before the stream ends"
    samples, decoded_rate = codecs.decode(b"".join(parts))
    assert len(samples) / decoded_rate == pytest.approx(3.0, abs=0.15)


def test_output_rate_rules() -> None:
    assert codecs.output_rate("pcm", RATE) == 24000
    assert codecs.output_rate("wav", RATE) == RATE
    assert codecs.output_rate("mp3", RATE) == RATE
    assert codecs.output_rate("opus", RATE) == 24000  # opus has no 22.05 kHz mode
    assert codecs.output_rate("flac", RATE, 44100) == 44100
    with pytest.raises(InvalidRequest) as info:
        codecs.output_rate("opus", RATE, 44100)
    assert info.value.param == "sample_rate"


@pytest.mark.parametrize("data", [b"", b"this is not audio", b"RIFF\x00\x00\x00\x00WAVE"])
def test_decode_rejects_non_audio(data: bytes) -> None:
    with pytest.raises(UnsupportedAudio):
        codecs.decode(data)


def test_decode_resamples() -> None:
    encoder = codecs.create_encoder("flac", RATE, RATE)
    data = encoder.encode(tone(1.0)) + encoder.finish()
    samples, rate = codecs.decode(data, sample_rate=16000)
    assert rate == 16000
    assert len(samples) == pytest.approx(16000, abs=64)
