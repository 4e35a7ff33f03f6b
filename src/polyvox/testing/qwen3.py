"""Tiny random Qwen3-TTS checkpoints of each type, written through qwen-tts's own classes in
the layout ``polyvox.engines.qwen3.model.load`` reads (run inside the ``qwen-tts``
environment): ``python -m polyvox.testing qwen3 DIR [--type custom_voice|voice_design|base]``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from polyvox.engines.qwen3.model import SAMPLE_RATE, TYPES, load
from polyvox.engines.qwen3.voices import DIALECTS, LANGUAGES, SPEAKERS

TINY_VERSION = 2
"""Written into a tiny checkpoint (``polyvox-tiny.json``): a newer writer rebuilds it."""


TINY_MAX_FRAMES = 30
"""A tiny checkpoint's ``max_new_tokens``: random weights never sample the stop code."""


_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|tts_pad|>",
    "<|tts_bos|>",
    "<|tts_eos|>",
]


_WORDS = ["assistant", "user", "Male", "Female", "happy", "sad", "angry", "neutral", "voice"]


def _tokenizer(directory: Path) -> Any:
    """A byte-level BPE in Qwen2's layout that keeps the chat template's words whole
    (the talker slices ``<|im_start|>assistant\\n`` as three tokens)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2TokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = [" ".join(_WORDS)] * 50 + ["Hello there, how are you today? " * 5]
    bpe.train_from_iterator(corpus, trainer)
    end = "<|endoftext|>"
    fast = Qwen2TokenizerFast(
        tokenizer_object=bpe, unk_token=None, bos_token=None, eos_token=end, pad_token=end
    )
    for text in ("<|im_start|>assistant\n", "<|im_end|>\n<|im_start|>assistant\n"):
        pieces = len(fast(text)["input_ids"])
        if pieces != (3 if text.startswith("<|im_start|>") else 5):
            raise RuntimeError(f"tiny tokenizer splits {text!r} into {pieces} tokens")
    return fast


def _talker_config(kind: str, tokens: Any) -> dict[str, Any]:
    languages = {name: 2050 + i for i, name in enumerate(LANGUAGES.values())}
    languages |= {"beijing_dialect": 2061, "sichuan_dialect": 2062}
    speakers = {name: 2900 + i for i, name in enumerate(SPEAKERS)} if kind == "custom_voice" else {}
    head = {"num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32}
    return {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        **head,
        "vocab_size": 3072,
        "text_vocab_size": len(tokens),
        "text_hidden_size": 64,
        "num_code_groups": 16,
        "max_position_embeddings": 4096,
        "rope_scaling": {"mrope_section": [6, 5, 5], "interleaved": True, "rope_type": "default"},
        "codec_pad_id": 2148,
        "codec_bos_id": 2149,
        "codec_eos_token_id": 2150,
        "codec_think_id": 2154,
        "codec_nothink_id": 2155,
        "codec_think_bos_id": 2156,
        "codec_think_eos_id": 2157,
        "codec_language_id": languages,
        "spk_id": speakers,
        "spk_is_dialect": {name: DIALECTS.get(name, False) for name in speakers},
        "code_predictor_config": {
            "vocab_size": 2048,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 1,
            "num_code_groups": 16,
            **head,
        },
    }


def _codec_config() -> Any:
    from qwen_tts.core import Qwen3TTSTokenizerV2Config

    encoder = {
        "hidden_size": 32,
        "num_filters": 4,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "intermediate_size": 64,
        "codebook_dim": 16,
        "codebook_size": 2048,
        "num_quantizers": 16,
        "num_semantic_quantizers": 1,
        "upsample_groups": 32,
        "sampling_rate": SAMPLE_RATE,
        "frame_rate": 12.5,
        "vector_quantization_hidden_dimension": 16,
    }
    decoder = {
        "codebook_size": 2048,
        "codebook_dim": 32,
        "hidden_size": 32,
        "latent_dim": 32,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "num_hidden_layers": 1,
        "intermediate_size": 64,
        "num_quantizers": 16,
        "decoder_dim": 64,
        "initializer_range": 0.09,  # keeps random audio audible through the upsampling stack
    }
    return Qwen3TTSTokenizerV2Config(encoder_config=encoder, decoder_config=decoder)


def write_tiny(directory: Path, kind: str = "custom_voice", seed: int = 0) -> Path:
    """A random checkpoint of ``kind`` that ``Qwen3TTSModel.from_pretrained`` loads. For
    tests: it speaks noise, and runs every sentence to ``TINY_MAX_FRAMES``."""
    import torch

    if kind not in TYPES:
        raise ValueError(f"type must be one of {', '.join(TYPES)}, not {kind!r}")
    torch.manual_seed(seed)
    directory.mkdir(parents=True, exist_ok=True)
    _write_talker(directory, kind)
    _write_codec(directory / "speech_tokenizer")
    load(directory, "cpu", flash_attention=False)  # it must load through the real path
    (directory / "polyvox-tiny.json").write_text(
        json.dumps({"version": TINY_VERSION, "type": kind, "seed": seed}) + "\n"
    )
    return directory


def _write_talker(directory: Path, kind: str) -> None:
    """The talker: its config, random weights, text tokenizer and sampling defaults."""
    import torch
    from qwen_tts.core.models import (
        Qwen3TTSConfig,
        Qwen3TTSForConditionalGeneration,
        Qwen3TTSProcessor,
    )

    tokens = _tokenizer(directory)
    ids = tokens.convert_tokens_to_ids
    speaker_encoder = {
        "enc_dim": 64,
        "enc_channels": [32, 32, 32, 32, 96],
        "enc_attention_channels": 16,
        "enc_res2net_scale": 4,
        "enc_se_channels": 16,
        "sample_rate": SAMPLE_RATE,
    }
    config = Qwen3TTSConfig(
        talker_config=_talker_config(kind, tokens),
        speaker_encoder_config=speaker_encoder,
        tokenizer_type="qwen3_tts_tokenizer_12hz",
        tts_model_size="1b7",
        tts_model_type=kind,
        im_start_token_id=ids("<|im_start|>"),
        im_end_token_id=ids("<|im_end|>"),
        tts_pad_token_id=ids("<|tts_pad|>"),
        tts_bos_token_id=ids("<|tts_bos|>"),
        tts_eos_token_id=ids("<|tts_eos|>"),
    )
    model = Qwen3TTSForConditionalGeneration(config)
    # The library suppresses every special code but the stop code, so random weights would
    # sample it now and then (about once in 2,000 frames). Its logit made 0, the median of
    # the 2,048 codes' logits (rows of iid weights), it never reaches the top 50 sampled from.
    with torch.no_grad():
        model.talker.codec_head.weight[config.talker_config.codec_eos_token_id].zero_()
    model.save_pretrained(directory)
    Qwen3TTSProcessor(tokenizer=tokens).save_pretrained(directory)
    # the released configs keep only the speaker encoder's own keys (its __init__ takes no
    # others), so a round trip through save_pretrained must not add PretrainedConfig's
    saved = json.loads((directory / "config.json").read_text())
    saved["speaker_encoder_config"] = speaker_encoder
    (directory / "config.json").write_text(json.dumps(saved, indent=2) + "\n")
    generation = {
        "do_sample": True,
        "top_k": 50,
        "top_p": 1.0,
        "temperature": 0.9,
        "repetition_penalty": 1.05,
        "subtalker_dosample": True,
        "subtalker_top_k": 50,
        "subtalker_top_p": 1.0,
        "subtalker_temperature": 0.9,
        "max_new_tokens": TINY_MAX_FRAMES,
    }
    (directory / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")


def _write_codec(codec: Path) -> None:
    """The 12 Hz speech codec, with random codebooks."""
    import torch
    from qwen_tts.core import Qwen3TTSTokenizerV2Model
    from transformers import EncodecFeatureExtractor

    tokenizer = Qwen3TTSTokenizerV2Model(_codec_config())
    with torch.no_grad():  # codebooks start as empty EMA sums: random ones make sound
        for name, tensor in [*tokenizer.named_parameters(), *tokenizer.named_buffers()]:
            if name.endswith("embedding_sum"):
                tensor.normal_()
    tokenizer.save_pretrained(codec)
    EncodecFeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE).save_pretrained(codec)
