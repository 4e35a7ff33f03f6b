"""Tasks as data: the registry, request checks and a task model's card both ways."""

from __future__ import annotations

import pytest

from polyvox import tasks
from polyvox.engines.wire import card, from_card
from polyvox.errors import InvalidRequest, ModelNotFound
from polyvox.types import EngineInfo
from tests.standins.picture_task import PICTURE, Picture, Progress


def test_a_registered_task_is_found_and_an_unknown_one_names_the_known() -> None:
    assert tasks.get("picture") is PICTURE
    with pytest.raises(ModelNotFound, match="picture") as found:
        tasks.get("sculpture")
    assert found.value.status_code == 404
    assert found.value.param == "task"


def test_speech_names_cannot_be_taken() -> None:
    with pytest.raises(ValueError, match="speech"):
        tasks.register(tasks.Task("tts", "", PICTURE.request, PICTURE.capabilities, str, dict))


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "x", "colour": "red"}, "colour"),
        ({"prompt": ""}, "prompt"),
        ({}, "prompt"),
        ({"prompt": "x", "n": 0}, "n"),
    ],
)
def test_a_bad_field_is_a_422_naming_it(body: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        tasks.validate(PICTURE, body)
    assert refused.value.status_code == 422
    assert refused.value.param == param
    assert param in refused.value.message


def test_a_task_models_card_round_trips() -> None:
    info = EngineInfo(
        "painter",
        "picture",
        "picture",
        "paints",
        max_concurrency=2,
        device="cuda",
        capabilities={"sizes": ["8x8"], "max_n": 2},
    )
    shown = card(info)
    assert shown["kind"] == "picture"
    assert shown["capabilities"] == {
        "engine": "picture",
        "max_concurrency": 2,
        "device": "cuda",
        "placement": "in-process",
        "sizes": ["8x8"],
        "max_n": 2,
    }
    assert from_card(shown) == info


def test_results_travel_as_json_and_back() -> None:
    for result in (Progress(1, 3), Picture(0, b"\x89PNG...")):
        assert PICTURE.decode(PICTURE.encode(result)) == result
