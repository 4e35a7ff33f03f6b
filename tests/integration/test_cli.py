"""The polyvox command line, run as a user would run it."""

from __future__ import annotations

import signal
import subprocess
import sys
import wave
from pathlib import Path

import httpx

from polyvox import codecs
from tests.processes import settled_rss_mb, spawn_server

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
