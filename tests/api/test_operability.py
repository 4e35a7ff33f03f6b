"""Metrics, API keys, request ids, body limits, CORS and logs on a real server."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from polyvox.logs import JsonFormatter, RequestIdFilter
from polyvox.settings import Settings
from tests.conftest import LiveServer, start_server

KEYS = ["first-key", "second-key"]


@pytest.fixture(scope="module")
def secured() -> Iterator[LiveServer]:
    settings = Settings(
        api_keys=KEYS,
        cors_origins=["https://app.example"],
        max_body_bytes=4096,  # type: ignore[list-item]
    )
    yield from start_server(settings)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def test_metrics_cover_requests_audio_queue_and_models(live_server: LiveServer) -> None:
    body = {"model": "tts-1", "input": "Metrics are counted. Twice over.", "response_format": "wav"}
    assert httpx.post(f"{live_server.url}/v1/audio/speech", json=body).status_code == 200
    httpx.post(f"{live_server.url}/v1/audio/speech", json={**body, "voice": "nobody"})
    response = httpx.get(f"{live_server.url}/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    m = samples(response.text)
    ok = (
        "polyvox_requests_total",
        (("model", "piper"), ("route", "/v1/audio/speech"), ("status", "200")),
    )
    assert m[ok] >= 1
    assert m[("polyvox_errors_total", (("code", "voice_not_found"),))] >= 1
    piper = (("model", "piper"),)
    for name in (
        "polyvox_audio_seconds_total", "polyvox_characters_total",
        "polyvox_chunks_synthesized_total", "polyvox_model_loads_total",
        "polyvox_time_to_first_audio_seconds_count", "polyvox_real_time_factor_count",
        "polyvox_queue_wait_seconds_count", "polyvox_model_load_seconds_count",
    ):  # fmt: skip
        assert m[(name, piper)] > 0, name
    assert m[("polyvox_models_loaded", piper)] == 1
    assert m[("polyvox_inflight_jobs", piper)] == 0
    assert m[("polyvox_queue_depth", piper)] == 0
    assert (
        m[
            (
                "polyvox_request_duration_seconds_count",
                (("model", "piper"), ("route", "/v1/audio/speech")),
            )
        ]
        >= 1
    )


def test_api_keys(secured: LiveServer) -> None:
    url = f"{secured.url}/v1/audio/speech"
    body = {"model": "tts-1", "input": "Hi."}
    response = httpx.post(url, json=body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert httpx.post(url, json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    for key in KEYS:
        assert (
            httpx.post(url, json=body, headers={"Authorization": f"Bearer {key}"}).status_code
            == 200
        )
    assert httpx.get(f"{secured.url}/v1/models").status_code == 401
    assert httpx.get(f"{secured.url}/metrics").status_code == 401
    assert httpx.get(f"{secured.url}/health").status_code == 200
    assert httpx.get(f"{secured.url}/health/ready").status_code == 200


def test_openai_client_with_a_key(secured: LiveServer) -> None:
    good = openai.OpenAI(base_url=f"{secured.url}/v1", api_key=KEYS[1], max_retries=0)
    assert good.audio.speech.create(model="tts-1", voice="alloy", input="Keyed.").content
    bad = openai.OpenAI(base_url=f"{secured.url}/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.audio.speech.create(model="tts-1", voice="alloy", input="Keyed.")


def test_body_limit(secured: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {KEYS[0]}"}
    big = {"model": "tts-1", "input": "x" * 5000}
    response = httpx.post(f"{secured.url}/v1/audio/speech", json=big, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_cors(secured: LiveServer) -> None:
    preflight = httpx.options(
        f"{secured.url}/v1/audio/speech",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    other = httpx.options(
        f"{secured.url}/v1/audio/speech",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in other.headers


def test_request_ids(live_server: LiveServer) -> None:
    echoed = httpx.get(f"{live_server.url}/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    fresh = httpx.get(f"{live_server.url}/health", headers={"X-Request-ID": "bad id; drop"})
    assert len(fresh.headers["x-request-id"]) == 32
    assert (
        fresh.headers["x-request-id"]
        != httpx.get(f"{live_server.url}/health").headers["x-request-id"]
    )


def test_json_logs_carry_the_request_id_and_not_the_text(live_server: LiveServer) -> None:
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Capture()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("polyvox")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        secret_text = "The launch code is swordfish."
        body = {"model": "tts-1", "input": secret_text}
        headers = {"X-Request-ID": "log-check-1"}
        httpx.post(f"{live_server.url}/v1/audio/speech", json=body, headers=headers)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    records = [json.loads(line) for line in lines]
    mine = [r for r in records if r["request_id"] == "log-check-1"]
    assert mine, records
    assert any("chars=" in r["message"] for r in mine)
    assert not any("swordfish" in line for line in lines)


def test_status_reports_each_model_and_its_recent_rtf(live_server: LiveServer) -> None:
    body = {"model": "piper", "input": "Counted in the status.", "response_format": "pcm"}
    assert httpx.post(f"{live_server.url}/v1/audio/speech", json=body).status_code == 200
    status = httpx.get(f"{live_server.url}/v1/status").json()
    assert status["object"] == "status"
    assert status["status"] == "ready"
    piper = next(m for m in status["models"] if m["id"] == "piper")
    assert piper["placement"] == "in-process"
    assert piper["location"] is None
    assert piper["loaded"] is True
    assert piper["in_flight"] == 0
    assert piper["queue_depth"] == 0
    assert piper["slots"] >= 1
    assert 0 < len(piper["recent_rtf"]) <= 20
    assert all(0 < rtf < 10 for rtf in piper["recent_rtf"])


def test_the_ui_files_are_open_and_the_api_it_calls_is_not(secured: LiveServer) -> None:
    page = httpx.get(f"{secured.url}/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert httpx.head(f"{secured.url}/").status_code == 200
    script = httpx.get(f"{secured.url}/ui/js/main.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert httpx.get(f"{secured.url}/ui/%2e%2e/%2e%2e/settings.py").status_code == 404
    assert httpx.get(f"{secured.url}/ui/js/nothing.js").status_code == 404
    assert httpx.get(f"{secured.url}/v1/status").status_code == 401
    assert httpx.get(f"{secured.url}/uix").status_code == 401  # only /ui/ itself is open


def test_the_ui_can_be_turned_off() -> None:
    for server in start_server(Settings(ui=False, preload=[])):
        assert httpx.get(f"{server.url}/").status_code == 404
        assert httpx.get(f"{server.url}/ui/js/main.js").status_code == 404
