"""A model served by another polyvox server (a GPU box, a supervised worker, a container).

Its capabilities and voices come from the other server's ``/v1/models`` and
``/v1/audio/voices``; audio streams back as 16-bit PCM at the voice's own rate; the other
server's errors arrive with their status, code and ``param``. Reference audio is named by
its content hash and sent only when the other server does not have it yet. Closing the
stream closes the upstream request, and the other server stops within one chunk.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncGenerator
from typing import Any

import httpx
from pydantic import BaseModel

from polyvox import tasks
from polyvox.engines.remote.http import HttpEngine, RemoteOptions, Upstream, pcm_chunks
from polyvox.engines.spec import ModelSpec
from polyvox.engines.wire import from_card
from polyvox.errors import EngineUnavailable, PolyvoxError, ReferenceNotFound
from polyvox.tasks import SPEECH
from polyvox.types import AudioChunk, EngineInfo, SpeechRequest, VoiceInfo

log = logging.getLogger(__name__)
SAMPLE_RATE_HEADER = "x-sample-rate"
"""The response header a polyvox server names its audio's sample rate in."""


class PolyvoxOptions(RemoteOptions):
    """Another polyvox server, and which of its models serves this one."""

    model: str | None = None
    """The model id on the other server (default: this model's own id)."""


class PolyvoxRemote(HttpEngine):
    """A model of another polyvox server, as a local engine: text-to-speech, or a task
    beyond speech (``polyvox.tasks``), whichever its card says."""

    Options = PolyvoxOptions
    options: PolyvoxOptions
    default_slots = 32
    """Requests sent on at once: the other server queues and schedules them fairly."""

    def __init__(self, spec: ModelSpec) -> None:
        assert isinstance(spec.options, PolyvoxOptions)
        self.options = spec.options
        self.upstream_model = spec.options.model or spec.id
        self.upstream = Upstream(spec.id, spec.options.url)
        self.info = EngineInfo(
            model=spec.id,
            engine="polyvox",
            kind="tts",
            device="remote",
            placement="remote",
            splits_text=True,
            description=f"{self.upstream_model} on the polyvox server at {spec.options.shown_url}",
        )
        self.described = False
        self.remote_concurrency: int | None = None
        """Requests the other server's model runs at once, as its card says."""
        self._voices: list[VoiceInfo] = []
        self._default_voice = ""

    # -- discovery --------------------------------------------------------------------

    async def describe(self) -> None:
        """Read the other server's card and voices (retried while it starts up)."""
        card, voices = await self.upstream.discover(self.options.discovery_attempts, self._read)
        info = from_card(card)
        self.remote_concurrency = info.max_concurrency
        self.info = dataclasses.replace(
            info,
            model=self.info.model,
            placement="remote",
            splits_text=True,
            max_concurrency=None,
            description=self.info.description,
        )
        self._voices = [
            VoiceInfo(
                id=v["id"],
                name=v.get("name", v["id"]),
                language=v.get("language", ""),
                model=self.info.model,
                sample_rate=int(v["sample_rate"]),
                gender=v.get("gender"),
            )
            for v in voices
        ]
        ids = [v.id for v in self._voices]
        self._default_voice = card.get("default_voice") or (ids[0] if ids else "")
        self.described = True

    async def _read(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        card = await self._get(f"/v1/models/{self.upstream_model}")
        kind = card.get("kind")
        if kind != "tts":
            if isinstance(kind, str) and kind not in SPEECH and tasks.find(kind) is not None:
                return card, []  # a task beyond speech: no voices
            raise EngineUnavailable(
                f"model {self.info.model!r}: {self.upstream_model!r} at {self.options.shown_url} "
                f"is a {kind} model, which a remote polyvox model cannot serve"
            )
        voices = await self._get("/v1/audio/voices", params={"model": self.upstream_model})
        return card, list(voices.get("data", []))

    async def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        response = await self.http.get(path, params=params)
        if response.status_code != 200:
            raise await self.upstream.error(response)
        try:
            body = response.json()
        except ValueError:
            raise self.upstream.bad(f"a non-JSON answer to GET {path}") from None
        if not isinstance(body, dict):
            raise self.upstream.bad(f"an unexpected answer to GET {path}")
        return body

    # -- the engine contract ----------------------------------------------------------
    async def load(self) -> None:
        """Connect and read the model's capabilities (if not read yet)."""
        if not self.described:
            await self.describe()

    def voices(self) -> list[VoiceInfo]:
        """The other server's voices of this model (empty until described)."""
        return list(self._voices)

    @property
    def default_voice(self) -> str:
        """The other server's default voice for this model."""
        return self._default_voice

    async def synthesize(self, req: SpeechRequest) -> AsyncGenerator[AudioChunk, None]:
        """Stream ``req.text`` from the other server as PCM at the voice's rate."""
        body = self._body(req)
        try:
            async for chunk in self._stream(body):
                yield chunk
        except ReferenceNotFound:
            if req.reference_audio is None:
                raise
            # The other server does not have this reference yet: send it once.
            data = await _read_bytes(req)
            body["reference_audio"] = base64.b64encode(data).decode("ascii")
            async for chunk in self._stream(body):
                yield chunk

    def _body(self, req: SpeechRequest) -> dict[str, Any]:
        voice = next((v for v in self._voices if v.id == req.voice), None)
        rate = voice.sample_rate if voice is not None else self.info.sample_rate
        body: dict[str, Any] = {
            **req.params,
            "model": self.upstream_model,
            "input": req.text,
            "voice": req.voice,
            "response_format": "pcm",
            "sample_rate": rate,
        }
        optional = {
            "speed": req.speed,
            "instructions": req.instructions,
            "language": req.language,
            "reference_text": req.reference_text,
            **({"voice_attributes": dict(req.voice_attributes)} if req.voice_attributes else {}),
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        if req.reference_audio is not None:
            body["reference_audio"] = f"sha256:{req.reference_audio.name}"
        return body

    async def forget_reference(self, digest: str) -> None:
        """Have the other server drop the reference and what it built from it (best effort:
        an unreachable server is logged; its caches are bounded anyway)."""
        try:
            response = await self.http.delete(f"/v1/audio/references/{digest}")
        except httpx.HTTPError as exc:
            log.warning(
                "model %s: cannot have reference %s... forgotten: %s",
                self.info.model,
                digest[:12],
                exc,
            )
            return
        if response.status_code not in (204, 404):
            log.warning(
                "model %s: forgetting reference %s... got HTTP %d",
                self.info.model,
                digest[:12],
                response.status_code,
            )

    async def run(self, request: BaseModel) -> AsyncGenerator[object, None]:
        """A task beyond speech: the other server's results (``/v1/tasks/{task}``, one JSON
        line each), as its engine made them; an error line is raised as the error it was."""
        task = tasks.get(self.info.kind)
        body = {**request.model_dump(mode="json", exclude_unset=True)}
        body["model"] = self.upstream_model
        try:
            async with self.http.stream("POST", f"/v1/tasks/{task.name}", json=body) as response:
                if response.status_code != 200:
                    raise await self.upstream.error(response)
                async for line in response.aiter_lines():
                    if line.strip():
                        yield task.decode(self._result(line))
        except httpx.HTTPError as exc:
            raise self.upstream.unreachable(exc) from exc

    def _result(self, line: str) -> dict[str, Any]:
        try:
            data = json.loads(line)
        except ValueError:
            raise self.upstream.bad("a result line that is not JSON") from None
        if not isinstance(data, dict):
            raise self.upstream.bad("a result line that is not a JSON object")
        if "error" in data:
            raise PolyvoxError.from_dict(data, int(data.get("status", 502)))
        return data

    async def _stream(self, body: dict[str, Any]) -> AsyncGenerator[AudioChunk, None]:
        rate = int(body["sample_rate"])
        try:
            async with self.http.stream("POST", "/v1/audio/speech", json=body) as response:
                if response.status_code != 200:
                    raise await self.upstream.error(response)
                said = response.headers.get(SAMPLE_RATE_HEADER)
                if said is not None and said != str(rate):
                    raise self.upstream.bad(f"audio at {said} Hz where {rate} Hz was asked for")
                chunks = pcm_chunks(response.aiter_bytes(), rate, self.upstream)
                async with contextlib.aclosing(chunks):
                    async for chunk in chunks:
                        yield chunk
        except httpx.HTTPError as exc:
            raise self.upstream.unreachable(exc) from exc


async def _read_bytes(req: SpeechRequest) -> bytes:
    from polyvox.threads import run_blocking

    assert req.reference_audio is not None
    try:
        return await run_blocking(req.reference_audio.read_bytes)
    except OSError as exc:
        raise PolyvoxError(f"reference audio vanished from the cache: {exc}") from exc
