"""Typed application state and the FastAPI dependencies that hand it to routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from polyvox.service import SpeechService
from polyvox.settings import Settings
from polyvox.types import TRUSTED, Caller


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


NOBODY = Caller(key="", admin=False)
"""A caller without a valid key (open paths only): owns and sees nothing."""


def get_caller(request: HTTPConnection) -> Caller:
    """Who sent the request (the API key the middleware matched)."""
    caller = request.scope.get("state", {}).get("caller")
    if isinstance(caller, Caller):
        return caller
    keys = get_state(request).settings.api_keys  # no caller: only trusted without keys
    return NOBODY if keys or get_state(request).settings.admin_api_keys else TRUSTED


StateDep = Annotated[AppState, Depends(get_state)]
CallerDep = Annotated[Caller, Depends(get_caller)]
ServiceDep = Annotated[SpeechService, Depends(get_service)]
