"""RunPod jobs of a task the core does not know (the picture stand-in), through both
handlers: every result at once, or each as a partial; a bad field is the job's error."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from polyvox.settings import ModelConfig, Settings
from polyvox.worker.runpod import RunPodWorker

ENGINE = "tests.standins.picture_engine:PictureEngine"
JOB = {"task": "picture", "model": "picture", "prompt": "a red fox", "size": "8x4", "n": 2}


@pytest.fixture(scope="module")
def worker() -> RunPodWorker:
    models = {"picture": ModelConfig(engine=ENGINE), "piper": ModelConfig(engine="piper")}
    return RunPodWorker(Settings(models=models, preload=[]))


def handle(worker: RunPodWorker, job_input: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = asyncio.run(worker.handle({"id": "t", "input": job_input}))
    return result


async def partials(worker: RunPodWorker, job_input: dict[str, Any]) -> list[dict[str, Any]]:
    return [part async for part in worker.stream({"id": "t", "input": job_input})]


def test_the_standard_handler_answers_every_result(worker: RunPodWorker) -> None:
    output = handle(worker, JOB)
    assert output["task"] == "picture"
    assert output["model"] == "picture"
    kinds = [result["type"] for result in output["results"]]
    assert kinds == ["progress"] * 3 + ["picture"] * 2
    png = base64.b64decode(output["results"][3]["png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_the_generator_handler_sends_each_result_as_made(worker: RunPodWorker) -> None:
    parts = asyncio.run(partials(worker, JOB))
    assert [p.get("type") for p in parts[:-1]] == ["progress"] * 3 + ["picture"] * 2
    assert parts[-1] == {"done": True}
    assert parts[3:5] == handle(worker, JOB)["results"][3:5]  # the same pictures


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"n": 9}, "n"),
        ({"colour": "red"}, "colour"),
        ({"model": "piper"}, "piper"),
        ({"task": "sculpture"}, "sculpture"),
    ],
)
def test_a_bad_job_is_an_error_naming_what_is_wrong(
    worker: RunPodWorker, change: dict[str, Any], named: str
) -> None:
    output = handle(worker, {**JOB, **change})
    assert set(output) == {"error"}
    assert named in output["error"]
    streamed = asyncio.run(partials(worker, {**JOB, **change}))
    assert len(streamed) == 1
    assert named in streamed[0]["error"]
