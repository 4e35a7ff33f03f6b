"""create_app(): the FastAPI application with its lifespan and one typed AppState."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from polyvox import __version__
from polyvox.api import errors
from polyvox.api.deps import AppState
from polyvox.api.middleware import RequestMiddleware
from polyvox.api.routes import compat, health, models, speech, transcriptions, voices
from polyvox.api.routes import metrics as metrics_route
from polyvox.errors import PolyvoxError
from polyvox.metrics import Metrics
from polyvox.service import SpeechService
from polyvox.settings import Settings

log = logging.getLogger(__name__)


async def _preload(state: AppState) -> None:
    try:
        for model in state.settings.preload:
            await state.service.pool.load(model)
    except PolyvoxError as exc:
        state.preload_error = exc.message
        log.error("preloading failed: %s", exc.message)
        return
    state.ready.set()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; models preload in the background and /health/ready reports when done."""
    settings = settings or Settings()

    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = AppState(settings=settings, service=SpeechService(settings, metrics=metrics))
        app.state.polyvox = state
        tasks = [
            asyncio.create_task(_preload(state)),
            asyncio.create_task(state.service.pool.run_reaper()),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await state.service.pool.close()

    app = FastAPI(
        title="polyvox",
        version=__version__,
        description="One self-hosted speech server for many open voice models.",
        lifespan=lifespan,
    )
    errors.install(app, metrics)
    for module in (health, models, voices, speech, transcriptions, metrics_route):
        app.include_router(module.router)
    app.include_router(compat.router)
    app.add_middleware(
        RequestMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes,
        api_keys=[key.get_secret_value() for key in settings.api_keys],
    )  # fmt: skip
    # CORS is outermost so preflights and error responses carry its headers
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
            allow_headers=["*"], expose_headers=["X-Request-ID"],
        )  # fmt: skip
    return app
