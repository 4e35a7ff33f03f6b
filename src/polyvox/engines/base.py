"""The engine Protocols every TTS and STT plug-in implements."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from polyvox.types import (
    AudioChunk,
    EngineInfo,
    Segment,
    SpeechRequest,
    TranscriptionInfo,
    TranscriptionRequest,
    VoiceInfo,
)

__all__ = ["Engine", "EngineInfo", "ReleasesMemory", "STTEngine", "TTSEngine"]


@runtime_checkable
class Engine(Protocol):
    """What the model pool needs of any engine: capabilities, load and unload."""

    info: EngineInfo

    def load(self) -> None:
        """Import heavy libraries and load weights; called once, off the event loop."""
        ...

    def unload(self) -> None:
        """Drop weights so their memory can be reclaimed; load() may be called again."""
        ...


@runtime_checkable
class ReleasesMemory(Protocol):
    """An engine that keeps scratch memory between calls for speed and can give it back."""

    def release_memory(self) -> None:
        """Give kept scratch memory back; called off the event loop when the model goes idle."""
        ...


@runtime_checkable
class TTSEngine(Engine, Protocol):
    """A text-to-speech engine: voices and float32 audio chunks."""

    def voices(self) -> list[VoiceInfo]:
        """Every voice this model offers (cheap: no weights are loaded)."""
        ...

    @property
    def default_voice(self) -> str:
        """The voice used when a request names none."""
        ...

    def synthesize(self, req: SpeechRequest) -> Iterator[AudioChunk]:
        """Speak ``req.text``; yields mono float32 chunks as they are ready."""
        ...


@runtime_checkable
class STTEngine(Engine, Protocol):
    """A speech-to-text engine: 16 kHz mono float32 audio in, timed text segments out."""

    def transcribe(self, req: TranscriptionRequest) -> tuple[Iterator[Segment], TranscriptionInfo]:
        """Start transcribing ``req.audio``; segments are decoded lazily as they are iterated."""
        ...
