"""RunPod jobs: non-finite numbers refused, engine failures kept private, cancels stop work."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from polyvox.settings import Settings
from polyvox.worker.runpod import RunPodWorker
from tests.integration.test_streaming import LONG_TEXT


@pytest.fixture(scope="module")
def worker() -> RunPodWorker:
    worker = RunPodWorker(Settings(preload=[]))
    asyncio.run(worker.warm())
    return worker


def handle(worker: RunPodWorker, job_input: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = asyncio.run(worker.handle({"id": "job-7", "input": job_input}))
    return result


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize(
    ("job_input", "field"),
    [
        ({"input": "Hello.", "noise_scale": None}, "noise_scale"),
        ({"input": "Hello.", "speed": None}, "speed"),
        ({"input": "Hello.", "voice_attributes": {"age": None}}, "voice_attributes"),
        ({"gen_text": "Hello.", "voice_id": "v", "speed": None}, "speed"),
        ({"gen_text": "Hello.", "voice_id": "v", "temperature": None}, "temperature"),
        ({"text": "Hello.", "exaggeration": None}, "exaggeration"),
    ],
)
def test_non_finite_numbers_are_refused(
    worker: RunPodWorker, job_input: dict[str, Any], field: str, value: float
) -> None:
    def fill(v: Any) -> Any:
        return (
            {k: fill(x) for k, x in v.items()} if isinstance(v, dict) else value if v is None else v
        )

    output = handle(worker, fill(job_input))
    assert set(output) == {"error"}
    assert field in output["error"]


def test_engine_failure_text_stays_in_the_log(
    worker: RunPodWorker, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    engine = worker.service.pool.engine("piper").blocking  # type: ignore[attr-defined]

    def broken(*_: object, **__: object) -> Any:
        raise RuntimeError("/opt/internal/piper/voice.onnx: tensor shape mismatch")

    monkeypatch.setattr(engine, "synthesize", broken)
    output = handle(worker, {"input": "Hello."})
    assert "failed to synthesise" in output["error"]
    assert "request id job-7" in output["error"]
    assert "/opt/internal" not in output["error"]
    assert "/opt/internal" in caplog.text  # the operator still sees the cause


async def test_a_cancelled_job_stops_within_a_chunk(worker: RunPodWorker) -> None:
    """The RunPod SDK stops a job by cancelling its task (JobScaler.stop_job)."""
    metrics = worker.service.metrics

    def chunks() -> float:
        return metrics.value("polyvox_chunks_synthesized_total", model="piper")

    before = chunks()
    task = asyncio.create_task(worker.handle({"id": "c", "input": {"input": LONG_TEXT}}))
    while chunks() - before < 2:  # noqa: ASYNC110 (a metric to poll, not an event)
        await asyncio.sleep(0.02)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stopped_after = time.monotonic() - started
    produced = chunks() - before
    await asyncio.sleep(1.0)
    assert chunks() - before == produced, "synthesis went on after the cancel"
    assert produced < 10, f"{produced} of 40 chunks"
    assert metrics.value("polyvox_inflight_jobs", model="piper") == 0
    assert stopped_after < 5, stopped_after  # one chunk, with a wide margin for CI
