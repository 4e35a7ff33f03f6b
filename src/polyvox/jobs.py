"""SpeechJob: one prepared synthesis, streamed chunk by chunk as encoded audio."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TypeVar

from polyvox import codecs
from polyvox.engines.base import TTSEngine
from polyvox.engines.pool import ModelPool
from polyvox.errors import EngineFailure, PolyvoxError
from polyvox.text import TextChunk
from polyvox.types import AudioChunk, SpeechRequest

log = logging.getLogger(__name__)
T = TypeVar("T")
_DONE = object()


@dataclass
class SpeechStats:
    """Counters a service keeps across jobs (the metrics layer reads them)."""

    jobs: int = 0
    chunks_synthesized: int = 0
    audio_seconds: float = 0.0
    cancelled: int = 0


async def run_blocking(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a worker thread; if cancelled, wait for the thread before re-raising.

    Waiting keeps the accounting honest: a slot is released only when its work has stopped.
    """
    future = asyncio.get_running_loop().run_in_executor(None, fn)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise


class SpeechJob:
    """A validated request: its engine, voice, text chunks and output encoding."""

    def __init__(
        self,
        *,
        model: str,
        pool: ModelPool,
        request: SpeechRequest,
        chunks: Sequence[TextChunk],
        response_format: str,
        in_rate: int,
        out_rate: int,
        slots: asyncio.Semaphore,
        stats: SpeechStats,
    ) -> None:
        self.model = model
        self.request = request
        self.chunks = chunks
        self.response_format = response_format
        self.media_type = codecs.media_type(response_format)
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.audio_seconds = 0.0
        self._pool = pool
        self._slots = slots
        self._stats = stats

    @property
    def characters(self) -> int:
        """Characters of input text that will be spoken."""
        return sum(len(c.text) for c in self.chunks)

    def _synthesize(self, engine: TTSEngine, chunk: TextChunk) -> list[AudioChunk]:
        try:
            return list(engine.synthesize(replace(self.request, text=chunk.text)))
        except PolyvoxError:
            raise
        except Exception as exc:
            log.exception("engine %s failed on a chunk", self.model)
            raise EngineFailure(f"model {self.model!r} failed to synthesise: {exc}") from exc

    async def _produce(self, engine: TTSEngine, queue: asyncio.Queue[object]) -> None:
        try:
            for chunk in self.chunks:
                async with self._slots:
                    audio = await run_blocking(partial(self._synthesize, engine, chunk))
                self._stats.chunks_synthesized += 1
                await queue.put(audio)
            await queue.put(_DONE)
        except Exception as exc:
            await queue.put(exc)

    async def audio(self) -> AsyncIterator[AudioChunk]:
        """Float32 audio chunks; the next text chunk is synthesised while this one is used."""
        self._stats.jobs += 1
        queue: asyncio.Queue[object] = asyncio.Queue(maxsize=1)
        finished = False
        async with self._pool.lease(self.model) as engine:
            producer = asyncio.create_task(self._produce(engine, queue))  # type: ignore[arg-type]
            try:
                while (item := await queue.get()) is not _DONE:
                    if isinstance(item, BaseException):
                        raise item
                    for audio in item:  # type: ignore[attr-defined]
                        self.audio_seconds += audio.duration
                        self._stats.audio_seconds += audio.duration
                        yield audio
                finished = True
            finally:
                if not finished:
                    self._stats.cancelled += 1
                producer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await producer

    async def stream(self) -> AsyncIterator[bytes]:
        """Encoded bytes of ``response_format``, ready to send as they come."""
        encoder = codecs.create_encoder(self.response_format, self.in_rate, self.out_rate)
        async for audio in self.audio():
            data = await run_blocking(partial(encoder.encode, audio.samples))
            if data:
                yield data
        tail = await run_blocking(encoder.finish)
        if tail:
            yield tail

    async def collect(self) -> bytes:
        """The whole stream as one file; a WAV gets its real sizes in the header."""
        data = b"".join([part async for part in self.stream()])
        if self.response_format == "wav" and len(data) >= 44:
            data = codecs.wav_header(self.out_rate, len(data) - 44) + data[44:]
        return data
