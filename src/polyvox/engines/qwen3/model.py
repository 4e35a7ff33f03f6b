"""Qwen3-TTS checkpoints: loading (a local directory or the hub).

Runs inside the ``qwen-tts`` engine environment (torch, ``qwen-tts``). Loading is the
library's own: ``Qwen3TTSModel.from_pretrained`` over a directory that holds the talker
(``config.json``, ``model.safetensors``, the text tokenizer), ``generation_config.json``
and the 12 Hz speech codec under ``speech_tokenizer/``. Sizes come from the configs, so
the tiny checkpoints of the tests load through the very same code as the real ones.

``python -m polyvox.engines.download qwen-tts [REPO]`` fetches a real one into the Hugging
Face cache (what the GPU image does at build time); ``polyvox.testing.qwen3`` writes tiny
random ones of each type (a 2-layer talker of width 64, a byte-level BPE tokenizer, a small
codec with the real 1920-sample frames; CustomVoice gets the nine real speaker names).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TYPES = ("custom_voice", "voice_design", "base")
HUB_REPOS = {
    "custom_voice": "Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice",
    "voice_design": "Qwen/Qwen3-TTS-12Hz-1.7B-VoiceDesign",
    "base": "Qwen/Qwen3-TTS-12Hz-1.7B-Base",
}
FILES = ("config.json", "generation_config.json", "speech_tokenizer/config.json")
SAMPLE_RATE = 24000
FRAME_SAMPLES = 1920
"""Audio samples per 12.5 Hz codec frame."""


def missing_files(directory: Path) -> list[str]:
    """The checkpoint files ``directory`` lacks."""
    return [name for name in FILES if not (directory / name).is_file()]


def download(repo: str) -> Path:
    """A checkpoint from the Hugging Face hub (cached by huggingface_hub)."""
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id=repo))


def load(directory: Path, device: str, flash_attention: bool) -> Any:
    """A ``Qwen3TTSModel`` (bf16 and flash attention on CUDA when available)."""
    import importlib.util

    import torch
    from qwen_tts import Qwen3TTSModel

    kwargs: dict[str, Any] = {"device_map": device}
    if device == "cuda":
        kwargs["dtype"] = torch.bfloat16
        if flash_attention and importlib.util.find_spec("flash_attn") is not None:
            kwargs["attn_implementation"] = "flash_attention_2"
    model = Qwen3TTSModel.from_pretrained(str(directory), **kwargs)
    model.model.eval()
    return model


# -- tiny random checkpoints -----------------------------------------------------------


def fetch(repo: str | None = None) -> list[Path]:
    """A real checkpoint (``repo``, default the 1.7B CustomVoice) in the hub cache."""
    return [download(repo or HUB_REPOS["custom_voice"])]
