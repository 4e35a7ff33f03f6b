"""TranscriptionJob: one admitted transcription, decoded and transcribed block by block.

The upload stays compressed until the job is admitted; then it is decoded one bounded
block at a time (``POLYVOX_STT_BLOCK_SECONDS``), each block transcribed window by window
off the event loop, so memory per job does not grow with the length of the audio.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TypeVar

from polyvox import subtitles
from polyvox.admission import admitted
from polyvox.decoding import Block, BlockDecoder
from polyvox.engines.base import Engine, STTEngine
from polyvox.engines.pool import ModelPool
from polyvox.metrics import Metrics
from polyvox.scheduler import Scheduler, Ticket
from polyvox.threads import run_blocking
from polyvox.transcription import Timeline, Transcript, shifted
from polyvox.types import STT_SAMPLE_RATE, Segment, TranscriptionInfo, TranscriptionRequest

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Source:
    """An uploaded file, probed but not decoded, and how to decode it."""

    data: bytes
    declared_seconds: float | None
    block_seconds: float
    max_seconds: float

    def decoder(self) -> BlockDecoder:
        """A fresh block decoder at the STT sample rate."""
        return BlockDecoder(
            self.data,
            rate=STT_SAMPLE_RATE,
            block_seconds=self.block_seconds,
            max_seconds=self.max_seconds,
        )


@dataclass
class TranscriptionJob:
    """A validated request with its (still compressed) audio; streams segments as decoded."""

    model: str
    pool: ModelPool
    request: TranscriptionRequest
    """Every option of the engine call; its ``audio`` is filled in block by block."""
    source: Source
    response_format: str
    scheduler: Scheduler
    metrics: Metrics
    granularities: tuple[str, ...] = ()
    info: TranscriptionInfo | None = None
    duration: float = 0.0
    """Seconds of audio decoded so far (all of it once the segments are exhausted)."""
    text_parts: list[str] = field(default_factory=list)

    def segments(self) -> AsyncGenerator[Segment, None]:
        """Segments in order; admission comes first, decoding only once admitted."""
        return admitted(
            self.model,
            self.scheduler,
            self.pool,
            self.metrics,
            self._blocks,
            on_finish=lambda: self.metrics.transcribed_seconds.labels(self.model).inc(
                self.duration
            ),
        )

    async def _blocks(self, engine: Engine, ticket: Ticket) -> AsyncGenerator[Segment, None]:
        assert isinstance(engine, STTEngine)  # transcribe() checked the model's kind
        async with ticket.turn():
            decoder = await run_blocking(self.source.decoder, "codec")
        timeline = Timeline()
        try:
            while True:
                async with ticket.turn():
                    block = await run_blocking(partial(next, decoder, None), "codec")
                if block is None:
                    return
                self.duration = block.end
                async with contextlib.aclosing(
                    self._block(engine, ticket, block, timeline)
                ) as found:
                    async for segment in found:
                        yield segment
        finally:
            decoder.close()

    def _block_request(self, block: Block) -> TranscriptionRequest:
        """The engine call for one block; later blocks keep the language of the first."""
        language = self.request.language or (self.info.language if self.info else None)
        declared = self.source.declared_seconds
        return replace(
            self.request,
            audio=block.samples,
            language=language,
            source_seconds=max(declared or 0.0, block.end),
        )

    async def _block(
        self, engine: STTEngine, ticket: Ticket, block: Block, timeline: Timeline
    ) -> AsyncGenerator[Segment, None]:
        async with ticket.turn():
            pending, info = await engine.transcribe(self._block_request(block))
        if self.info is None:
            self.info = info
        try:
            async for segment in _turn_by_turn(pending, ticket):
                placed = timeline.place(shifted(segment, block.start), ceiling=block.end)
                self.metrics.segments.labels(self.model).inc()
                self.text_parts.append(placed.text)
                yield placed
        finally:
            aclose = getattr(pending, "aclose", None)
            if aclose is not None:
                await aclose()

    async def result(self) -> Transcript:
        """Every segment, collected; the info's duration is the whole file's."""
        found = tuple([s async for s in self.segments()])
        info = self.info or TranscriptionInfo(language=self.request.language or "", duration=0.0)
        return Transcript(replace(info, duration=self.duration), found)

    async def render(self) -> str | subtitles.JsonBody:
        """The whole response body in ``response_format``."""
        transcript = await self.result()
        return subtitles.render(
            self.response_format,
            transcript.segments,
            language=transcript.info.language,
            duration=self.duration,
            task=self.request.task,
            granularities=self.granularities,
        )


async def _turn_by_turn(segments: AsyncIterator[Segment], ticket: Ticket) -> AsyncIterator[Segment]:
    """The engine's segments, each window decoded during a turn of the model's slots."""
    while True:
        async with ticket.turn():
            found = await anext(segments, None)
        if found is None:
            return
        yield found
