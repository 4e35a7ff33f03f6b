"""Qwen3-TTS for real, on tiny random checkpoints: ``polyvox engines install qwen-tts``
builds the environment, ``polyvox.testing.qwen3`` writes one checkpoint of each type
through the library's own classes, and each model runs in a supervised worker (the
library's loader, prompt building and ``generate``; polyvox's frame-by-frame decoding).
The Qwen-TTS service's routes answer its own example bodies with Qwen3 audio."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import wave
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import av
import httpx
import numpy as np
import pytest

from polyvox.engines.qwen3.model import FRAME_SAMPLES, TYPES
from polyvox.settings import (
    CompatSettings,
    ModelConfig,
    ReferenceSettings,
    Settings,
    VoiceLibrarySettings,
)
from polyvox.testing.qwen3 import TINY_VERSION
from tests.api.test_compat_routes import QWEN_FULL_SEED as FULL
from tests.api.test_compat_routes import QWEN_STREAM_SEED as STREAM
from tests.api.test_speech_errors import check_error
from tests.conftest import LiveServer
from tests.integration.test_chatterbox import engine_events, streamed_pieces
from tests.integration.test_environments import ENV_DIR, polyvox, serve_with_environments

# the first test builds the environment and the tiny checkpoints (minutes on a fresh clone)
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]
TINY_DIR = ENV_DIR.parent / "tiny"
TEXT = "Hello there, how are you today?"
FRAMES = 10  # a random talker never samples its stop code: every call makes FRAMES - 1
LIBRARY = """
import sys
from pathlib import Path
import numpy as np, torch
from polyvox.engines.qwen3 import model as qwen3_model
from polyvox.testing import qwen3 as qwen3_tiny
from polyvox.engines.qwen3 import stream as qwen3_stream
base = Path(sys.argv[1])
for kind in sys.argv[2:]:  # stale or missing checkpoints
    qwen3_tiny.write_tiny(base / f"qwen3-{kind}", kind)
from polyvox.testing.tiny import synthetic_voice


def compare(library, call):
    found = []
    for stream in (False, True):
        torch.manual_seed(5)
        audio = np.concatenate(list(qwen3_stream.pieces(tts, call, 4, 3, 25, stream)))
        found.append(float(np.abs(audio - library).max()) if audio.shape == library.shape else -1)
    return found


tts = qwen3_model.load(base / "qwen3-custom_voice", "cpu", False)
torch.manual_seed(5)
library = tts.generate_custom_voice(
    "Hello there.", speaker="vivian", language="english", instruct="Speak happily.")[0][0]
call = qwen3_stream.prompt(tts, "Hello there.", "english", speaker="vivian",
                           instruct="Speak happily.", sampling={})
custom = compare(library, call)
tts = qwen3_model.load(base / "qwen3-base", "cpu", False)  # ICL cloning: the reference leads
clone = tts.create_voice_clone_prompt((synthetic_voice(24000), 24000), ref_text="Hi there.")[0]
torch.manual_seed(5)
library = tts.generate_voice_clone("Hello there.", language="english",
                                   voice_clone_prompt=[clone])[0][0]
call = qwen3_stream.prompt(tts, "Hello there.", "english", clone=clone, sampling={})
print(*custom, *compare(library, call), float(np.abs(library).max()))
"""
"""In the environment's interpreter (it imports torch once): writes the tiny checkpoints
that are missing or stale, then decodes one text through the library's own
``generate_custom_voice`` and through polyvox's prompt and frame pieces, same seed."""


@dataclass(frozen=True)
class Library:
    checkpoints: dict[str, Path]
    errors: tuple[float, ...]
    """Largest sample differences from the library's own audio, same seed: CustomVoice
    decoded at once, then in pieces of 3 frames with 25 frames of context; the same two
    for a clone (Base, ICL mode: the reference's codes lead, then are cut off)."""
    peak: float


@pytest.fixture(scope="module")
def library() -> Library:
    built = polyvox("engines", "install", "qwen-tts")
    assert built.returncode == 0, built.stderr[-2000:]
    found = {kind: TINY_DIR / f"qwen3-{kind}" for kind in TYPES}
    stale = [
        kind
        for kind, directory in found.items()
        if not (marker := directory / "polyvox-tiny.json").is_file()
        or json.loads(marker.read_text()).get("version") != TINY_VERSION
    ]
    python = ENV_DIR / "qwen-tts" / "bin" / "python"
    ran = subprocess.run(
        [str(python), "-c", LIBRARY, str(TINY_DIR), *stale],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    *errors, peak = map(float, ran.stdout.split()[-5:])
    return Library(found, tuple(errors), peak)


@pytest.fixture(scope="module")
def checkpoints(library: Library) -> dict[str, Path]:
    return library.checkpoints


@pytest.fixture(scope="module")
def gateway(
    checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("qwen3")
    common = {"engine": "qwen3", "environment": "qwen-tts", "max_new_tokens": FRAMES}
    models = {
        "piper": ModelConfig(engine="piper"),
        "whisper": ModelConfig(engine="whisper"),
        "qwen3": ModelConfig(checkpoint=str(checkpoints["custom_voice"]), **common),
        "qwen3-design": ModelConfig(
            variant="voice_design", checkpoint=str(checkpoints["voice_design"]), **common
        ),
        "qwen3-base": ModelConfig(
            variant="base", checkpoint=str(checkpoints["base"]),
            conditioning_dir=str(folder / "conditioning"), **common,
        ),
    }  # fmt: skip
    settings = Settings(
        models=models, preload=["piper"], request_timeout=600,
        compat=CompatSettings(qwen_model="qwen3"),
        reference=ReferenceSettings(cache_dir=folder / "references"),
        voices=VoiceLibrarySettings(url=str(folder / "library")),
    )  # fmt: skip
    yield from serve_with_environments(settings)


def speak(server: LiveServer, **body: Any) -> httpx.Response:
    body = {"model": "qwen3", "input": TEXT, "response_format": "wav", **body}
    return httpx.post(f"{server.url}/v1/audio/speech", json=body, timeout=600)


def wav_samples(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as f:
        assert f.getframerate() == 24000
        return np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")


def test_the_models_describe_their_variants(gateway: LiveServer) -> None:
    models = ("qwen3", "qwen3-design", "qwen3-base")
    with ThreadPoolExecutor(len(models)) as pool:  # their workers start side by side
        found = pool.map(lambda m: httpx.get(f"{gateway.url}/v1/models/{m}", timeout=600), models)
    cards = dict(zip(models, (card.json() for card in found), strict=True))
    custom, design, base = (cards[m]["capabilities"] for m in cards)
    assert custom["engine"] == "qwen3"
    assert custom["instructions"]
    assert not custom["voice_cloning"]
    assert custom["voice_attributes"]["gender"]["choices"] == ["male", "female", "neutral"]
    assert "happy" in custom["voice_attributes"]["emotion"]["choices"]
    assert design["instructions"]
    assert design["voice_attributes"]
    assert base["voice_cloning"]
    assert base["reference_text"]
    assert not base["voice_attributes"]
    assert custom["params"]["max_new_tokens"]["default"] == FRAMES  # the option's cap
    voices = httpx.get(f"{gateway.url}/v1/audio/voices", params={"model": "qwen3"}).json()
    assert {v["id"] for v in voices["data"]} >= {"vivian", "ryan", "ono_anna"}


def test_custom_voice_streams_frames_as_they_are_generated(gateway: LiveServer) -> None:
    body = {"model": "qwen3", "input": "Hello there.", "voice": "vivian",
            "instructions": "Speak slowly.", "response_format": "pcm", "seed": 7}  # fmt: skip
    audio = streamed_pieces(gateway, body)
    assert len(audio) == (FRAMES - 1) * FRAME_SAMPLES  # one call, every frame decoded once
    assert np.abs(audio).max() > 300  # random weights, but sound


def test_voice_design_speaks_the_described_voice(gateway: LiveServer) -> None:
    attributes = {"gender": "female", "age": 30, "emotion": "calm"}
    response = speak(
        gateway, model="qwen3-design", input="Hello there.", voice_attributes=attributes,
        instructions="Warm timbre.",
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert len(wav_samples(response.content)) == (FRAMES - 1) * FRAME_SAMPLES


@pytest.mark.parametrize(("fmt", "container"), [("wav", "wav"), ("mp3", "mp3"), ("ogg", "ogg")])
def test_the_qwen_service_route_answers_its_example_body(
    gateway: LiveServer, fmt: str, container: str
) -> None:
    response = httpx.post(f"{gateway.url}/tts", json={**FULL, "format": fmt}, timeout=600)
    assert response.status_code == 200, response.text
    with av.open(io.BytesIO(response.content)) as audio:
        assert audio.format.name.split(",")[0] == container
        seconds = sum(f.samples for f in audio.decode(audio=0)) / 24000
    assert seconds >= (FRAMES - 1) * FRAME_SAMPLES / 24000 * 0.9


def test_the_qwen_streaming_route_sends_chunked_audio(gateway: LiveServer) -> None:
    with httpx.stream("POST", f"{gateway.url}/stream-tts", json=STREAM, timeout=600) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["transfer-encoding"] == "chunked"
        reads = [part for part in r.iter_bytes() if part]
    whole = b"".join(reads)
    assert whole[:4] == b"RIFF"
    assert len(reads) >= 2
    assert len(reads[0]) <= 0.6 * len(whole)  # the header and a first piece, not all
    assert len(whole) - 44 >= (FRAMES - 1) * FRAME_SAMPLES * 2


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/tts", {**FULL, "voice_attributes": {"emotion": "bored"}}, "voice_attributes.emotion"),
        ("/v1/audio/speech", {"model": "qwen3", "input": "Hi.", "voice_attributes": {"mood": "x"}},
         "voice_attributes"),
        ("/v1/audio/speech", {"model": "qwen3", "input": "Hi.",
                              "voice_attributes": {"age": "old"}}, "voice_attributes.age"),
        ("/v1/audio/speech", {"model": "qwen3-base", "input": "Hi."}, "reference_audio"),
        ("/v1/audio/speech", {"model": "qwen3", "input": "Hi.", "reference_text": "Hi."},
         "reference_text"),
        ("/v1/audio/speech", {"model": "qwen3-base", "input": "Hi.",
                              "voice_attributes": {"gender": "male"}}, "voice_attributes"),
    ],
)  # fmt: skip
def test_wrong_voice_requests_are_422s_naming_the_field(
    gateway: LiveServer, path: str, body: dict[str, Any], param: str
) -> None:
    check_error(httpx.post(f"{gateway.url}{path}", json=body, timeout=600), 422, param)


def test_an_unknown_speaker_is_a_404_naming_the_voice(gateway: LiveServer) -> None:
    check_error(speak(gateway, voice="alice"), 404, "voice")


def test_greedy_sampling_and_the_frame_cap(gateway: LiveServer) -> None:
    greedy = speak(gateway, input="Hi.", temperature=0, subtalker_temperature=0)
    assert greedy.status_code == 200, greedy.text
    check_error(speak(gateway, max_new_tokens=FRAMES + 1), 422, "max_new_tokens")
    shorter = speak(gateway, input="Hi.", max_new_tokens=4)
    assert len(wav_samples(shorter.content)) == 3 * FRAME_SAMPLES


def test_a_client_that_leaves_mid_stream_frees_the_model(gateway: LiveServer) -> None:
    body = {"model": "qwen3", "input": "Hello there.", "response_format": "pcm"}
    with httpx.stream("POST", f"{gateway.url}/v1/audio/speech", json=body, timeout=600) as r:
        assert r.status_code == 200
        next(r.iter_bytes())  # the first piece, then hang up
    after = speak(gateway, input="Hi.")  # one synthesis at a time: the lock was let go
    assert after.status_code == 200, after.text
    assert len(wav_samples(after.content)) == (FRAMES - 1) * FRAME_SAMPLES


def test_a_clone_without_transcript_is_transcribed_once(gateway: LiveServer) -> None:
    said = "The quick brown fox jumps over the lazy dog."
    reference = httpx.post(
        f"{gateway.url}/v1/audio/speech",
        json={"model": "piper", "input": said, "response_format": "wav"}, timeout=600,
    ).content  # fmt: skip
    body = {"model": "qwen3-base", "input": "Hello there.", "response_format": "wav",
            "reference_audio": base64.b64encode(reference).decode()}  # fmt: skip
    first = httpx.post(f"{gateway.url}/v1/audio/speech", json=body, timeout=600)
    assert first.status_code == 200, first.text
    assert len(wav_samples(first.content)) == (FRAMES - 1) * FRAME_SAMPLES  # no reference in it
    assert first.headers["x-reference-transcribed-by"] == "whisper"
    assert "fox" in unquote(first.headers["x-reference-transcript"]).lower()
    digest = hashlib.sha256(reference).hexdigest()
    again = httpx.post(
        f"{gateway.url}/v1/audio/speech",
        json={**body, "reference_audio": f"sha256:{digest}"}, timeout=600,
    )  # fmt: skip
    assert again.status_code == 200, again.text
    assert again.headers["x-reference-transcript"] == first.headers["x-reference-transcript"]
    events = engine_events(gateway, "qwen3-base")
    assert events.get("conditioning_built") == 1, events  # the clone prompt: built once
    assert events.get("conditioning_memory", 0) >= 1, events
    told = httpx.post(
        f"{gateway.url}/v1/audio/speech", json={**body, "reference_text": said}, timeout=600
    )
    assert told.status_code == 200, told.text
    assert "x-reference-transcribed-by" not in told.headers


def test_a_library_voice_gets_its_transcript_once_and_keeps_it(gateway: LiveServer) -> None:
    said = "My voice is stored in the library for everyone to clone by name."
    reference = httpx.post(
        f"{gateway.url}/v1/audio/speech",
        json={"model": "piper", "input": said, "response_format": "wav"}, timeout=600,
    ).content  # fmt: skip
    created = httpx.post(
        f"{gateway.url}/v1/audio/voices", data={"name": "Librarian", "consent": "Lib"},
        files=[("audio_sample", ("lib.wav", reference, "audio/wav"))], timeout=600,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["transcript"] is None
    assert "qwen3-base" in created.json()["models"]
    assert "qwen3" not in created.json()["models"]  # CustomVoice does not clone
    body = {"model": "qwen3-base", "input": "Hello there.", "voice": "Librarian",
            "response_format": "wav"}  # fmt: skip
    first = httpx.post(f"{gateway.url}/v1/audio/speech", json=body, timeout=600)
    assert first.status_code == 200, first.text
    assert first.headers["x-reference-transcribed-by"] == "whisper"
    voice = httpx.get(f"{gateway.url}/v1/audio/voices/Librarian", timeout=60).json()
    assert "library" in voice["transcript"].lower()
    assert voice["transcribed_by"] == "whisper"
    again = httpx.post(f"{gateway.url}/v1/audio/speech", json=body, timeout=600)
    assert again.status_code == 200, again.text
    assert "x-reference-transcribed-by" not in again.headers  # the voice's own transcript
    on_custom = httpx.post(
        f"{gateway.url}/v1/audio/speech", json={**body, "model": "qwen3"}, timeout=600
    )
    assert "does not clone" in on_custom.json()["error"]["message"]


def test_streaming_decodes_what_the_library_would(library: Library) -> None:
    """polyvox's prompt is the library's (the same seed gives the very same audio), and
    decoding frame pieces with 25 frames of context stays within a hair of decoding all."""
    custom, custom_streamed, clone, clone_streamed = library.errors
    assert custom == clone == 0.0
    assert 0.0 <= custom_streamed <= 0.01 * library.peak
    assert 0.0 <= clone_streamed <= 0.01 * library.peak
