"""XTTS-v2's checks that run before any torch work (the engine class loads without its
environment), its options, and the XTTS worker's ``voice_id`` names."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from polyvox.engines.xtts import XttsEngine
from polyvox.engines.xtts_options import XttsOptions, language_code
from polyvox.errors import InvalidRequest
from polyvox.models import ModelSpec
from polyvox.types import SpeechRequest
from polyvox.worker.voice_ids import VoiceIds


def engine(tmp_path: Path, **options: object) -> XttsEngine:
    values = {"conditioning_dir": tmp_path, "checkpoint": tmp_path, **options}
    return XttsEngine(ModelSpec("xtts", "xtts", XttsOptions.model_validate(values), 1))


def test_a_language_is_required_where_the_model_has_no_default(tmp_path: Path) -> None:
    for unset in (None, ""):  # "" is how a TOML file says it
        strict = engine(tmp_path, default_language=unset)
        with pytest.raises(InvalidRequest) as caught:
            strict.synthesize(SpeechRequest("Olá.", "default"))
        assert caught.value.param == "language"
        assert "needs 'language'" in caught.value.message
    with pytest.raises(InvalidRequest) as caught:
        strict.synthesize(SpeechRequest("Hi.", "default", language="tlh"))
    assert caught.value.param == "language"


def test_a_voice_it_does_not_have_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest) as caught:
        engine(tmp_path).synthesize(SpeechRequest("Hi.", "nobody", language="en"))
    assert caught.value.param == "voice"


def test_configured_voices_are_listed_and_need_a_file(tmp_path: Path) -> None:
    files = [tmp_path / "a.wav", tmp_path / "b.wav"]
    listed = engine(tmp_path, voices={"duo": files}).voices()
    assert [v.id for v in listed] == ["duo"]
    assert "2 reference file(s)" in listed[0].description
    with pytest.raises(ValidationError, match="at least one reference file"):
        XttsOptions.model_validate({"voices": {"empty": []}})
    with pytest.raises(ValidationError, match="is not spoken"):
        XttsOptions.model_validate({"default_language": "tlh"})


def test_language_codes_map_to_xtts_codes() -> None:
    assert language_code("zh") == language_code("zh-CN") == "zh-cn"
    assert language_code("pt-BR") == "pt"
    assert language_code("EN") == "en"
    assert language_code("tlh") is None


def test_voice_ids_survive_a_restart_and_the_latest_reference_wins(tmp_path: Path) -> None:
    ids = VoiceIds(tmp_path)
    assert ids.find("maria") is None
    ids.remember("maria", "a" * 64)
    ids.remember("maria", "b" * 64)
    assert VoiceIds(tmp_path).find("maria") == "b" * 64
    (tmp_path / ".voice-ids.json").write_text("{not json")
    assert VoiceIds(tmp_path).find("maria") is None  # unreadable: starts afresh, no crash
