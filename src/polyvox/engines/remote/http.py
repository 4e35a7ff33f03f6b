"""What every remote engine shares: its options, one HTTP client, upstream errors as ours,
and audio bytes as float32 chunks.

A remote engine holds no thread while it waits: requests go out on one ``httpx.AsyncClient``
per model. Whatever goes wrong upstream reaches the client as a PolyvoxError naming the
model: 503 when the server cannot be reached, 502 when it answers with something unusable,
and the upstream's own status, code and ``param`` when it describes its error itself.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Annotated, TypeVar

import httpx
import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from polyvox.audio import int16_to_float
from polyvox.engines.base import EngineClass
from polyvox.errors import EngineUnavailable, PolyvoxError, UpstreamFailure
from polyvox.logs import redact_url, request_id
from polyvox.types import AudioChunk

log = logging.getLogger(__name__)
T = TypeVar("T")
_USERINFO = re.compile(r"//[^/@\s]*@")


def _http_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return url.rstrip("/")


class RemoteOptions(BaseModel):
    """Where a remote model's server is and how long to wait for it."""

    model_config = ConfigDict(extra="forbid")
    url: Annotated[str, AfterValidator(_http_url)]
    """Base URL of the server (``http://gpu-box:8000``)."""
    api_key: SecretStr | None = None
    """Sent as ``Authorization: Bearer``; never logged."""
    connect_timeout: float = Field(5.0, gt=0)
    """Seconds to open a connection before the model counts as unreachable (503)."""
    read_timeout: float = Field(120.0, gt=0)
    """Longest silence, in seconds, between bytes of an answer."""
    discovery_attempts: int = Field(5, ge=1, le=100)
    """Tries to read the server's models and voices (0.5 s apart, doubling); synthesis is
    never retried."""

    @property
    def shown_url(self) -> str:
        """The URL as it may be shown: without user info or query (it can hold credentials)."""
        return redact_url(self.url)


def client(
    options: RemoteOptions, headers: dict[str, str] | None = None, url: str | None = None
) -> httpx.AsyncClient:
    """The model's HTTP client: its base URL (``url``, else the options'), timeouts and
    credential."""
    auth = (
        {"Authorization": f"Bearer {options.api_key.get_secret_value()}"} if options.api_key else {}
    )
    timeout = httpx.Timeout(
        connect=options.connect_timeout,
        read=options.read_timeout,
        write=options.read_timeout,
        pool=options.connect_timeout,
    )
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=32)
    return httpx.AsyncClient(
        base_url=url or options.url,
        timeout=timeout,
        limits=limits,
        headers={**auth, **(headers or {})},
        event_hooks={"request": [_carry_request_id]},
    )


async def _carry_request_id(request: httpx.Request) -> None:
    """The client's request id crosses the hop (``X-Request-ID``): both servers' log lines
    of one request carry the same id, and another polyvox uses it as its own."""
    current = request_id.get()
    if current != "-":
        request.headers.setdefault("X-Request-ID", current)


class Upstream:
    """Turns what a remote server did into the error a client of this model should get."""

    def __init__(self, model: str, url: str) -> None:
        self.model = model
        self.url = url

    @property
    def shown(self) -> str:
        """The server's URL as messages show it (no user info or query)."""
        return redact_url(self.url)

    def unreachable(self, exc: httpx.HTTPError) -> PolyvoxError:
        """A transport failure: 503 before an answer started, 502 once one was cut off."""
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return EngineUnavailable(
                f"model {self.model!r}: its server at {self.shown} cannot be reached ({_why(exc)})"
            )
        if isinstance(exc, httpx.TimeoutException):
            return EngineUnavailable(
                f"model {self.model!r}: its server at {self.shown} stopped answering ({_why(exc)})"
            )
        return UpstreamFailure(
            f"model {self.model!r}: its server at {self.shown} broke off the answer ({_why(exc)})"
        )

    def bad(self, what: str) -> UpstreamFailure:
        """A 502 for an answer that cannot be used."""
        return UpstreamFailure(f"model {self.model!r}: its server at {self.shown} sent {what}")

    async def error(self, response: httpx.Response) -> PolyvoxError:
        """The error a non-2xx answer describes: an OpenAI-shaped body keeps its status,
        code and param; anything else (and a rejected gateway credential) is a 502."""
        try:
            await response.aread()
            body = response.json()
        except (httpx.HTTPError, ValueError):
            body = None
        status = response.status_code
        if status in (401, 403):
            return self.bad(f"HTTP {status}: it rejected this server's credential (api_key)")
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return PolyvoxError.from_dict(body, status)
        text = response.text[:200] if response.is_closed else ""
        return self.bad(f"HTTP {status} {text!r}".rstrip())

    async def discover(self, attempts: int, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, retried with backoff while the server is unreachable or answers 5xx."""
        delay = 0.5
        for attempt in range(1, attempts + 1):
            try:
                return await call()
            except PolyvoxError as exc:
                if exc.status_code < 500 or attempt == attempts:
                    raise
                failure: Exception = exc
            except httpx.HTTPError as exc:
                if attempt == attempts:
                    raise self.unreachable(exc) from exc
                failure = exc
            log.info("model %s: %s not ready (%s); retrying", self.model, self.shown, failure)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")  # the loop returns or raises


def _why(exc: httpx.HTTPError) -> str:
    # httpx names the URL in some messages: never its user info
    return _USERINFO.sub("//", str(exc)) or type(exc).__name__


async def pcm_chunks(
    parts: AsyncIterator[bytes], sample_rate: int, upstream: Upstream
) -> AsyncGenerator[AudioChunk, None]:
    """16-bit little-endian mono PCM, as float32 chunks as the bytes arrive."""
    carry = b""
    async for part in parts:
        data = carry + part
        usable = len(data) - len(data) % 2
        carry = data[usable:]
        if usable:
            samples = int16_to_float(np.frombuffer(data[:usable], dtype="<i2"))
            yield AudioChunk(samples, sample_rate)
    if carry:
        raise upstream.bad("audio that ends in half a sample (not 16-bit PCM)")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class HttpEngine(EngineClass):
    """What every remote engine shares: one HTTP client to ``upstream.url``, opened on
    first use and closed when the model unloads."""

    kind = "tts"
    loads_to_describe = False
    options: RemoteOptions
    upstream: Upstream
    _client: httpx.AsyncClient | None = None
    _client_loop: asyncio.AbstractEventLoop | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The model's HTTP client, opened on first use in this event loop. A client's
        connections belong to the loop that opened them: a process that loads its models
        in one loop and serves in another (the RunPod worker) gets a new client there."""
        loop = _running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = client(self.options, url=self.upstream.url)
            self._client_loop = loop
        return self._client

    async def unload(self) -> None:
        """Close the connections; the server keeps its model."""
        if self._client is not None and self._client_loop is _running_loop():
            await self._client.aclose()
        self._client = None
