"""The voice library through real HTTP on a Piper server with API keys: creating voices
from Piper's speech, preparation and its 422s, ownership (404s), renaming, deleting,
storage by digest and surviving a restart. Cloning with a library voice runs against
XTTS in tests/integration/test_voice_library.py."""

from __future__ import annotations

import base64
import io
import json
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from polyvox import codecs
from polyvox.settings import Settings, VoiceLibrarySettings
from tests.conftest import LiveServer, start_server
from tests.samples import sine_wav

ALICE, BOB, ADMIN = "alice-key", "bob-key", "admin-key"
SPEECH = "The quick brown fox jumps over the lazy dog, and then it runs far away."


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def settings(library: Path) -> Settings:
    return Settings(
        api_keys=[ALICE, BOB],  # type: ignore[list-item]
        admin_api_keys=[ADMIN],  # type: ignore[list-item]
        voices=VoiceLibrarySettings(url=str(library)),
    )


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("library")


@pytest.fixture(scope="module")
def server(library: Path) -> Iterator[LiveServer]:
    yield from start_server(settings(library))


@pytest.fixture(scope="module")
def speech(server: LiveServer) -> bytes:
    """Piper reading a sentence: real speech for a reference (about 4 s)."""
    body = {"model": "piper", "input": SPEECH, "response_format": "wav"}
    response = httpx.post(f"{server.url}/v1/audio/speech", json=body, headers=auth(ALICE))
    assert response.status_code == 200, response.text
    return response.content


def create(server: LiveServer, key: str, name: str, *files: bytes, **fields: str) -> httpx.Response:
    form = {"name": name, "consent": "Jo Speaker", **fields}
    uploads = [("audio_sample", (f"ref{i}.wav", f, "audio/wav")) for i, f in enumerate(files)]
    return httpx.post(
        f"{server.url}/v1/audio/voices", data=form, files=uploads, headers=auth(key), timeout=60
    )


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    return body


def padded(wav: bytes, seconds: float) -> bytes:
    """``wav`` with ``seconds`` of silence before and after it (same format)."""
    samples, rate = codecs.decode(wav)
    pad = np.zeros(int(seconds * rate), np.float32)
    pcm = (np.concatenate([pad, samples, pad]) * 32767).astype("<i2").tobytes()
    return codecs.wav_header(rate, len(pcm)) + pcm


def test_a_voice_is_prepared_stored_once_and_described(
    server: LiveServer, speech: bytes, library: Path
) -> None:
    created = create(server, ALICE, "Narrator", padded(speech, 1.5), language="en")
    assert created.status_code == 201, created.text
    voice = created.json()
    assert voice["object"] == "audio.voice"
    assert voice["id"].startswith("voice_")
    assert voice["name"] == "Narrator"
    assert voice["language"] == "en"
    assert voice["consent"]["by"] == "Jo Speaker"
    assert voice["sample_rate"] == 24000
    # the 1.5 s of silence each side is trimmed: what is left is the speech
    spoken = codecs.decode(speech)
    assert voice["seconds"] < len(spoken[0]) / spoken[1] + 0.5
    audio = httpx.get(
        f"{server.url}/v1/audio/voices/{voice['id']}/audio", headers=auth(ALICE)
    ).content
    with wave.open(io.BytesIO(audio)) as w:
        assert (w.getframerate(), w.getnchannels()) == (24000, 1)
        samples = np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768
    rms_db = 20 * np.log10(np.sqrt(np.mean(samples**2)))
    assert -21.5 < rms_db < -18.5  # normalised to -20 dBFS
    # the same audio again, as base64 in JSON: a second voice, one stored file
    body = {
        "name": "Narrator two", "consent": {"by": "Jo Speaker", "statement": "I agree."},
        "audio_sample": base64.b64encode(padded(speech, 1.5)).decode(),
    }  # fmt: skip
    again = httpx.post(f"{server.url}/v1/audio/voices", json=body, headers=auth(ALICE))
    assert again.status_code == 201, again.text
    assert again.json()["digest"] == voice["digest"]
    assert again.json()["id"] != voice["id"]
    assert [p.name for p in (library / "audio").iterdir()] == [f"{voice['digest']}.wav"]
    by_name = httpx.get(f"{server.url}/v1/audio/voices/narrator", headers=auth(ALICE))
    assert by_name.json()["id"] == voice["id"]


@pytest.mark.parametrize(
    ("audio", "says"),
    [
        (sine_wav(3.0, 16000, 0.0), "silent"),
        (sine_wav(0.3, 16000), "0.3 s"),
        (b"this is not audio at all" * 40, "not audio"),
        (sine_wav(3.0, 16000, 220.0), "no speech"),
    ],
    ids=["silent", "short", "not-audio", "tone"],
)
def test_unusable_references_are_422s_that_say_why(
    server: LiveServer, audio: bytes, says: str
) -> None:
    body = error(create(server, ALICE, "Bad", audio), 422)
    assert body["param"] == "audio_sample"
    assert says in body["message"]


def test_fields_are_checked_before_the_audio(server: LiveServer, speech: bytes) -> None:
    no_consent = httpx.post(
        f"{server.url}/v1/audio/voices", data={"name": "x"},
        files=[("audio_sample", ("a.wav", speech, "audio/wav"))], headers=auth(ALICE),
    )  # fmt: skip
    assert error(no_consent, 422)["param"] == "consent"
    assert error(create(server, ALICE, "", speech), 422)["param"] == "name"
    assert error(create(server, ALICE, "x", speech, language="not a code"), 422)["param"] == (
        "language"
    )
    assert error(create(server, ALICE, "x", speech, defaults="{"), 422)["param"] == "defaults"
    assert error(create(server, ALICE, "x"), 422)["param"] == "audio_sample"
    private = {"name": "x", "consent": "me", "audio_sample": "https://127.0.0.1/a.wav"}
    refused = httpx.post(f"{server.url}/v1/audio/voices", json=private, headers=auth(ALICE))
    assert "not a public address" in error(refused, 422)["message"]


def test_a_key_sees_uses_and_deletes_only_its_own_voices(server: LiveServer, speech: bytes) -> None:
    mine = create(server, ALICE, "Private", speech).json()
    assert error(create(server, ALICE, "private", speech), 409)["code"] == "voice_exists"
    assert create(server, BOB, "Private", speech).status_code == 201  # names are per key
    for path in (f"/v1/audio/voices/{mine['id']}", f"/v1/audio/voices/{mine['id']}/audio"):
        assert error(httpx.get(f"{server.url}{path}", headers=auth(BOB)), 404)["param"] == ("voice")
    gone = httpx.delete(f"{server.url}/v1/audio/voices/{mine['id']}", headers=auth(BOB))
    assert error(gone, 404)["code"] == "voice_not_found"
    listed = httpx.get(f"{server.url}/v1/audio/voices/{mine['id']}", headers=auth(ADMIN))
    assert listed.status_code == 200  # the admin key sees every key's voices
    # Bob naming Alice's voice gets what a voice that does not exist gets
    body = {"model": "piper", "input": "Hello.", "voice": mine["id"]}
    used = httpx.post(f"{server.url}/v1/audio/speech", json=body, headers=auth(BOB))
    assert error(used, 404)["code"] == "voice_not_found"
    # Alice naming it on a model that does not clone is told so
    own = httpx.post(f"{server.url}/v1/audio/speech", json=body, headers=auth(ALICE))
    assert "does not clone" in error(own, 422)["message"]


def test_bodies_that_cannot_be_read_are_4xx_before_any_download(server: LiveServer) -> None:
    url = f"{server.url}/v1/audio/voices"
    nested = httpx.post(url, content=b"[" * 100_000, headers={
        **auth(ALICE), "Content-Type": "application/json"})  # fmt: skip
    assert error(nested, 400)["code"] == "malformed_request"
    many = {"name": "x", "consent": "me", "audio_sample": ["https://example.invalid/a.wav"] * 9}
    assert "at most 8" in error(httpx.post(url, json=many, headers=auth(ALICE)), 422)["message"]


def test_only_admin_keys_drop_cached_references(server: LiveServer) -> None:
    url = f"{server.url}/v1/audio/references/{'0' * 64}"
    assert error(httpx.delete(url, headers=auth(ALICE)), 403)["code"] == "forbidden"
    assert httpx.delete(url, headers=auth(ADMIN)).status_code == 204
    bad = httpx.delete(f"{server.url}/v1/audio/references/xyz", headers=auth(ADMIN))
    assert error(bad, 422)["param"] == "digest"


def test_rename_then_delete(server: LiveServer, speech: bytes, library: Path) -> None:
    voice = create(server, ALICE, "Temporary", padded(speech, 0.2)).json()
    url = f"{server.url}/v1/audio/voices/{voice['id']}"
    renamed = httpx.patch(url, json={"name": "Renamed", "transcript": SPEECH}, headers=auth(ALICE))
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["transcript"]) == ("Renamed", SPEECH)
    deleted = httpx.delete(url, headers=auth(ALICE))
    assert deleted.json() == {"id": voice["id"], "object": "audio.voice.deleted", "deleted": True}
    assert error(httpx.get(url, headers=auth(ALICE)), 404)["code"] == "voice_not_found"
    assert not (library / "voices" / f"{voice['id']}.json").exists()
    assert not (library / "audio" / f"{voice['digest']}.wav").exists()  # no other voice had it


def test_the_library_survives_a_restart(library: Path, speech: bytes, server: LiveServer) -> None:
    before = {v["id"] for v in _records(library)}
    assert before
    for restarted in start_server(settings(library)):
        for voice_id in before:
            got = httpx.get(f"{restarted.url}/v1/audio/voices/{voice_id}", headers=auth(ADMIN))
            assert got.status_code == 200, got.text


def _records(library: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in (library / "voices").glob("*.json")]


def test_detail_lists_the_records_once_each(server: LiveServer, speech: bytes) -> None:
    made = create(server, ALICE, "Detailed", speech)
    assert made.status_code == 201, made.text
    url = f"{server.url}/v1/audio/voices?source=library&detail=true"
    mine = httpx.get(url, headers=auth(ALICE)).json()["data"]
    assert [v["id"] for v in mine].count(made.json()["id"]) == 1
    assert all(v["object"] == "audio.voice" for v in mine)
    assert made.json()["id"] not in [
        v["id"] for v in httpx.get(url, headers=auth(BOB)).json()["data"]
    ]
    wrong = httpx.get(f"{server.url}/v1/audio/voices?detail=true", headers=auth(ALICE))
    assert error(wrong, 422)["param"] == "detail"
    httpx.delete(f"{server.url}/v1/audio/voices/{made.json()['id']}", headers=auth(ALICE))
