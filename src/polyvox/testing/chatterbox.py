"""Tiny random Chatterbox checkpoints, written through the library's own classes in the
layout ``polyvox.engines.chatterbox.model.load`` reads (run inside the ``chatterbox``
environment): ``python -m polyvox.testing chatterbox DIR [--multilingual]``."""

from __future__ import annotations

import json
from pathlib import Path

from polyvox.engines.chatterbox.model import LANGUAGES, layout, load

TINY_VERSION = 1
"""Written into a tiny checkpoint (``polyvox-tiny.json``): a newer writer rebuilds it."""


def _tokenizer_json(multilingual: bool) -> str:
    """A character-level tokenizer with the special tokens the library's tokenizers check."""
    from polyvox.testing.tiny import LETTERS, char_tokenizer_json

    specials = ["[STOP]", "[UNK]", "[SPACE]", "[PAD]", "[SEP]", "[CLS]", "[MASK]"]
    languages = [f"[{code}]" for code in LANGUAGES] if multilingual else []
    tokens = [*specials, *languages, *LETTERS[: 95 + 22]]
    tokens += [f"[unused{i}]" for i in range(len(tokens), 255)]
    # [START] is T3Config.start_text_token (255), [STOP] its stop token (0)
    return char_tokenizer_json([*tokens, "[START]"], ["[SPACE]", *languages])


def write_tiny(directory: Path, multilingual: bool = False, seed: int = 0) -> Path:
    """A random checkpoint the loader reads: T3 with 2 layers, the rest at full size, and a
    built-in voice computed from a synthetic reference. For tests: it speaks noise."""
    import torch
    from chatterbox.models.s3gen import S3Gen
    from chatterbox.models.t3 import T3
    from chatterbox.models.t3.llama_configs import LLAMA_520M_CONFIG_DICT, LLAMA_CONFIGS
    from chatterbox.models.t3.modules.t3_config import T3Config
    from chatterbox.models.voice_encoder import VoiceEncoder
    from safetensors.torch import save_file

    from polyvox.testing.tiny import synthetic_voice

    torch.manual_seed(seed)
    files = layout(multilingual)
    directory.mkdir(parents=True, exist_ok=True)
    LLAMA_CONFIGS["Llama_tiny"] = dict(
        LLAMA_520M_CONFIG_DICT, num_hidden_layers=2, intermediate_size=256
    )
    hp = T3Config.multilingual() if multilingual else T3Config.english_only()
    hp.llama_config_name = "Llama_tiny"
    modules = {files.t3: T3(hp), files.s3gen: S3Gen(), files.ve: VoiceEncoder()}
    for name, module in modules.items():
        state = {k: v.contiguous() for k, v in module.state_dict().items()}
        if module is modules[files.s3gen]:  # 264 M random weights: half the disk as float16
            state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        if name.endswith(".safetensors"):
            save_file(state, str(directory / name))
        else:
            torch.save(state, directory / name)
    (directory / files.tokenizer).write_text(_tokenizer_json(multilingual), encoding="utf-8")
    tts = load(directory, multilingual, "cpu")
    reference = directory / "reference.wav"
    import soundfile

    soundfile.write(reference, synthetic_voice(24000), 24000)
    tts.prepare_conditionals(str(reference))
    tts.conds.save(directory / files.conds)
    reference.unlink()
    (directory / "polyvox-tiny.json").write_text(
        json.dumps({"version": TINY_VERSION, "multilingual": multilingual, "seed": seed}) + "\n"
    )
    return directory
