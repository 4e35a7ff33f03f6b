"""A task the core does not know: ``picture``, a prompt in, PNG pictures out, with progress.

It stands in for image generation in the tests of the task-neutral core: declared here as
data (``polyvox.tasks.register``), it is served in-process, in an engine environment's
worker and through a remote polyvox with no change to the core.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from polyvox import tasks


class PictureRequest(BaseModel):
    """What a client sends: a prompt, a size and how many pictures."""

    model_config = ConfigDict(extra="forbid")  # an unknown field is a 422, never ignored
    prompt: Annotated[str, Field(min_length=1, max_length=1000)]
    size: Annotated[str, Field(pattern=r"^\d{1,3}x\d{1,3}$")] = "16x16"
    n: Annotated[int, Field(ge=1, le=4)] = 1


class PictureCapabilities(BaseModel):
    """What a picture model can do."""

    sizes: list[str]
    max_n: int


@dataclass(frozen=True)
class Progress:
    step: int
    steps: int


@dataclass(frozen=True)
class Picture:
    index: int
    png: bytes


def encode(result: Any) -> dict[str, Any]:
    if isinstance(result, Progress):
        return {"type": "progress", "step": result.step, "steps": result.steps}
    return {"type": "picture", "index": result.index, "png": base64.b64encode(result.png).decode()}


def decode(data: dict[str, Any]) -> Progress | Picture:
    if data["type"] == "progress":
        return Progress(data["step"], data["steps"])
    return Picture(data["index"], base64.b64decode(data["png"]))


PICTURE = tasks.register(
    tasks.Task(
        "picture",
        "a prompt in, PNG pictures out",
        PictureRequest,
        PictureCapabilities,
        encode,
        decode,
    )
)
