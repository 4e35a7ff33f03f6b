"""Typed application state and the FastAPI dependencies that hand it to routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from polyvox.service import SpeechService
from polyvox.settings import Settings


@dataclass
class AppState:
    """Everything a running app holds; built once in the lifespan."""

    settings: Settings
    service: SpeechService


def get_state(request: HTTPConnection) -> AppState:
    """The app's state (set by create_app), from a request or a WebSocket."""
    state: AppState = request.app.state.polyvox
    return state


def get_service(request: Request) -> SpeechService:
    """The app's SpeechService."""
    return get_state(request).service


StateDep = Annotated[AppState, Depends(get_state)]
ServiceDep = Annotated[SpeechService, Depends(get_service)]
