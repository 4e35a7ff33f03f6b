"""The polyvox command line, run as a user would run it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import wave
from pathlib import Path

import httpx

from polyvox import codecs
from tests.processes import settled_rss_mb, spawn_server
from tests.samples import sine_wav

POLYVOX = [sys.executable, "-m", "polyvox"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*POLYVOX, *args], input=stdin.encode() if stdin else None, capture_output=True, timeout=120
    )


def test_speak_to_wav_file_has_real_sizes(tmp_path: Path) -> None:
    out = tmp_path / "hello.wav"
    result = run("speak", "Hello from the command line. It works.", "-o", str(out))
    assert result.returncode == 0, result.stderr
    with wave.open(str(out)) as wav:
        assert wav.getframerate() == 22050
        assert 1.5 < wav.getnframes() / wav.getframerate() < 6


def test_speak_reads_stdin_and_writes_stdout() -> None:
    result = run("speak", "-", "--format", "mp3", "--speed", "1.5", stdin="Piped text.")
    assert result.returncode == 0, result.stderr
    samples, rate = codecs.decode(result.stdout)
    assert len(samples) / rate > 0.3


def test_speak_format_from_suffix(tmp_path: Path) -> None:
    out = tmp_path / "x.flac"
    assert run("speak", "Suffix.", "-o", str(out)).returncode == 0
    assert out.read_bytes()[:4] == b"fLaC"


def test_speak_errors_are_clear_and_create_no_file(tmp_path: Path) -> None:
    out = tmp_path / "never.wav"
    result = run("speak", "Hi", "--voice", "nobody", "-o", str(out))
    assert result.returncode == 2
    assert b"nobody" in result.stderr
    assert not out.exists()
    assert run("speak", "   ").returncode == 2


def test_models_and_voices() -> None:
    models = run("models")
    assert models.returncode == 0
    assert models.stdout.startswith(b"piper\ttts")
    voices = run("voices", "--model", "piper")
    assert b"en_US-joe-medium\tpiper\ten_US\t22050" in voices.stdout
    assert run("voices", "--model", "nope").returncode == 2


def test_voices_add_list_and_rm_keep_the_library(tmp_path: Path) -> None:
    env = {**os.environ, "POLYVOX_VOICES__URL": str(tmp_path / "library")}

    def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*POLYVOX, *args], capture_output=True, timeout=120, env=env)

    reference = tmp_path / "me.wav"
    spoken = cli("speak", "This is how I sound when I read a sentence aloud.", "-o", str(reference))
    assert spoken.returncode == 0, spoken.stderr
    refused = cli("voices", "add", "Me", str(reference))  # no consent
    assert refused.returncode == 2
    added = cli("voices", "add", "Me", str(reference), "--consent", "Me myself", "--language", "en")
    assert added.returncode == 0, added.stderr
    voice_id = added.stdout.split(b"\t")[0].decode()
    assert voice_id.startswith("voice_")
    listed = cli("voices")
    assert listed.returncode == 0, listed.stderr
    assert b"en_US-joe-medium\tpiper" in listed.stdout
    assert f"{voice_id}\tlibrary\ten\tMe\t".encode() in listed.stdout
    tone = tmp_path / "tone.wav"
    tone.write_bytes(sine_wav(3.0))
    not_speech = cli("voices", "add", "Tone", str(tone), "--consent", "nobody")
    assert not_speech.returncode == 2
    assert b"no speech" in not_speech.stderr
    assert cli("voices", "rm", "Me").returncode == 0
    assert voice_id.encode() not in cli("voices").stdout
    assert cli("voices", "rm", "Me").returncode == 2


def test_serve_answers_and_stays_small_then_stops_on_sigterm() -> None:
    proc, url = spawn_server({"POLYVOX_LOG_LEVEL": "info"}, stderr=subprocess.PIPE)
    try:
        body = {"model": "tts-1", "input": "Memory check. " * 20, "response_format": "mp3"}
        assert httpx.post(f"{url}/v1/audio/speech", json=body, timeout=60).status_code == 200
        assert settled_rss_mb(proc.pid) < 400, "resident memory with Piper loaded"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert proc.returncode in (0, -signal.SIGTERM)
    assert b"Finished server process" in stderr
