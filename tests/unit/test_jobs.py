"""SpeechJob's logic with a stand-in engine: audio streams inside one engine call, calls
grow only for a request alone (ahead of real time, or behind it with an engine slower than
real time), text can arrive as a stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np

from polyvox.engines.pool import ModelPool
from polyvox.jobs import Output, SpeechJob
from polyvox.metrics import Metrics
from polyvox.pieces import Pieces, budget
from polyvox.scheduler import Scheduler
from polyvox.text import Splitter, TextChunk, split
from polyvox.types import AudioChunk, EngineInfo, SpeechRequest, VoiceInfo

RATE = 16000


class GatedEngine:
    """Yields one second of audio per sentence; waits at ``gate`` after the first chunk."""

    info = EngineInfo(model="gated", engine="fake", kind="tts", description="test")
    default_voice = "v"

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.texts: list[str] = []
        self.early: list[bool] = []

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo("v", "v", "en", "gated", RATE)]

    async def load(self) -> None:
        pass

    async def unload(self) -> None:
        pass

    async def synthesize(self, req: SpeechRequest) -> AsyncIterator[AudioChunk]:
        self.texts.append(req.text)
        self.early.append(req.early_audio)
        for i, _ in enumerate(req.text.split(". ")):
            if i == 1:
                await self.gate.wait()
            yield AudioChunk(np.zeros(RATE, dtype=np.float32), RATE)


def job(engine: GatedEngine, pieces: Pieces, scheduler: Scheduler | None = None) -> SpeechJob:
    return SpeechJob(
        model="gated", pool=ModelPool(lambda _: engine), request=SpeechRequest("", "v"),
        pieces=pieces, output=Output("pcm", RATE, RATE), metrics=Metrics(),
        scheduler=scheduler or Scheduler(slots=2, max_queue=4, queue_timeout=5),
        timeout=30, grow_chars=1000,
    )  # fmt: skip


async def test_audio_inside_one_engine_call_reaches_the_client_at_once() -> None:
    engine = GatedEngine()
    text = "Hello there. This sentence waits at the gate. So does this one."
    pieces = Pieces([TextChunk(text, ends_sentence=True)])  # one call
    stream = job(engine, pieces).audio()
    first = await asyncio.wait_for(anext(stream), 5)  # before the engine call has ended
    assert len(first.samples) == RATE
    assert len(engine.texts) == 1
    engine.gate.set()
    rest = [chunk async for chunk in stream]
    assert len(rest) == 2


async def test_calls_grow_when_alone_and_ahead() -> None:
    engine = GatedEngine()
    engine.gate.set()
    sentences = " ".join(f"Sentence number {i} is here." for i in range(40))
    pieces = Pieces(split(sentences, first_max_words=3))
    audio = [chunk async for chunk in job(engine, pieces).audio()]
    assert len(engine.texts) < 10  # far fewer calls than 40 sentences
    assert engine.texts[1].count(".") == 1  # the second call is one sentence
    assert len(engine.early) == len(engine.texts)
    assert all(engine.early)  # ahead of real time: first pieces early
    assert len(audio) >= 40


class SlowEngine(GatedEngine):
    """Slower than real time: 20 ms of work for each millisecond of audio."""

    async def synthesize(self, req: SpeechRequest) -> AsyncIterator[AudioChunk]:
        self.texts.append(req.text)
        self.early.append(req.early_audio)
        for _ in req.text.split(". "):
            await asyncio.sleep(0.02)
            yield AudioChunk(np.zeros(RATE // 1000, dtype=np.float32), RATE)


async def test_calls_grow_when_alone_and_the_engine_is_slower_than_real_time() -> None:
    engine = SlowEngine()
    sentences = " ".join(f"Sentence number {i} is here." for i in range(20))
    pieces = Pieces(split(sentences, first_max_words=3))
    audio = [chunk async for chunk in job(engine, pieces).audio()]
    assert engine.texts[0] == "Sentence number 0 is here."  # the first chunk, heard at once
    assert len(engine.texts) == 2  # then the rest in one call: a pause is coming either way
    assert engine.early == [True, False]  # and the engine need not hurry its first piece
    assert len(audio) >= 20


async def test_calls_stay_one_sentence_when_others_wait() -> None:
    engine = GatedEngine()
    engine.gate.set()
    scheduler = Scheduler(slots=2, max_queue=4, queue_timeout=5)
    other = scheduler.admit()  # another request holds a place on the model
    sentences = " ".join(f"Sentence number {i} is here." for i in range(10))
    pieces = Pieces(split(sentences, first_max_words=3))
    _ = [chunk async for chunk in job(engine, pieces, scheduler).audio()]
    other.close()
    assert all(text.count(".") <= 1 for text in engine.texts)


async def test_text_that_streams_in_is_spoken_sentence_by_sentence() -> None:
    engine = GatedEngine()
    engine.gate.set()
    arrived = asyncio.Event()

    async def deltas() -> AsyncIterator[str]:
        yield "The first sentence is complete. The second"
        await arrived.wait()
        yield " one comes later."

    pieces = Pieces()
    pieces.follow(deltas(), Splitter())
    stream = job(engine, pieces).audio()
    await asyncio.wait_for(anext(stream), 5)  # spoken before the rest has arrived
    assert engine.texts == ["The first sentence is complete."]
    arrived.set()
    _ = [chunk async for chunk in stream]
    assert engine.texts[-1] == "The second one comes later."


def test_budget_doubles_from_the_third_call() -> None:
    assert [budget(call, 1000, grow=True) for call in range(6)] == [0, 0, 200, 400, 800, 1000]
    assert budget(5, 1000, grow=False) == 0


def test_budget_behind_real_time_is_the_cap_after_the_first_phrase() -> None:
    assert [budget(call, 1000, grow=True, behind=True) for call in range(3)] == [0, 1000, 1000]
    assert budget(1, 1000, grow=False, behind=True) == 0  # others wait: one sentence
