"""Property-based fuzzing of every route in the app's own OpenAPI schema: never a 5xx.

Generated JSON bodies and form fields also get non-finite numbers (NaN, +-Infinity) in
their number fields and as engine parameters: JSON as Python writes it carries them as
bare literals, and every place that accepts a number must refuse them with a 4xx.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyvox.api import create_app
from polyvox.settings import Settings
from tests.conftest import LiveServer, start_server

# short inputs keep each generated speech request cheap; everything else is default
SETTINGS = Settings(max_input_chars=120, max_upload_bytes=64 * 1024)
schema = schemathesis.openapi.from_dict(create_app(SETTINGS).openapi())
NON_FINITE = (math.nan, math.inf, -math.inf)
ENGINE_NUMBERS = ("noise_scale", "noise_w_scale", "volume", "sentence_silence", "speed")


def _with_non_finite(body: dict[str, Any], key: str, value: float, apply: bool) -> dict[str, Any]:
    return {**body, key: value} if apply else body


@schema.hook
def flatmap_body(context: Any, body: Any) -> st.SearchStrategy[Any]:
    """Half the dict bodies get one number field (or engine parameter) made non-finite."""
    if not isinstance(body, dict):
        return st.just(body)
    numbers = [k for k, v in body.items() if isinstance(v, int | float) and not isinstance(v, bool)]
    keys = [*numbers, *ENGINE_NUMBERS, "temperature", "no_speech_threshold"]
    return st.builds(
        _with_non_finite, st.just(body), st.sampled_from(keys), st.sampled_from(NON_FINITE),
        st.booleans(),
    )  # fmt: skip


def send(case: schemathesis.Case, base_url: str) -> requests.Response:
    """The case over HTTP; JSON is written by ``json.dumps``, which keeps NaN and Infinity."""
    kwargs = case.as_transport_kwargs(base_url=base_url)
    if "json" in kwargs:
        kwargs["data"] = json.dumps(kwargs.pop("json"))
        kwargs["headers"] = {**(kwargs.get("headers") or {}), "Content-Type": "application/json"}
    return requests.request(**kwargs, timeout=60)


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[LiveServer]:
    yield from start_server(SETTINGS)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: schemathesis.Case, fuzz_server: LiveServer) -> None:
    check(case, fuzz_server)


def check(case: schemathesis.Case, server: LiveServer) -> None:
    """Never a 5xx; every error in OpenAI's shape."""
    response = send(case, server.url)
    assert response.status_code < 500, (case.method, case.path, case.body, response.text[:500])
    if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
        error = response.json().get("error")
        assert isinstance(error, dict), response.text[:500]
        assert set(error) == {"message", "type", "param", "code"}


BODIES = [
    (path, method)
    for path, methods in create_app(SETTINGS).openapi()["paths"].items()
    for method, spec in methods.items()
    if "requestBody" in spec
]


@pytest.mark.parametrize(("path", "method"), BODIES)
def test_non_finite_numbers_never_cause_server_errors(
    path: str, method: str, fuzz_server: LiveServer
) -> None:
    """Bodies drawn with the hook above: about a third carry NaN or an infinity."""
    drawn: list[bool] = []

    @given(case=schema[path][method.upper()].as_strategy())
    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        body = json.dumps(case.body) if isinstance(case.body, dict) else ""
        drawn.append("NaN" in body or "Infinity" in body)
        check(case, fuzz_server)

    run()
    assert any(drawn), "no body with a non-finite number was generated"
