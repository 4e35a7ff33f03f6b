"""polyvox: one self-hosted speech server for many open voice models."""

from polyvox.service import SpeechService
from polyvox.settings import Settings
from polyvox.types import AudioChunk, EngineInfo, SpeechParams, SpeechRequest, VoiceInfo

__version__ = "0.1.0"
__all__ = [
    "AudioChunk",
    "EngineInfo",
    "Settings",
    "SpeechParams",
    "SpeechRequest",
    "SpeechService",
    "VoiceInfo",
    "__version__",
]
