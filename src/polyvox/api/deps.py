"""Typed application state and the FastAPI dependencies that hand it to routes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from polyvox.service import SpeechService
from polyvox.settings import Settings


@dataclass
class AppState:
    """Everything a running app holds; built once in the lifespan."""

    settings: Settings
    service: SpeechService
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    preload_error: str | None = None


def get_state(request: Request) -> AppState:
    """The app's state (set by create_app)."""
    state: AppState = request.app.state.polyvox
    return state


def get_service(request: Request) -> SpeechService:
    """The app's SpeechService."""
    return get_state(request).service


StateDep = Annotated[AppState, Depends(get_state)]
ServiceDep = Annotated[SpeechService, Depends(get_service)]
