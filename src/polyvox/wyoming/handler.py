"""One Wyoming connection: describe, synthesize (whole or streamed text) and transcribe.

Work runs in a task of its own so the connection keeps reading: streamed text arrives
while earlier sentences are being spoken, and a client that goes away is noticed at once
(its task is cancelled, which closes the job: the engine stops within one chunk and the
slot is free). Requests on one connection run one after another. Every request goes
through the same SpeechService as HTTP: validation errors become ``error`` events,
admission and fair scheduling apply, and metrics count them under ``wyoming/...`` routes.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
import wave
from collections.abc import AsyncIterator, Awaitable, Callable

from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.server import AsyncEventHandler
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
)

from polyvox.errors import EngineFailure, PolyvoxError, RequestTooLarge
from polyvox.service import SpeechService
from polyvox.types import STT_SAMPLE_RATE, SpeechParams, TranscriptionParams
from polyvox.wyoming import describe

log = logging.getLogger(__name__)
CHUNK_BYTES = 2048 * 2
"""Audio per ``audio-chunk`` event (2048 16-bit samples, as wyoming-piper sends 1024)."""
Work = Callable[[], Awaitable[None]]


class PolyvoxHandler(AsyncEventHandler):
    """Wyoming events of one client, answered by the speech service."""

    def __init__(
        self, service: SpeechService, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super().__init__(reader, writer)
        self.service = service
        self._task: asyncio.Task[None] | None = None
        self._text: asyncio.Queue[str | None] | None = None
        self._transcribe = Transcribe()
        self._audio: bytearray | None = None
        self._converter = AudioChunkConverter(rate=STT_SAMPLE_RATE, width=2, channels=1)

    # -- events --------------------------------------------------------------------------
    async def handle_event(self, event: Event) -> bool:
        """Answer one event; work that takes time runs in the connection's task."""
        if Describe.is_type(event.type):
            await self.write_event((await describe.info(self.service)).event())
        elif SynthesizeStart.is_type(event.type):
            start = SynthesizeStart.from_event(event)
            queue: asyncio.Queue[str | None] = asyncio.Queue()
            self._text = queue
            self._run(lambda: self._speak(start.voice, None, queue))
        elif SynthesizeChunk.is_type(event.type):
            if self._text is not None:
                self._text.put_nowait(SynthesizeChunk.from_event(event).text)
        elif SynthesizeStop.is_type(event.type):
            if self._text is not None:
                self._text.put_nowait(None)
                self._text = None
        elif Synthesize.is_type(event.type):
            if self._text is None:  # within a stream it only repeats the text (compatibility)
                synthesize = Synthesize.from_event(event)
                self._run(lambda: self._speak(synthesize.voice, synthesize.text, None))
        else:
            self._audio_event(event)
        return True

    def _audio_event(self, event: Event) -> None:
        if Transcribe.is_type(event.type):
            self._transcribe = Transcribe.from_event(event)
        elif AudioStart.is_type(event.type):
            self._audio = bytearray()
        elif AudioChunk.is_type(event.type) and self._audio is not None:
            chunk = self._converter.convert(AudioChunk.from_event(event))
            self._audio += chunk.audio
            if len(self._audio) > self.service.settings.max_upload_bytes:
                self._audio = None
                self._run(self._too_long)
        elif AudioStop.is_type(event.type) and self._audio is not None:
            audio, self._audio = bytes(self._audio), None
            request = self._transcribe
            self._run(lambda: self._transcribed(request, audio))

    def _run(self, work: Work) -> None:
        """Start ``work`` after the connection's earlier work."""
        previous = self._task

        async def after() -> None:
            if previous is not None:
                await asyncio.shield(previous)
            await work()

        self._task = asyncio.create_task(after())

    async def disconnect(self) -> None:
        """The client went away: stop what it asked for (the job closes, the slot frees)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    # -- synthesis -------------------------------------------------------------------------
    async def _speak(
        self, voice: object, text: str | None, stream: asyncio.Queue[str | None] | None
    ) -> None:
        route = "wyoming/synthesize" if stream is None else "wyoming/synthesize-stream"
        started, model, status = time.perf_counter(), "", 200
        try:
            model, name = describe.resolve(self.service, voice)  # type: ignore[arg-type]
            params = SpeechParams(
                model=model, input=text or "", voice=name, response_format="pcm",
                sample_rate=describe.native_rate(self.service, model, name),
            )  # fmt: skip
            if stream is None:
                job = await self.service.prepare(params, describe.CALLER)
            else:
                job = await self.service.prepare_stream(params, _deltas(stream), describe.CALLER)
            model = job.model
            await self.write_event(AudioStart(rate=job.out_rate, width=2, channels=1).event())
            async for data in job.stream():
                for at in range(0, len(data), CHUNK_BYTES):
                    piece = data[at : at + CHUNK_BYTES]
                    await self.write_event(
                        AudioChunk(audio=piece, rate=job.out_rate, width=2, channels=1).event()
                    )
            await self.write_event(AudioStop().event())
            if stream is not None:
                await self.write_event(SynthesizeStopped().event())
        except PolyvoxError as exc:
            status = exc.status_code
            await self._error(exc)
        except (ConnectionError, asyncio.CancelledError):
            status = 499
            raise
        except Exception:
            log.exception("wyoming: synthesis failed")
            status = 500
            await self._error(EngineFailure("synthesis failed"))
        finally:
            self._observe(route, model, status, started)

    # -- transcription ---------------------------------------------------------------------
    async def _transcribed(self, request: Transcribe, pcm: bytes) -> None:
        started, status = time.perf_counter(), 200
        model = request.name or self.service.settings.default_stt_model
        try:
            params = TranscriptionParams(model, _wav(pcm), language=request.language)
            job = await self.service.transcribe(params)
            model = job.model
            await self.write_event(TranscriptStart(language=request.language).event())
            parts = []
            async for segment in job.segments():
                parts.append(segment.text.strip())
                await self.write_event(TranscriptChunk(text=segment.text).event())
            await self.write_event(TranscriptStop().event())
            language = job.info.language if job.info is not None else request.language
            await self.write_event(Transcript(" ".join(parts), language=language).event())
        except PolyvoxError as exc:
            status = exc.status_code
            await self._error(exc)
        except (ConnectionError, asyncio.CancelledError):
            status = 499
            raise
        finally:
            self._observe("wyoming/transcribe", model, status, started)

    async def _too_long(self) -> None:
        limit = self.service.settings.max_upload_bytes
        await self._error(RequestTooLarge(f"the audio is over {limit} bytes", param="audio"))

    # -- helpers ---------------------------------------------------------------------------
    async def _error(self, exc: PolyvoxError) -> None:
        self.service.metrics.errors.labels(exc.code).inc()
        await self.write_event(Error(text=exc.message, code=exc.code).event())

    def _observe(self, route: str, model: str, status: int, started: float) -> None:
        metrics = self.service.metrics
        metrics.requests.labels(route, model, str(status)).inc()
        metrics.request_seconds.labels(route, model).observe(time.perf_counter() - started)


async def _deltas(queue: asyncio.Queue[str | None]) -> AsyncIterator[str]:
    while (text := await queue.get()) is not None:
        yield text


def _wav(pcm: bytes) -> bytes:
    """16 kHz mono 16-bit PCM as a WAV file (what the transcription service reads)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(STT_SAMPLE_RATE)
        w.writeframes(pcm)
    return out.getvalue()
