"""XTTS-v2 checkpoints: loading (a local directory or the hub).

Runs inside the ``xtts`` engine environment (torch, ``coqui-tts``). Loading is the
library's own: ``XttsConfig.load_json`` then ``Xtts.load_checkpoint`` over a directory
with ``config.json``, ``model.pth``, ``vocab.json`` and, optionally, ``speakers_xtts.pth``
(the studio voices). Sizes come from ``config.json``, so the tiny checkpoint of the tests
loads through the very same code as the real 1.9 GB one.

``python -m polyvox.engines.download xtts`` fetches the real one into the Hugging Face
cache (what the GPU image does at build time); ``polyvox.testing.xtts`` writes tiny random
ones in the same layout. The real weights are under the Coqui Public Model License
(non-commercial unless licensed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

HUB_REPO = "coqui/XTTS-v2"
FILES = ("config.json", "model.pth", "vocab.json")
SPEAKERS = "speakers_xtts.pth"
SAMPLE_RATE = 24000
"""XTTS-v2 speaks at 24 kHz."""
LANGUAGES = (
    "en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh-cn", "hu",
    "ko", "ja", "hi",
)  # fmt: skip
"""``XttsConfig.languages`` of coqui-tts 0.28.0 (XTTS-v2's 17 languages)."""
CHAR_LIMITS = {
    "en": 250, "de": 253, "fr": 273, "es": 239, "it": 213, "pt": 203, "pl": 224, "zh-cn": 82,
    "ar": 166, "cs": 186, "ru": 182, "nl": 251, "tr": 226, "ja": 71, "hu": 224, "ko": 95,
    "hi": 150,
}  # fmt: skip
"""The tokenizer's per-language character limits (past them XTTS truncates audio)."""


def missing_files(directory: Path) -> list[str]:
    """The checkpoint files ``directory`` lacks (the studio voices are optional)."""
    return [name for name in FILES if not (directory / name).is_file()]


def download(repo: str) -> Path:
    """The checkpoint from the Hugging Face hub (cached by huggingface_hub)."""
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id=repo, allow_patterns=[*FILES, SPEAKERS]))


def load(directory: Path, device: str) -> Any:
    """An ``Xtts`` model in eval mode, with its studio voices when the checkpoint has them."""
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.models.xtts import Xtts

    config = XttsConfig()
    config.load_json(str(directory / "config.json"))
    model = Xtts(config)
    model.load_checkpoint(config, checkpoint_dir=str(directory), eval=True, use_deepspeed=False)
    return model.to(device)


def fetch(repo: str | None = None) -> list[Path]:
    """The real checkpoint (``repo``, default XTTS-v2's) in the hub cache."""
    return [download(repo or HUB_REPO)]
