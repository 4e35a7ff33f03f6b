"""XTTS-v2 checkpoints: loading (a local directory or the hub) and tiny random ones.

Runs inside the ``xtts`` engine environment (torch, ``coqui-tts``). Loading is the
library's own: ``XttsConfig.load_json`` then ``Xtts.load_checkpoint`` over a directory
with ``config.json``, ``model.pth``, ``vocab.json`` and, optionally, ``speakers_xtts.pth``
(the studio voices). Sizes come from ``config.json``, so the tiny checkpoint of the tests
loads through the very same code as the real 1.9 GB one.

    python -m polyvox.engines.xtts_model DIR

writes a tiny randomly initialised checkpoint (a 2-layer GPT of width 64, a character
vocabulary, one built-in voice) in that layout; ``--download`` fetches the real one into
the Hugging Face cache instead (what the GPU image does at build time). The real weights
are under the Coqui Public Model License (non-commercial unless licensed).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

HUB_REPO = "coqui/XTTS-v2"
FILES = ("config.json", "model.pth", "vocab.json")
SPEAKERS = "speakers_xtts.pth"
SAMPLE_RATE = 24000
"""XTTS-v2 speaks at 24 kHz."""
TINY_VERSION = 1
"""Written into a tiny checkpoint (``polyvox-tiny.json``): a newer writer rebuilds it."""
TINY_SPEAKER = "Tiny Speaker"
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


def _vocab_json() -> str:
    from polyvox.engines.tiny import LETTERS, char_tokenizer_json

    languages = [f"[{code}]" for code in LANGUAGES]
    tokens = ["[STOP]", "[UNK]", "[SPACE]", "[START]", *languages, *LETTERS]
    return char_tokenizer_json(tokens, ["[SPACE]", "[START]", "[STOP]", *languages])


def write_tiny(directory: Path, seed: int = 0) -> Path:
    """A random checkpoint the loader reads: a 2-layer GPT of width 64 with the real
    model's token layout (perceiver conditioning, 1026 audio codes), the HiFi-GAN decoder
    and speaker encoder, and one studio voice. For tests: it speaks noise, and as random
    weights never sample the stop code, every sentence runs to ``gpt_max_audio_tokens``."""
    import torch
    from TTS.tts.configs.xtts_config import XttsArgs, XttsConfig
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts

    from polyvox.engines.tiny import synthetic_voice

    torch.manual_seed(seed)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(_vocab_json(), encoding="utf-8")
    args = XttsArgs(
        gpt_layers=2,
        gpt_n_model_channels=64,
        gpt_n_heads=2,
        decoder_input_dim=64,
        gpt_max_audio_tokens=40,
        gpt_num_audio_tokens=1026,
        gpt_start_audio_token=1024,
        gpt_stop_audio_token=1025,
        gpt_use_perceiver_resampler=True,
    )
    config = XttsConfig(model_args=args, languages=list(LANGUAGES))
    config.save_json(str(directory / "config.json"))
    model = Xtts(config)
    model.tokenizer = VoiceBpeTokenizer(vocab_file=str(directory / "vocab.json"))
    model.init_models()
    torch.save({"model": model.state_dict()}, directory / "model.pth")
    tts = load(directory, "cpu")
    audio = torch.from_numpy(synthetic_voice(22050)).unsqueeze(0)
    voice = {
        "gpt_cond_latent": tts.get_gpt_cond_latents(audio, 22050, length=30, chunk_length=4),
        "speaker_embedding": tts.get_speaker_embedding(audio, 22050),
    }
    torch.save({TINY_SPEAKER: voice}, directory / SPEAKERS)
    (directory / "polyvox-tiny.json").write_text(
        json.dumps({"version": TINY_VERSION, "seed": seed}) + "\n"
    )
    return directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a tiny random XTTS-v2 checkpoint.")
    parser.add_argument("directory", type=Path, nargs="?")
    parser.add_argument(
        "--download",
        action="store_true",
        help=f"instead: fetch the real checkpoint of {HUB_REPO} into the hub cache",
    )
    args = parser.parse_args(argv)
    if args.download:
        print(f"downloaded {download(HUB_REPO)}")
        return 0
    if args.directory is None:
        parser.error("a directory is needed (or --download)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    write_tiny(args.directory)
    print(f"wrote {args.directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
