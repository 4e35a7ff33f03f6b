"""Models as configuration: the TOML file, environment overrides, errors that name the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from polyvox.config import load_settings
from polyvox.engines import wire
from polyvox.engines.core.piper import PiperOptions
from polyvox.errors import (
    InvalidRequest,
    Overloaded,
    PolyvoxError,
    RequestTooLarge,
    VoiceNotFound,
)
from polyvox.models import ConfigError, model_spec
from polyvox.service import SpeechService

EXAMPLE = Path(__file__).parents[2] / "polyvox.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "polyvox.toml"
    path.write_text(text)
    return path


def test_the_documented_example_loads_and_serves_two_piper_models() -> None:
    settings = load_settings(EXAMPLE, preload=[])
    assert settings.served == ["piper", "piper-calm", "whisper"]
    calm = model_spec(settings, "piper-calm")
    assert isinstance(calm.options, PiperOptions)
    assert (calm.options.threads, calm.slots) == (1, 1)
    assert model_spec(settings, "piper").slots == settings.tts_slots
    service = SpeechService(settings)
    infos = {info.model: info for info in service.catalogue.models()}
    assert infos["piper-calm"].engine == infos["piper"].engine == "piper"
    assert service.catalogue.engine("narrator").info.model == "piper-calm"
    voice = service.catalogue.resolve_voice("piper-calm", None)
    assert voice.model == "piper-calm"


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYVOX_TTS_SLOTS", "3")
    monkeypatch.setenv("POLYVOX_PIPER__THREADS", "2")  # every Piper model without its own
    settings = load_settings(EXAMPLE)
    assert settings.tts_slots == 3
    assert model_spec(settings, "piper").options.threads == 2  # type: ignore[attr-defined]
    assert model_spec(settings, "piper-calm").options.threads == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[models.fast]\nengine = "piper"\nvoice_dir = "/v"\n', ["model 'fast'", "voice_dir"]),
        ('[models.fast]\nengine = "piper"\nthreads = -1\n', ["model 'fast'", "threads"]),
        ('[models.x]\nengine = "no-such-engine"\n', ["model 'x'", "no-such-engine"]),
        ("tts_slotz = 3\n", ["tts_slotz"]),
        ("tts_slots = 0\n", ["tts_slots"]),
        ("[models.x\n", ["not valid TOML"]),
    ],
)
def test_a_wrong_option_names_the_file_the_model_and_the_key(
    tmp_path: Path, text: str, named: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert str(error.value).startswith(str(path))
    for part in named:
        assert part in str(error.value)


def test_serve_stops_at_start_on_a_wrong_option(tmp_path: Path) -> None:
    path = write(tmp_path, '[models.fast]\nengine = "piper"\nshrink_arena = "maybe"\n')
    done = subprocess.run(
        [sys.executable, "-m", "polyvox", "serve", "--config", str(path), "--port", "9"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "model 'fast'" in done.stderr
    assert "shrink_arena" in done.stderr
    assert str(path) in done.stderr


def test_model_cards_rebuild_the_same_engine_info() -> None:
    service = SpeechService(load_settings(EXAMPLE, preload=[]))
    for info in service.catalogue.models():
        assert wire.from_card(wire.card(info)) == info


@pytest.mark.parametrize(
    "error",
    [
        InvalidRequest("bad value", param="speed"),
        VoiceNotFound("no such voice", param="voice"),
        RequestTooLarge("too big"),
        Overloaded("busy", retry_after=3),
    ],
)
def test_errors_come_back_from_their_json(error: PolyvoxError) -> None:
    again = PolyvoxError.from_dict(error.to_dict(), error.status_code)
    assert type(again) is type(error)
    assert again.to_dict() == error.to_dict()
    assert again.status_code == error.status_code
