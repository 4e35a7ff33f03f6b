"""The RunPod handlers called directly: every job shape, the generator handler, errors."""

from __future__ import annotations

import asyncio
import base64
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from polyvox import codecs
from polyvox.settings import Settings
from polyvox.worker.runpod import RunPodWorker, start_config
from tests.samples import sine_wav

# The seeds' examples; placeholders ("base64_audio_data", "english|multilingual") made real.
CHATTERBOX_SEED = {
    "text": "Текст для синтеза",
    "model_type": "multilingual",
    "language_id": "ru",
    "audio_prompt": base64.b64encode(sine_wav(1.0)).decode(),
    "exaggeration": 0.5,
    "cfg_weight": 0.5,
}
XTTS_SEED = {
    "gen_text": "Olá! Este é um exemplo de síntese de voz usando XTTS V2.",
    "ref_audio_url": "gs://seu-bucket/referencias/voz_joao.wav",
    "voice_id": "joao_formal",
    "language": "pt",
    "temperature": 0.7,
    "speed": 1.0,
    "top_k": 50,
    "top_p": 0.85,
}
# What Piper can honour of each shape.
CHATTERBOX_OK = {"text": "Hello from the Chatterbox shape.", "model_type": "english"}
XTTS_OK = {"gen_text": "Hello from the XTTS shape.", "voice_id": "joao_formal", "speed": 1.0}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def collect(worker: RunPodWorker, job_input: dict[str, Any]) -> list[dict[str, Any]]:
    return [part async for part in worker.stream({"id": "t", "input": job_input})]


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uploads")


@pytest.fixture(scope="module")
def worker(out_dir: Path) -> Iterator[RunPodWorker]:
    settings = Settings(storage={"output_url": str(out_dir)}, preload=[])  # type: ignore[arg-type]
    worker = RunPodWorker(settings)
    run(worker.warm())
    return worker


def handle(worker: RunPodWorker, job_input: object) -> dict[str, Any]:
    result: dict[str, Any] = run(worker.handle({"id": "t", "input": job_input}))
    return result


def decoded_seconds(data: bytes) -> float:
    samples, rate = codecs.decode(data)
    return len(samples) / rate


def test_warm_loads_models_at_start(worker: RunPodWorker) -> None:
    assert worker.models_to_warm() == ["piper"]
    assert worker.service.pool.loaded() == ["piper"]


def test_chatterbox_shape(worker: RunPodWorker) -> None:
    out = handle(worker, {**CHATTERBOX_OK, "language_id": "en"})
    assert set(out) == {"audio", "sample_rate", "duration", "text", "language", "model_type"}
    wav = base64.b64decode(out["audio"])
    assert wav[:4] == b"RIFF"
    assert out["sample_rate"] == 22050
    assert out["duration"] == pytest.approx(decoded_seconds(wav), abs=0.01)
    assert out["duration"] > 0.5
    assert (out["text"], out["language"], out["model_type"]) == (
        CHATTERBOX_OK["text"], "en", "english",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("job_input", "param"),
    [
        (CHATTERBOX_SEED, "audio_prompt"),
        ({**CHATTERBOX_SEED, "audio_prompt": None}, "language"),
        ({**CHATTERBOX_SEED, "audio_prompt": None, "language_id": "en"}, "exaggeration"),
        ({**CHATTERBOX_OK, "cfg_weight": 0.5}, "cfg_weight"),
        (XTTS_SEED, "ref_audio_url"),
        ({**XTTS_SEED, "ref_audio_url": None}, "language"),
        ({**XTTS_SEED, "ref_audio_url": None, "language": "en"}, "temperature"),
        ({**XTTS_OK, "top_k": 50}, "top_k"),
        ({"input": "Hi.", "reference_audio": "https://example.com/a.wav"}, "reference_audio"),
        ({"input": "Hi.", "voice_attributes": {"gender": "male"}}, "voice_attributes"),
    ],
)
def test_unsupported_parameter_names_engine_and_parameter(
    worker: RunPodWorker, job_input: dict[str, Any], param: str
) -> None:
    out = handle(worker, job_input)
    assert set(out) == {"error"}
    assert "piper" in out["error"]
    assert param in out["error"]


def test_chatterbox_language_error_names_the_job_field(worker: RunPodWorker) -> None:
    out = handle(worker, {**CHATTERBOX_OK, "model_type": "multilingual", "language_id": "ru"})
    assert "language_id" in out["error"]


def test_xtts_shape_uploads_and_returns_a_url(worker: RunPodWorker, out_dir: Path) -> None:
    out = handle(worker, {**XTTS_OK, "language": "en"})
    assert set(out) == {
        "audio_url", "duration", "voice_id", "language", "generation_time", "parameters",
    }  # fmt: skip
    path = Path(urlsplit(out["audio_url"]).path)
    assert path.parent == out_dir / "generated"
    assert path.name.startswith("joao_formal_")
    assert path.suffix == ".wav"
    assert out["duration"] == pytest.approx(decoded_seconds(path.read_bytes()), abs=0.01)
    assert (out["voice_id"], out["language"]) == ("joao_formal", "en")
    # the seed's documented defaults, though Piper takes none but the speed
    assert out["parameters"] == {"temperature": 0.7, "speed": 1.0, "top_k": 50, "top_p": 0.85}
    assert out["generation_time"] > 0


def test_xtts_shape_without_storage_fails_before_synthesis() -> None:
    worker = RunPodWorker(Settings(preload=[]))
    out = handle(worker, XTTS_OK)
    assert "POLYVOX_STORAGE__OUTPUT_URL" in out["error"]
    assert worker.service.pool.loaded() == []  # failed before the model was even loaded


def test_native_shape_base64_and_url(worker: RunPodWorker) -> None:
    out = handle(worker, {"input": "Native shape.", "voice": "alloy", "response_format": "mp3"})
    assert out["format"] == "mp3"
    assert out["voice"] == "en_US-joe-medium"
    assert decoded_seconds(base64.b64decode(out["audio"])) == pytest.approx(out["duration"], 0.1)
    out = handle(worker, {"input": "Native shape.", "response_format": "flac", "output": "url"})
    assert "audio" not in out
    data = Path(urlsplit(out["audio_url"]).path).read_bytes()
    assert data[:4] == b"fLaC"


@pytest.mark.parametrize(
    ("job_input", "param"),
    [
        ("just text", "input"),
        ({"prompt": "hi"}, "input"),
        ({"text": 5}, "text"),
        ({"text": "hi", "model_type": "turbo"}, "model_type"),
        ({"text": "hi", "audio_prompt": "%%%"}, "audio_prompt"),
        ({"text": "hi", "unknown": 1}, "unknown"),
        ({"gen_text": ""}, "gen_text"),
        ({"input": "hi", "response_format": "wma"}, "response_format"),
        ({"input": "hi", "model": "nope"}, "model"),
    ],
)
def test_bad_job_input(worker: RunPodWorker, job_input: object, param: str) -> None:
    out = handle(worker, job_input)
    assert set(out) == {"error"}
    assert param in out["error"]


def test_generator_handler_streams_audio_chunks(worker: RunPodWorker) -> None:
    text = "One. Two three four five six seven eight nine ten. Eleven twelve."
    parts = run(collect(worker, {**CHATTERBOX_OK, "text": text}))
    *chunks, final = parts
    assert len(chunks) >= 2
    assert [c["index"] for c in chunks] == list(range(len(chunks)))
    assert final["done"] is True
    assert "audio" not in final
    assert final["text"] == text
    assert final["sample_rate"] == 22050
    wav = b"".join(base64.b64decode(c["audio"]) for c in chunks)
    assert decoded_seconds(wav) == pytest.approx(final["duration"], abs=0.01)


def test_generator_handler_uploads_for_url_shapes(worker: RunPodWorker) -> None:
    *chunks, final = run(collect(worker, XTTS_OK))
    assert chunks
    data = Path(urlsplit(final["audio_url"]).path).read_bytes()
    assert data[:4] == b"RIFF"
    assert decoded_seconds(data) == pytest.approx(final["duration"], abs=0.01)


def test_generator_handler_fails_before_audio(worker: RunPodWorker) -> None:
    parts = run(collect(worker, XTTS_SEED))
    assert len(parts) == 1
    assert "ref_audio_url" in parts[0]["error"]
    assert "piper" in parts[0]["error"]


def test_start_config_picks_the_handler() -> None:
    plain = start_config(RunPodWorker(Settings(preload=[])))
    assert inspect.iscoroutinefunction(plain["handler"])
    streaming = RunPodWorker(
        Settings(preload=[], worker={"streaming": True, "concurrency": 4})  # type: ignore[arg-type]
    )
    config = start_config(streaming)
    assert inspect.isasyncgenfunction(config["handler"])
    assert config["concurrency_modifier"](1) == 4
    assert config["return_aggregate_stream"] is True


def test_concurrent_jobs_share_one_worker() -> None:
    # a worker of its own: its asyncio primitives live in this test's event loop
    worker = RunPodWorker(Settings(preload=[], worker={"concurrency": 3}))  # type: ignore[arg-type]

    async def three() -> list[dict[str, Any]]:
        await worker.warm()
        jobs = [worker.handle({"id": str(i), "input": {"input": f"Job {i}."}}) for i in range(3)]
        return list(await asyncio.gather(*jobs))

    results = run(three())
    assert all("audio" in r for r in results)
