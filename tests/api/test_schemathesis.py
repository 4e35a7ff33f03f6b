"""Property-based fuzzing of every route in the app's own OpenAPI schema: never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from polyvox.api import create_app
from polyvox.settings import Settings
from tests.conftest import LiveServer, start_server

# short inputs keep each generated speech request cheap; everything else is default
SETTINGS = Settings(max_input_chars=120, max_upload_bytes=64 * 1024)
schema = schemathesis.openapi.from_dict(create_app(SETTINGS).openapi())


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
    response = case.call(base_url=fuzz_server.url, timeout=60)
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
    if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
        error = response.json().get("error")
        assert isinstance(error, dict), response.text[:500]
        assert set(error) == {"message", "type", "param", "code"}
