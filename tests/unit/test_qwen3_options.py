"""Qwen3-TTS's options and voice attributes (no torch: the gateway's side of the engine),
the transcripts kept for references, and the model card's round trip of attributes."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from polyvox.engines import wire
from polyvox.engines.qwen3.options import (
    EMOTIONS,
    Qwen3Options,
    attributes,
    instruction,
    language_name,
    pick_speaker,
)
from polyvox.types import EngineInfo
from polyvox.voices.transcripts import Transcript, Transcripts


@pytest.mark.parametrize(
    ("sent", "name"),
    [("en", "english"), ("en-US", "english"), ("zh_CN", "chinese"), ("English", "english"),
     ("auto", "auto"), ("ru", "russian"), ("xx", None), ("pl", None)],
)  # fmt: skip
def test_language_names(sent: str, name: str | None) -> None:
    assert language_name(sent) == name


def test_attributes_become_instructions_in_the_documented_order() -> None:
    told = {"gender": "female", "age": 25, "emotion": "happy"}
    design = instruction("voice_design", told, "Warm timbre.")
    assert design == f"Female voice. About 25 years old. {EMOTIONS['happy']} Warm timbre."
    # CustomVoice: the speaker is the timbre; only the delivery goes into the prompt
    assert instruction("custom_voice", told, None) == EMOTIONS["happy"]
    assert instruction("custom_voice", {}, "  Slowly. ") == "Slowly."
    assert attributes("base") == {}
    assert set(attributes("custom_voice")["emotion"].choices or ()) == set(EMOTIONS)


@pytest.mark.parametrize(
    ("told", "language", "speaker"),
    [
        ({}, "english", "ryan"),  # nothing told: the fallback
        ({"gender": "female", "age": 25}, "english", "vivian"),
        ({"gender": "female", "age": 25}, "japanese", "ono_anna"),
        ({"gender": "female", "age": 40}, "korean", "sohee"),
        ({"gender": "male", "age": 70}, "auto", "uncle_fu"),
        ({"gender": "male", "age": 20}, "english", "aiden"),
        ({"gender": "male", "age": 30}, "english", "aiden"),
        ({"gender": "male", "age": 45}, "english", "ryan"),
        ({"gender": "neutral", "emotion": "sad"}, "english", "ryan"),
    ],
)
def test_gender_and_age_pick_the_closest_speaker(
    told: dict[str, str | int], language: str, speaker: str
) -> None:
    assert pick_speaker(told, language, "ryan") == speaker


def test_options_are_checked_where_they_are_configured(tmp_path: Path) -> None:
    assert Qwen3Options().repo == "Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice"
    assert Qwen3Options(variant="base").repo.endswith("-Base")
    bad = [
        {"default_language": "klingon"},
        {"default_voice": "alice"},
        {"voices": {"me": {"audio": tmp_path / "me.wav", "text": "Hi."}}},  # not a Base model
        {"variant": "base", "voices": {"me": {"audio": tmp_path / "me.wav"}}},  # no transcript
        {"variant": "base", "default_voice": "me"},
        {"first_frames": 0},
    ]
    for options in bad:
        with pytest.raises(ValidationError):
            Qwen3Options.model_validate(options)
    untold = {"variant": "base", "x_vector_only": True, "voices": {"me": {"audio": "me.wav"}}}
    assert Qwen3Options.model_validate(untold).voices["me"].text is None


def test_transcripts_are_kept_by_digest_across_instances(tmp_path: Path) -> None:
    kept = Transcripts(tmp_path / ".transcripts")
    assert kept.get("ab" * 32) is None
    kept.put("ab" * 32, Transcript("Hello there.", "whisper"))
    assert kept.get("ab" * 32) == Transcript("Hello there.", "whisper")
    again = Transcripts(tmp_path / ".transcripts")  # a restart
    assert again.get("ab" * 32) == Transcript("Hello there.", "whisper")
    (tmp_path / ".transcripts" / f"{'cd' * 32}.json").write_text("{torn")
    assert again.get("cd" * 32) is None  # made again, not fatal


def test_voice_attributes_travel_with_their_values_in_the_model_card() -> None:
    info = EngineInfo(
        model="q", engine="qwen3", kind="tts", description="",
        voice_attributes=attributes("custom_voice"), reference_text=True,
    )  # fmt: skip
    again = wire.from_card(wire.card(info))
    assert again.voice_attributes == info.voice_attributes
    assert again.reference_text
    older = wire.card(info)
    older["capabilities"]["voice_attributes"] = ["gender"]  # a server that lists names only
    assert list(wire.from_card(older).voice_attributes) == ["gender"]
