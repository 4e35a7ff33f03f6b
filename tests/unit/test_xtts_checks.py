"""XTTS-v2's checks that run before any torch work (the engine class loads without its
environment), its options, and the XTTS worker's ``voice_id`` names."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from polyvox.engines.xtts.engine import XttsEngine
from polyvox.engines.xtts.model import CHAR_LIMITS
from polyvox.engines.xtts.options import XttsOptions, language_code
from polyvox.engines.xtts.text import readable, sentences_of
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


def test_sentences_stay_within_xtts_limits_in_every_script() -> None:
    long_first = "word " * 200 + "end. Then a short one."
    chinese = "你好世界" * 60 + "。" + "再见" * 10 + "。"
    hindi = "नमस्ते दुनिया" * 20 + "। दूसरा वाक्य।"
    cases = [(long_first, "en"), (chinese, "zh-cn"), (hindi, "hi"), ("日本語" * 50, "ja")]
    for text, code in cases:
        found = sentences_of(text, code)
        assert found, code
        assert all(len(s) <= CHAR_LIMITS[code] for s in found), (code, found)
    assert sentences_of("再见。你好。", "zh-cn") == ["再见。", "你好。"]


class _Tokenizer:
    def encode(self, text: str, lang: str) -> list[int]:
        if any(ch.isdigit() for ch in text):
            raise NotImplementedError("numbers")
        return [0] * len(text)


class _Model:
    tokenizer = _Tokenizer()

    class args:  # noqa: N801 - the library's attribute
        gpt_max_text_tokens = 20


def test_text_is_cut_until_its_tokens_fit_and_unreadable_text_is_a_422() -> None:
    pieces = readable(_Model(), ["one two three four five six seven eight"], "en")
    assert len(pieces) > 1
    assert all(len(p) < 20 for p in pieces)
    assert " ".join(pieces) == "one two three four five six seven eight"
    with pytest.raises(InvalidRequest) as caught:
        readable(_Model(), ["fine", "call 5 now"], "hi")
    assert caught.value.param == "input"
