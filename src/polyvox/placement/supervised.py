"""A model placed in an engine environment: served by a polyvox process this server starts.

The child is polyvox itself, run from the environment's interpreter, serving only that
model on 127.0.0.1 behind a token of its own. It starts when the model loads (preload or
first use), is health-checked until ready, is restarted with backoff when it dies (requests
in flight then get a 503 that says so), and is stopped when the model's idle TTL unloads
it, so all of its memory (GPU memory too) goes back. Its log lines are folded into this
server's log under ``polyvox.worker.<model>``. Everything else is PolyvoxRemote's.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import logging
import os
import secrets
import signal
import socket
import time
from collections.abc import AsyncGenerator
from typing import Any, TypeVar

from pydantic import BaseModel

from polyvox.engines.remote.polyvox import PolyvoxOptions, PolyvoxRemote
from polyvox.engines.spec import ModelSpec
from polyvox.errors import EngineUnavailable, PolyvoxError
from polyvox.placement import environments
from polyvox.supervisor import SUPERVISOR_PID
from polyvox.types import AudioChunk, SpeechRequest

log = logging.getLogger(__name__)
T = TypeVar("T")
START_TIMEOUT = float(os.environ.get("POLYVOX_WORKER_START_TIMEOUT", "300"))
"""Seconds a worker may take from process start to ready (weights load in that time)."""
STOP_GRACE = 10.0
"""Seconds a worker gets to finish after SIGTERM before it is killed."""
MAX_BACKOFF = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class SupervisedEngine(PolyvoxRemote):
    """A model served by a supervised polyvox process in the model's own environment."""

    loads_to_describe = True
    """Its capabilities are known once its process runs: describing it loads it."""

    def __init__(self, spec: ModelSpec, kind: str, clones: bool = False) -> None:
        if kind == "stt":
            raise EngineUnavailable(
                f"model {spec.id!r}: speech-to-text models do not run in an environment so far"
            )
        assert spec.environment is not None
        self.environment = spec.environment
        self.token = secrets.token_urlsafe(24)
        self._worker_config = {"engine": spec.engine, **_options(spec)}
        self._worker_env = dict(spec.worker_env)
        self._slots = spec.slots
        options = PolyvoxOptions(url="http://127.0.0.1:1", api_key=self.token, discovery_attempts=1)
        super().__init__(ModelSpec(spec.id, "polyvox", options, spec.slots))
        self.info = dataclasses.replace(
            self.info,
            engine=spec.engine,
            kind=kind,
            voice_cloning=clones,
            description=f"{spec.id} in the {spec.environment!r} engine environment",
            placement="environment",
        )
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._stopping = False
        self._ready: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._recent: collections.deque[str] = collections.deque(maxlen=20)

    # -- the process ------------------------------------------------------------------
    async def _start(self) -> None:
        """Start the worker and wait until it is ready (or fail with its last log lines)."""
        command = environments.executable(self.environment)
        port = _free_port()
        await self.unload_client()
        self.options = self.options.model_copy(update={"url": f"http://127.0.0.1:{port}"})
        self.upstream.url = self.options.url
        model = self.info.model
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLYVOX_")}
        env.update(
            {
                "POLYVOX_MODELS": json.dumps({model: self._worker_config}),
                "POLYVOX_ENGINES": json.dumps([model]),
                "POLYVOX_PRELOAD": json.dumps([model]),
                "POLYVOX_DEFAULT_TTS_MODEL": model,
                "POLYVOX_ADMIN_API_KEYS": json.dumps([self.token]),
                "POLYVOX_MODEL_TTL": "-1",
                "POLYVOX_TTS_SLOTS": str(self._slots),
                "POLYVOX_LOG_LEVEL": "info",  # folded in at INFO: this server's level decides
                # the gateway is the worker's one client and shares its places out fairly itself
                "POLYVOX_LIMITS__CLIENT_SHARE": "1",
                SUPERVISOR_PID: str(os.getpid()),
                **self._worker_env,  # the limits and caches a request is shaped by, as here
            }
        )
        started = time.monotonic()
        self.process = process = await asyncio.create_subprocess_exec(
            str(command),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        self._tasks.append(asyncio.create_task(self._fold_logs(process)))
        await self._wait_ready(process)
        log.info(
            "model %s: worker %d ready in %.1fs", model, process.pid, time.monotonic() - started
        )
        self._tasks.append(asyncio.create_task(self._watch(process)))
        self._event().set()

    async def _wait_ready(self, process: asyncio.subprocess.Process) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise self._gone(f"its worker exited with {process.returncode} while starting")
            with contextlib.suppress(Exception):
                if (await self.http.get("/health/ready", timeout=2)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
        await self._stop(process)
        raise self._gone(f"its worker was not ready after {START_TIMEOUT:g}s")

    def _gone(self, what: str) -> EngineUnavailable:
        recent = " | ".join(self._recent)
        return EngineUnavailable(f"model {self.info.model!r}: {what}; last log lines: {recent}")

    async def _fold_logs(self, process: asyncio.subprocess.Process) -> None:
        """The worker's output, line by line, into this server's log under its model."""
        worker_log = logging.getLogger(f"polyvox.worker.{self.info.model}")
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self._recent.append(line[-300:])
                worker_log.info("%s", line)

    async def _watch(self, process: asyncio.subprocess.Process) -> None:
        """Restart the worker with backoff when it dies on its own."""
        code = await process.wait()
        if self._stopping:
            return
        self._event().clear()
        delay = 1.0
        log.error(
            "model %s: worker %d exited with %s; restarting", self.info.model, process.pid, code
        )
        while not self._stopping:
            await asyncio.sleep(delay)
            try:
                await self._start()
            except PolyvoxError as exc:
                log.error("model %s: restart failed: %s", self.info.model, exc.message)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            self.restarts += 1
            return

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()

    def _event(self) -> asyncio.Event:
        if self._ready is None:
            self._ready = asyncio.Event()
        return self._ready

    # -- the engine contract ----------------------------------------------------------
    async def describe(self) -> None:
        """Start the worker (if needed) and read its model's card and voices."""
        await self.load()

    async def load(self) -> None:
        """Start the worker and wait until it serves the model."""
        self._stopping = False
        if self.process is None or self.process.returncode is not None:
            await self._start()
        if not self.described:
            await PolyvoxRemote.describe(self)
            # the server admits no more to the model than its worker runs at once, so
            # requests wait (and take turns fairly) here, not in the worker's own queue
            runs = min(self._slots, self.remote_concurrency or self._slots)
            self.info = dataclasses.replace(
                self.info, max_concurrency=runs, placement="environment"
            )

    async def unload(self) -> None:
        """Stop the worker: all of its memory goes back."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        if self.process is not None:
            await self._stop(self.process)
            log.info("model %s: worker %d stopped", self.info.model, self.process.pid)
        self._tasks = []
        self._event().clear()
        await self.unload_client()

    async def unload_client(self) -> None:
        """Close the HTTP client (the worker's address changes with each start)."""
        await PolyvoxRemote.unload(self)

    async def forget_reference(self, digest: str) -> None:
        """Tell a running worker; a stopped one keeps nothing in memory, and its disk
        conditioning is swept by the server (``Cloning.forget``)."""
        if self.process is not None and self.process.returncode is None and self._event().is_set():
            await PolyvoxRemote.forget_reference(self, digest)

    def synthesize(self, req: SpeechRequest) -> AsyncGenerator[AudioChunk, None]:
        """PolyvoxRemote's synthesis, once the worker runs; a worker that dies midway is a
        503 that says it is being restarted."""
        return self._running(PolyvoxRemote.synthesize(self, req))

    def run(self, request: BaseModel) -> AsyncGenerator[object, None]:
        """PolyvoxRemote's run of a task beyond speech, once the worker runs (as above)."""
        return self._running(PolyvoxRemote.run(self, request))

    async def _running(self, items: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
        try:
            await asyncio.wait_for(self._event().wait(), START_TIMEOUT)
        except TimeoutError:
            await items.aclose()
            raise self._gone("its worker is not running") from None
        process = self.process
        try:
            async with contextlib.aclosing(items):
                async for item in items:
                    yield item
        except PolyvoxError as exc:
            if process is None or exc.status_code not in (502, 503):
                raise
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 1.0)
            if process.returncode is None:
                raise
            raise EngineUnavailable(
                f"model {self.info.model!r}: its worker process stopped "
                f"(exit status {process.returncode}) and is being restarted; try again"
            ) from exc


def _options(spec: ModelSpec) -> dict[str, Any]:
    """The options the model's config set, for the worker to validate again."""
    data: dict[str, Any] = spec.options.model_dump(mode="json", exclude_unset=True)
    return data
