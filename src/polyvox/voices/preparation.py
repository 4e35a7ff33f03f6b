"""Reference audio made ready for the library: mono, resampled, trimmed, loudness-normalised.

Every file of a new voice is decoded (any format polyvox reads) to mono at
``SAMPLE_RATE``, cut to the span where someone speaks (the speech detector of
faster-whisper, Silero VAD, when it is installed; an energy gate otherwise), joined with
short pauses, clipped to the longest span cloning engines read, and brought to one
loudness (RMS of the speech, peak-limited). The result is 16-bit WAV: the same audio
always gives the same bytes, so its SHA-256 names it in storage and in every
conditioning cache.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from polyvox import codecs, decoding
from polyvox.audio import float_to_int16
from polyvox.errors import InvalidRequest, PolyvoxError, UnsupportedAudio
from polyvox.settings import VoiceLibrarySettings
from polyvox.types import STT_SAMPLE_RATE

log = logging.getLogger(__name__)
Float32 = npt.NDArray[np.float32]
SAMPLE_RATE = 24_000
"""Prepared references are kept at 24 kHz (what Chatterbox and Qwen3 read; XTTS resamples)."""
GAP_SECONDS = 0.3
"""Pause put between the files of one voice."""
PAD_SECONDS = 0.1
"""Audio kept before the first and after the last detected speech."""
SILENT_DBFS = -60.0
"""A file whose peak stays below this is silent."""
PEAK_DBFS = -1.0
"""Loudness normalisation never lifts a peak above this."""


@dataclass(frozen=True)
class PreparedAudio:
    """A voice's reference, ready for every cloning engine."""

    wav: bytes
    seconds: float
    digest: str
    """SHA-256 of ``wav``: the name it is stored and cached under."""


def _db(value: float) -> float:
    return float(20 * np.log10(max(value, 1e-12)))


def _speech_span(samples: Float32, param: str) -> tuple[int, int]:
    """First and last sample (at ``SAMPLE_RATE``) where someone speaks; a 422 if nobody does."""
    try:
        from faster_whisper.vad import VadOptions, get_speech_timestamps
    except ImportError:  # no speech detector: trim by energy alone
        return _loud_span(samples)
    ratio = SAMPLE_RATE // STT_SAMPLE_RATE if SAMPLE_RATE % STT_SAMPLE_RATE == 0 else 0
    at_16k = samples[::ratio] if ratio else _resample(samples, SAMPLE_RATE, STT_SAMPLE_RATE)
    options = VadOptions(min_silence_duration_ms=300, speech_pad_ms=int(PAD_SECONDS * 1000))
    spans = get_speech_timestamps(at_16k, options, sampling_rate=STT_SAMPLE_RATE)
    scale = SAMPLE_RATE / STT_SAMPLE_RATE
    speech = sum(s["end"] - s["start"] for s in spans) / STT_SAMPLE_RATE
    if speech < 0.5:
        raise InvalidRequest(
            f"{param}: no speech was found in it ({speech:.1f} s of voice-like sound); "
            "a reference must be someone speaking",
            param=param,
        )
    return int(spans[0]["start"] * scale), int(spans[-1]["end"] * scale)


def _resample(samples: Float32, rate: int, target: int) -> Float32:
    """Linear resampling (only for the speech detector's input)."""
    count = int(len(samples) * target / rate)
    positions = np.linspace(0, len(samples) - 1, count)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


def _loud_span(samples: Float32) -> tuple[int, int]:
    """Where 20 ms frames rise above 40 dB under the peak (padded)."""
    frame = SAMPLE_RATE // 50
    count = len(samples) // frame
    rms = np.sqrt(np.mean(samples[: count * frame].reshape(count, frame) ** 2, axis=1))
    loud = np.flatnonzero(rms > float(np.max(np.abs(samples))) * 10 ** (-40 / 20))
    pad = int(PAD_SECONDS * SAMPLE_RATE)
    if len(loud) == 0:
        return 0, len(samples)
    return max(0, int(loud[0]) * frame - pad), min(len(samples), (int(loud[-1]) + 1) * frame + pad)


def _one(data: bytes, settings: VoiceLibrarySettings, param: str) -> Float32:
    """One file decoded, checked and trimmed to its speech."""
    try:
        samples = decoding.read_mono(
            data, SAMPLE_RATE, settings.max_input_seconds, param=param
        ).astype(np.float32)
    except UnsupportedAudio as exc:
        message = f"{param}: not audio polyvox can read ({exc.message})"
        raise InvalidRequest(message, param=param) from None
    except PolyvoxError as exc:
        exc.param = param
        raise
    seconds = len(samples) / SAMPLE_RATE
    if seconds < settings.min_seconds:
        raise InvalidRequest(
            f"{param}: the audio is {seconds:.1f} s long; a reference needs at least "
            f"{settings.min_seconds:g} s of speech",
            param=param,
        )
    if _db(float(np.max(np.abs(samples)))) < SILENT_DBFS:
        raise InvalidRequest(f"{param}: the audio is silent", param=param)
    start, end = _speech_span(samples, param)
    return samples[start:end]


def prepare(files: Sequence[bytes], settings: VoiceLibrarySettings) -> PreparedAudio:
    """Every file decoded, trimmed and joined, clipped and normalised; 422s say why not."""
    if not files:
        raise InvalidRequest("a voice needs at least one reference file", param="audio_sample")
    if len(files) > settings.max_files:
        raise InvalidRequest(
            f"a voice takes at most {settings.max_files} reference files", param="audio_sample"
        )
    gap = np.zeros(int(GAP_SECONDS * SAMPLE_RATE), np.float32)
    parts: list[Float32] = []
    for i, data in enumerate(files):
        param = "audio_sample" if len(files) == 1 else f"audio_sample[{i}]"
        parts.extend([gap, _one(data, settings, param)] if parts else [_one(data, settings, param)])
    joined = np.concatenate(parts)[: int(settings.max_seconds * SAMPLE_RATE)]
    seconds = len(joined) / SAMPLE_RATE
    if seconds < settings.min_seconds:
        raise InvalidRequest(
            f"audio_sample: only {seconds:.1f} s of speech; a reference needs at least "
            f"{settings.min_seconds:g} s",
            param="audio_sample",
        )
    pcm = float_to_int16(_normalised(joined, settings.loudness_dbfs)).tobytes()
    wav = codecs.wav_header(SAMPLE_RATE, len(pcm)) + pcm
    return PreparedAudio(wav=wav, seconds=seconds, digest=hashlib.sha256(wav).hexdigest())


def _normalised(samples: Float32, target_dbfs: float) -> Float32:
    """RMS brought to ``target_dbfs``, unless that would lift the peak over ``PEAK_DBFS``."""
    rms = float(np.sqrt(np.mean(samples**2)))
    peak = float(np.max(np.abs(samples)))
    gain = min(10 ** ((target_dbfs - _db(rms)) / 20), 10 ** ((PEAK_DBFS - _db(peak)) / 20))
    out: Float32 = (samples * gain).astype(np.float32)
    return out
