"""Blocking engines behind the asynchronous contract: every blocking step in a worker thread.

Each ``next()`` of a blocking engine's iterator runs in a thread and its result is handed
on at once, so a chunk the engine yields reaches the client while the engine works on the
next. An unexpected exception becomes EngineFailure with the request id; the exception
itself stays in the log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from functools import partial
from typing import TypeVar

from pydantic import BaseModel

from polyvox.engines.base import (
    BlockingEngine,
    BlockingForgets,
    BlockingSTT,
    BlockingTask,
    BlockingTTS,
    ComposesVoices,
    CountsEvents,
    ReleasesMemory,
)
from polyvox.errors import EngineFailure, PolyvoxError
from polyvox.logs import with_request_id
from polyvox.threads import run_blocking
from polyvox.types import (
    AudioChunk,
    Segment,
    SpeechRequest,
    TranscriptionInfo,
    TranscriptionRequest,
    VoiceInfo,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
_END = object()


def guarded(model: str, action: str, step: Callable[[], T]) -> T:
    """``step()``, with an unexpected failure logged and turned into EngineFailure."""
    try:
        return step()
    except PolyvoxError:
        raise
    except Exception as exc:
        log.exception("model %s failed to %s", model, action)
        raise EngineFailure(with_request_id(f"model {model!r} failed to {action}")) from exc


async def stream(model: str, action: str, items: Iterator[T]) -> AsyncGenerator[T, None]:
    """The items of a blocking iterator, each produced in a worker thread."""
    step = partial(guarded, model, action, partial(next, items, _END))
    try:
        while (item := await run_blocking(step, "engine")) is not _END:
            yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:  # off the event loop: a close may wait out the engine's step
            await run_blocking(close, "engine")


class _Threaded:
    """What both adapters share: info, load/unload in threads, memory release."""

    def __init__(self, engine: BlockingEngine) -> None:
        self.blocking = engine
        self.info = engine.info

    async def load(self) -> None:
        """Load the weights in a worker thread."""
        await run_blocking(self.blocking.load, "engine")

    async def unload(self) -> None:
        """Drop the weights in a worker thread."""
        await run_blocking(self.blocking.unload, "engine")

    @property
    def events(self) -> Mapping[str, int]:
        """The engine's own event counts (none for engines that keep none)."""
        return self.blocking.events if isinstance(self.blocking, CountsEvents) else {}

    async def forget_reference(self, digest: str) -> None:
        """Pass the call on, in a worker thread, to engines that build from references."""
        if isinstance(self.blocking, BlockingForgets):
            await run_blocking(partial(self.blocking.forget_reference, digest), "engine")

    def release_memory(self) -> None:
        """Pass the call on to engines that keep scratch memory (no-op otherwise)."""
        if isinstance(self.blocking, ReleasesMemory):
            self.blocking.release_memory()


class ThreadedTTS(_Threaded):
    """A blocking TTS engine as an asynchronous, streaming one."""

    def __init__(self, engine: BlockingTTS) -> None:
        super().__init__(engine)
        self._tts = engine

    def voices(self) -> list[VoiceInfo]:
        """The engine's voices."""
        return self._tts.voices()

    @property
    def default_voice(self) -> str:
        """The engine's default voice."""
        return self._tts.default_voice

    def compose_voice(self, name: str) -> VoiceInfo | None:
        """The engine's voice made of its voices (a blend), if it makes such voices."""
        if isinstance(self._tts, ComposesVoices):
            return self._tts.compose_voice(name)
        return None

    def synthesize(self, req: SpeechRequest) -> AsyncGenerator[AudioChunk, None]:
        """Each chunk as soon as the engine yields it."""
        items = guarded(self.info.model, "synthesise", partial(self._tts.synthesize, req))
        return stream(self.info.model, "synthesise", items)


class ThreadedSTT(_Threaded):
    """A blocking STT engine as an asynchronous one."""

    def __init__(self, engine: BlockingSTT) -> None:
        super().__init__(engine)
        self._stt = engine

    async def transcribe(
        self, req: TranscriptionRequest
    ) -> tuple[AsyncIterator[Segment], TranscriptionInfo]:
        """Start in a worker thread; each segment (one window's work) in a thread too."""
        start = partial(guarded, self.info.model, "transcribe", partial(self._stt.transcribe, req))
        segments, info = await run_blocking(start, "engine")
        return stream(self.info.model, "transcribe", segments), info


class ThreadedTask(_Threaded):
    """A blocking engine of a task beyond speech as an asynchronous one."""

    def __init__(self, engine: BlockingTask) -> None:
        super().__init__(engine)
        self._task = engine

    def run(self, request: BaseModel) -> AsyncGenerator[object, None]:
        """Each result as soon as the engine yields it."""
        items = guarded(self.info.model, "run", partial(self._task.run, request))
        return stream(self.info.model, "run", items)
