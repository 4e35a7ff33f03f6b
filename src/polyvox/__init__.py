"""polyvox: one self-hosted speech server for many open voice models."""

from polyvox.service import SpeechService
from polyvox.settings import Settings
from polyvox.types import (
    AudioChunk,
    EngineInfo,
    Segment,
    SpeechParams,
    SpeechRequest,
    TranscriptionInfo,
    TranscriptionParams,
    VoiceInfo,
    Word,
)
from polyvox.version import __version__

__all__ = [
    "AudioChunk",
    "EngineInfo",
    "Segment",
    "Settings",
    "SpeechParams",
    "SpeechRequest",
    "SpeechService",
    "TranscriptionInfo",
    "TranscriptionParams",
    "VoiceInfo",
    "Word",
    "__version__",
]
