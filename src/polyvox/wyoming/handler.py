"""One Wyoming connection: describe, synthesize (whole or streamed text) and transcribe.

Work runs in a task of its own so the connection keeps reading: streamed text arrives
while earlier sentences are being spoken, and a client that goes away is noticed at once
(its task is cancelled, which closes the job: the engine stops within one chunk and the
slot is free). Requests on one connection run one after another. Every request goes
through the same SpeechService as HTTP: admission and fair scheduling apply, and metrics
count them under ``wyoming/...`` routes. A failed request is answered as wyoming-piper
answers one: the exchange is finished (``audio-stop``, ``synthesize-stopped``), an
``error`` event follows, and the connection closes, so Home Assistant, which waits for the
end of the exchange and ignores ``error``, reports the failure at once.
"""

from __future__ import annotations

import asyncio
import contextlib
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

from polyvox.errors import EngineFailure, InvalidRequest, PolyvoxError, RequestTooLarge
from polyvox.jobs import SpeechJob
from polyvox.service import SpeechService
from polyvox.types import STT_SAMPLE_RATE, SpeechParams, TranscriptionParams
from polyvox.wyoming import describe

log = logging.getLogger(__name__)
CHUNK_BYTES = 2048 * 2
"""Audio per ``audio-chunk`` event (2048 16-bit samples, as wyoming-piper sends 1024)."""
WRITE_TIMEOUT = 30.0
"""Seconds one event may take to send: a client that stops reading (a half-open
connection) gives its slot back after this, not when the kernel gives up on it."""
Work = Callable[[], Awaitable[None]]


class PolyvoxHandler(AsyncEventHandler):
    """Wyoming events of one client, answered by the speech service."""

    def __init__(
        self, service: SpeechService, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super().__init__(reader, writer)
        self.service = service
        self._tasks: list[asyncio.Task[None]] = []
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
            if self._text is not None:  # a new stream ends the one before
                self._text.put_nowait(None)
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
        """Start ``work`` after the connection's earlier work, whatever became of it."""
        self._tasks = [t for t in self._tasks if not t.done()]
        previous = self._tasks[-1] if self._tasks else None

        async def after() -> None:
            if previous is not None:
                await asyncio.wait({previous})  # neither its error nor a cancel passes on
            await work()

        self._tasks.append(asyncio.create_task(after()))

    async def run(self) -> None:
        """Read events until the client leaves; a reset connection is a client leaving."""
        with contextlib.suppress(ConnectionError):
            await super().run()

    async def write_event(self, event: Event) -> None:
        """Send one event, within ``WRITE_TIMEOUT``; a closed connection is a hang-up."""
        if self.writer.is_closing():
            raise ConnectionResetError("the client went away")
        try:
            await asyncio.wait_for(super().write_event(event), WRITE_TIMEOUT)
        except RuntimeError as exc:  # uvloop: the transport closed under the write
            if not self.writer.is_closing():
                raise
            raise ConnectionResetError("the client went away") from exc

    async def disconnect(self) -> None:
        """The client went away: stop everything it asked for (jobs close, slots free)."""
        pending = [t for t in self._tasks if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    # -- synthesis -------------------------------------------------------------------------
    async def _speak(
        self, voice: object, text: str | None, stream: asyncio.Queue[str | None] | None
    ) -> None:
        route = "wyoming/synthesize" if stream is None else "wyoming/synthesize-stream"
        started, model, status = time.perf_counter(), "", 200
        job: SpeechJob | None = None
        playing = False
        try:
            model, name = describe.resolve(self.service, voice)  # type: ignore[arg-type]
            params = SpeechParams(
                model=model, input=text or "", voice=name, response_format="pcm",
                sample_rate=describe.native_rate(self.service, model, name),
            )  # fmt: skip
            limit = self.service.settings.max_input_chars
            if stream is None:
                job = await self.service.prepare(params, describe.CALLER)
            else:
                deltas = _deltas(stream, limit)
                job = await self.service.prepare_stream(params, deltas, describe.CALLER)
            model = job.model
            await self.write_event(AudioStart(rate=job.out_rate, width=2, channels=1).event())
            playing = True
            async with contextlib.aclosing(job.stream()) as audio:
                async for data in audio:
                    for at in range(0, len(data), CHUNK_BYTES):
                        chunk = AudioChunk(
                            audio=data[at : at + CHUNK_BYTES], rate=job.out_rate, width=2,
                            channels=1,
                        )  # fmt: skip
                        await self.write_event(chunk.event())
            await self.write_event(AudioStop().event())
            if stream is not None:
                await self.write_event(SynthesizeStopped().event())
        except PolyvoxError as exc:
            status = exc.status_code
            await self._fail(exc, playing, stream is not None)
        except (ConnectionError, TimeoutError, asyncio.CancelledError):
            status = 499
            self.writer.close()  # gone, or not reading: the connection ends with its work
            raise
        except Exception:
            log.exception("wyoming: synthesis failed")
            status = 500
            await self._fail(EngineFailure("synthesis failed"), playing, stream is not None)
        finally:
            if job is not None:
                await job.pieces.close()  # a stream whose audio was never read
            self._observe(route, model, status, started)

    async def _fail(self, exc: PolyvoxError, playing: bool, streamed: bool) -> None:
        """Finish the exchange, say why it failed, and close the connection."""
        if playing:
            await self.write_event(AudioStop().event())
        if streamed:
            await self.write_event(SynthesizeStopped().event())
        await self._error(exc)

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
            async with contextlib.aclosing(job.segments()) as segments:
                async for segment in segments:
                    parts.append(segment.text.strip())
                    await self.write_event(TranscriptChunk(text=segment.text).event())
            await self.write_event(TranscriptStop().event())
            language = job.info.language if job.info is not None else request.language
            await self.write_event(Transcript(" ".join(parts), language=language).event())
        except PolyvoxError as exc:
            status = exc.status_code
            await self._error(exc)
        except (ConnectionError, TimeoutError, asyncio.CancelledError):
            status = 499
            self.writer.close()
            raise
        except Exception:
            log.exception("wyoming: transcription failed")
            status = 500
            await self._error(EngineFailure("transcription failed"))
        finally:
            self._observe("wyoming/transcribe", model, status, started)

    async def _too_long(self) -> None:
        limit = self.service.settings.max_upload_bytes
        await self._error(RequestTooLarge(f"the audio is over {limit} bytes", param="audio"))

    # -- helpers ---------------------------------------------------------------------------
    async def _error(self, exc: PolyvoxError) -> None:
        """The ``error`` event, then the connection closes (as wyoming-piper does): a
        client that waits for the end of an exchange learns of the failure at once."""
        self.service.metrics.errors.labels(exc.code).inc()
        try:
            await self.write_event(Error(text=exc.message, code=exc.code).event())
        finally:
            self._is_running = False
            self.writer.close()

    def _observe(self, route: str, model: str, status: int, started: float) -> None:
        metrics = self.service.metrics
        metrics.requests.labels(route, model, str(status)).inc()
        metrics.request_seconds.labels(route, model).observe(time.perf_counter() - started)


async def _deltas(queue: asyncio.Queue[str | None], limit: int) -> AsyncIterator[str]:
    """Streamed text until ``synthesize-stop``; more than ``limit`` characters is a 422."""
    total = 0
    while (text := await queue.get()) is not None:
        total += len(text)
        if total > limit:
            raise InvalidRequest(f"the text is over the limit of {limit} characters", param="text")
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
