"""SpeechJob: one prepared synthesis, streamed as encoded audio while its text is spoken.

Audio an engine yields reaches the client at once, also inside one engine call: the
producer hands every chunk to the consumer as it comes. The producer works at most one
engine call ahead of what the client has taken, so memory stays bounded by a call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, replace
from functools import partial

from polyvox import codecs
from polyvox.admission import admitted
from polyvox.cpu import threads_for
from polyvox.engines.base import Engine, TTSEngine
from polyvox.engines.pool import ModelPool
from polyvox.errors import RequestTimeout
from polyvox.metrics import Metrics
from polyvox.pieces import Pieces, budget
from polyvox.scheduler import Scheduler, Ticket
from polyvox.text import TextChunk
from polyvox.threads import run_blocking
from polyvox.types import AudioChunk, SpeechRequest

log = logging.getLogger(__name__)
_DONE = object()
AHEAD_SECONDS = 1.0
"""Audio the client must hold beyond real time before engine calls grow. Calls grow as
well when the client's audio has run out (an engine slower than real time): a pause is
coming either way, and fewer, larger calls end the text sooner."""


@dataclass(frozen=True)
class Output:
    """How a job's audio is encoded: format and sample rates."""

    response_format: str
    in_rate: int
    out_rate: int


class SpeechJob:
    """A validated request: its engine, voice, text and output encoding."""

    def __init__(
        self,
        *,
        model: str,
        pool: ModelPool,
        request: SpeechRequest,
        pieces: Pieces,
        output: Output,
        scheduler: Scheduler,
        metrics: Metrics,
        timeout: float,
        grow_chars: int,
        splits_text: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.model = model
        self.headers = headers or {}
        """Response headers that describe the job (a reference's transcript, say)."""
        self.request = request
        self.pieces = pieces
        self.response_format = output.response_format
        self.media_type = codecs.media_type(output.response_format)
        self.in_rate = output.in_rate
        self.out_rate = output.out_rate
        self.audio_seconds = 0.0
        self.calls = 0
        self._pool = pool
        self._scheduler = scheduler
        self._metrics = metrics
        self._timeout = timeout
        self._grow_chars = grow_chars
        self._splits_text = splits_text
        self._behind = False
        """The client's audio ran out before this call (see ``_limit``)."""
        self._started = time.monotonic()

    @property
    def characters(self) -> int:
        """Characters of input text spoken so far (all of them once the audio has ended)."""
        return self.pieces.characters

    def usage(self) -> dict[str, int | float]:
        """The usage record every transport ends a stream with (OpenAI's field names)."""
        return {
            "input_tokens": self.characters,
            "output_tokens": 0,
            "total_tokens": self.characters,
            "audio_seconds": round(self.audio_seconds, 3),
        }

    def _limit(self) -> int:
        """Characters the next engine call may take (see polyvox.pieces)."""
        if self._splits_text:
            return self._grow_chars
        lead = self.audio_seconds - (time.monotonic() - self._started)
        alone = self._scheduler.active == 1
        grow = alone and not 0 <= lead <= AHEAD_SECONDS
        self._behind = grow and lead < 0 and self.calls > 0
        return budget(self.calls, self._grow_chars, grow=grow, behind=self._behind)

    async def _call(
        self, engine: TTSEngine, chunk: TextChunk, threads: int, queue: asyncio.Queue[object]
    ) -> None:
        """One engine call; each audio chunk is queued for the client as it is yielded."""
        started = time.perf_counter()
        seconds = 0.0
        request = replace(
            self.request, text=chunk.text, threads=threads, early_audio=not self._behind
        )
        # closed at once when the job is cancelled, so a remote request ends with it
        async with contextlib.aclosing(engine.synthesize(request)) as chunks:
            async for audio in chunks:
                seconds += audio.duration
                queue.put_nowait(audio)
        self.calls += 1
        self._metrics.chunks.labels(self.model).inc()
        if seconds:
            rtf = (time.perf_counter() - started) / seconds
            self._metrics.observe_rtf(self.model, rtf)

    async def _produce(
        self, engine: TTSEngine, ticket: Ticket, queue: asyncio.Queue[object]
    ) -> None:
        try:
            while (chunk := await self._next_text(ticket)) is not None:
                async with ticket.turn() as turn:
                    threads = threads_for(turn.share, self._scheduler.slots)
                    await self._call(engine, chunk, threads, queue)
                await queue.join()  # at most one call ahead of the client
            queue.put_nowait(_DONE)
        except Exception as exc:
            queue.put_nowait(exc)
        finally:
            await self.pieces.close()

    async def _next_text(self, ticket: Ticket) -> TextChunk | None:
        """The next call's text; while the client has not sent it yet, the job is parked:
        a stream holds a model's place only while it has something to speak."""
        limit = self._limit()
        if not self.pieces.waiting:
            return await self.pieces.next(limit)
        ticket.park()
        try:
            return await self.pieces.next(limit)
        finally:
            ticket.unpark()

    def audio(self) -> AsyncGenerator[AudioChunk, None]:
        """Float32 audio chunks as the engine yields them (admission on the first one)."""
        return admitted(
            self.model,
            self._scheduler,
            self._pool,
            self._metrics,
            self._consume,
            on_finish=lambda: self._metrics.characters.labels(self.model).inc(self.characters),
        )

    async def _next(self, queue: asyncio.Queue[object], deadline: float) -> object:
        try:
            # not wait_for: on Python 3.11 it swallows a cancellation (a hang-up) that
            # arrives as an item does
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                item = await queue.get()
        except TimeoutError:
            raise RequestTimeout(f"synthesis took longer than {self._timeout:g}s") from None
        queue.task_done()
        return item

    async def _consume(self, engine: Engine, ticket: Ticket) -> AsyncGenerator[AudioChunk, None]:
        assert isinstance(engine, TTSEngine)  # prepare() checked the model's kind
        self._started = time.monotonic()
        deadline = self._started + self._timeout
        queue: asyncio.Queue[object] = asyncio.Queue()
        producer = asyncio.create_task(self._produce(engine, ticket, queue))
        try:
            while (item := await self._next(queue, deadline)) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, AudioChunk)
                if not self.audio_seconds:
                    waited = time.monotonic() - self._started
                    self._metrics.first_audio_seconds.labels(self.model).observe(waited)
                self.audio_seconds += item.duration
                self._metrics.audio_seconds.labels(self.model).inc(item.duration)
                yield item
        finally:
            producer.cancel()
            # Waited for through asyncio.wait, which does not pass cancellations on: a
            # request whose client left is cancelled again and again by the server's
            # cancel scope, and ``await producer`` would forward each one into the
            # producer's own clean-up (a remote engine's request would stay open).
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({producer})

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """Encoded bytes of ``response_format``, ready to send as they come."""
        encoder = codecs.create_encoder(self.response_format, self.in_rate, self.out_rate)
        async with contextlib.aclosing(self.audio()) as chunks:
            async for audio in chunks:
                data = await run_blocking(partial(encoder.encode, audio.samples), "codec")
                if data:
                    yield data
        tail = await run_blocking(encoder.finish, "codec")
        if tail:
            yield tail

    async def collect(self) -> bytes:
        """The whole stream as one file; a WAV gets its real sizes in the header."""
        data = b"".join([part async for part in self.stream()])
        return codecs.with_wav_sizes(data, self.out_rate) if self.response_format == "wav" else data
