"""SpeechService: the one entry point every transport calls to validate and prepare work.

It owns the process-wide pieces (model pool, catalogue, schedulers, memory trimming,
storage) and their lifecycle: ``start()`` applies allocator settings, preloads models and
starts the idle reaper; ``close()`` stops them. The HTTP app, the RunPod worker and the
CLI all use it the same way (``async with SpeechService(settings) as service``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from functools import partial
from types import TracebackType

import numpy as np

from polyvox import decoding, tasks, text, threads
from polyvox.allocator import MemoryTrimmer, limit_arenas
from polyvox.catalogue import Catalogue
from polyvox.checks import check_params, check_transcription
from polyvox.cloning import Cloning
from polyvox.engines.base import CountsEvents
from polyvox.engines.pool import ModelPool
from polyvox.errors import InvalidRequest, PolyvoxError
from polyvox.jobs import SpeechJob
from polyvox.metrics import Metrics
from polyvox.models import check_models, model_spec
from polyvox.pieces import Pieces
from polyvox.placement import create_engine
from polyvox.resolution import resolve_speech
from polyvox.scheduler import Scheduler
from polyvox.schedulers import Schedulers
from polyvox.settings import Settings
from polyvox.storage import ObjectStore
from polyvox.task_job import TaskJob, model_of
from polyvox.threads import run_blocking
from polyvox.transcription_job import Source, TranscriptionJob
from polyvox.types import (
    TRUSTED,
    Caller,
    EngineInfo,
    SpeechParams,
    TranscriptionParams,
    TranscriptionRequest,
)

log = logging.getLogger(__name__)


class SpeechService:
    """Validates requests eagerly and prepares streaming speech and transcription jobs."""

    def __init__(
        self, settings: Settings, pool: ModelPool | None = None, metrics: Metrics | None = None
    ) -> None:
        check_models(settings)  # a wrong engine or option fails here, naming model and key
        self.settings = settings
        limits = settings.limits
        threads.configure(io_threads=limits.io_threads, io_per_client=limits.io_per_client)
        self.metrics = metrics or Metrics()
        self.pool = pool or ModelPool(
            lambda model: create_engine(model_spec(settings, model)),
            ttl=settings.model_ttl,
            on_load=self._loaded,
            on_unload=lambda model: self.metrics.models_loaded.labels(model).set(0),
        )
        self.metrics.watch_engines(self._engine_events)
        self.catalogue = Catalogue(settings, self.pool)
        self.trimmer = MemoryTrimmer(settings.trim_memory)
        self.schedulers = Schedulers(settings, self.pool, self.metrics, self.trimmer)
        self.objects = ObjectStore(settings.storage)
        self.cloning = Cloning(settings, self.catalogue, self.pool, self.objects, self.transcribe)
        self.references = self.cloning.references
        self.library = self.cloning.library
        self.ready = asyncio.Event()
        self.preload_error: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._preloading: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self, preload: list[str] | None = None) -> None:
        """Allocator settings, then preloading (``settings.preload`` unless given), the
        idle reaper and a sweep of unused voice library audio, in the background."""
        limit_arenas(self.settings.malloc_arenas)
        models = self.settings.preload if preload is None else preload
        self._preloading = asyncio.create_task(self._preload(models))
        self._tasks = [
            self._preloading,
            asyncio.create_task(self.pool.run_reaper()),
            asyncio.create_task(self.catalogue.describe()),  # remote models, in the background
            asyncio.create_task(self.cloning.collect_orphans()),  # audio a crash left
        ]

    async def _preload(self, models: list[str]) -> None:
        try:
            for model in models:
                await self.pool.load(model)
        except PolyvoxError as exc:
            self.preload_error = exc.message
            log.error("preloading failed: %s", exc.message)
            return
        self.ready.set()

    async def preloaded(self) -> None:
        """Wait for preloading; raises its error (a worker must not take jobs then)."""
        if self._preloading is not None:
            await asyncio.shield(self._preloading)
        if self.preload_error is not None:
            raise RuntimeError(f"preloading failed: {self.preload_error}")

    async def forget_reference(self, digest: str) -> None:
        """Drop a reference's cached file, transcript and every engine's conditioning."""
        await self.cloning.forget(digest)

    async def close(self) -> None:
        """Stop background tasks and unload every model."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.pool.close()

    async def __aenter__(self) -> SpeechService:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _loaded(self, model: str, seconds: float) -> None:
        self.metrics.model_loads.labels(model).inc()
        self.metrics.model_load_seconds.labels(model).observe(seconds)
        self.metrics.models_loaded.labels(model).set(1)

    # -- synthesis --------------------------------------------------------------------
    async def prepare(self, params: SpeechParams, caller: Caller = TRUSTED) -> SpeechJob:
        """Validate everything about a request and load its model; raises a 4xx/503 error.
        ``caller`` decides which library voices the request may name."""
        chunks = self._chunks(params.input)
        return await self._job(params, Pieces(chunks), caller)

    async def prepare_stream(
        self, params: SpeechParams, deltas: AsyncIterator[str], caller: Caller = TRUSTED
    ) -> SpeechJob:
        """A job whose text arrives as a stream (``params.input`` is ignored): each sentence
        is spoken as soon as it is complete. Same checks as ``prepare``."""
        pieces = Pieces()
        job = await self._job(params, pieces, caller)
        pieces.follow(text.limited(deltas, self.settings.max_input_chars), self.splitter())
        return job

    def splitter(self) -> text.Splitter:
        """A text splitter with this server's chunk settings."""
        s = self.settings
        return text.Splitter(max_chars=s.chunk_max_chars, first_max_words=s.first_chunk_max_words)

    async def _job(self, params: SpeechParams, pieces: Pieces, caller: Caller) -> SpeechJob:
        found = await resolve_speech(self.catalogue, self.cloning, params, caller)
        info = found.info
        await self.pool.load(info.model)
        return SpeechJob(
            model=info.model,
            pool=self.pool,
            request=found.request(),
            pieces=pieces,
            output=found.output,
            scheduler=self.scheduler(info.model),
            metrics=self.metrics,
            timeout=self.settings.request_timeout,
            grow_chars=self._grow_chars(info),
            splits_text=info.splits_text,
            headers=dict(found.headers),
        )

    def _engine_events(self) -> list[tuple[str, Mapping[str, int]]]:
        """Event counts of the loaded engines that keep them (see Metrics.watch_engines)."""
        engines = ((model, self.pool.engine(model)) for model in self.pool.loaded())
        return [(model, e.events) for model, e in engines if isinstance(e, CountsEvents)]

    def _grow_chars(self, info: EngineInfo) -> int:
        """Characters one engine call may take at most: a remote server gets the whole
        text at once (it splits and schedules itself), a local engine a few sentences (no more
        than the engine asks for)."""
        if info.placement != "in-process":
            return self.settings.max_input_chars
        return min(self.settings.chunk_grow_chars, info.max_call_chars or 1 << 30)

    def _chunks(self, raw: str) -> list[text.TextChunk]:
        limit = self.settings.max_input_chars
        if len(raw) > limit:
            raise InvalidRequest(
                f"input is {len(raw)} characters; the limit is {limit}", param="input"
            )
        chunks = text.split(
            raw,
            max_chars=self.settings.chunk_max_chars,
            first_max_words=self.settings.first_chunk_max_words,
        )
        if not chunks:
            raise InvalidRequest("input has no text to speak", param="input")
        return chunks

    # -- transcription ---------------------------------------------------------------
    async def transcribe(self, params: TranscriptionParams) -> TranscriptionJob:
        """Validate a request, probe its audio and load its model; raises a 4xx/503 error.

        The audio is only decoded once the job is admitted, a block at a time.
        """
        info = self.catalogue.stt_engine(params.model).info
        language = check_transcription(info, params)
        check_params(info, params.params)
        limits = self.settings
        probe = partial(
            decoding.probe,
            params.file,
            max_bytes=limits.max_upload_bytes,
            max_seconds=limits.max_audio_seconds,
        )
        declared = await run_blocking(probe, "codec")
        await self.pool.load(info.model)
        request = TranscriptionRequest(
            audio=np.zeros(0, dtype=np.float32),
            language=language,
            prompt=params.prompt,
            temperature=params.temperature,
            task=params.task,
            params=dict(params.params),
            word_timestamps="word" in params.timestamp_granularities,
        )
        source = Source(
            params.file,
            declared,
            block_seconds=limits.stt_block_seconds,
            max_seconds=limits.max_audio_seconds,
        )
        return TranscriptionJob(
            model=info.model,
            pool=self.pool,
            request=request,
            source=source,
            response_format=params.response_format,
            scheduler=self.scheduler(info.model),
            metrics=self.metrics,
            granularities=params.timestamp_granularities,
        )

    async def prepare_task(self, task: str, body: dict[str, object]) -> TaskJob:
        """Check a request of a task beyond speech (``polyvox.tasks``) and load its model;
        raises a 4xx/503 error before any work."""
        declared = tasks.get(task)
        model, fields = model_of(body)
        engine = await self.catalogue.task_engine(model, declared.name)
        request = tasks.validate(declared, fields)
        model = engine.info.model
        await self.pool.load(model)
        scheduler = self.scheduler(model)
        return TaskJob(model, declared, request, self.pool, scheduler, self.metrics)

    # -- scheduling ------------------------------------------------------------------
    def scheduler(self, model: str) -> Scheduler:
        """The admission queue and slots of one model (its configured slots, at most the
        engine's own concurrency)."""
        return self.schedulers.get(model)

    def find_scheduler(self, model: str) -> Scheduler | None:
        """The model's scheduler if a request has made one (status reads never make one)."""
        return self.schedulers.find(model)
