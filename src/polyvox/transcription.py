"""Transcripts kept in time order: segments placed on one timeline, blocks shifted into it."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from polyvox import subtitles
from polyvox.types import Segment, TranscriptionInfo, Word


@dataclass
class Timeline:
    """Keeps segment and word times in [0, duration], ordered and never overlapping.

    Words stay inside their segment. Whisper's times can run past the end of the audio or
    step back a little between windows; clients should never see that.
    """

    duration: float = math.inf
    _segment_end: float = 0.0
    _word_end: float = 0.0
    _next_id: int = 0

    @staticmethod
    def _span(start: float, end: float, floor: float, ceiling: float) -> tuple[float, float]:
        start = min(max(start, floor), ceiling)
        return start, min(max(end, start), ceiling)

    def _word(self, word: Word, segment_start: float, segment_end: float) -> Word:
        floor = max(self._word_end, segment_start)
        start, end = self._span(word.start, word.end, floor, segment_end)
        self._word_end = end
        return replace(word, start=start, end=end)

    def place(self, segment: Segment, ceiling: float | None = None) -> Segment:
        """The segment renumbered from 0; it and its words in order, inside [0, ceiling].

        ``ceiling`` (the end of the audio decoded so far) defaults to ``duration``.
        """
        ceiling = self.duration if ceiling is None else min(ceiling, self.duration)
        start, end = self._span(segment.start, segment.end, self._segment_end, ceiling)
        self._segment_end = end
        words = tuple(self._word(w, start, end) for w in segment.words)
        placed = replace(segment, id=self._next_id, start=start, end=end, words=words)
        self._next_id += 1
        return placed


@dataclass(frozen=True)
class Transcript:
    """A finished transcription."""

    info: TranscriptionInfo
    segments: tuple[Segment, ...]

    @property
    def text(self) -> str:
        """The whole transcript as one string."""
        return subtitles.full_text(self.segments)


def shifted(segment: Segment, offset: float) -> Segment:
    """``segment`` (and its words) moved ``offset`` seconds later: a block's times -> the file's."""
    if not offset:
        return segment
    words = tuple(replace(w, start=w.start + offset, end=w.end + offset) for w in segment.words)
    return replace(segment, start=segment.start + offset, end=segment.end + offset, words=words)
