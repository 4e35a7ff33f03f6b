"""Round trip: Piper speaks varied English sentences, Whisper writes them back, WER <= 15%."""

from __future__ import annotations

import asyncio
from pathlib import Path

import jiwer
import pytest

from polyvox.service import SpeechService
from polyvox.settings import Settings
from polyvox.types import SpeechParams, TranscriptionParams
from tests.stt_audio import normalise

SENTENCES = Path(__file__).parent.parent / "data" / "roundtrip_sentences.txt"
MAX_WER = 0.15


def sentences() -> list[str]:
    lines = SENTENCES.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


async def round_trip(service: SpeechService, text: str) -> str:
    speech = await service.prepare(SpeechParams(model="piper", input=text, response_format="wav"))
    audio = b"".join([part async for part in speech.stream()])
    job = await service.transcribe(TranscriptionParams(model="whisper", file=audio))
    return (await job.result()).text


async def round_trips(texts: list[str]) -> list[str]:
    service = SpeechService(Settings(preload=[]))
    try:
        return [await round_trip(service, text) for text in texts]
    finally:
        await service.pool.close()


@pytest.mark.slow
def test_piper_to_whisper_word_error_rate() -> None:
    texts = sentences()
    assert len(texts) >= 20
    heard = asyncio.run(round_trips(texts))
    references = [normalise(t) for t in texts]
    hypotheses = [normalise(h) for h in heard]
    wer = jiwer.wer(references, hypotheses)
    report = "\n".join(
        f"{jiwer.wer(r, h):5.0%}  {r!r} -> {h!r}"
        for r, h in zip(references, hypotheses, strict=True)
        if r != h
    )
    print(f"\nround-trip WER over {len(texts)} sentences: {wer:.2%}\n{report}")
    assert wer <= MAX_WER, f"WER {wer:.1%} > {MAX_WER:.0%}:\n{report}"
