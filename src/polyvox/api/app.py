"""create_app(): the FastAPI application with its lifespan and one typed AppState."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from polyvox.api import errors
from polyvox.api.deps import AppState
from polyvox.api.middleware import RequestMiddleware
from polyvox.api.routes import (
    compat,
    health,
    models,
    speech,
    speech_stream,
    status,
    tasks,
    transcriptions,
    ui,
    voices,
)
from polyvox.api.routes import metrics as metrics_route
from polyvox.metrics import Metrics
from polyvox.service import SpeechService
from polyvox.settings import Settings
from polyvox.supervisor import follow_supervisor
from polyvox.version import __version__

log = logging.getLogger(__name__)


Beside = Callable[[SpeechService], contextlib.AbstractAsyncContextManager[None]]
"""Something served beside the HTTP app from the same service (the Wyoming server): entered
once the service has started, left before it closes."""


def create_app(settings: Settings | None = None, *, beside: Sequence[Beside] = ()) -> FastAPI:
    """Build the app; models preload in the background and /health/ready reports when done.

    ``beside``: servers that share the app's service and life (``polyvox serve --wyoming``
    passes the Wyoming server): the transports do not import each other."""
    settings = settings or Settings()

    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        follow_supervisor()  # a supervised worker ends with its server
        async with SpeechService(settings, metrics=metrics) as service:
            app.state.polyvox = AppState(settings=settings, service=service)
            async with contextlib.AsyncExitStack() as servers:
                for serve in beside:
                    await servers.enter_async_context(serve(service))
                yield

    app = FastAPI(
        title="polyvox",
        version=__version__,
        description="One self-hosted speech server for many open voice models.",
        lifespan=lifespan,
    )
    errors.install(app, metrics)
    routes = [health, models, voices, speech, speech_stream, transcriptions, status, tasks]
    routes.append(metrics_route)
    for module in routes:
        app.include_router(module.router)
    app.include_router(compat.router)
    if settings.ui:
        ui.install(app)
    app.add_middleware(
        RequestMiddleware,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        api_keys=[key.get_secret_value() for key in settings.api_keys],
        admin_keys=[key.get_secret_value() for key in settings.admin_api_keys],
    )
    # CORS is outermost so preflights and error responses carry its headers
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID"],
        )
    return app
