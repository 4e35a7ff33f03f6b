"""A speech request resolved in one pass into one value the job consumes: the model (named
once, described once), its engine's description, the voice (an engine voice or a library
voice, looked up once), the reference audio and its transcript, the parameters with the
seed's defaults applied and checked, and the output format."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from polyvox import codecs
from polyvox.catalogue import Catalogue
from polyvox.checks import apply_seed_defaults, check_speech
from polyvox.cloning import Cloning
from polyvox.jobs import Output
from polyvox.types import Caller, EngineInfo, SpeechParams, SpeechRequest, VoiceInfo


@dataclass(frozen=True)
class ResolvedSpeech:
    """Everything a speech job needs, checked; nothing in it is looked up again."""

    info: EngineInfo
    voice: VoiceInfo
    params: SpeechParams
    """The request as the model takes it: library voice and seed defaults applied."""
    reference: Path | None
    transcript: str | None
    headers: Mapping[str, str]
    """Response headers the resolution adds (who transcribed the reference, and what)."""
    output: Output

    def request(self) -> SpeechRequest:
        """The engine call, less its text (the job's pieces carry that)."""
        p = self.params
        return SpeechRequest(
            text="",
            voice=self.voice.id,
            speed=p.speed,
            instructions=p.instructions,
            params=dict(p.params),
            language=p.language,
            reference_audio=self.reference,
            reference_text=self.transcript,
            voice_attributes=dict(p.voice_attributes),
        )


async def resolve_speech(
    catalogue: Catalogue, cloning: Cloning, params: SpeechParams, caller: Caller
) -> ResolvedSpeech:
    """Resolve a request in one pass; raises a 4xx (or a remote model's 503) before any work."""
    engine = await catalogue.tts_model(params.model)
    info = engine.info
    params, voice, own = await cloning.voice(engine, params, caller)
    params = apply_seed_defaults(info, params)
    check_speech(info, params)
    out_rate = codecs.output_rate(params.response_format, voice.sample_rate, params.sample_rate)
    reference = await cloning.reference(params, own, caller)
    transcript, headers = await cloning.transcript(info, params, reference, own)
    output = Output(params.response_format, voice.sample_rate, out_rate)
    return ResolvedSpeech(info, voice, params, reference, transcript, headers, output)
