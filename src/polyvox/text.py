"""Text normalisation and incremental splitting into speakable chunks.

The first chunk is a short phrase so audio starts quickly; later chunks are whole
sentences, and sentences longer than ``max_chars`` are split at clause boundaries. A cut
never falls inside a clause that has no punctuation: the first phrase ends at a clause
end (a comma, a colon, ...) or is the whole first sentence, because a cut mid-clause is
heard as a pause and a sentence-final fall where the text has none.

``Splitter`` takes text as it arrives (``feed()`` a delta, ``flush()`` at the end), the
shape an LLM produces tokens in; ``split()`` is the same for a whole string.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from dataclasses import dataclass

from polyvox.errors import InvalidRequest

_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])[\"'”’)\]]*\s+|\n")
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Mt|vs|etc|e\.g|i\.e|No|Fig|approx|Inc|Ltd|Co)|\b[A-Z])\.$",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"(?<=[,;:—–])\s+")
_MIN_REST_WORDS = 3
_SPACE = re.compile(r"[ \t\r\f\v]+")
_LINES = re.compile(r"\s*\n\s*")


@dataclass(frozen=True)
class TextChunk:
    """A piece of text to synthesise in one engine call."""

    text: str
    ends_sentence: bool


def normalize(text: str) -> str:
    """NFC-normalise, drop control characters and collapse runs of spaces."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    text = _SPACE.sub(" ", text)
    return _LINES.sub("\n", text).strip()


def has_speakable_text(text: str) -> bool:
    """True when ``text`` holds at least one letter or digit."""
    return any(ch.isalnum() for ch in text)


def split_long(sentence: str, max_chars: int) -> Iterator[str]:
    """Split one sentence at clause ends, then at spaces, into pieces of at most max_chars."""
    if len(sentence) <= max_chars:
        yield sentence
        return
    piece = ""
    for clause in _CLAUSE_END.split(sentence):
        if piece and len(piece) + 1 + len(clause) > max_chars:
            yield piece
            piece = ""
        piece = f"{piece} {clause}" if piece else clause
        while len(piece) > max_chars:
            cut = piece.rfind(" ", 0, max_chars)
            cut = cut if cut > 0 else max_chars
            yield piece[:cut].strip()
            piece = piece[cut:].strip()
    if piece:
        yield piece


def _first_phrase(sentence: str, max_words: int) -> tuple[str, str]:
    """Cut a lead phrase off ``sentence`` at its first clause end; whole if it has none.

    A sentence of at most ``max_words`` (plus a few) words stays whole: a few dangling
    words would sound clipped.
    """
    words = sentence.split(" ")
    if len(words) <= max_words + _MIN_REST_WORDS:
        return sentence, ""
    for match in _CLAUSE_END.finditer(sentence):
        head, rest = sentence[: match.start()], sentence[match.end() :]
        if head.count(" ") + 1 >= 2 and rest.count(" ") + 1 >= _MIN_REST_WORDS:
            return head, rest
    return sentence, ""


def _sentence_end(text: str, start: int = 0) -> re.Match[str] | None:
    """The first sentence end in ``text`` after ``start`` that is not an abbreviation's dot."""
    for match in _SENTENCE_END.finditer(text, start):
        if match.group() != "\n" and _ABBREVIATION.search(
            text, max(0, match.start() - 8), match.start()
        ):
            continue
        return match
    return None


def sentences(text: str) -> Iterator[str]:
    """Yield the sentences of normalised ``text`` one at a time."""
    start = 0
    while (match := _sentence_end(text, start)) is not None:
        sentence = text[start : match.start()].strip()
        start = match.end()
        if sentence:
            yield sentence
    tail = text[start:].strip()
    if tail:
        yield tail


def _clean(text: str) -> str:
    """NFC and no control characters, spacing kept (a delta's edges may matter)."""
    text = unicodedata.normalize("NFC", text)
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")


class Splitter:
    """Text in as it arrives, speakable chunks out as soon as each is complete.

    A sentence is complete once its end (``. `` ``! `` a newline, ...) has arrived; the
    first phrase may go out earlier, once its clause end and a few words after it have.
    """

    def __init__(self, *, max_chars: int = 300, first_max_words: int = 8) -> None:
        self.max_chars = max_chars
        self.first_max_words = first_max_words
        self._buffer = ""
        self._first = True

    def feed(self, delta: str) -> list[TextChunk]:
        """Add text; returns the chunks it completed (maybe none)."""
        self._buffer += _clean(delta)
        out: list[TextChunk] = []
        while (match := _sentence_end(self._buffer)) is not None:
            sentence, self._buffer = self._buffer[: match.start()], self._buffer[match.end() :]
            out += self._chunks(normalize(sentence))
        if self._first:
            out += self._early_phrase()
        return out

    def flush(self) -> list[TextChunk]:
        """The rest of the text, whatever its ending."""
        rest, self._buffer = normalize(self._buffer), ""
        return [chunk for sentence in sentences(rest) for chunk in self._chunks(sentence)]

    def _early_phrase(self) -> list[TextChunk]:
        """The first phrase of an unfinished first sentence, once it can no longer change.

        That is the phrase ``_first_phrase`` will pick: the first clause end with two words
        before it, once a few words after it and enough words in all have arrived.
        """
        words = len(self._buffer.split())
        for match in _CLAUSE_END.finditer(self._buffer):
            head = normalize(self._buffer[: match.start()])
            if len(head.split()) < 2:
                continue
            rest = self._buffer[match.end() :]
            if (
                len(rest.split()) < _MIN_REST_WORDS
                or words <= self.first_max_words + _MIN_REST_WORDS
            ):
                return []
            if not has_speakable_text(head):
                return []
            self._first = False
            self._buffer = rest
            return [TextChunk(head, ends_sentence=False)]
        return []

    def _chunks(self, sentence: str) -> list[TextChunk]:
        if not sentence:
            return []
        out: list[TextChunk] = []
        if self._first:
            self._first = False
            head, sentence = _first_phrase(sentence, self.first_max_words)
            if has_speakable_text(head):
                out.append(TextChunk(head, ends_sentence=not sentence))
            if not sentence:
                return out
        pieces = list(split_long(sentence, self.max_chars))
        out += [
            TextChunk(piece, ends_sentence=i == len(pieces) - 1)
            for i, piece in enumerate(pieces)
            if has_speakable_text(piece)
        ]
        return out


def split(text: str, *, max_chars: int = 300, first_max_words: int = 8) -> list[TextChunk]:
    """Speakable chunks of a whole text: a first phrase, then sentences."""
    splitter = Splitter(max_chars=max_chars, first_max_words=first_max_words)
    return [*splitter.feed(text), *splitter.flush()]


async def limited(deltas: AsyncIterator[str], limit: int) -> AsyncGenerator[str, None]:
    """Streamed text, refused (a 422 naming ``text``) once it passes ``limit`` characters
    in all, whichever transport it came by; closing this closes ``deltas``."""
    total = 0
    try:
        async for delta in deltas:
            total += len(delta)
            if total > limit:
                message = f"the text is over the limit of {limit} characters"
                raise InvalidRequest(message, param="text")
            yield delta
    finally:
        aclose = getattr(deltas, "aclose", None)
        if aclose is not None:
            await aclose()
