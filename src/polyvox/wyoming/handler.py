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
from collections.abc import AsyncIterator

from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
)

from polyvox.errors import (
    EngineFailure,
    IdleTimeout,
    PolyvoxError,
    RequestTooLarge,
)
from polyvox.jobs import SpeechJob
from polyvox.service import SpeechService
from polyvox.types import STT_SAMPLE_RATE, SpeechParams, TranscriptionParams
from polyvox.wyoming import describe
from polyvox.wyoming.connection import Connection
from polyvox.wyoming.events import audio_chunk, converted_size, text_of
from polyvox.wyoming.peers import Connections

log = logging.getLogger(__name__)
CHUNK_BYTES = 2048 * 2
"""Audio per ``audio-chunk`` event (2048 16-bit samples, as wyoming-piper sends 1024)."""


class PolyvoxHandler(Connection):
    """Wyoming events of one client, answered by the speech service."""

    def __init__(
        self,
        service: SpeechService,
        connections: Connections,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        super().__init__(service.settings.wyoming, connections, reader, writer)
        self.service = service
        self._text: asyncio.Queue[str | None] | None = None
        self._transcribe = Transcribe()
        self._audio: bytearray | None = None
        self._converter = AudioChunkConverter(rate=STT_SAMPLE_RATE, width=2, channels=1)

    def _refused(self, exc: PolyvoxError) -> None:
        self.service.metrics.errors.labels(exc.code).inc()

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
                self._text.put_nowait(text_of(event))
        elif SynthesizeStop.is_type(event.type):
            if self._text is not None:
                self._text.put_nowait(None)
                self._text = None
        elif Synthesize.is_type(event.type):
            if self._text is None:  # within a stream it only repeats the text (compatibility)
                text, voice = text_of(event), Synthesize.from_event(event).voice
                self._run(lambda: self._speak(voice, text, None))
        else:
            self._audio_event(event)
        return True

    def _audio_event(self, event: Event) -> None:
        if Transcribe.is_type(event.type):
            self._transcribe = Transcribe.from_event(event)
        elif AudioStart.is_type(event.type):
            self._audio = bytearray()
            self._converter = AudioChunkConverter(rate=STT_SAMPLE_RATE, width=2, channels=1)
        elif AudioChunk.is_type(event.type) and self._audio is not None:
            chunk = audio_chunk(event)
            if len(self._audio) + converted_size(chunk) > self.service.settings.max_upload_bytes:
                self._audio = None  # checked before converting: a tiny rate is a huge buffer
                self._run(self._too_long)
                return
            self._audio += self._converter.convert(chunk).audio
        elif AudioStop.is_type(event.type) and self._audio is not None:
            audio, self._audio = bytes(self._audio), None
            request = self._transcribe
            self._run(lambda: self._transcribed(request, audio))

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
                model=model,
                input=text or "",
                voice=name,
                response_format="pcm",
                sample_rate=describe.native_rate(self.service, model, name),
            )
            if stream is None:
                job = await self.service.prepare(params, describe.CALLER)
            else:
                deltas = _deltas(stream, self.service.settings.limits.stream_idle_timeout)
                job = await self.service.prepare_stream(params, deltas, describe.CALLER)
            model = job.model
            await self.write_event(AudioStart(rate=job.out_rate, width=2, channels=1).event())
            playing = True
            async with contextlib.aclosing(job.stream()) as audio:
                async for data in audio:
                    for at in range(0, len(data), CHUNK_BYTES):
                        chunk = AudioChunk(
                            audio=data[at : at + CHUNK_BYTES],
                            rate=job.out_rate,
                            width=2,
                            channels=1,
                        )
                        await self.write_event(chunk.event())
            await self.write_event(AudioStop().event())
            if stream is not None:
                await self.write_event(SynthesizeStopped().event())
        except PolyvoxError as exc:
            status = exc.status_code
            await self._fail(exc, playing, stream is not None)
        except (ConnectionError, TimeoutError, asyncio.CancelledError):
            status = 499
            self._hang_up()  # gone, or not reading: the connection ends with its work
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
            self._hang_up()
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

    def _observe(self, route: str, model: str, status: int, started: float) -> None:
        self.service.metrics.observe_request(route, model, status, time.perf_counter() - started)


async def _deltas(queue: asyncio.Queue[str | None], idle: float) -> AsyncIterator[str]:
    """Streamed text until ``synthesize-stop`` (the service refuses it past its input
    limit); no text for ``idle`` seconds is a 408 (a stream that never stops holds its
    peer's place)."""
    while (text := await _within(queue, idle)) is not None:
        yield text


async def _within(queue: asyncio.Queue[str | None], idle: float) -> str | None:
    try:
        async with asyncio.timeout(idle):  # not wait_for: see Connection.write_event
            return await queue.get()
    except TimeoutError:
        raise IdleTimeout(
            f"no text for {idle:g} s: the stream ends (POLYVOX_LIMITS__STREAM_IDLE_TIMEOUT)",
            param="text",
        ) from None


def _wav(pcm: bytes) -> bytes:
    """16 kHz mono 16-bit PCM as a WAV file (what the transcription service reads)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(STT_SAMPLE_RATE)
        w.writeframes(pcm)
    return out.getvalue()
