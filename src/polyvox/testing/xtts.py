"""Tiny random XTTS-v2 checkpoints, written through coqui-tts's own classes in the layout
``polyvox.engines.xtts.model.load`` reads (run inside the ``xtts`` environment):
``python -m polyvox.testing xtts DIR``."""

from __future__ import annotations

import json
from pathlib import Path

from polyvox.engines.xtts.model import LANGUAGES, SPEAKERS, load

TINY_VERSION = 1
"""Written into a tiny checkpoint (``polyvox-tiny.json``): a newer writer rebuilds it."""


TINY_SPEAKER = "Tiny Speaker"


def _vocab_json() -> str:
    from polyvox.testing.tiny import LETTERS, char_tokenizer_json

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

    from polyvox.testing.tiny import synthetic_voice

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
