"""SpeechJob: one prepared synthesis, streamed chunk by chunk as encoded audio."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import TypeVar

from polyvox import codecs
from polyvox.cpu import threads_for
from polyvox.engines.base import TTSEngine
from polyvox.engines.pool import ModelPool
from polyvox.errors import EngineFailure, PolyvoxError, RequestTimeout
from polyvox.logs import with_request_id
from polyvox.metrics import Metrics
from polyvox.scheduler import Scheduler, Ticket
from polyvox.text import TextChunk
from polyvox.types import AudioChunk, SpeechRequest

log = logging.getLogger(__name__)
T = TypeVar("T")
_DONE = object()


async def run_blocking(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a worker thread; if cancelled, wait for the thread before re-raising.

    Waiting keeps the accounting honest: a slot is released only when its work has stopped.
    The thread runs in a copy of the caller's context, so its log lines and errors carry
    the request id.
    """
    context = contextvars.copy_context()
    future = asyncio.get_running_loop().run_in_executor(None, context.run, fn)
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
        scheduler: Scheduler,
        metrics: Metrics,
        timeout: float,
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
        self._scheduler = scheduler
        self._metrics = metrics
        self._timeout = timeout

    @property
    def characters(self) -> int:
        """Characters of input text that will be spoken."""
        return sum(len(c.text) for c in self.chunks)

    def _synthesize(self, engine: TTSEngine, chunk: TextChunk, threads: int) -> list[AudioChunk]:
        started = time.perf_counter()
        request = replace(self.request, text=chunk.text, threads=threads)
        try:
            audio = list(engine.synthesize(request))
        except PolyvoxError:
            raise
        except Exception as exc:
            log.exception("engine %s failed on a chunk", self.model)
            message = with_request_id(f"model {self.model!r} failed to synthesise")
            raise EngineFailure(message) from exc
        seconds = sum(a.duration for a in audio)
        if seconds:
            rtf = (time.perf_counter() - started) / seconds
            self._metrics.real_time_factor.labels(self.model).observe(rtf)
        return audio

    async def _produce(
        self, engine: TTSEngine, ticket: Ticket, queue: asyncio.Queue[object]
    ) -> None:
        try:
            for chunk in self.chunks:
                async with ticket.turn() as turn:
                    threads = threads_for(turn.slots, self._scheduler.slots)
                    work = partial(self._synthesize, engine, chunk, threads)
                    audio = await run_blocking(work)
                self._metrics.chunks.labels(self.model).inc()
                await queue.put(audio)
            await queue.put(_DONE)
        except Exception as exc:
            await queue.put(exc)

    async def audio(self) -> AsyncIterator[AudioChunk]:
        """Float32 audio chunks; the next text chunk is synthesised while this one is used."""
        ticket = self._scheduler.admit()  # 429 here, while the response can still say so
        finished = False
        try:
            async with self._pool.lease(self.model) as engine:
                assert isinstance(engine, TTSEngine)  # prepare() checked the model's kind
                async for audio in self._consume(engine, ticket):
                    yield audio
            finished = True
        finally:
            ticket.close()
            if not finished:
                self._metrics.cancelled.labels(self.model).inc()

    async def _next(self, queue: asyncio.Queue[object], deadline: float) -> object:
        try:
            return await asyncio.wait_for(queue.get(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise RequestTimeout(f"synthesis took longer than {self._timeout:g}s") from None

    async def _consume(self, engine: TTSEngine, ticket: Ticket) -> AsyncIterator[AudioChunk]:
        started = time.monotonic()
        deadline = started + self._timeout
        queue: asyncio.Queue[object] = asyncio.Queue(maxsize=1)
        producer = asyncio.create_task(self._produce(engine, ticket, queue))
        try:
            while (item := await self._next(queue, deadline)) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                for audio in item:  # type: ignore[attr-defined]
                    if not self.audio_seconds:
                        waited = time.monotonic() - started
                        self._metrics.first_audio_seconds.labels(self.model).observe(waited)
                    self.audio_seconds += audio.duration
                    self._metrics.audio_seconds.labels(self.model).inc(audio.duration)
                    yield audio
            self._metrics.characters.labels(self.model).inc(self.characters)
        finally:
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
