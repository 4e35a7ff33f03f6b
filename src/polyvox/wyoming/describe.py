"""What a Wyoming ``describe`` gets (every TTS model's voices, library voices included, and
every STT model), and the voice names Home Assistant sends back, resolved to requests."""

from __future__ import annotations

from functools import partial

from wyoming.info import AsrModel, AsrProgram, Attribution, Info, TtsProgram, TtsVoice
from wyoming.tts import SynthesizeVoice

from polyvox.errors import PolyvoxError, VoiceNotFound
from polyvox.service import SpeechService
from polyvox.threads import run_blocking
from polyvox.types import Caller, EngineInfo
from polyvox.version import __version__

ATTRIBUTION = Attribution(name="polyvox", url="https://github.com/polyvox/polyvox")
SEPARATOR = "/"
"""Wyoming voice names are ``MODEL/VOICE``: one list covers every model."""
CALLER = Caller(key=None, admin=False)
"""Wyoming has no credentials: it sees the library voices no API key owns (all of them on
a server without keys), never a key's own."""


def _voice(model: str, voice: str, languages: list[str], description: str) -> TtsVoice:
    return TtsVoice(
        name=f"{model}{SEPARATOR}{voice}",
        description=description,
        attribution=ATTRIBUTION,
        installed=True,
        version=None,
        languages=languages,
    )


async def tts_voices(service: SpeechService) -> list[TtsVoice]:
    """Every TTS model's own voices, then the library's on each model that clones."""
    await service.catalogue.describe()
    models = [m for m in service.catalogue.models() if m.kind == "tts"]
    found = [
        _voice(
            m.model,
            v.id,
            [v.language] if v.language else list(m.languages),
            f"{v.name} ({m.model})",
        )
        for m in models
        for v in service.catalogue.voices(m.model)
    ]
    cloning = [m for m in models if m.voice_cloning]
    library = await run_blocking(partial(service.library.voices, CALLER)) if cloning else []
    found += [
        _voice(
            m.model,
            lv.name,
            [lv.language] if lv.language else list(m.languages),
            f"{lv.name} (library voice, {m.model})",
        )
        for m in cloning
        for lv in library
    ]
    return found


async def info(service: SpeechService) -> Info:
    """The ``info`` event's content."""
    stt: list[EngineInfo] = [m for m in service.catalogue.models() if m.kind == "stt"]
    tts = TtsProgram(
        name="polyvox",
        description="polyvox text-to-speech (every model)",
        attribution=ATTRIBUTION,
        installed=True,
        version=__version__,
        voices=await tts_voices(service),
        supports_synthesize_streaming=True,
    )
    models = [
        AsrModel(
            name=m.model,
            description=m.description,
            attribution=ATTRIBUTION,
            installed=True,
            version=None,
            languages=list(m.languages),
        )
        for m in stt
    ]
    asr = AsrProgram(
        name="polyvox",
        description="polyvox speech-to-text",
        attribution=ATTRIBUTION,
        installed=True,
        version=__version__,
        models=models,
        supports_transcript_streaming=True,
    )
    return Info(tts=[tts], asr=[asr] if models else [])


def resolve(service: SpeechService, voice: SynthesizeVoice | None) -> tuple[str, str | None]:
    """(model, voice) for the voice Home Assistant names: ``MODEL/VOICE``, a voice of the
    default model, a model (its default voice), or only a language (its first voice)."""
    default = service.settings.default_tts_model
    if voice is None or (voice.name is None and voice.language is None):
        return default, None
    if voice.name is None:
        wanted = (voice.language or "").lower().replace("-", "_")
        for v in service.catalogue.voices(default):
            if v.language.lower().replace("-", "_").startswith(wanted):
                return default, v.id
        raise VoiceNotFound(f"model {default!r} has no voice for language {voice.language!r}")
    model, _, name = voice.name.partition(SEPARATOR)
    if not name:
        if service.settings.resolve_model(model) is not None:
            return model, None
        model, name = default, voice.name
    if voice.speaker:
        name = f"{name}:{voice.speaker}"
    return model, name


def native_rate(service: SpeechService, model: str, voice: str | None) -> int | None:
    """The voice's own sample rate (audio goes out unresampled); None where it is not known
    yet (the request's own checks then say what is wrong)."""
    try:
        return service.catalogue.resolve_voice(model, voice).sample_rate
    except PolyvoxError:
        return None
