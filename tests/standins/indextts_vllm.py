"""Stand-in for index-tts-vllm's HTTP API (github.com/Ksuriuri/index-tts-vllm), for protocol tests.

Written from commit 5f9d0244f626f6a51fbbcee8f266d7f8927cf981: api_server_v2.py (IndexTTS-2),
api_server.py (IndexTTS 1.0/1.5), indextts/infer_vllm_v2.py, indextts/infer_vllm.py and
assets/speaker.json; notes in docs/indextts-vllm-protocol.md. As there, bodies are read by hand
(never a 422), every failure is 500 {"status": "error", "error": "<traceback>"}, and audio is
200 audio/wav, int16 mono at 22 050 Hz (v2) or 24 000 Hz (v1): here a tone, pitch from the
voice, length from the text. ``app.state.standin`` (a StandIn) records requests and holds the
fault knobs and readiness; ``load_delay`` holds startup in the lifespan as the model load does.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import json
import math
import os
import re
import sys
import threading
import time
import traceback
import wave
import zlib
from collections.abc import AsyncIterator, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.conftest import free_port

COMMIT = "5f9d0244f626f6a51fbbcee8f266d7f8927cf981"
SAMPLE_RATES = {"v1": 24000, "v2": 22050}
DEFAULT_SPEAKERS = {  # assets/speaker.json at COMMIT, paths relative to the server's directory
    "jay_klee": ["assets/jay_promptvn.wav", "assets/vo_card_klee_endOfGame_fail_01.wav"]
}
EMO_SUM_ERROR = "情感向量之和不能超过1.5，请调整后重试。"  # v2's answer to sum(emo_vec) > 1.5
NOT_WAV = b"<html><body>502 Bad Gateway</body></html>\n"
UNHEALTHY = {"status": "unhealthy", "message": "TTS model not initialized"}


@dataclass
class Faults:  # what goes wrong on the synthesis routes; tests change these between requests
    delay: float = 0.0  # seconds to wait before answering
    error_500: bool = False  # inference raises: 500 with a traceback
    truncate: Literal["wav", "connection"] | None = None  # see _DroppedResponse for the latter
    sample_rate: int | None = None  # the WAV header claims this rate instead of the real one
    malformed: bool = False  # 200 audio/wav whose body is not a WAV at all


@dataclass
class Recorded:
    method: str
    path: str
    body: bytes
    json: Any  # the parsed body, or None when it was not JSON
    headers: dict[str, str]


@dataclass
class StandIn:
    version: Literal["v1", "v2"] = "v2"
    speakers: dict[str, list[str]] | None = None  # v1's speaker.json; None: no such file
    known_paths: Collection[str] | None = None  # reference paths that "exist"; None: any
    seconds_per_char: float = 0.05
    not_ready_for: float = 0.0  # seconds /health answers 503 after startup
    load_delay: float = 0.0  # seconds the lifespan "loads the model" before the port is bound
    faults: Faults = field(default_factory=Faults)
    requests: list[Recorded] = field(default_factory=list)
    ready_at: float = 0.0

    @property
    def ready(self) -> bool:
        return time.monotonic() >= self.ready_at

    def set_ready(self, ready: bool = True) -> None:
        self.ready_at = 0.0 if ready else math.inf

    def bodies(self, path: str) -> list[Any]:  # the JSON bodies received on path, oldest first
        return [r.json for r in self.requests if r.path == path]

    async def record(self, request: Request) -> None:
        body = await request.body()
        parsed = None
        with contextlib.suppress(ValueError):
            parsed = json.loads(body)
        headers = dict(request.headers)
        self.requests.append(Recorded(request.method, request.url.path, body, parsed, headers))


@dataclass
class _Model:
    st: StandIn  # stands where the real servers' global ``tts`` (IndexTTS / IndexTTS2) does

    def _load(self, path: Any) -> None:  # librosa.load / torchaudio.load of a server path
        known = self.st.known_paths
        if not isinstance(path, str) or (known is not None and path not in known):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)

    def _speech(self, text: str, voice: str, pad: float = 0.0) -> tuple[int, np.ndarray]:
        if self.st.faults.error_500:
            raise RuntimeError("CUDA error: out of memory (fault injected by the stand-in)")
        sentences = [s for s in re.split(r"(?<=[.!?。！？])\s*", text.strip()) if s]
        if not sentences:  # the real tokenizer gives no sentences, so no wavs to join
            raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
        sr = SAMPLE_RATES[self.st.version]
        pitch = 200 + zlib.crc32(voice.encode()) % 400
        gap = np.zeros(int(sr * 0.2), np.int16)  # interval_silence=200 ms between sentences
        parts: list[np.ndarray] = []
        for sentence in sentences:
            n = np.arange(max(1, round(sr * self.st.seconds_per_char * len(sentence))))
            parts += [(9830 * np.sin(2 * np.pi * pitch * n / sr)).astype(np.int16), gap]
        parts[-1] = np.zeros(int(sr * pad), np.int16)  # v1's trim_and_pad_silence: 0.4 s
        return sr, np.concatenate(parts)

    async def infer(self, spk_audio_prompt: Any, text: Any, *_: Any, **kw: Any) -> Any:
        """IndexTTS2.infer (v2), or IndexTTS.infer(audio_prompt, text, seed=) (v1)."""
        if self.st.version == "v1":
            if isinstance(spk_audio_prompt, str):  # iterated letter by letter: no such file
                spk_audio_prompt = [None]
            for path in spk_audio_prompt:
                self._load(path)
            if not spk_audio_prompt:
                raise RuntimeError("stack expects a non-empty TensorList")
            if kw.get("seed") is not None:
                int(kw["seed"])
            return self._speech(text, "+".join(spk_audio_prompt), pad=0.4)
        emo_audio, emo_vector = kw.get("emo_audio_prompt"), kw.get("emo_vector")
        if kw.get("use_emo_text"):
            emo_audio, emo_vector = None, [0.0] * 8  # QwenEmotion turns emo_text into a vector
        if emo_vector is not None:
            emo_audio = None
        self._load(spk_audio_prompt)
        if emo_vector is not None and len([float(x) for x in emo_vector]) != 8:
            raise RuntimeError(f"The size of tensor a ({len(emo_vector)}) must match the size "
                               "of tensor b (8) at non-singleton dimension 0")  # fmt: skip
        self._load(spk_audio_prompt if emo_audio is None else emo_audio)
        return self._speech(text, spk_audio_prompt)

    async def infer_with_ref_audio_embed(self, speaker: str, text: Any) -> tuple[int, np.ndarray]:
        (self.st.speakers or {})[speaker]  # KeyError for a speaker not in speaker.json
        return self._speech(text, speaker, pad=0.4)


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono int16 WAV, byte for byte what ``sf.write(buf, wav, sr, format="WAV")`` writes."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setparams((1, 2, sample_rate, 0, "NONE", "not compressed"))
        out.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


class _DroppedResponse(Response):  # Content-Length of the whole body, half sent: uvicorn drops
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        half = self.body[: len(self.body) // 2]
        await send({"type": "http.response.body", "body": half, "more_body": True})


async def _tts_url_v2(data: Any, tts: Any) -> Any:  # api_server_v2.tts_api_url, line for line
    emo_control_method = data.get("emo_control_method", 0)
    text = data["text"]
    spk_audio_path = data["spk_audio_path"]
    emo_ref_path = data.get("emo_ref_path", None)
    emo_weight = data.get("emo_weight", 1.0)
    emo_vec = data.get("emo_vec", [0] * 8)
    emo_text = data.get("emo_text", None)
    emo_random = data.get("emo_random", False)
    max_text_tokens_per_sentence = data.get("max_text_tokens_per_sentence", 120)
    if type(emo_control_method) is not int:
        emo_control_method = emo_control_method.value  # AttributeError for "1", 1.0, True
    if emo_control_method == 0:
        emo_ref_path, emo_weight = None, 1.0
    if emo_control_method == 2:
        vec = emo_vec
        if sum(vec) > 1.5:
            body = {"status": "error", "error": EMO_SUM_ERROR}
            return JSONResponse(status_code=500, content=body)
    else:
        vec = None
    return await tts.infer(
        spk_audio_prompt=spk_audio_path, text=text, output_path=None,
        emo_audio_prompt=emo_ref_path, emo_alpha=emo_weight, emo_vector=vec,
        use_emo_text=(emo_control_method == 3), emo_text=emo_text, use_random=emo_random,
        max_text_tokens_per_sentence=int(max_text_tokens_per_sentence),
    )  # fmt: skip


def _v1(text_key: str, voice_key: str, *unused: str) -> Any:
    """api_server.py's handlers: /tts_url (audio_paths, seed), /tts, /audio/speech."""

    async def handler(data: Any, tts: Any) -> Any:
        text, voice, *_ = [data[key] for key in (text_key, voice_key, *unused)]  # real order
        if voice_key == "audio_paths":
            return await tts.infer(voice, text, seed=data.get("seed", 8))
        return await tts.infer_with_ref_audio_embed(voice, text)

    return handler


def create_app(**options: Any) -> FastAPI:
    """The stand-in; ``options`` are StandIn fields (``version="v1"``: api_server.py)."""
    st = StandIn(**options)
    st.ready_at = time.monotonic() + st.not_ready_for
    model = _Model(st)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.sleep(st.load_delay)
        if math.isfinite(st.ready_at):
            st.ready_at = time.monotonic() + st.not_ready_for
        yield

    app = FastAPI(lifespan=lifespan)
    app.state.standin = st

    @app.get("/health")
    async def health_check(request: Request) -> JSONResponse:
        await st.record(request)
        if not st.ready:
            return JSONResponse(status_code=503, content=UNHEALTHY)
        body = {"status": "healthy", "message": "Service is running", "timestamp": time.time()}
        return JSONResponse(status_code=200, content=body)

    def synthesis(path: str, handler: Any) -> None:
        async def route(request: Request) -> Response:
            await st.record(request)
            await asyncio.sleep(st.faults.delay)
            tts = model if st.ready else None  # the real global is None until the model loads
            try:
                data = await request.json()
                result = await handler(data, tts)
            except Exception as ex:
                tb_str = "".join(traceback.format_exception(type(ex), ex, ex.__traceback__))
                body = {"status": "error", "error": str(tb_str)}
                return JSONResponse(status_code=500, content=body)
            if isinstance(result, Response):
                return result
            f, (sr, wav) = st.faults, result
            data = NOT_WAV if f.malformed else wav_bytes(wav, f.sample_rate or sr)
            if f.truncate == "connection":
                return _DroppedResponse(content=data, media_type="audio/wav")
            return Response(data[: len(data) // 2] if f.truncate else data, media_type="audio/wav")

        app.add_api_route(path, route, methods=["POST"], response_class=Response)

    if st.version == "v2":
        synthesis("/tts_url", _tts_url_v2)
        return app
    synthesis("/tts_url", _v1("text", "audio_paths"))
    synthesis("/tts", _v1("text", "character"))
    synthesis("/audio/speech", _v1("input", "voice", "model"))  # model is required, unused

    @app.get("/audio/voices")
    async def tts_voices(request: Request) -> Any:
        await st.record(request)
        return st.speakers if st.speakers is not None else []

    return app


@contextlib.contextmanager
def serving(app: FastAPI, port: int | None = None, wait: bool = True) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 in a thread; yields its base URL (``wait``: once bound)."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while wait and not server.started:
            if not thread.is_alive():
                raise RuntimeError("the index-tts-vllm stand-in did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def run(port: int = 6006, **options: Any) -> None:
    """Serve a stand-in on 127.0.0.1:``port`` until interrupted."""
    uvicorn.run(create_app(**options), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":  # python -m tests.standins.indextts_vllm [PORT [v1|v2]]
    version = sys.argv[2] if len(sys.argv) > 2 else "v2"
    speakers = DEFAULT_SPEAKERS if version == "v1" else None
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 6006, version=version, speakers=speakers)
