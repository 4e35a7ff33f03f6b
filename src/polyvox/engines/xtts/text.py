"""Text as XTTS-v2 can read it: sentences within its per-language limits, checked through
its own tokenizer before any audio is made.

XTTS's tokenizer asserts fewer than 402 tokens per sentence, warns (and truncates audio)
past a per-language character limit, and expands numbers with num2words, which fails for
some languages and lengths (digits in Hindi; numbers of 21+ digits in Turkish, ...). A
request's text is cut into sentences (also at CJK, Devanagari and Arabic sentence marks,
which no space follows), each within the character limit, each cut again while its tokens
are over the limit; a sentence the tokenizer cannot read is a 422 naming ``input``.
"""

from __future__ import annotations

import re
from typing import Any

from polyvox.engines.xtts.model import CHAR_LIMITS
from polyvox.errors import InvalidRequest
from polyvox.text import split, split_long

_NO_SPACE_END = re.compile(r"(?<=[。！？；।؟])")
"""Sentence marks that no space follows (Chinese, Japanese, Hindi, Arabic)."""


def sentences_of(text: str, code: str) -> list[str]:
    """``text`` cut into sentences of at most XTTS's character limit for ``code``."""
    limit = CHAR_LIMITS[code]
    found = []
    for chunk in split(text, max_chars=limit, first_max_words=1 << 30):
        for part in _NO_SPACE_END.split(chunk.text):
            found += [piece for piece in split_long(part.strip(), limit) if piece.strip()]
    return found


def readable(tts: Any, sentences: list[str], code: str) -> list[str]:
    """The sentences, each tokenised as ``inference_stream`` will (cut in two while over
    the GPT's text-token limit); a tokenizer failure is a 422, before any audio."""
    limit = int(tts.args.gpt_max_text_tokens)
    pending, ready = list(reversed(sentences)), []
    while pending:
        sentence = pending.pop()
        try:
            tokens = len(tts.tokenizer.encode(sentence.strip().lower(), lang=code))
        except Exception as exc:  # num2words and the cleaners raise many kinds
            raise InvalidRequest(
                f"XTTS cannot read this {code} text ({type(exc).__name__}: {exc}) near "
                f"{sentence[:40]!r}; write numbers and symbols as words",
                param="input",
            ) from None
        if tokens < limit:
            ready.append(sentence)
            continue
        half = len(sentence) // 2
        cut = sentence.rfind(" ", 0, half) if " " in sentence else -1
        cut = cut if cut > 0 else half
        if cut < 1:
            raise InvalidRequest(
                f"a piece of text is too long for XTTS: {sentence[:40]!r}", param="input"
            )
        pending += [sentence[cut:].strip(), sentence[:cut].strip()]
    return ready
