"""Text normalisation and incremental splitting into speakable chunks.

The first chunk is a short phrase so audio starts quickly; later chunks are whole
sentences, and sentences longer than ``max_chars`` are split at clause boundaries.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

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


def _split_long(sentence: str, max_chars: int) -> Iterator[str]:
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
    """Cut a short lead phrase off ``sentence``: at an early clause end, else at a word."""
    words = sentence.split(" ")
    if len(words) <= max_words + _MIN_REST_WORDS:  # a few dangling words would sound clipped
        return sentence, ""
    for match in _CLAUSE_END.finditer(sentence):
        head = sentence[: match.start()]
        if 2 <= head.count(" ") + 1 <= max_words:
            return head, sentence[match.end() :]
    return " ".join(words[:max_words]), " ".join(words[max_words:])


def sentences(text: str) -> Iterator[str]:
    """Yield the sentences of normalised ``text`` one at a time."""
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.group() != "\n" and _ABBREVIATION.search(
            text, max(0, match.start() - 8), match.start()
        ):
            continue
        sentence = text[start : match.start()].strip()
        start = match.end()
        if sentence:
            yield sentence
    tail = text[start:].strip()
    if tail:
        yield tail


def split(text: str, *, max_chars: int = 300, first_max_words: int = 8) -> Iterator[TextChunk]:
    """Yield speakable chunks of ``text`` lazily: a short first phrase, then sentences."""
    first = True
    for sentence in sentences(normalize(text)):
        if first:
            first = False
            head, sentence = _first_phrase(sentence, first_max_words)
            if has_speakable_text(head):
                yield TextChunk(head, ends_sentence=not sentence)
            if not sentence:
                continue
        pieces = list(_split_long(sentence, max_chars))
        for i, piece in enumerate(pieces):
            if has_speakable_text(piece):
                yield TextChunk(piece, ends_sentence=i == len(pieces) - 1)
