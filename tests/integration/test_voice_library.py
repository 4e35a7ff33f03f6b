"""The voice library with a cloning engine, for real: a gateway whose library lives on the
S3-compatible server (moto) and whose ``xtts`` model is another polyvox server (the
session's XTTS gateway, which runs the tiny checkpoint in a supervised worker). A voice is
created from Piper's speech, the gateway restarts, and the voice is spoken by name over
HTTP, the WebSocket route and a RunPod job (a worker sharing the bucket); conditioning is
built once, and deleting the voice drops it down the chain of servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from polyvox import codecs
from polyvox.settings import ModelConfig, Settings, VoiceLibrarySettings
from tests.conftest import LiveServer, start_server
from tests.integration.test_chatterbox import engine_events
from tests.integration.test_storage_s3 import BUCKET, s3_endpoint, storage
from tests.worker.test_runpod_api import post, start_worker

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]
_ = s3_endpoint  # the moto fixture, shared with the storage tests
ALICE, BOB = "alice-key", "bob-key"
LIBRARY = f"s3://{BUCKET}/library"
TEXT = "Hello there, how are you today?"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def front_settings(endpoint: str, xtts: LiveServer) -> Settings:
    remote = {"engine": "polyvox", "url": xtts.url, "model": "xtts", "read_timeout": 600}
    models = {"piper": ModelConfig(engine="piper"), "xtts": ModelConfig(**remote)}
    return Settings(
        models=models, preload=["piper"], request_timeout=600,
        api_keys=[ALICE, BOB],  # type: ignore[list-item]
        storage=storage(endpoint), voices=VoiceLibrarySettings(url=LIBRARY),
    )  # fmt: skip


@pytest.fixture(scope="module")
def worker(
    s3_endpoint: str, xtts_gateway: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A RunPod worker sharing the library's bucket, its XTTS model the XTTS gateway's."""
    folder = tmp_path_factory.mktemp("library-worker")
    remote = {"engine": "polyvox", "url": xtts_gateway.url, "model": "xtts", "read_timeout": 600}
    s3 = {"S3_ENDPOINT_URL": s3_endpoint, "S3_REGION": "us-east-1",
          "S3_ACCESS_KEY_ID": "testing", "S3_SECRET_ACCESS_KEY": "testing"}  # fmt: skip
    env = {
        "POLYVOX_MODELS": json.dumps({"piper": {"engine": "piper"}, "xtts": remote}),
        "POLYVOX_WORKER__XTTS_MODEL": "xtts", "POLYVOX_REQUEST_TIMEOUT": "600",
        "POLYVOX_VOICES__URL": LIBRARY, "POLYVOX_STORAGE__OUTPUT_URL": f"s3://{BUCKET}/out",
        "POLYVOX_REFERENCE__CACHE_DIR": str(folder / "references"),
        "AWS_EC2_METADATA_DISABLED": "true",
        **{f"POLYVOX_STORAGE__{k}": v for k, v in s3.items()},
    }  # fmt: skip
    yield from start_worker(env, folder / "worker.log")


def reference(server: LiveServer) -> bytes:
    body = {"model": "piper", "input": "This is my voice, recorded for the library. " * 2,
            "response_format": "wav"}  # fmt: skip
    response = httpx.post(f"{server.url}/v1/audio/speech", json=body, headers=auth(ALICE))
    assert response.status_code == 200, response.text
    return response.content


def create_voice(server: LiveServer, audio: bytes, name: str) -> dict[str, Any]:
    response = httpx.post(
        f"{server.url}/v1/audio/voices", headers=auth(ALICE), timeout=60,
        data={"name": name, "language": "en", "consent": "Ada Lovelace"},
        files=[("audio_sample", ("ada.wav", audio, "audio/wav"))],
    )  # fmt: skip
    assert response.status_code == 201, response.text
    voice: dict[str, Any] = response.json()
    return voice


def speak(server: LiveServer, key: str, voice: str) -> httpx.Response:
    body = {"model": "xtts", "input": TEXT, "voice": voice, "response_format": "wav", "seed": 3}
    return httpx.post(f"{server.url}/v1/audio/speech", json=body, headers=auth(key), timeout=600)


def speak_over_websocket(server: LiveServer, voice: str) -> bytes:
    url = server.url.replace("http://", "ws://") + "/v1/audio/speech/stream"
    audio = bytearray()
    with connect(url, additional_headers=auth(ALICE)) as ws:
        ws.send(json.dumps({"type": "config", "model": "xtts", "voice": voice,
                            "response_format": "pcm"}))  # fmt: skip
        ws.send(json.dumps({"type": "text", "text": TEXT}))
        ws.send(json.dumps({"type": "end"}))
        while True:
            message = ws.recv(timeout=600)
            if isinstance(message, bytes):
                audio += message
                continue
            done = json.loads(message)
            assert done["type"] == "speech.audio.done", done
            return bytes(audio)


def built(xtts: LiveServer) -> float:
    return engine_events(xtts, "xtts").get("conditioning_built", 0)


def test_a_library_voice_is_cloned_everywhere_once_and_forgotten_when_deleted(
    s3_endpoint: str, xtts_gateway: LiveServer, xtts_folder: Path, worker: str
) -> None:
    servers = start_server(front_settings(s3_endpoint, xtts_gateway))
    front = next(servers)
    voice = create_voice(front, reference(front), "Ada")
    assert "xtts" in voice["models"]
    next(servers, None)  # stop the gateway: the library is in the bucket, not in it
    servers = start_server(front_settings(s3_endpoint, xtts_gateway))
    front = next(servers)
    try:
        listed = httpx.get(f"{front.url}/v1/audio/voices", params={"model": "xtts"},
                           headers=auth(ALICE)).json()["data"]  # fmt: skip
        library = [v for v in listed if v["source"] == "library"]
        assert [(v["id"], v["name"], v["language"]) for v in library] == [
            (voice["id"], "Ada", "en")
        ]
        before = built(xtts_gateway)
        spoken = speak(front, ALICE, "Ada")  # by name
        assert spoken.status_code == 200, spoken.text
        assert len(codecs.decode(spoken.content)[0]) > 0
        assert built(xtts_gateway) == before + 1
        assert speak_over_websocket(front, voice["id"])  # by id: the conditioning is reused
        job = post(worker, "/runsync", {"input": {"gen_text": TEXT, "voice_id": "Ada"}})
        assert job["status"] == "COMPLETED", job
        assert job["output"]["audio_url"], job
        assert built(xtts_gateway) == before + 1  # three uses, one conditioning
        cached = list((xtts_folder / "conditioning").glob(f"*{voice['digest']}*"))
        assert cached

        gone = httpx.delete(f"{front.url}/v1/audio/voices/{voice['id']}", headers=auth(ALICE))
        assert gone.status_code == 200, gone.text
        assert not any((xtts_folder / "conditioning").glob(f"*{voice['digest']}*"))
        assert speak(front, ALICE, "Ada").json()["error"]["code"] == "voice_not_found"
        # the same audio again is a new voice whose conditioning is built afresh: nothing
        # was left in the worker's memory either
        again = create_voice(front, reference(front), "Ada again")
        assert again["digest"] == voice["digest"]
        assert speak(front, ALICE, again["id"]).status_code == 200
        assert built(xtts_gateway) == before + 2
    finally:
        next(servers, None)


def test_another_key_can_neither_see_use_nor_delete_the_voice(
    s3_endpoint: str, xtts_gateway: LiveServer
) -> None:
    for front in start_server(front_settings(s3_endpoint, xtts_gateway)):
        voice = create_voice(front, reference(front), "Grace")
        listed = httpx.get(f"{front.url}/v1/audio/voices", params={"model": "xtts"},
                           headers=auth(BOB)).json()["data"]  # fmt: skip
        assert voice["id"] not in {v["id"] for v in listed}
        for ref in (voice["id"], "Grace"):
            assert speak(front, BOB, ref).json()["error"]["code"] == "voice_not_found"
        url = f"{front.url}/v1/audio/voices/{voice['id']}"
        assert httpx.delete(url, headers=auth(BOB)).status_code == 404
        assert httpx.get(url, headers=auth(ALICE)).status_code == 200
        # nor reach its audio by digest (cached here: the first test spoke the same audio),
        # or read it from the bucket through the server
        cache = front.state.service.references.settings.cache_dir
        assert (cache / voice["digest"]).is_file()
        by_digest = {"model": "xtts", "input": TEXT, "reference_audio": f"sha256:{voice['digest']}"}
        response = httpx.post(f"{front.url}/v1/audio/speech", json=by_digest, headers=auth(BOB))
        assert response.json()["error"]["code"] == "reference_not_found"
        stored = f"{LIBRARY}/audio/{voice['digest']}.wav"
        for key in (ALICE, BOB):
            copied = httpx.post(f"{front.url}/v1/audio/voices", headers=auth(key), json={
                "name": "Copy", "consent": "me", "audio_sample": stored})  # fmt: skip
            assert "not read from that location" in copied.json()["error"]["message"]


def _list_requests(endpoint: str) -> list[str]:
    """The LIST requests the moto server recorded since the last reset (its request log)."""
    recorded = httpx.get(f"{endpoint}/moto-api/recorder/download-recording", timeout=30).text
    entries = [json.loads(line) for line in recorded.splitlines() if line.strip()]
    return [e["url"] for e in entries if e["method"] == "GET" and "list-type=" in e["url"]]


def test_a_library_voice_by_name_costs_no_store_list_per_request(
    s3_endpoint: str, xtts_gateway: LiveServer, tmp_path: Path
) -> None:
    """A speech request naming a library voice used to LIST the whole store before its first
    audio; now a listing up to ``voices.cache_seconds`` old serves, and the library's own
    changes drop it at once."""
    from moto.moto_api import recorder

    recorder._location = str(tmp_path / "moto-requests")  # the in-process server's log
    settings = front_settings(s3_endpoint, xtts_gateway).model_copy(
        update={"voices": VoiceLibrarySettings(url=LIBRARY, cache_seconds=600)}
    )
    for front in start_server(settings):
        voice = create_voice(front, reference(front), "Cached Ada")
        assert speak(front, ALICE, "Cached Ada").status_code == 200  # one listing, then kept
        httpx.post(f"{s3_endpoint}/moto-api/recorder/reset-recording", timeout=30)
        httpx.post(f"{s3_endpoint}/moto-api/recorder/start-recording", timeout=30)
        try:
            for _ in range(3):
                assert speak(front, ALICE, "Cached Ada").status_code == 200
            assert _list_requests(s3_endpoint) == []
            where = f"{front.url}/v1/audio/voices/{voice['id']}"
            body = {"name": "Renamed Ada"}
            renamed = httpx.patch(where, json=body, headers=auth(ALICE), timeout=60)
            assert renamed.status_code == 200, renamed.text
            assert speak(front, ALICE, "Renamed Ada").status_code == 200  # seen at once
            assert speak(front, ALICE, "Cached Ada").status_code == 404
        finally:
            httpx.post(f"{s3_endpoint}/moto-api/recorder/stop-recording", timeout=30)
            httpx.delete(f"{front.url}/v1/audio/voices/{voice['id']}", headers=auth(ALICE))
