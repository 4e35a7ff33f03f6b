"""The seeds' documented defaults for jobs in the seeds' shapes, through the RunPod handlers
in-process: the XTTS worker's ``pt`` where the model speaks it (Kokoro, real weights), the
model's own language where it does not (Piper), the ``parameters`` echo with all four keys;
the native shape keeps the model's defaults; a Chatterbox job for the English model with
another ``language_id`` succeeds with a warning."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from polyvox.settings import ModelConfig, Settings
from polyvox.worker.runpod import RunPodWorker
from tests.worker.test_handler import XTTS_SEED

XTTS_PAYLOAD = XTTS_SEED
"""xtts-runpod-worker.md, "Formato do Payload" (and "Exemplo com Python"), verbatim."""
XTTS_PYTHON = {
    "gen_text": "Este é um teste de síntese de voz.",
    "ref_audio_url": "gs://meu-bucket/vozes/carlos.wav",
    "voice_id": "carlos_podcast",
    "language": "pt",
    "temperature": 0.8,
    "speed": 0.95,
}
# chatterbox-runpod-worker.md, "API Спецификация", with the English model and French
CHATTERBOX_SPEC = {
    "text": "Текст для синтеза",
    "model_type": "english",
    "language_id": "fr",
    "audio_prompt": "base64_audio_data",
    "exaggeration": 0.5,
    "cfg_weight": 0.5,
}
DOCUMENTED = {"temperature": 0.7, "speed": 1.0, "top_k": 50, "top_p": 0.85}


def without(payload: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k not in keys}


# What Kokoro and Piper can honour of the Python example: neither clones (no reference
# URL) nor samples (no temperature); and no language, so the seed's default decides.
XTTS_NO_LANGUAGE = without(XTTS_PYTHON, "ref_audio_url", "temperature", "language")
# ... and of the Chatterbox specification: no reference audio, no Chatterbox controls.
CHATTERBOX_FRENCH = without(CHATTERBOX_SPEC, "audio_prompt", "exaggeration", "cfg_weight")


def make_worker(uploads: Path, xtts_model: str) -> Iterator[RunPodWorker]:
    models = {"piper": ModelConfig(engine="piper"), "kokoro": ModelConfig(engine="kokoro")}
    settings = Settings.model_validate(
        {
            "models": models,
            "preload": [],
            "storage": {"output_url": str(uploads)},
            "worker": {"xtts_model": xtts_model},
        }
    )
    worker = RunPodWorker(settings)
    asyncio.run(worker.warm())
    yield worker
    asyncio.run(worker.service.pool.close())


@pytest.fixture(scope="module")
def kokoro(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunPodWorker]:
    """XTTS-shaped jobs go to Kokoro: it speaks Portuguese (pt-br)."""
    yield from make_worker(tmp_path_factory.mktemp("kokoro-uploads"), "kokoro")


@pytest.fixture(scope="module")
def piper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunPodWorker]:
    """XTTS-shaped jobs go to Piper: English only, no temperature, top_k or top_p."""
    yield from make_worker(tmp_path_factory.mktemp("piper-uploads"), "piper")


def handle(worker: RunPodWorker, job_input: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = asyncio.run(worker.handle({"id": "seed", "input": job_input}))
    return result


def uploaded(out: dict[str, Any]) -> bytes:
    assert "error" not in out, out
    return Path(urlsplit(out["audio_url"]).path).read_bytes()


def test_an_xtts_job_without_language_speaks_portuguese_where_the_model_does(
    kokoro: RunPodWorker,
) -> None:
    out = handle(kokoro, XTTS_NO_LANGUAGE)
    assert out["language"] == "pt"
    assert out["parameters"] == {**DOCUMENTED, "speed": 0.95}  # the one sent, the others
    audio = uploaded(out)
    # Kokoro is deterministic: the same audio as an explicit "pt", not the model's English
    assert audio == uploaded(handle(kokoro, {**XTTS_NO_LANGUAGE, "language": "pt"}))
    assert audio != uploaded(handle(kokoro, {**XTTS_NO_LANGUAGE, "language": "en"}))


def test_an_xtts_job_keeps_the_models_language_where_it_speaks_no_portuguese(
    piper: RunPodWorker,
) -> None:
    out = handle(piper, XTTS_NO_LANGUAGE)
    assert out["language"] == "en_US"  # what Piper's voice spoke
    assert out["parameters"] == {**DOCUMENTED, "speed": 0.95}
    assert out["duration"] > 0.5
    assert uploaded(out)[:4] == b"RIFF"


def test_the_echo_lists_what_was_sent_over_the_defaults(kokoro: RunPodWorker) -> None:
    sent = {"temperature": 0.8, "top_k": 20, "top_p": 0.5}
    out = handle(kokoro, {**XTTS_NO_LANGUAGE, **sent})  # Kokoro samples nothing: refused
    assert "temperature" in out["error"]
    assert "kokoro" in out["error"]
    out = handle(kokoro, without(XTTS_PAYLOAD, "ref_audio_url", "temperature", "top_k", "top_p"))
    assert out["parameters"] == DOCUMENTED
    assert out["language"] == "pt"  # sent


def test_a_sent_value_is_never_replaced_by_a_default(piper: RunPodWorker) -> None:
    out = handle(piper, without(XTTS_PAYLOAD, "ref_audio_url"))  # Piper has no pt, no top_k
    assert set(out) == {"error"}
    assert "language" in out["error"]
    out = handle(piper, without(XTTS_PAYLOAD, "ref_audio_url", "language"))
    assert "temperature" in out["error"]


def test_the_native_shape_keeps_the_models_own_defaults(kokoro: RunPodWorker) -> None:
    job = {"input": XTTS_PYTHON["gen_text"], "model": "kokoro", "response_format": "wav"}
    out = handle(kokoro, job)
    audio = out["audio"]
    assert audio == handle(kokoro, {**job, "language": "en-us"})["audio"]  # Kokoro's default
    assert audio != handle(kokoro, {**job, "language": "pt"})["audio"]


def test_chatterbox_english_with_another_language_id_speaks_english_and_says_so(
    piper: RunPodWorker, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="polyvox.worker"):
        out = handle(piper, CHATTERBOX_FRENCH)
    assert "error" not in out, out
    assert out["duration"] > 0.5
    assert (out["model_type"], out["language"]) == ("english", "en_US")  # what was spoken
    [warning] = out["warnings"]
    assert "language_id 'fr' was ignored" in warning
    assert warning in caplog.text
    english = handle(piper, {**CHATTERBOX_FRENCH, "language_id": "en"})
    assert "warnings" not in english
    assert english["language"] == "en"


def test_the_streamed_summary_carries_the_warning(piper: RunPodWorker) -> None:
    async def collect() -> list[dict[str, Any]]:
        return [part async for part in piper.stream({"id": "s", "input": CHATTERBOX_FRENCH})]

    *chunks, final = asyncio.run(collect())
    assert chunks
    assert final["done"] is True
    assert "language_id 'fr' was ignored" in final["warnings"][0]


def test_the_multilingual_model_still_refuses_a_language_it_does_not_speak(
    piper: RunPodWorker,
) -> None:
    out = handle(piper, {**CHATTERBOX_FRENCH, "model_type": "multilingual"})
    assert set(out) == {"error"}
    assert "language_id" in out["error"]
