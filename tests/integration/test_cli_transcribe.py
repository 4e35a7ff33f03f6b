"""``polyvox transcribe`` as a user runs it: a real subprocess, files and standard input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import srt

from tests.stt_audio import normalise, speech_file, speech_wav

POLYVOX = [str(Path(sys.executable).parent / "polyvox")]  # the installed console script


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*POLYVOX, "transcribe", *args], input=stdin, capture_output=True, timeout=240
    )


def test_file_to_srt(tmp_path: Path) -> None:
    audio = tmp_path / "speech.mp3"
    audio.write_bytes(speech_file("mp3"))
    result = run(str(audio), "--format", "srt", "--language", "en", "--model", "whisper-1")
    assert result.returncode == 0, result.stderr.decode()
    cues = list(srt.parse(result.stdout.decode()))
    assert cues
    assert "fox" in normalise(" ".join(c.content for c in cues))


def test_stdin_to_text_and_output_file(tmp_path: Path) -> None:
    out = tmp_path / "words.json"
    result = run("-", "--format", "verbose_json", "--words", "-o", str(out), stdin=speech_wav())
    assert result.returncode == 0, result.stderr.decode()
    body = json.loads(out.read_text(encoding="utf-8"))
    assert "fox" in normalise(body["text"])
    assert body["words"]
    plain = run("-", stdin=speech_wav())
    assert "fox" in normalise(plain.stdout.decode())


def test_errors_are_readable(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not audio at all\n", encoding="utf-8")
    result = run(str(text))
    assert result.returncode == 2
    assert "error (file): could not decode" in result.stderr.decode()
    result = run(str(text), "--format", "docx")
    assert result.returncode == 2
    assert "response_format" in result.stderr.decode()
    assert run(str(tmp_path / "missing.wav")).returncode == 2
