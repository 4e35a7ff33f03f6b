"""Tasks: what a model does. Speech (``tts``, ``stt``) is the core's own; every other task
(image and video generation next) is declared here as data, and served by the same pool,
schedulers, placement, metrics and transports without any of them knowing it.

A task names the request a client sends (a pydantic model: a wrong field is a 422 naming
it), the capabilities record a model of the task describes itself with (the ``/v1/models``
card's ``capabilities``), and how its engines' results travel as JSON, so a remote polyvox
or an engine environment's worker streams them back exactly. A task's module declares it
with ``register``; built-in ones are listed in ``BUILTIN`` (imported when first named),
plugins under the ``polyvox.tasks`` entry-point group.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel, ValidationError

from polyvox.errors import InvalidRequest, ModelNotFound

SPEECH = ("tts", "stt")
"""The speech tasks, served through their own routes and types (``polyvox.types``)."""
BUILTIN: dict[str, str] = {}
"""Task name -> the module that registers it (issues 32 and 34 add image and video)."""
ENTRY_POINT_GROUP = "polyvox.tasks"


@dataclass(frozen=True)
class Task:
    """One task beyond speech, as data the core serves it by."""

    name: str
    """The model kind (``/v1/models``' ``kind``) and the task's route, ``/v1/tasks/{name}``."""
    description: str
    request: type[BaseModel]
    """What a client sends (less ``model``); validated before any work."""
    capabilities: type[BaseModel]
    """What a model of the task can do; its card's ``capabilities`` beside the common ones."""
    encode: Callable[[Any], dict[str, Any]]
    """An engine's result (progress or output) -> JSON, one line of the task's stream."""
    decode: Callable[[dict[str, Any]], Any]
    """The inverse of ``encode``: a remote model's results, as its engine made them."""


_TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Declare a task (from its module, at import); declaring speech's names is an error."""
    if task.name in SPEECH:
        raise ValueError(f"{task.name!r} is a speech task, served by the core's own types")
    _TASKS[task.name] = task
    return task


def find(name: str) -> Task | None:
    """The task called ``name``, importing its module if it is built in or a plugin."""
    if name in _TASKS:
        return _TASKS[name]
    target = BUILTIN.get(name)
    if target is None:
        target = next(
            (ep.value for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name), None
        )
    if target is not None:
        importlib.import_module(target.partition(":")[0])
    return _TASKS.get(name)


def get(name: str) -> Task:
    """The task called ``name``; an unknown one is a 404 naming the known ones."""
    task = find(name)
    if task is None:
        known = ", ".join(sorted({*_TASKS, *BUILTIN})) or "none beyond speech"
        raise ModelNotFound(f"no task named {name!r}; known: {known}", param="task")
    return task


def validate(task: Task, body: dict[str, Any]) -> BaseModel:
    """The task's request from a client's JSON body; a wrong field is a 422 naming it."""
    try:
        return task.request.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(part) for part in first.get("loc", ())) or None
        message = f"{task.name} request: {param or 'body'}: {first.get('msg', 'invalid')}"
        raise InvalidRequest(message, param=param) from None
