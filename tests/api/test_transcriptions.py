"""/v1/audio/transcriptions and /translations through the official openai client."""

from __future__ import annotations

import io
import itertools
import warnings
from typing import Any

import httpx
import openai
import pytest
import srt
import webvtt

from tests.conftest import LiveServer
from tests.stt_audio import CONTAINERS, KEYWORDS, duration, normalise, speech_file, speech_wav

FORMATS = ["json", "text", "srt", "vtt", "verbose_json"]


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="unused", max_retries=0)


@pytest.fixture(scope="module")
def wav() -> bytes:
    return speech_wav()


def transcribe(client: openai.OpenAI, data: bytes, name: str = "speech.wav", **kw: Any) -> Any:
    return client.audio.transcriptions.create(file=(name, data), model="whisper-1", **kw)


def assert_keywords(text: str) -> None:
    words = normalise(text).split()
    missing = [k for k in KEYWORDS if k not in words]
    assert not missing, text


def assert_monotonic(spans: list[tuple[float, float]], total: float) -> None:
    assert spans
    for start, end in spans:
        assert 0.0 <= start <= end <= total
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_response_format(client: openai.OpenAI, wav: bytes, fmt: str) -> None:
    result = transcribe(client, wav, response_format=fmt)
    if fmt in ("json", "verbose_json"):
        assert_keywords(result.text)
    else:
        assert isinstance(result, str)
        assert_keywords(result)


def test_json_reports_duration_usage(client: openai.OpenAI, wav: bytes) -> None:
    result = transcribe(client, wav)
    assert result.usage.type == "duration"
    assert result.usage.seconds == pytest.approx(duration(wav), abs=0.01)


def test_verbose_json_words_and_segments(client: openai.OpenAI, wav: bytes) -> None:
    result = transcribe(
        client, wav, response_format="verbose_json", timestamp_granularities=["word", "segment"]
    )
    total = duration(wav)
    assert result.duration == pytest.approx(total, abs=0.01)
    assert (result.task, result.language) == ("transcribe", "english")
    assert_keywords(result.text)
    assert_monotonic([(s.start, s.end) for s in result.segments], result.duration)
    assert_monotonic([(w.start, w.end) for w in result.words], result.duration)
    assert [s.id for s in result.segments] == list(range(len(result.segments)))
    for segment in result.segments:
        assert segment.tokens
        assert -10.0 < segment.avg_logprob <= 0.0
        assert 0.0 <= segment.no_speech_prob <= 1.0
        assert segment.compression_ratio > 0
        assert segment.temperature == 0.0
    assert " ".join(w.word for w in result.words) == result.text


def test_verbose_json_granularity_choices(client: openai.OpenAI, wav: bytes) -> None:
    plain = transcribe(client, wav, response_format="verbose_json")
    assert plain.segments
    assert plain.words is None
    words = transcribe(
        client, wav, response_format="verbose_json", timestamp_granularities=["word"]
    )
    assert words.segments is None
    assert len(words.words) >= 10


def test_srt_parses_with_the_srt_package(client: openai.OpenAI, wav: bytes) -> None:
    cues = list(srt.parse(transcribe(client, wav, response_format="srt")))
    assert [c.index for c in cues] == list(range(1, len(cues) + 1))
    spans = [(c.start.total_seconds(), c.end.total_seconds()) for c in cues]
    assert_monotonic(spans, round(duration(wav), 3))
    assert_keywords(" ".join(c.content for c in cues))


def test_vtt_parses_with_webvtt(client: openai.OpenAI, wav: bytes) -> None:
    body = transcribe(client, wav, response_format="vtt")
    captions = webvtt.from_buffer(io.StringIO(body)).captions
    spans = [(c.start_in_seconds, c.end_in_seconds) for c in captions]
    assert_monotonic(spans, duration(wav) + 0.001)
    assert_keywords(" ".join(c.text for c in captions))


def test_content_types(live_server: LiveServer, wav: bytes) -> None:
    expected = {
        "json": "application/json", "verbose_json": "application/json",
        "text": "text/plain", "srt": "text/plain", "vtt": "text/vtt",
    }  # fmt: skip
    for fmt, media in expected.items():
        response = httpx.post(
            f"{live_server.url}/v1/audio/transcriptions", files={"file": ("a.wav", wav)},
            data={"model": "whisper-1", "response_format": fmt}, timeout=60,
        )  # fmt: skip
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(media)


@pytest.mark.parametrize("kind", list(CONTAINERS))
def test_input_formats(client: openai.OpenAI, kind: str) -> None:
    result = transcribe(client, speech_file(kind), name=f"speech.{kind}")
    assert_keywords(result.text)


def test_stream_yields_deltas_then_done(client: openai.OpenAI) -> None:
    text = "First sentence here. " + " ".join(["The quick brown fox jumps over the lazy dog."] * 3)
    events = list(transcribe(client, speech_wav(text), stream=True))
    types = [e.type for e in events]
    assert types[-1] == "transcript.text.done"
    assert types[:-1] == ["transcript.text.delta"] * (len(events) - 1)
    assert len(events) >= 2
    deltas = "".join(e.delta for e in events[:-1]).strip()
    assert deltas == events[-1].text
    assert "fox" in normalise(deltas)


def test_stream_sse_over_http(live_server: LiveServer, wav: bytes) -> None:
    with httpx.stream(
        "POST", f"{live_server.url}/v1/audio/transcriptions", files={"file": ("a.wav", wav)},
        data={"model": "whisper", "stream": "true", "response_format": "text"}, timeout=60,
    ) as response:  # fmt: skip
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line.startswith("data:")]
    assert '"transcript.text.done"' in lines[-1]


def test_options_are_accepted(client: openai.OpenAI, wav: bytes) -> None:
    result = transcribe(
        client, wav, language="en", prompt="Foxes, dogs.", temperature=0.2,
        extra_body={"beam_size": 1, "vad_filter": True},
    )  # fmt: skip
    assert_keywords(result.text)
    for model in ("whisper", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"):
        other = client.audio.transcriptions.create(file=("a.wav", wav), model=model)
        assert_keywords(other.text)


def test_translation_needs_a_multilingual_model(client: openai.OpenAI, wav: bytes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # newer clients deprecate it
        with pytest.raises(openai.UnprocessableEntityError) as info:
            client.audio.translations.create(file=("a.wav", wav), model="whisper-1")
    assert "English-only" in str(info.value)


def test_models_lists_whisper(client: openai.OpenAI) -> None:
    kinds = {m.id: m.model_extra.get("kind") for m in client.models.list()}  # type: ignore[union-attr]
    assert kinds["whisper"] == "stt"
    assert kinds["piper"] == "tts"
