"""Chatterbox for real, on tiny random checkpoints: ``polyvox engines install chatterbox``
builds the environment, ``python -m polyvox.testing chatterbox`` writes the
checkpoints through the library's own classes, and the models run in supervised workers
(the real loader, T3 sampling, S3Gen windows, Perth watermark). The seed's job shape goes
through polyvox's RunPod worker under the SDK's local API, its models reached over HTTP."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from polyvox.settings import ModelConfig, Settings
from polyvox.testing.chatterbox import TINY_VERSION
from tests.conftest import LiveServer
from tests.integration.test_environments import ENV_DIR, polyvox, serve_with_environments
from tests.worker.test_runpod_api import post, start_worker

# the first test builds the environment and two tiny checkpoints (minutes on a fresh clone)
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]
TINY_DIR = ENV_DIR.parent / "tiny"
TEXT = "Hello there, how are you today?"
CAP = {"max_new_tokens": 24}  # a random T3 never samples its stop token: two windows (12, rest)


def tiny(env: Path, name: str, multilingual: bool) -> Path:
    """A tiny checkpoint, written once per TINY_VERSION (it takes a minute)."""
    directory = TINY_DIR / name
    marker = directory / "polyvox-tiny.json"
    if marker.is_file() and json.loads(marker.read_text()).get("version") == TINY_VERSION:
        return directory
    command = [str(env / "bin/python"), "-m", "polyvox.testing", "chatterbox", str(directory)]
    built = subprocess.run(
        command + (["--multilingual"] if multilingual else []),
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    return directory


@pytest.fixture(scope="module")
def checkpoints() -> dict[str, Path]:
    built = polyvox("engines", "install", "chatterbox")
    assert built.returncode == 0, built.stderr[-2000:]
    env = ENV_DIR / "chatterbox"
    return {"en": tiny(env, "chatterbox-en", False), "mtl": tiny(env, "chatterbox-mtl", True)}


@pytest.fixture(scope="module")
def gateway(
    checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    conditioning = tmp_path_factory.mktemp("conditioning")
    common = {"engine": "chatterbox", "environment": "chatterbox", **CAP}
    models = {
        "piper": ModelConfig(engine="piper"),
        "chatterbox": ModelConfig(
            checkpoint=str(checkpoints["en"]), conditioning_dir=str(conditioning / "en"), **common
        ),
        "chatterbox-multilingual": ModelConfig(
            variant="multilingual", checkpoint=str(checkpoints["mtl"]),
            conditioning_dir=str(conditioning / "mtl"), **common,
        ),
    }  # fmt: skip
    settings = Settings(models=models, preload=["piper"], request_timeout=600)
    yield from serve_with_environments(settings)


@pytest.fixture(scope="module")
def worker(gateway: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """polyvox's RunPod worker whose Chatterbox models are the gateway's (a CPU worker in
    front of the machine that runs them): the seed's jobs, unchanged."""
    remote = {"engine": "polyvox", "url": gateway.url, "read_timeout": 600}
    env = {
        "POLYVOX_MODELS": json.dumps({
            "piper": {"engine": "piper"},
            "chatterbox": {**remote, "model": "chatterbox"},
            "chatterbox-multilingual": {**remote, "model": "chatterbox-multilingual"},
        }),
        "POLYVOX_WORKER__CHATTERBOX_MODELS": json.dumps(
            {"english": "chatterbox", "multilingual": "chatterbox-multilingual"}
        ),
        "POLYVOX_REQUEST_TIMEOUT": "600",
    }  # fmt: skip
    yield from start_worker(env, tmp_path_factory.mktemp("worker") / "worker.log")


def speak(server: LiveServer, **body: Any) -> httpx.Response:
    body = {"model": "chatterbox", "input": TEXT, "response_format": "wav", **body}
    return httpx.post(f"{server.url}/v1/audio/speech", json=body, timeout=600)


def samples(wav: bytes, rate: int = 24000) -> np.ndarray:
    with wave.open(io.BytesIO(wav)) as f:
        assert f.getframerate() == rate
        return np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")


def engine_events(server: LiveServer, model: str) -> dict[str, float]:
    """The supervised worker's own ``polyvox_engine_events_total`` samples."""
    engine = server.state.service.pool.engine(model)
    metrics = httpx.get(
        f"{engine.options.url}/metrics", headers={"Authorization": f"Bearer {engine.token}"}
    ).text
    found = {}
    for line in metrics.splitlines():
        if line.startswith("polyvox_engine_events_total{"):
            labels, value = line.rsplit(" ", 1)
            found[labels.split('event="')[1].split('"')[0]] = float(value)
    return found


def streamed_pieces(server: LiveServer, body: dict[str, Any]) -> np.ndarray:
    """A streamed 24 kHz pcm synthesis, checked to have come in pieces: at least two reads,
    the first well short of the whole (one sentence, so not the transport's own split of a
    single chunk, whose reads are 64 KiB); its samples."""
    with httpx.stream("POST", f"{server.url}/v1/audio/speech", json=body, timeout=600) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["x-sample-rate"] == "24000"
        reads = [part for part in r.iter_bytes() if part]
    whole = b"".join(reads)
    assert len(reads) >= 2
    assert len(reads[0]) <= 0.6 * len(whole), [len(part) for part in reads]
    return np.frombuffer(whole, dtype="<i2")


def test_the_models_describe_their_capabilities(gateway: LiveServer) -> None:
    cards = {
        m: httpx.get(f"{gateway.url}/v1/models/{m}", timeout=600).json()
        for m in ("chatterbox", "chatterbox-multilingual")
    }
    english, multilingual = cards["chatterbox"], cards["chatterbox-multilingual"]
    assert english["languages"] == ["en"]
    assert len(multilingual["languages"]) == 23
    assert "fr" in multilingual["languages"]
    params = english["capabilities"]["params"]
    assert params["exaggeration"]["minimum"] == 0.25
    assert params["exaggeration"]["maximum"] == 2.0
    assert {"cfg_weight", "temperature", "min_p", "top_p", "repetition_penalty", "seed"} <= set(
        params
    )
    assert multilingual["capabilities"]["params"]["repetition_penalty"]["default"] == 2.0
    assert english["capabilities"]["voice_cloning"] is True
    assert english["capabilities"]["max_call_chars"] == 300


def test_audio_streams_inside_the_sentence_and_a_seed_reproduces_it(gateway: LiveServer) -> None:
    body = {"model": "chatterbox", "input": TEXT, "response_format": "pcm", "seed": 11}
    # one sentence, yet its first window arrived alone, before the last was decoded
    streamed = streamed_pieces(gateway, body)
    again = speak(gateway, seed=11)
    other = speak(gateway, seed=12)
    assert again.status_code == other.status_code == 200
    audio = samples(again.content)
    assert len(audio) > 0.5 * 24000
    assert np.abs(audio).max() > 100
    assert np.array_equal(audio, streamed)  # the same seed: the same samples
    assert not np.array_equal(audio, samples(other.content))


FLOW_CHECK = """
import sys, torch
from pathlib import Path
from polyvox.engines.chatterbox.model import load
from polyvox.engines.chatterbox.stream import flow_mels

tts = load(Path(sys.argv[1]), False, "cpu")
s3gen, ref = tts.s3gen, tts.conds.gen
tokens = torch.randint(0, 6561, (1, 20), generator=torch.Generator().manual_seed(3))
with torch.inference_mode():
    torch.manual_seed(5)
    library = s3gen.flow_inference(tokens, ref_dict=dict(ref), finalize=True)
    torch.manual_seed(5)
    ours = flow_mels(s3gen, tokens, ref, final=True)
    streaming = flow_mels(s3gen, tokens, ref, final=False)
assert torch.equal(ours, library), (ours - library).abs().max()
assert streaming.shape == (1, 80, 2 * (20 - 3)), streaming.shape
print("ok")
"""


SEED_CHECK = """
import sys
from pathlib import Path
from polyvox.engines.chatterbox import engine as chatterbox
from polyvox.engines.chatterbox.engine import ChatterboxEngine
from polyvox.engines.chatterbox.options import ChatterboxOptions
from polyvox.models import ModelSpec
from polyvox.types import SpeechRequest

sampled = []
sample = chatterbox.speech_tokens

def spy(*args):
    sampled.append([])
    for token in sample(*args):
        sampled[-1].append(token)
        yield token

chatterbox.speech_tokens = spy
for stream in (True, False):
    options = ChatterboxOptions(checkpoint=Path(sys.argv[1]), max_new_tokens=40, stream=stream)
    engine = ChatterboxEngine(ModelSpec(f"c{stream}", "chatterbox", options, 1))
    engine.load()
    request = SpeechRequest(text="Hello there, how are you today?", voice="default",
                            params={"seed": 7})
    pieces = list(engine.synthesize(request))
    assert (len(pieces) > 1) == stream, len(pieces)  # windows, or one piece
assert sampled[0] == sampled[1], sampled
print("ok")
"""


def in_environment(script: str, *args: str) -> None:
    """Runs ``script`` with the chatterbox environment's python; it prints ok at its end."""
    python = ENV_DIR / "chatterbox/bin/python"
    run = subprocess.run(
        [str(python), "-c", script, *args], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().endswith("ok")


def test_the_streaming_flow_is_the_librarys_flow(checkpoints: dict[str, Path]) -> None:
    """polyvox's port of S3Gen's flow (for windows in streaming mode) gives the library's
    mels sample for sample when finalizing, and drops the lookahead's frames when not."""
    in_environment(FLOW_CHECK, str(checkpoints["en"]))


def test_a_seed_samples_the_same_tokens_with_windows_or_without(
    checkpoints: dict[str, Path],
) -> None:
    """Decoding windows between T3's draws does not move torch's generator under them."""
    in_environment(SEED_CHECK, str(checkpoints["en"]))


def test_the_seed_job_clones_in_french_and_reuses_the_conditionals(
    gateway: LiveServer, worker: str
) -> None:
    voice = {"model": "piper", "input": "This is my voice, copy it.", "response_format": "wav"}
    piper = httpx.post(f"{gateway.url}/v1/audio/speech", json=voice, timeout=120)
    job = {
        "text": "Bonjour, comment allez-vous ?", "model_type": "multilingual", "language_id": "fr",
        "audio_prompt": base64.b64encode(piper.content).decode(), "exaggeration": 0.7,
        "cfg_weight": 0.4,
    }  # fmt: skip
    done = post(worker, "/runsync", {"input": job})
    assert done["status"] == "COMPLETED", done
    output = done["output"]
    assert set(output) == {"audio", "sample_rate", "duration", "text", "language", "model_type"}
    assert output["sample_rate"] == 24000
    assert (output["text"], output["language"], output["model_type"]) == (
        job["text"], "fr", "multilingual",
    )  # fmt: skip
    audio = samples(base64.b64decode(output["audio"]))
    assert abs(len(audio) / 24000 - output["duration"]) < 0.01
    again = post(worker, "/runsync", {"input": {**job, "exaggeration": 0.5}})
    assert again["status"] == "COMPLETED", again
    events = engine_events(gateway, "chatterbox-multilingual")
    assert events.get("conditioning_built") == 1, events  # once, for two requests
    assert events.get("conditioning_memory", 0) >= 1, events


def test_the_english_model_speaks_english_whatever_the_language_id(
    gateway: LiveServer, worker: str
) -> None:
    """chatterbox-runpod-worker.md's job specification, its placeholders made real, for the
    English model with French: the seed's ChatterboxTTS takes no language, so neither does
    polyvox's English model; the job is spoken in English and says so."""
    voice = {"model": "piper", "input": "This is my voice, copy it.", "response_format": "wav"}
    piper = httpx.post(f"{gateway.url}/v1/audio/speech", json=voice, timeout=120)
    job = {
        "text": "Текст для синтеза",
        "model_type": "english",
        "language_id": "fr",
        "audio_prompt": base64.b64encode(piper.content).decode(),
        "exaggeration": 0.5,
        "cfg_weight": 0.5,
    }
    done = post(worker, "/runsync", {"input": job})
    assert done["status"] == "COMPLETED", done
    output = done["output"]
    assert (output["language"], output["model_type"]) == ("en", "english")
    assert "language_id 'fr' was ignored" in output["warnings"][0]
    assert len(samples(base64.b64decode(output["audio"]))) > 0


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"language_id": "xx"}, "language_id"),
        ({"exaggeration": 5.0}, "exaggeration"),
        ({"audio_prompt": base64.b64encode(b"this is not audio at all").decode()}, "audio_prompt"),
    ],
)
def test_a_bad_seed_job_fails_naming_its_field(
    worker: str, change: dict[str, Any], param: str
) -> None:
    job = {"text": "Bonjour.", "model_type": "multilingual", "language_id": "fr", **change}
    done = post(worker, "/runsync", {"input": job})
    assert done["status"] == "FAILED", done
    assert param in done["error"]


def test_http_errors_name_the_field_before_any_audio(gateway: LiveServer) -> None:
    cases = [
        ({"language": "xx"}, "language"),
        ({"exaggeration": 2.5}, "exaggeration"),
        ({"seed": -1}, "seed"),
        ({"reference_audio": base64.b64encode(b"plain text").decode()}, "reference_audio"),
        ({"speed": 1.5}, "speed"),
    ]
    for change, param in cases:
        response = speak(gateway, **change)
        assert 400 <= response.status_code < 500, (change, response.text)
        assert response.json()["error"]["param"] == param, response.text
    assert speak(gateway, model="piper").status_code == 200  # still serving
