"""A task the core does not know, served by it unchanged: the ``picture`` stand-in
(``tests/standins/picture_task.py`` declares the task, ``picture_engine.py`` is the engine)
is configured by import path, listed, described and run in-process, in an engine
environment's worker (the kokoro environment, which knows nothing of pictures) and through
a remote polyvox, and its bad requests are 4xx errors naming the field, on every hop."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest

from polyvox.settings import ModelConfig, Settings
from tests.api.test_speech_errors import check_error
from tests.conftest import LiveServer, start_server
from tests.integration.test_environments import kokoro_env, serve_with_environments

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[2]
ENGINE = "tests.standins.picture_engine:PictureEngine"
PLACED = {"picture": "in-process", "picture-env": "environment", "picture-remote": "remote"}
__all__ = ["kokoro_env"]  # the fixture: the environment the worker runs in


@pytest.fixture(scope="module")
def gateway(kokoro_env: Path) -> Iterator[LiveServer]:
    """A backend serving the picture model in-process, and a gateway with it in-process,
    in the kokoro environment's worker and on the backend as a remote polyvox."""
    with pytest.MonkeyPatch.context() as patch, contextlib.ExitStack() as stack:
        # the worker imports the stand-in from this checkout, as a plugin would be installed
        patch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        backend_models = {
            "picture": ModelConfig(engine=ENGINE),
            "piper": ModelConfig(engine="piper"),
        }
        backend = stack.enter_context(
            contextlib.contextmanager(start_server)(Settings(models=backend_models, preload=[]))
        )
        models = {
            "picture": ModelConfig(engine=ENGINE),
            "picture-env": ModelConfig(engine=ENGINE, environment="kokoro"),
            "picture-remote": ModelConfig(engine="polyvox", url=backend.url, model="picture"),
            "piper": ModelConfig(engine="piper"),
        }
        settings = Settings(models=models, preload=[])
        yield stack.enter_context(contextlib.contextmanager(serve_with_environments)(settings))


def run(server: LiveServer, model: str, **body: Any) -> httpx.Response:
    url = f"{server.url}/v1/tasks/picture"
    return httpx.post(url, json={"model": model, **body}, timeout=300)


def results(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    return [json.loads(line) for line in response.text.splitlines() if line]


def pixels(encoded: str) -> np.ndarray:
    """A PNG decoded by FFmpeg (PyAV), as height x width x RGB."""
    import base64

    with av.open(io.BytesIO(base64.b64decode(encoded)), format="png_pipe") as picture:
        frame = next(picture.decode(video=0))
        return frame.to_ndarray(format="rgb24")


def test_every_placement_lists_and_describes_the_task(gateway: LiveServer) -> None:
    listed = httpx.get(f"{gateway.url}/v1/models", timeout=60).json()["data"]
    kinds = {card["id"]: card["kind"] for card in listed}
    assert {kinds[m] for m in PLACED} == {"picture"}
    assert kinds["piper"] == "tts"
    for model in PLACED:
        card = httpx.get(f"{gateway.url}/v1/models/{model}", timeout=300).json()
        assert card["kind"] == "picture", card
        caps = card["capabilities"]
        assert caps["sizes"] == ["16x16", "32x32"], card
        assert caps["max_n"] == 4
        assert "voice_cloning" not in caps  # speech's record is speech's alone
        assert caps["placement"] == PLACED[model]
        assert caps["device"] == "cpu"  # where the weights are, wherever it runs


def test_every_placement_paints_the_same_pictures(gateway: LiveServer) -> None:
    painted = {}
    for model in PLACED:
        lines = results(run(gateway, model, prompt="a red fox", size="32x16", n=2))
        assert [line["type"] for line in lines] == ["progress"] * 3 + ["picture"] * 2, model
        assert [line["step"] for line in lines[:3]] == [1, 2, 3]
        first, second = (pixels(line["png"]) for line in lines[3:])
        assert first.shape == second.shape == (16, 32, 3), model
        assert len(np.unique(first.reshape(-1, 3), axis=0)) == 1  # one colour, the prompt's
        assert not np.array_equal(first[0, 0], second[0, 0])  # a picture per index
        painted[model] = (first, second)
    base = painted["picture"]
    for model in ("picture-env", "picture-remote"):
        assert all(np.array_equal(a, b) for a, b in zip(base, painted[model], strict=True))


def test_status_shows_where_each_runs(gateway: LiveServer) -> None:
    results(run(gateway, "picture-env", prompt="warm it up"))
    status = httpx.get(f"{gateway.url}/v1/status", timeout=60).json()
    found = {m["id"]: m for m in status["models"]}
    for model, placement in PLACED.items():
        assert found[model]["kind"] == "picture"
        assert found[model]["placement"] == placement
        assert found[model]["in_flight"] == 0
        assert found[model]["device"] == "cpu"
    assert found["picture-env"]["loaded"]
    worker = gateway.state.service.pool.engine("picture-env")  # a process of its own
    assert worker.process.returncode is None
    assert worker.process.pid != os.getpid()
    assert any("loaded model picture-env" in line for line in worker._recent)


@pytest.mark.parametrize("model", list(PLACED))
def test_bad_requests_are_4xx_naming_the_field_on_every_hop(
    gateway: LiveServer, model: str
) -> None:
    check_error(run(gateway, model, prompt="x", colour="red"), 422, "colour")
    check_error(run(gateway, model, prompt="x", size="huge"), 422, "size")
    check_error(run(gateway, model, prompt="x", n=9), 422, "n")
    check_error(run(gateway, model), 422, "prompt")


def test_the_task_door_refuses_what_is_not_its_own(gateway: LiveServer) -> None:
    check_error(run(gateway, "piper", prompt="x"), 422, "model")
    check_error(run(gateway, "nobody", prompt="x"), 404, "model")
    check_error(
        httpx.post(f"{gateway.url}/v1/tasks/sculpture", json={"model": "picture"}), 404, "task"
    )
    check_error(httpx.post(f"{gateway.url}/v1/tasks/picture", json={"prompt": "x"}), 422, "model")
    speech = {"model": "picture", "input": "Hello.", "voice": "alloy"}
    check_error(httpx.post(f"{gateway.url}/v1/audio/speech", json=speech), 422, "model")
