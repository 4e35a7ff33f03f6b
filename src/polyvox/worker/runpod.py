"""RunPod serverless worker: validate the job, call SpeechService, render output or error.

Run it with ``python -m polyvox.worker.runpod`` (RunPod's own flags such as
``--rp_serve_api`` are passed through to the SDK).
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

from polyvox import codecs, logs
from polyvox.errors import EngineFailure, InvalidRequest, PolyvoxError, StorageUnavailable
from polyvox.jobs import SpeechJob
from polyvox.logs import request_id
from polyvox.service import SpeechService
from polyvox.settings import Settings
from polyvox.storage import StoredObject
from polyvox.threads import run_blocking
from polyvox.types import TRUSTED, ReferenceAudio, SpeechParams
from polyvox.voices.reference import HASH_PREFIX
from polyvox.worker import tasks
from polyvox.worker.inputs import JobInput, JobResult, parse_input
from polyvox.worker.loop import ServiceLoop
from polyvox.worker.voice_ids import VoiceIds

log = logging.getLogger(__name__)


def error_output(
    error: PolyvoxError, fields: Mapping[str, str] | None = None, *, detailed: bool = False
) -> dict[str, Any]:
    """RunPod's failure output: ``{"error": message}``, naming the job's own field.

    ``detailed`` (polyvox's native shape, streamed): also the error's ``status_code``,
    ``code`` and ``param``, so a gateway's ``runpod`` model rebuilds the same error. The
    seed shapes keep the one key their users read.
    """
    message = error.message
    alias = (fields or {}).get(error.param or "")
    if alias:
        message = f"{message} (job input field {alias!r})"
    if detailed:
        return {
            "error": message,
            "status_code": error.status_code,
            "code": error.code,
            "param": error.param,
        }
    return {"error": message}


class RunPodWorker:
    """The handlers RunPod calls; one SpeechService shared by every job of the process."""

    def __init__(self, settings: Settings, service: SpeechService | None = None) -> None:
        self.settings = settings
        self.service = service or SpeechService(settings)
        self.voice_ids = VoiceIds(settings.reference.cache_dir)

    # -- lifecycle -----------------------------------------------------------------------
    def models_to_warm(self) -> list[str]:
        """Preloaded models plus those the seed shapes map to, in order, once each."""
        wanted = [
            *self.settings.preload,
            *self.settings.worker.chatterbox_models.values(),
            self.settings.worker.xtts_model,
        ]
        return [m for m in dict.fromkeys(wanted) if m in self.settings.served]

    async def warm(self) -> None:
        """Start the service and load the models before the first job (never at import)."""
        await self.service.start(preload=self.models_to_warm())
        await self.service.preloaded()
        log.info("worker: %s warm", ", ".join(self.service.pool.loaded()))

    def concurrency(self, current: int) -> int:
        """RunPod concurrency modifier: how many jobs this worker takes at once."""
        return self.settings.worker.concurrency

    # -- handlers ------------------------------------------------------------------------
    async def handle(self, job: Mapping[str, Any]) -> dict[str, Any]:
        """Standard (async) handler: the whole result in one output, shaped like the input."""
        spec: JobInput | None = None
        request_id.set(str(job.get("id") or "-"))  # the job's own task: its context
        try:
            if tasks.names_a_task(job.get("input")):
                return await tasks.collected(self.service, job["input"])
            spec = parse_input(job.get("input"))
            started = time.perf_counter()
            speech = await self._prepare(spec)
            audio = await speech.collect()
            return spec.render(await self._finish(spec, speech, audio, started, inline=True))
        except PolyvoxError as exc:
            return error_output(exc, spec.fields if spec else None)
        except Exception:
            log.exception("worker: job %s failed", job.get("id"))
            return error_output(EngineFailure("internal error while synthesising"))

    async def stream(self, job: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Generator handler: audio chunks as partials, then the shape's summary without audio."""
        spec: JobInput | None = None
        request_id.set(str(job.get("id") or "-"))
        try:
            if tasks.names_a_task(job.get("input")):
                async for encoded in tasks.results(self.service, job["input"]):
                    yield encoded
                yield {"done": True}
                return
            spec = parse_input(job.get("input"))
            started = time.perf_counter()
            speech = await self._prepare(spec)
            parts: list[bytes] = []
            async for data in speech.stream():
                parts.append(data)
                yield {
                    "index": len(parts) - 1,
                    "format": speech.response_format,
                    "audio": base64.b64encode(data).decode("ascii"),
                }
            result = await self._finish(spec, speech, b"".join(parts), started, inline=False)
            yield {**spec.render(result), "done": True}
        except PolyvoxError as exc:
            detailed = spec is not None and spec.shape == "native"
            yield error_output(exc, spec.fields if spec else None, detailed=detailed)
        except Exception:
            log.exception("worker: job %s failed", job.get("id"))
            yield error_output(EngineFailure("internal error while synthesising"))

    # -- steps ---------------------------------------------------------------------------
    async def _prepare(self, spec: JobInput) -> SpeechJob:
        """Every check before synthesis, including the upload location when one is needed."""
        params = await self._named_voice(spec, spec.to_params(self.settings))
        if spec.output_mode() == "url" and not self.settings.storage.output_url:
            raise StorageUnavailable(
                f"{spec.shape} jobs upload their audio: set POLYVOX_STORAGE__OUTPUT_URL "
                "to gs://bucket/prefix, s3://bucket/prefix or a directory"
            )
        return await self.service.prepare(params)

    async def _named_voice(self, spec: JobInput, params: SpeechParams) -> SpeechParams:
        """A job's ``voice_id``: named after the reference it brings (fetched here, once),
        or, sent alone, a voice of the voice library or the reference an earlier job
        brought under that name."""
        name = spec.voice_name()
        if name is None or not self.service.catalogue.engine(params.model).info.voice_cloning:
            return params  # a model that does not clone: the name only labels the upload
        reference = params.reference_audio
        if reference is not None:
            path = await run_blocking(partial(self.service.references.resolve, reference))
            await run_blocking(partial(self.voice_ids.remember, name, path.name))
            digest, param = path.name, reference.param
        else:
            library = partial(self.service.library.find, TRUSTED, name)
            if await run_blocking(library) is not None:
                return dataclasses.replace(params, voice=name)  # a library voice's name or id
            found = self.voice_ids.find(name)
            if found is None:
                raise InvalidRequest(
                    f"voice_id {name!r} has no reference audio on this worker yet: send "
                    "ref_audio_url with it once",
                    param="voice_id",
                )
            digest, param = found, "voice_id"
        named = ReferenceAudio(f"{HASH_PREFIX}{digest}", param=param)
        return dataclasses.replace(params, reference_audio=named)

    async def _finish(
        self, spec: JobInput, speech: SpeechJob, audio: bytes, started: float, *, inline: bool
    ) -> JobResult:
        stored = None
        if spec.output_mode() == "url":
            stored = await self._upload(spec, speech, audio)
        voice = self.service.catalogue.resolve_voice(speech.model, speech.request.voice)
        return JobResult(
            audio=audio if inline and stored is None else None,
            stored=stored,
            response_format=speech.response_format,
            sample_rate=speech.out_rate,
            duration=speech.audio_seconds,
            generation_time=time.perf_counter() - started,
            model=speech.model,
            voice=voice.id,
            language=voice.language,
        )

    async def _upload(self, spec: JobInput, speech: SpeechJob, audio: bytes) -> StoredObject:
        if speech.response_format == "wav":
            audio = codecs.with_wav_sizes(audio, speech.out_rate)
        stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
        ext = "ogg" if speech.response_format == "opus" else speech.response_format
        name = f"{self.settings.worker.upload_prefix}/{spec.label()}_{stamp}_{uuid.uuid4().hex[:8]}"
        upload = partial(self.service.objects.upload, audio, f"{name}.{ext}", speech.media_type)
        return await run_blocking(upload)


class LoopHandlers:
    """The handlers RunPod calls, each run in the worker's own loop (``ServiceLoop``): the
    SDK's loops only wait for them."""

    def __init__(self, worker: RunPodWorker, loop: ServiceLoop) -> None:
        self.worker = worker
        self.loop = loop

    async def handle(self, job: Mapping[str, Any]) -> dict[str, Any]:
        """``RunPodWorker.handle`` in the worker's loop."""
        return await self.loop.call(self.worker.handle(job))

    async def stream(self, job: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """``RunPodWorker.stream`` in the worker's loop, a partial at a time."""
        async for part in self.loop.iterate(lambda: self.worker.stream(job)):
            yield part


def start_config(worker: RunPodWorker, loop: ServiceLoop | None = None) -> dict[str, Any]:
    """The ``runpod.serverless.start`` config for the chosen handler; with ``loop``, the
    handlers run in it (what ``main`` does), else in whatever loop calls them."""
    handlers: RunPodWorker | LoopHandlers = worker if loop is None else LoopHandlers(worker, loop)
    handler: Callable[..., Any] = (
        handlers.stream if worker.settings.worker.streaming else handlers.handle
    )
    return {
        "handler": handler,
        "concurrency_modifier": worker.concurrency,
        "return_aggregate_stream": True,
    }


def main(argv: list[str] | None = None) -> None:
    """Entry point: settings from the environment, models warm, then hand over to RunPod.

    The service lives in a loop of its own for the process's life (``ServiceLoop``), warmed
    before the first job. ``--warm-only`` loads (and so downloads) the models, imports the
    RunPod SDK, and exits: image builds use it to bake weights in (and to fail when the
    image lacks what the worker imports). Every other argument is RunPod's
    (``--rp_serve_api``, ...).
    """
    args = sys.argv[1:] if argv is None else argv
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    worker = RunPodWorker(settings)
    loop = ServiceLoop().start()
    try:
        loop.run(worker.warm())
        import runpod  # before --warm-only returns: an image without the SDK fails its build

        if "--warm-only" in args:
            return
        runpod.serverless.start(start_config(worker, loop))
    finally:
        loop.stop(worker.service.close())


if __name__ == "__main__":
    main()
