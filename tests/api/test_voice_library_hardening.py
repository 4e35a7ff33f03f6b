"""Hardening 3: the voice library's records under attack.

Each test replays an attack of the probe against a real server (uvicorn on 127.0.0.1, API
keys on) with a real client (httpx); the numbers are the issue's."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_voice_library import (
    ADMIN,
    ALICE,
    SPEECH,
    auth,
    create,
    error,
    padded,
    settings,
)
from tests.conftest import LiveServer, start_server

LONG = "A" * 300
"""Longer than a consent's 256 characters."""


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("library")


@pytest.fixture(scope="module")
def server(library: Path) -> Iterator[LiveServer]:
    yield from start_server(settings(library))


@pytest.fixture(scope="module")
def speech(server: LiveServer) -> bytes:
    body = {"model": "piper", "input": SPEECH, "response_format": "wav"}
    response = httpx.post(f"{server.url}/v1/audio/speech", json=body, headers=auth(ALICE))
    assert response.status_code == 200, response.text
    return response.content


def create_json(server: LiveServer, audio: bytes, **fields: Any) -> httpx.Response:
    body = {"audio_sample": base64.b64encode(audio).decode(), **fields}
    return httpx.post(f"{server.url}/v1/audio/voices", json=body, headers=auth(ALICE), timeout=60)


def change(server: LiveServer, voice_id: str, **fields: Any) -> httpx.Response:
    url = f"{server.url}/v1/audio/voices/{voice_id}"
    return httpx.patch(url, json=fields, headers=auth(ALICE), timeout=60)


def listing(server: LiveServer, key: str) -> httpx.Response:
    url = f"{server.url}/v1/audio/voices?source=library&detail=true"
    return httpx.get(url, headers=auth(key), timeout=30)


def names(library: Path) -> list[str]:
    return [json.loads(p.read_text())["name"] for p in (library / "voices").glob("*.json")]


def strict_json(text: str) -> Any:
    """``text`` read as a browser reads JSON: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def vanishes(path: Path, seconds: float = 15) -> bool:
    """Whether ``path`` is deleted within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and path.exists():
        time.sleep(0.1)
    return not path.exists()


def test_an_over_long_consent_is_refused_and_no_stored_record_breaks_the_listing(
    server: LiveServer, speech: bytes, library: Path
) -> None:
    """9. A consent string over 256 characters was stored, its create answered 500, and the
    detailed listing answered 500 from then on, for the owner and every admin."""
    assert error(create(server, ALICE, "Long consent", speech, consent=LONG), 422)["param"] == (
        "consent"
    )
    as_json = create_json(server, speech, name="Long consent", consent=LONG)
    assert error(as_json, 422)["param"] == "consent"
    assert "Long consent" not in names(library)
    for key in (ALICE, ADMIN):
        assert listing(server, key).status_code == 200
    kept = create(server, ALICE, "Kept", speech)
    assert kept.status_code == 201, kept.text
    assert error(change(server, kept.json()["id"], consent=LONG), 422)["param"] == "consent"
    # records an older server wrote: one with such a consent, one that cannot be rendered
    record = json.loads((library / "voices" / f"{kept.json()['id']}.json").read_text())
    old, broken, endless = (f"voice_{c * 12}" for c in ("ab", "cd", "ef"))
    consent = {"by": LONG, "at": "2026-01-01", "statement": "S" * 5000}
    planted = {**record, "id": old, "name": "Planted", "consent": consent}
    unrenderable = {**record, "id": broken, "name": "Broken", "defaults": {"xtts": {"a": [1]}}}
    not_a_number = {**record, "id": endless, "name": "NaN", "seconds": math.nan}
    for voice in (planted, unrenderable, not_a_number):
        (library / "voices" / f"{voice['id']}.json").write_text(json.dumps(voice))
    for key in (ALICE, ADMIN):
        answer = listing(server, key)
        assert answer.status_code == 200, answer.text
        shown = {v["id"]: v for v in strict_json(answer.text)["data"]}
        assert shown[old]["consent"]["by"] == LONG
        assert broken not in shown
        assert endless not in shown
        one = httpx.get(f"{server.url}/v1/audio/voices/{old}", headers=auth(key))
        assert one.status_code == 200, one.text
    by_name = httpx.get(f"{server.url}/v1/audio/voices/kept", headers=auth(ALICE))
    assert by_name.status_code == 200, by_name.text


def test_concurrent_creates_and_renames_keep_names_unique_per_key(
    server: LiveServer, speech: bytes, library: Path
) -> None:
    """12. Six concurrent creates of one name with one key: 3 to 6 succeeded; one may."""
    start = threading.Barrier(6)

    def attempt(_: int) -> httpx.Response:
        start.wait()
        return create(server, ALICE, "Twin", speech)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(attempt, range(6)))
    assert sorted(a.status_code for a in answers) == [201] + [409] * 5, [a.text for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"voice_exists"}
    assert [n.casefold() for n in names(library)].count("twin") == 1
    # two voices renamed to one name at the same moment
    ids = [create(server, ALICE, name, speech).json()["id"] for name in ("Left", "Right")]
    both = threading.Barrier(2)

    def rename(voice_id: str) -> httpx.Response:
        both.wait()
        return change(server, voice_id, name="Centre")

    with ThreadPoolExecutor(2) as pool:
        renamed = list(pool.map(rename, ids))
    assert sorted(r.status_code for r in renamed) == [200, 409], [r.text for r in renamed]
    assert [n.casefold() for n in names(library)].count("centre") == 1


def test_a_truncated_audio_file_is_never_reused(
    server: LiveServer, speech: bytes, library: Path
) -> None:
    """13. A crash during the audio write left a truncated ``audio/<digest>.wav`` that every
    later upload of the same audio reused."""
    audio = padded(speech, 0.3)
    first = create(server, ALICE, "Crashed", audio)
    assert first.status_code == 201, first.text
    digest = first.json()["digest"]
    stored = library / "audio" / f"{digest}.wav"
    whole = stored.read_bytes()
    # what the crash left: half the audio and no record
    (library / "voices" / f"{first.json()['id']}.json").unlink()
    stored.write_bytes(whole[: len(whole) // 2])
    again = create(server, ALICE, "Crashed", audio)
    assert again.status_code == 201, again.text
    assert again.json()["digest"] == digest
    url = f"{server.url}/v1/audio/voices/{again.json()['id']}/audio"
    served = httpx.get(url, headers=auth(ALICE)).content
    assert hashlib.sha256(served).hexdigest() == digest
    assert stored.read_bytes() == whole
    assert not [p for p in (library / "audio").iterdir() if p.name.startswith(".part-")]


def test_audio_no_record_uses_is_swept_after_its_grace_period(
    speech: bytes, tmp_path: Path
) -> None:
    """14. A voice deleted at the moment of a crash left its audio unreferenced for ever."""
    audio = tmp_path / "library" / "audio"
    audio.mkdir(parents=True)
    long_ago = time.time() - 2 * 3600
    old, fresh, part = audio / f"{'1' * 64}.wav", audio / f"{'2' * 64}.wav", audio / ".part-0"
    for path in (old, fresh, part):
        path.write_bytes(b"RIFF" + b"\0" * 100)
    for path in (old, part):
        os.utime(path, (long_ago, long_ago))
    for live in start_server(settings(tmp_path / "library")):
        assert vanishes(old), "the old orphan is still there"
        assert not part.exists()
        assert fresh.exists()  # a create may have stored it and not yet written its record
        # another crash's leftover goes with the next delete; audio a voice uses stays
        kept = create(live, ALICE, "Kept", speech).json()
        used = audio / f"{kept['digest']}.wav"
        leftover = audio / f"{'3' * 64}.wav"
        leftover.write_bytes(b"RIFF")
        for path in (used, leftover):
            os.utime(path, (long_ago, long_ago))
        brief = create(live, ALICE, "Brief", speech).json()
        gone = httpx.delete(f"{live.url}/v1/audio/voices/{brief['id']}", headers=auth(ALICE))
        assert gone.status_code == 200, gone.text
        assert vanishes(leftover), "the leftover is still there"
        assert used.exists()
        assert fresh.exists()


@pytest.mark.parametrize(
    "defaults",
    [
        {f"model-{i}": {"speed": 1.0} for i in range(33)},
        {"xtts": {f"p{i}": 1 for i in range(65)}},
        {"x" * 129: {"speed": 1.0}},
        {"xtts": {"p" * 65: 1}},
        {"xtts": {"style": "s" * 1025}},
        {f"m{i}": {f"p{j}": "v" * 1000 for j in range(10)} for i in range(2)},
        {f"m{i}": {f"p{j}": "v" * 1024 for j in range(64)} for i in range(32)},
    ],
    ids=["33-keys", "65-parameters", "long-key", "long-parameter", "long-value", "16-KiB", "probe"],
)
def test_voice_defaults_are_bounded(
    server: LiveServer, speech: bytes, library: Path, defaults: dict[str, Any]
) -> None:
    """15. Voice defaults were unbounded: a 5 MB record was accepted."""
    name = f"Defaults {len(json.dumps(defaults))}"
    assert (
        error(create_json(server, speech, name=name, consent="Jo", defaults=defaults), 422)["param"]
        == "defaults"
    )
    if len(json.dumps(defaults)) < 500_000:  # a form field takes at most 1 MiB
        form = create(server, ALICE, name, speech, defaults=json.dumps(defaults))
        assert error(form, 422)["param"] == "defaults"
    assert name not in names(library)
    fine = {"xtts": {"temperature": 0.7, "speed": 1.1}}
    made = create_json(server, speech, name=name, consent="Jo", defaults=fine)
    assert made.status_code == 201, made.text
    assert error(change(server, made.json()["id"], defaults=defaults), 422)["param"] == "defaults"
    httpx.delete(f"{server.url}/v1/audio/voices/{made.json()['id']}", headers=auth(ALICE))


def test_control_characters_in_names_and_consent_are_refused(
    server: LiveServer, speech: bytes, library: Path
) -> None:
    """16. A newline in a voice name forged log lines."""
    forged = "Ada\n2026-01-01 INFO polyvox.voices.library: voice library: deleted everything"
    for bad in (forged, "Ada\rB", "Ada\tB", "Ada\x00B", "Ada\u202eB", "Ada\x1b[31mB"):
        assert error(create(server, ALICE, bad, speech), 422)["param"] == "name", repr(bad)
    assert error(create(server, ALICE, "Clean", speech, consent=forged), 422)["param"] == (
        "consent"
    )
    by = create_json(server, speech, name="Clean", consent={"by": "Jo\x00", "at": "2026-01-01"})
    assert error(by, 422)["param"] == "consent"
    assert not [n for n in names(library) if n.startswith("Ada") or n == "Clean"]
    made = create(server, ALICE, "Plain", speech)
    assert made.status_code == 201, made.text
    assert error(change(server, made.json()["id"], name=forged), 422)["param"] == "name"
    assert error(change(server, made.json()["id"], consent=forged), 422)["param"] == "consent"


def test_consent_dates_must_be_iso_8601(server: LiveServer, speech: bytes, library: Path) -> None:
    """19. Consent ``at`` was not checked as a date."""
    for at in ("yesterday", "2026-13-45", "<script>alert(1)</script>", "2026-12-03 at noon"):
        body = create_json(server, speech, name="Dated", consent={"by": "Jo", "at": at})
        assert error(body, 422)["param"] == "consent", at
    form = create(server, ALICE, "Dated", speech, consent_at="soon")
    assert error(form, 422)["param"] == "consent"
    assert "Dated" not in names(library)
    for i, at in enumerate(("2026-12-03", "2026-12-03T10:15:00+01:00", "2026-12-03T10:15:00Z")):
        made = create_json(server, speech, name=f"Dated {i}", consent={"by": "Jo", "at": at})
        assert made.status_code == 201, made.text
        assert made.json()["consent"]["at"] == at
    later = change(server, made.json()["id"], consent={"by": "Jo", "at": "tomorrow"})
    assert error(later, 422)["param"] == "consent"
