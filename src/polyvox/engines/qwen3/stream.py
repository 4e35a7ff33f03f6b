"""Qwen3-TTS audio while the talker generates: codec frames as they come, decoded a piece
at a time.

qwen-tts 0.1.1 has no streaming: its ``generate_*`` methods return once every frame is
generated and decoded. Each frame's 16 codes are an output of the talker's forward pass,
though (``hidden_states[1]``), and the 12 Hz codec decoder is causal: the library itself
decodes in chunks that re-read 25 frames of left context (``chunked_decode``). So the
library's own ``Qwen3TTSForConditionalGeneration.generate`` runs in a thread, a forward
hook hands each frame over, and pieces are decoded with the same left context as soon as
enough frames are in. The prompt is built exactly as the library's wrappers build it
(``prompt``), with their own helpers.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from polyvox.engines.qwen3.model import FRAME_SAMPLES

CHUNK_FRAMES = 300
"""The most frames one decoder pass takes (the library's ``chunked_decode`` chunk): a long
call without streaming is decoded in such pieces, memory bounded."""


class _Cancelled(Exception):
    """Raised inside the talker's forward pass when the reader has gone away."""


@dataclass(frozen=True)
class Call:
    """One generation: the keyword arguments of ``model.generate`` and the codes that come
    before the generated ones (a clone prompt's reference codes, in ICL mode)."""

    generate: dict[str, Any]
    prefix: Any = None


def prompt(
    tts: Any,
    text: str,
    language: str,
    *,
    speaker: str | None = None,
    instruct: str = "",
    clone: Any = None,
    sampling: dict[str, Any],
) -> Call:
    """What ``generate_custom_voice`` / ``generate_voice_design`` / ``generate_voice_clone``
    pass to ``model.generate`` for one text (their batch of one)."""
    input_ids = tts._tokenize_texts([tts._build_assistant_text(text)])
    kwargs: dict[str, Any] = {
        "input_ids": input_ids,
        "languages": [language],
        "non_streaming_mode": clone is None,
        **tts._merge_generate_kwargs(**sampling),
    }
    if clone is None:
        instruct_ids = (
            tts._tokenize_texts([tts._build_instruct_text(instruct)])[0] if instruct else None
        )
        kwargs["instruct_ids"] = [instruct_ids]
        if speaker is not None:
            kwargs["speakers"] = [speaker]
        return Call(kwargs)
    kwargs["voice_clone_prompt"] = tts._prompt_items_to_voice_clone_prompt([clone])
    ref_text = clone.ref_text
    kwargs["ref_ids"] = [
        tts._tokenize_texts([tts._build_ref_text(ref_text)])[0] if ref_text else None
    ]
    return Call(kwargs, clone.ref_code if clone.icl_mode else None)


def frames(tts: Any, call: Call) -> Iterator[Any]:
    """Each generated frame (16 codes) as the talker produces it. The generation runs in a
    thread of its own; closing this iterator stops it at the next frame."""
    found: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()
    failure: list[BaseException] = []

    def hook(module: Any, args: Any, output: Any) -> None:
        if stop.is_set():
            raise _Cancelled
        codes = output.hidden_states[1]
        if codes is not None:  # None: the prompt's forward pass
            found.put(codes[0].detach().clone())

    def run() -> None:
        try:
            tts.model.generate(**call.generate)
        except _Cancelled:
            pass
        except BaseException as exc:  # handed to the reader
            failure.append(exc)
        finally:
            found.put(None)

    handle = tts.model.talker.register_forward_hook(hook)
    thread = threading.Thread(target=run, name="qwen3-generate", daemon=True)
    try:
        thread.start()
        eos = tts.model.config.talker_config.codec_eos_token_id
        while (frame := found.get()) is not None:
            if int(frame[0]) == eos:
                continue
            yield frame
        if failure:
            raise failure[0]
    finally:
        stop.set()
        thread.join()
        handle.remove()


def pieces(
    tts: Any, call: Call, first: int, every: int, context: int, stream: bool
) -> Iterator[npt.NDArray[np.float32]]:
    """Audio of ``call``: a piece of ``first`` frames, then ``every`` frames at a time (all
    at once unless ``stream``), each decoded with ``context`` frames before it."""
    import torch

    decoder = tts.model.speech_tokenizer.model.decoder
    prefix: list[Any] = list(call.prefix) if call.prefix is not None else []
    # streaming: the reference's last frames are the first piece's context; at once: the
    # reference is decoded with the speech and its audio cut off, as the library does
    done, fresh = (prefix, []) if stream else ([], prefix)
    skip = 0 if stream else len(prefix) * FRAME_SAMPLES
    want = first if stream else CHUNK_FRAMES

    def decode() -> npt.NDArray[np.float32]:
        nonlocal skip
        lead = done[max(0, len(done) - context) :] if context else []
        codes = torch.stack([*lead, *fresh]).to(decoder.device).clamp(min=0)
        with torch.inference_mode():
            wav = decoder(codes.T.unsqueeze(0)).reshape(-1)
        audio = wav[len(lead) * FRAME_SAMPLES :].float().cpu().numpy()
        done.extend(fresh)
        fresh.clear()
        cut = min(skip, len(audio))
        skip -= cut
        return np.asarray(audio[cut:], dtype=np.float32)

    for frame in frames(tts, call):
        fresh.append(frame)
        if len(fresh) >= want:
            if len(audio := decode()):
                yield audio
            want = every if stream else CHUNK_FRAMES
    if fresh and len(audio := decode()):
        yield audio
