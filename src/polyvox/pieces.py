"""The text a speech job speaks, as engine calls: from a whole string or a stream of deltas.

Chunks grow while a request is served alone and its audio plays ahead of real time: a
first phrase, then a sentence, then several sentences per engine call (up to a budget that
doubles per call), so fewer, larger calls serve long texts. When the engine is slower than
real time, every call after the first phrase is as large as the cap allows. Under contention
every call is one sentence, so requests keep taking turns sentence by sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator

from polyvox.text import Splitter, TextChunk

GROWTH_START_CHARS = 200
"""Budget of the third call; each later call may take twice as much, up to the cap."""


def budget(call: int, cap: int, *, grow: bool, behind: bool = False) -> int:
    """Characters call number ``call`` (from 0) may carry; 0 means one chunk as it is.

    ``behind``: the client's audio has run out (an engine slower than real time). A pause
    is coming either way, so every call after the first phrase takes the cap: the fewest,
    largest calls end the text soonest (an engine speaks short inputs less efficiently)."""
    if not grow or call < 1:
        return 0
    if behind:
        return cap
    if call < 2:
        return 0
    return min(cap, GROWTH_START_CHARS << (call - 2))


class Pieces:
    """Chunks ready to speak; ``next()`` merges what is ready up to a character budget."""

    def __init__(self, ready: list[TextChunk] | None = None) -> None:
        """A whole text's chunks (split already, so an empty text failed before the job),
        or nothing yet: then ``follow()`` a stream of deltas."""
        self._ready: deque[TextChunk] = deque(ready or ())
        self._done = ready is not None
        self._arrived = asyncio.Event()
        self._error: BaseException | None = None
        self._reader: asyncio.Task[None] | None = None
        self.characters = 0

    def follow(self, deltas: AsyncIterator[str], splitter: Splitter) -> None:
        """Read text deltas in the background as they arrive (call inside the event loop)."""
        self._reader = asyncio.create_task(self._read(deltas, splitter))

    async def _read(self, deltas: AsyncIterator[str], splitter: Splitter) -> None:
        try:
            async for delta in deltas:
                self._add(splitter.feed(delta))
            self._add(splitter.flush())
        except Exception as exc:
            self._error = exc
        finally:
            self._done = True
            self._arrived.set()

    def _add(self, chunks: list[TextChunk]) -> None:
        if chunks:
            self._ready.extend(chunks)
            self._arrived.set()

    @property
    def waiting(self) -> bool:
        """Whether ``next()`` would wait for text that has not arrived yet."""
        return not self._ready and not self._done

    async def next(self, limit: int) -> TextChunk | None:
        """The next engine call's text: one chunk, plus more that are ready within ``limit``.

        None once the text has ended; raises what reading the text stream raised.
        """
        while not self._ready and not self._done:
            self._arrived.clear()
            await self._arrived.wait()
        if self._error is not None:
            raise self._error
        if not self._ready:
            return None
        taken = [self._ready.popleft()]
        size = len(taken[0].text)
        while self._ready and size + 1 + len(self._ready[0].text) <= limit:
            taken.append(self._ready.popleft())
            size += 1 + len(taken[-1].text)
        self.characters += sum(len(c.text) for c in taken)
        text = " ".join(c.text for c in taken)
        return TextChunk(text, ends_sentence=taken[-1].ends_sentence)

    async def close(self) -> None:
        """Stop reading the text stream (the job ended or was cancelled)."""
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({self._reader})  # (see SpeechJob._consume)
