"""TranscriptionJob: one validated transcription, decoded window by window off the event loop."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TypeVar, cast

from polyvox import codecs, subtitles
from polyvox.audio import Float32
from polyvox.engines.base import STTEngine
from polyvox.engines.pool import ModelPool
from polyvox.errors import (
    EngineFailure,
    InvalidRequest,
    PolyvoxError,
    RequestTooLarge,
    UnsupportedAudio,
)
from polyvox.jobs import run_blocking
from polyvox.languages import language_code
from polyvox.metrics import Metrics
from polyvox.scheduler import Scheduler, Ticket
from polyvox.types import (
    STT_SAMPLE_RATE,
    EngineInfo,
    Segment,
    TranscriptionInfo,
    TranscriptionParams,
    TranscriptionRequest,
    Word,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
GRANULARITIES = ("word", "segment")
STREAM_FORMATS = ("json", "text")


def check_request(info: EngineInfo, params: TranscriptionParams) -> str | None:
    """Validate the options against the model; returns the language code (or None)."""
    fmt = params.response_format
    if fmt not in subtitles.TRANSCRIPT_FORMATS:
        allowed = ", ".join(subtitles.TRANSCRIPT_FORMATS)
        raise InvalidRequest(f"response_format must be one of {allowed}", param="response_format")
    bad = [g for g in params.timestamp_granularities if g not in GRANULARITIES]
    if bad:
        raise InvalidRequest(
            f"timestamp_granularities may hold word and segment, not {bad[0]!r}",
            param="timestamp_granularities",
        )
    if params.timestamp_granularities and fmt != "verbose_json":
        raise InvalidRequest(
            "timestamp_granularities needs response_format=verbose_json",
            param="timestamp_granularities",
        )
    if params.stream and fmt not in STREAM_FORMATS:
        raise InvalidRequest(
            f"stream=true sends text events; response_format must be json or text, not {fmt}",
            param="stream",
        )
    if params.temperature is not None and not 0.0 <= params.temperature <= 1.0:
        raise InvalidRequest("temperature must be between 0 and 1", param="temperature")
    if params.task == "translate" and len(info.languages) <= 1:
        raise InvalidRequest(
            f"model {info.name!r} is English-only and cannot translate; "
            "configure a multilingual Whisper model (POLYVOX_WHISPER__MODEL) for translations",
            param="model",
        )
    return _language(info, params.language)


def _language(info: EngineInfo, language: str | None) -> str | None:
    if not language:
        return None
    code = language_code(language)
    if code not in info.languages:
        known = ", ".join(info.languages[:12]) + (", ..." if len(info.languages) > 12 else "")
        raise InvalidRequest(
            f"model {info.name!r} does not know the language {language!r}; it knows: {known}",
            param="language",
        )
    return code


def decode_upload(data: bytes, *, max_bytes: int, max_seconds: float) -> Float32:
    """An uploaded file -> 16 kHz mono float32; a bad or too-large file is a 4xx error."""
    if len(data) > max_bytes:
        raise RequestTooLarge(
            f"the file is {len(data)} bytes; the limit is {max_bytes}", param="file"
        )
    try:
        samples, _ = codecs.decode(data, sample_rate=STT_SAMPLE_RATE, max_seconds=max_seconds)
    except PolyvoxError:
        raise
    except Exception as exc:  # PyAV raises more than FFmpegError on hostile input
        raise UnsupportedAudio(f"could not decode the audio file: {exc}", param="file") from exc
    if len(samples) == 0:
        raise UnsupportedAudio("the file contains no audio samples", param="file")
    return samples


@dataclass
class Timeline:
    """Keeps segment and word times in [0, duration], ordered and never overlapping.

    Words stay inside their segment. Whisper's times can run past the end of the audio or
    step back a little between windows; clients should never see that.
    """

    duration: float
    _segment_end: float = 0.0
    _word_end: float = 0.0
    _next_id: int = 0

    @staticmethod
    def _span(start: float, end: float, floor: float, ceiling: float) -> tuple[float, float]:
        start = min(max(start, floor), ceiling)
        return start, min(max(end, start), ceiling)

    def _word(self, word: Word, segment_start: float, segment_end: float) -> Word:
        floor = max(self._word_end, segment_start)
        start, end = self._span(word.start, word.end, floor, segment_end)
        self._word_end = end
        return replace(word, start=start, end=end)

    def place(self, segment: Segment) -> Segment:
        """The segment renumbered from 0; it and its words in order, inside [0, duration]."""
        start, end = self._span(segment.start, segment.end, self._segment_end, self.duration)
        self._segment_end = end
        words = tuple(self._word(w, start, end) for w in segment.words)
        placed = replace(segment, id=self._next_id, start=start, end=end, words=words)
        self._next_id += 1
        return placed


@dataclass(frozen=True)
class Transcript:
    """A finished transcription."""

    info: TranscriptionInfo
    segments: tuple[Segment, ...]

    @property
    def text(self) -> str:
        """The whole transcript as one string."""
        return subtitles.full_text(self.segments)


@dataclass
class TranscriptionJob:
    """A validated request with its decoded audio; streams segments as they are decoded."""

    model: str
    pool: ModelPool
    request: TranscriptionRequest
    response_format: str
    scheduler: Scheduler
    metrics: Metrics
    granularities: tuple[str, ...] = ()
    info: TranscriptionInfo | None = None
    text_parts: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        """Seconds of audio to transcribe."""
        return len(self.request.audio) / STT_SAMPLE_RATE

    def _start(self, engine: STTEngine) -> tuple[Iterator[Segment], TranscriptionInfo]:
        return self._guard(lambda: engine.transcribe(self.request))

    def _guard(self, step: Callable[[], T]) -> T:
        try:
            return step()
        except PolyvoxError:
            raise
        except Exception as exc:
            log.exception("engine %s failed to transcribe", self.model)
            raise EngineFailure(f"model {self.model!r} failed to transcribe: {exc}") from exc

    async def segments(self) -> AsyncIterator[Segment]:
        """Segments in order; each 30 s window is decoded in a worker thread when asked for."""
        ticket = self.scheduler.admit()  # 429 here, while the response can still say so
        finished = False
        try:
            async with self.pool.lease(self.model) as engine:
                async for segment in self._decode(cast(STTEngine, engine), ticket):
                    yield segment
            finished = True
            self.metrics.transcribed_seconds.labels(self.model).inc(self.duration)
        finally:
            ticket.close()
            if not finished:
                self.metrics.cancelled.labels(self.model).inc()

    async def _decode(self, engine: STTEngine, ticket: Ticket) -> AsyncIterator[Segment]:
        async with ticket.turn():
            pending, self.info = await run_blocking(partial(self._start, engine))
        timeline = Timeline(self.duration)
        try:
            while True:
                async with ticket.turn():
                    found = await run_blocking(partial(self._guard, partial(next, pending, None)))
                if found is None:
                    return
                segment = timeline.place(found)
                self.metrics.segments.labels(self.model).inc()
                self.text_parts.append(segment.text)
                yield segment
        finally:
            close = getattr(pending, "close", None)
            if close is not None:
                close()

    async def result(self) -> Transcript:
        """Every segment, collected."""
        found = tuple([s async for s in self.segments()])
        assert self.info is not None
        return Transcript(self.info, found)

    async def render(self) -> str | subtitles.JsonBody:
        """The whole response body in ``response_format``."""
        transcript = await self.result()
        return subtitles.render(
            self.response_format, transcript.segments, language=transcript.info.language,
            duration=self.duration, task=self.request.task, granularities=self.granularities,
        )  # fmt: skip
