"""A model served by a RunPod serverless endpoint running polyvox's worker.

    [models.xtts-runpod]
    engine = "runpod"
    endpoint_id = "abc123xyz"          # the endpoint's id
    api_key = "rpa_..."                # RunPod API key, sent as Authorization: Bearer
    model = "xtts"                     # the worker's model id (default: its default model)
    voices = ["joao_formal"]           # the worker's voices (a serverless endpoint lists none)
    sample_rate = 24000                # their sample rate
    timeout = 600                      # seconds from /run to the last audio, queue included

Jobs go out in polyvox's native job shape (the worker's ``POST /v1/audio/speech`` body)
with 16-bit PCM at ``sample_rate``. ``stream = true`` (the default; the worker needs
``POLYVOX_WORKER__STREAMING=true``) posts ``/run`` and reads the partials from
``/stream/{id}`` as they come; ``stream = false`` waits on ``/runsync``. A client that hangs
up gets its job cancelled (``/cancel/{id}``). RunPod queues jobs when its workers are busy:
the wait counts against ``timeout``, after which the job is cancelled and the client gets a
504. ``url`` is RunPod's API (``https://api.runpod.ai/v2``); the SDK's local test server
(``--rp_serve_api``) has no endpoint id in its paths: leave ``endpoint_id`` out for it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import time
from collections.abc import AsyncGenerator
from typing import Annotated, Any

import httpx
import numpy as np
from pydantic import AfterValidator, Field

from polyvox.audio import int16_to_float
from polyvox.engines.remote.http import HttpEngine, RemoteOptions, Upstream, _http_url
from polyvox.engines.spec import ModelSpec
from polyvox.errors import PolyvoxError, RequestTimeout
from polyvox.logs import redact_url
from polyvox.types import AudioChunk, EngineInfo, SpeechRequest, VoiceInfo

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"}


class RunPodOptions(RemoteOptions):
    """A RunPod serverless endpoint and the model, voices and rate of its worker."""

    url: Annotated[str, AfterValidator(_http_url)] = "https://api.runpod.ai/v2"
    endpoint_id: str | None = Field(None, min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    model: str | None = None
    worker_engine: str | None = None
    """The engine behind the worker's model (``piper``, ``xtts``...): its parameters and
    capabilities are then checked here, before a job is queued. None: no parameters."""
    voices: list[str] = Field(min_length=1)
    default_voice: str | None = None
    language: str = "en"
    sample_rate: int = Field(22050, ge=8000, le=192000)
    stream: bool = True
    timeout: float = Field(600.0, gt=0)
    poll_interval: float = Field(0.1, gt=0, le=10)
    """Seconds between ``/stream`` calls while the job waits in RunPod's queue."""


class RunPodRemote(HttpEngine):
    """A text-to-speech model on a RunPod serverless endpoint."""

    Options = RunPodOptions
    options: RunPodOptions
    default_slots = 32
    """Jobs in flight at once: RunPod queues and scales workers itself."""

    def __init__(self, spec: ModelSpec) -> None:
        assert isinstance(spec.options, RunPodOptions)
        self.options = o = spec.options
        base = f"{o.url}/{o.endpoint_id}" if o.endpoint_id else o.url
        self.upstream = Upstream(spec.id, base)
        where = o.endpoint_id or redact_url(base)
        self.info = _capabilities(
            o.worker_engine,
            EngineInfo(
                model=spec.id,
                engine="runpod",
                kind="tts",
                device="remote",
                placement="remote",
                splits_text=True,
                sample_rate=o.sample_rate,
                description=f"RunPod endpoint {where}",
            ),
        )
        self._voices = [
            VoiceInfo(id=v, name=v, language=o.language, model=spec.id, sample_rate=o.sample_rate)
            for v in o.voices
        ]

    async def load(self) -> None:
        """Nothing to load: a serverless endpoint starts workers on demand."""

    def voices(self) -> list[VoiceInfo]:
        """The configured voices of the worker."""
        return list(self._voices)

    @property
    def default_voice(self) -> str:
        """The configured default voice, else the first."""
        return self.options.default_voice or self.options.voices[0]

    def _job(self, req: SpeechRequest) -> dict[str, Any]:
        job: dict[str, Any] = {
            **req.params,
            "input": req.text,
            "voice": req.voice,
            "response_format": "pcm",
            "sample_rate": self.options.sample_rate,
            "output": "base64",
        }
        optional = {
            "model": self.options.model,
            "speed": req.speed,
            "instructions": req.instructions,
            "language": req.language,
        }
        job.update({k: v for k, v in optional.items() if v is not None})
        return {"input": job}

    async def synthesize(self, req: SpeechRequest) -> AsyncGenerator[AudioChunk, None]:
        """Run the job; yield its audio as the partials (or the whole output) arrive."""
        deadline = time.monotonic() + self.options.timeout
        try:
            if not self.options.stream:
                done = await self._post("/runsync", self._job(req), deadline)
                for chunk in self._outputs(done, [done.get("output")]):
                    yield chunk
                return
            job_id = str((await self._post("/run", self._job(req), deadline)).get("id", ""))
            if not job_id:
                raise self.upstream.bad("a /run answer without a job id")
            async for chunk in self._follow(job_id, deadline):
                yield chunk
        except httpx.HTTPError as exc:
            raise self.upstream.unreachable(exc) from exc

    async def _follow(self, job_id: str, deadline: float) -> AsyncGenerator[AudioChunk, None]:
        finished = False
        try:
            while True:
                state = await self._post(f"/stream/{job_id}", None, deadline)
                parts = [p.get("output") for p in state.get("stream") or [] if isinstance(p, dict)]
                for chunk in self._outputs(state, parts):
                    yield chunk
                if state.get("status") in TERMINAL:
                    finished = True
                    return
                await asyncio.sleep(self.options.poll_interval)
        finally:
            if not finished:  # hung up, failed or timed out: the job must not run on
                task = asyncio.get_running_loop().create_task(self._cancel(job_id))
                await asyncio.wait({task})  # (not cancelled again meanwhile; see jobs.py)

    async def _cancel(self, job_id: str) -> None:
        # the SDK's local server has no /cancel (a 404); RunPod's own cancels the job
        with contextlib.suppress(httpx.HTTPError):
            await self.http.post(f"/cancel/{job_id}", timeout=5)

    async def _post(self, path: str, body: dict[str, Any] | None, deadline: float) -> Any:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RequestTimeout(f"model {self.info.model!r}: the RunPod job took too long")
        response = await self.http.post(path, json=body, timeout=min(left, 60.0) + 5)
        if response.status_code != 200:
            raise await self.upstream.error(response)
        try:
            return response.json()
        except ValueError:
            raise self.upstream.bad(f"a non-JSON answer to {path}") from None

    def _outputs(self, state: dict[str, Any], outputs: list[Any]) -> list[AudioChunk]:
        """The audio of a job's outputs (partials or one whole output); raises its error."""
        if state.get("status") in {"FAILED", "CANCELLED", "TIMED_OUT"} and not outputs:
            raise self._failure(state)
        chunks = []
        for out in outputs:
            if isinstance(out, list):  # /runsync of a streaming worker: every partial
                chunks += self._outputs({}, out)
            elif isinstance(out, dict) and out.get("error"):
                raise self._failure(out)
            elif isinstance(out, dict) and isinstance(out.get("audio"), str):
                chunks.append(self._pcm(out["audio"]))
        return chunks

    def _failure(self, failed: dict[str, Any]) -> PolyvoxError:
        """A failed job's error: the worker's status and code when it says them, else 502."""
        error = failed.get("error") or failed.get("status", "failed")
        if isinstance(failed.get("status_code"), int) and failed.get("code"):
            body = {
                "error": {"message": error, "code": failed["code"], "param": failed.get("param")}
            }
            return PolyvoxError.from_dict(body, failed["status_code"])
        return self.upstream.bad(f"a failed job: {str(error)[:300]}")

    def _pcm(self, data: str) -> AudioChunk:
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise self.upstream.bad("audio that is not base64") from None
        if len(raw) % 2:
            raise self.upstream.bad("audio that ends in half a sample (not 16-bit PCM)")
        samples = int16_to_float(np.frombuffer(raw, dtype="<i2"))
        return AudioChunk(samples, self.options.sample_rate)


def _capabilities(engine: str | None, info: EngineInfo) -> EngineInfo:
    """``info`` with the parameters and capabilities of the worker's engine, read from that
    engine's class here (constructed with default options; no weights are loaded)."""
    if engine is None:
        return info
    from polyvox.engines import registry

    cls = registry.load_class(engine)
    local = cls(ModelSpec(info.model, engine, cls.Options(), 1)).info
    return dataclasses.replace(
        info,
        engine=engine,
        params=local.params,
        speed=local.speed,
        speed_range=local.speed_range,
        instructions=local.instructions,
        voice_cloning=local.voice_cloning,
        voice_attributes=local.voice_attributes,
        reference_text=local.reference_text,
        languages=local.languages,
    )
