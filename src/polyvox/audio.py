"""PCM helpers on numpy arrays: conversion, silence and duration."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Float32 = npt.NDArray[np.float32]
Int16 = npt.NDArray[np.int16]

_INT16_MAX = 32767.0


def float_to_int16(samples: Float32) -> Int16:
    """Clip float PCM to [-1, 1] and scale it to signed 16-bit, rounding to the nearest
    step (so int16 -> float -> int16, as through a remote engine, gives the same samples)."""
    scaled: Float32 = np.rint(np.clip(samples, -1.0, 1.0) * _INT16_MAX)
    return scaled.astype(np.int16)


def int16_to_float(samples: Int16) -> Float32:
    """Scale signed 16-bit PCM to float32 in [-1, 1]."""
    return (samples.astype(np.float32) / _INT16_MAX).astype(np.float32)


def silence(seconds: float, sample_rate: int) -> Float32:
    """A run of zeros lasting ``seconds``."""
    return np.zeros(round(seconds * sample_rate), dtype=np.float32)


def duration(num_samples: int, sample_rate: int) -> float:
    """Seconds covered by ``num_samples`` at ``sample_rate``."""
    return num_samples / sample_rate
