"""Pure transcription logic: subtitle formats, the timeline, validation."""

from __future__ import annotations

import pytest
import srt
import webvtt

from polyvox import subtitles
from polyvox.api.uploads import form_value
from polyvox.checks import check_transcription as check_request
from polyvox.engines.core import whisper
from polyvox.engines.core.whisper import is_multilingual, temperatures
from polyvox.errors import (
    EngineUnavailable,
    InvalidRequest,
    ModelNotFound,
)
from polyvox.languages import WHISPER_LANGUAGES, language_code, language_name
from polyvox.service import SpeechService
from polyvox.settings import Settings
from polyvox.transcription import Timeline
from polyvox.types import EngineInfo, Segment, TranscriptionParams, Word

HELLO = (Word(" Hello", 0.0, 0.6), Word(" there.", 0.6, 1.5))
SEGMENTS = (
    Segment(0, 0.0, 1.5, " Hello there.", words=HELLO),
    Segment(1, 1.5, 3661.25, " A long one, with a comma."),
    Segment(2, 3661.25, 3661.25, "  "),
)  # fmt: skip
ENGLISH = EngineInfo("whisper", "whisper", "stt", "test", languages=("en",))
MULTI = EngineInfo("whisper", "whisper", "stt", "test", languages=tuple(WHISPER_LANGUAGES))


@pytest.mark.parametrize(
    ("seconds", "srt_time", "vtt_time"),
    [
        (0.0, "00:00:00,000", "00:00:00.000"),
        (1.5, "00:00:01,500", "00:00:01.500"),
        (59.9996, "00:01:00,000", "00:01:00.000"),
        (3661.25, "01:01:01,250", "01:01:01.250"),
        (-0.2, "00:00:00,000", "00:00:00.000"),
    ],
)
def test_timestamp(seconds: float, srt_time: str, vtt_time: str) -> None:
    assert subtitles.timestamp(seconds) == srt_time
    assert subtitles.timestamp(seconds, ".") == vtt_time


def test_srt_parses_with_the_srt_package() -> None:
    cues = list(srt.parse(subtitles.srt(SEGMENTS)))
    assert [c.index for c in cues] == [1, 2]  # the blank segment is not a cue
    assert cues[0].content == "Hello there."
    assert cues[1].end.total_seconds() == pytest.approx(3661.25)


def test_vtt_parses_with_webvtt() -> None:
    captions = webvtt.from_string(subtitles.vtt(SEGMENTS)).captions
    assert [c.text for c in captions] == ["Hello there.", "A long one, with a comma."]
    assert captions[1].end == "01:01:01.250"


def test_verbose_json_granularities() -> None:
    def body(*granularities: str) -> dict[str, object]:
        return subtitles.verbose_json(
            SEGMENTS, language="en", duration=3700.0, task="transcribe",
            granularities=granularities,
        )  # fmt: skip

    plain = body()
    assert plain["language"] == "english"
    assert plain["text"] == "Hello there. A long one, with a comma."
    assert "segments" in plain
    assert "words" not in plain
    words_only = body("word")
    assert "segments" not in words_only
    assert words_only["words"] == [
        {"word": "Hello", "start": 0.0, "end": 0.6, "probability": 1.0},
        {"word": "there.", "start": 0.6, "end": 1.5, "probability": 1.0},
    ]
    both = body("word", "segment")
    assert {"segments", "words", "usage"} <= set(both)


def test_render_text_and_json() -> None:
    common = {"language": "en", "duration": 2.0, "task": "transcribe"}
    assert (
        subtitles.render("text", SEGMENTS, **common) == "Hello there. A long one, with a comma.\n"
    )  # type: ignore[arg-type]
    assert subtitles.render("json", SEGMENTS, **common) == {  # type: ignore[arg-type]
        "text": "Hello there. A long one, with a comma.",
        "usage": {"type": "duration", "seconds": 2.0},
    }


def test_timeline_orders_clamps_and_renumbers() -> None:
    timeline = Timeline(duration=5.0)
    first = timeline.place(
        Segment(7, -0.5, 2.0, " a", words=(Word("a", -0.1, 1.0), Word("b", 0.8, 0.5)))
    )
    second = timeline.place(Segment(9, 1.5, 6.0, " c", words=(Word("c", 1.9, 6.2),)))
    assert (first.id, second.id) == (0, 1)
    assert (first.start, first.end, second.start, second.end) == (0.0, 2.0, 2.0, 5.0)
    times = [(w.start, w.end) for s in (first, second) for w in s.words]
    assert times == [(0.0, 1.0), (1.0, 1.0), (2.0, 5.0)]


def test_temperature_fallback_follows_openai() -> None:
    assert temperatures(None) == (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    assert temperatures(0.0) == temperatures(None)
    assert temperatures(0.5) == (0.5, 0.7, 0.9)
    assert temperatures(1.0) == (1.0,)


def test_languages() -> None:
    assert len(WHISPER_LANGUAGES) == 100
    assert language_code("English") == "en"
    assert language_code("en-US") == "en"
    assert language_code("yue") == "yue"
    assert language_name("de") == "german"


def test_multilingual_detection() -> None:
    from polyvox.engines.core.whisper import bundled_model

    assert not is_multilingual(str(bundled_model()))
    assert not is_multilingual("tiny.en")
    assert not is_multilingual("distil-large-v3")
    assert is_multilingual("large-v3")


@pytest.mark.parametrize(
    ("raw", "value"), [("1", 1), ("0.5", 0.5), ("true", True), ("False", False), ("hi", "hi")]
)
def test_form_values(raw: str, value: object) -> None:
    assert form_value(raw) == value
    assert type(form_value(raw)) is type(value)


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"response_format": "docx"}, "response_format"),
        ({"timestamp_granularities": ("word",)}, "timestamp_granularities"),
        ({"timestamp_granularities": ("line",), "response_format": "verbose_json"},
         "timestamp_granularities"),
        ({"stream": True, "response_format": "srt"}, "stream"),
        ({"temperature": 1.5}, "temperature"),
        ({"task": "translate"}, "model"),
        ({"language": "fr"}, "language"),
    ],
)  # fmt: skip
def test_check_request_rejects(changes: dict[str, object], param: str) -> None:
    params = TranscriptionParams(model="whisper", file=b"x", **changes)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest) as info:
        check_request(ENGLISH, params)
    assert info.value.param == param
    assert info.value.status_code == 422


def test_check_request_accepts() -> None:
    params = TranscriptionParams(model="whisper", file=b"x", language="English")
    assert check_request(ENGLISH, params) == "en"
    translate = TranscriptionParams(model="whisper", file=b"x", task="translate", language="de")
    assert check_request(MULTI, translate) == "de"


def test_piper_only_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYVOX_ENGINES", '["piper"]')
    service = SpeechService(Settings(preload=[]))
    assert [m.model for m in service.catalogue.models()] == ["piper"]
    for name in ("whisper", "whisper-1"):
        with pytest.raises(ModelNotFound):
            service.catalogue.stt_engine(name)


def test_missing_whisper_library_is_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(whisper.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EngineUnavailable, match=r"pip install 'polyvox\[whisper\]'"):
        whisper.WhisperEngine(Settings())


def test_a_tts_model_is_not_a_stt_model() -> None:
    with pytest.raises(InvalidRequest, match="not a speech-to-text model"):
        SpeechService(Settings(preload=[])).catalogue.stt_engine("piper")
