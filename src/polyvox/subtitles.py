"""Transcript renderings: plain text, SubRip, WebVTT and OpenAI's json / verbose_json bodies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

from polyvox.languages import language_name
from polyvox.types import Segment, Task, Word

TranscriptFormat = Literal["json", "text", "srt", "vtt", "verbose_json"]
TRANSCRIPT_FORMATS: tuple[str, ...] = get_args(TranscriptFormat)
MEDIA_TYPES = {
    "json": "application/json",
    "verbose_json": "application/json",
    "text": "text/plain; charset=utf-8",
    "srt": "text/plain; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}
"""Content-Type per response format (OpenAI serves srt as text/plain)."""
JsonBody = dict[str, object]


def full_text(segments: Sequence[Segment]) -> str:
    """The transcript as one string (segments carry their own leading spaces)."""
    return "".join(s.text for s in segments).strip()


def timestamp(seconds: float, separator: str = ",") -> str:
    """``HH:MM:SS,mmm`` (SubRip) or, with ``separator="."``, ``HH:MM:SS.mmm`` (WebVTT)."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cues(segments: Sequence[Segment], separator: str) -> list[str]:
    spoken = [s for s in segments if s.text.strip()]
    return [
        f"{timestamp(s.start, separator)} --> {timestamp(s.end, separator)}\n{s.text.strip()}\n"
        for s in spoken
    ]


def srt(segments: Sequence[Segment]) -> str:
    """SubRip: numbered cues, ``,`` before the milliseconds, blank line between cues."""
    return "\n".join(f"{i}\n{cue}" for i, cue in enumerate(_cues(segments, ","), start=1))


def vtt(segments: Sequence[Segment]) -> str:
    """WebVTT: a ``WEBVTT`` header, then cues with ``.`` before the milliseconds."""
    return "WEBVTT\n\n" + "\n".join(_cues(segments, "."))


def _seconds(value: float) -> float:
    return round(value, 3)


def segment_json(s: Segment) -> JsonBody:
    """One verbose_json segment with OpenAI's fields."""
    return {
        "id": s.id,
        "seek": s.seek,
        "start": _seconds(s.start),
        "end": _seconds(s.end),
        "text": s.text,
        "tokens": list(s.tokens),
        "temperature": s.temperature,
        "avg_logprob": s.avg_logprob,
        "compression_ratio": s.compression_ratio,
        "no_speech_prob": s.no_speech_prob,
    }


def word_json(w: Word) -> JsonBody:
    """One verbose_json word (OpenAI's fields, plus faster-whisper's probability)."""
    return {
        "word": w.word.strip(),
        "start": _seconds(w.start),
        "end": _seconds(w.end),
        "probability": round(w.probability, 4),
    }


def usage(duration: float) -> JsonBody:
    """OpenAI's duration-billed usage object."""
    return {"type": "duration", "seconds": _seconds(duration)}


def verbose_json(
    segments: Sequence[Segment],
    *,
    language: str,
    duration: float,
    task: Task,
    granularities: Sequence[str] = (),
) -> JsonBody:
    """OpenAI's verbose_json: segments unless only words were asked for; words if asked for."""
    body: JsonBody = {
        "task": task,
        "language": language_name(language),
        "duration": _seconds(duration),
        "text": full_text(segments),
    }
    if "segment" in granularities or not granularities:
        body["segments"] = [segment_json(s) for s in segments]
    if "word" in granularities:
        body["words"] = [word_json(w) for s in segments for w in s.words]
    body["usage"] = usage(duration)
    return body


def render(
    fmt: str,
    segments: Sequence[Segment],
    *,
    language: str,
    duration: float,
    task: Task,
    granularities: Sequence[str] = (),
) -> str | JsonBody:
    """The body of a non-streaming response in ``fmt``: a JSON object or text."""
    if fmt == "verbose_json":
        return verbose_json(
            segments,
            language=language,
            duration=duration,
            task=task,
            granularities=granularities,
        )
    if fmt == "json":
        return {"text": full_text(segments), "usage": usage(duration)}
    if fmt == "srt":
        return srt(segments)
    if fmt == "vtt":
        return vtt(segments)
    return full_text(segments) + "\n"
