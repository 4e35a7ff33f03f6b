"""Chatterbox checkpoints: loading (a local directory or the hub).

Runs inside the ``chatterbox`` engine environment (torch, ``chatterbox-tts``). Loading does
what ``ChatterboxTTS.from_local`` / ``ChatterboxMultilingualTTS.from_local`` do, with one
difference: the T3 backbone's depth and width are read from the checkpoint's weights
instead of assumed (30 layers), so the tiny checkpoint of the tests loads through the very
same code as the real 3 GB one.

``python -m polyvox.engines.download chatterbox`` fetches the real ones into the Hugging
Face cache (what the GPU image does at build time); ``polyvox.testing.chatterbox`` writes
tiny random ones (a 2-layer T3; S3Gen and the voice encoder at their fixed sizes).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
HUB_REPO = "ResembleAI/chatterbox"


@dataclass(frozen=True)
class Layout:
    """The file names of one checkpoint kind (as the library's loaders expect them)."""

    ve: str
    t3: str
    s3gen: str
    tokenizer: str
    conds: str = "conds.pt"

    @property
    def files(self) -> tuple[str, ...]:
        return (self.ve, self.t3, self.s3gen, self.tokenizer, self.conds)


ENGLISH = Layout("ve.safetensors", "t3_cfg.safetensors", "s3gen.safetensors", "tokenizer.json")
MULTILINGUAL = Layout(
    "ve.pt", "t3_mtl23ls_v2.safetensors", "s3gen.pt", "grapheme_mtl_merged_expanded_v1.json"
)
_LAYER = re.compile(r"tfmr\.layers\.(\d+)\.")


def layout(multilingual: bool) -> Layout:
    return MULTILINGUAL if multilingual else ENGLISH


def missing_files(directory: Path, multilingual: bool) -> list[str]:
    """The checkpoint files ``directory`` lacks (the built-in voice is optional)."""
    wanted = layout(multilingual).files[:-1]
    return [name for name in wanted if not (directory / name).is_file()]


def download(repo: str, multilingual: bool) -> Path:
    """The checkpoint from the Hugging Face hub (cached by huggingface_hub)."""
    from huggingface_hub import snapshot_download

    files = [*layout(multilingual).files, "Cangjie5_TC.json"] if multilingual else None
    return Path(snapshot_download(repo_id=repo, allow_patterns=files or list(ENGLISH.files)))


def _state(path: Path) -> dict[str, Any]:
    import torch
    from safetensors.torch import load_file

    if path.suffix == ".safetensors":
        return dict(load_file(path))
    loaded: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    return loaded


def _t3(state: dict[str, Any], multilingual: bool) -> Any:
    """A T3 shaped like the weights in ``state`` (depth and MLP width read from them)."""
    from chatterbox.models.t3 import T3
    from chatterbox.models.t3.llama_configs import LLAMA_520M_CONFIG_DICT, LLAMA_CONFIGS
    from chatterbox.models.t3.modules.t3_config import T3Config

    if "model" in state:
        state = state["model"][0]
    layers = 1 + max(int(m.group(1)) for key in state if (m := _LAYER.match(key)))
    width = int(state["tfmr.layers.0.mlp.gate_proj.weight"].shape[0])
    hp = T3Config.multilingual() if multilingual else T3Config.english_only()
    base = LLAMA_520M_CONFIG_DICT
    if (layers, width) != (base["num_hidden_layers"], base["intermediate_size"]):
        name = f"Llama_{layers}x{width}"
        LLAMA_CONFIGS[name] = dict(base, num_hidden_layers=layers, intermediate_size=width)
        hp.llama_config_name = name
    t3 = T3(hp)
    t3.load_state_dict(state)
    return t3


def _tolerate_missing_segmenter() -> None:
    """The multilingual tokenizer's Chinese word segmenter (spacy_pkuseg) downloads its
    model from GitHub when first built; where that fails (offline), Chinese goes
    unsegmented, as the library does without spacy_pkuseg, instead of the load failing.
    Images bake the segmenter's model in (``~/.pkuseg``)."""
    from chatterbox.models.tokenizers import tokenizer

    converter = tokenizer.ChineseCangjieConverter
    if getattr(converter, "_polyvox_tolerant", False):
        return
    original = converter._init_segmenter

    def init_segmenter(self: Any) -> None:
        try:
            original(self)
        except Exception as exc:
            log.warning("Chinese word segmentation is off: spacy_pkuseg cannot load (%s)", exc)
            self.segmenter = None

    converter._init_segmenter = init_segmenter
    converter._polyvox_tolerant = True


def load(directory: Path, multilingual: bool, device: str) -> Any:
    """``ChatterboxTTS`` or ``ChatterboxMultilingualTTS`` from a checkpoint directory."""
    from chatterbox.models.s3gen import S3Gen
    from chatterbox.models.tokenizers import EnTokenizer, MTLTokenizer
    from chatterbox.models.voice_encoder import VoiceEncoder
    from chatterbox.mtl_tts import ChatterboxMultilingualTTS
    from chatterbox.tts import ChatterboxTTS, Conditionals

    files = layout(multilingual)
    ve = VoiceEncoder()
    ve.load_state_dict(_state(directory / files.ve))
    t3 = _t3(_state(directory / files.t3), multilingual)
    s3gen = S3Gen()
    s3gen.load_state_dict(_state(directory / files.s3gen), strict=False)
    if multilingual:
        _tolerate_missing_segmenter()
    tokenizer_class = MTLTokenizer if multilingual else EnTokenizer
    tokenizer = tokenizer_class(str(directory / files.tokenizer))
    conds = None
    if (directory / files.conds).is_file():
        conds = Conditionals.load(directory / files.conds, map_location="cpu").to(device)
    model_class = ChatterboxMultilingualTTS if multilingual else ChatterboxTTS
    models = [module.to(device).eval() for module in (t3, s3gen, ve)]
    return model_class(*models, tokenizer, device, conds=conds)


LANGUAGES = (
    "ar", "da", "de", "el", "en", "es", "fi", "fr", "he", "hi", "it", "ja", "ko", "ms",
    "nl", "no", "pl", "pt", "ru", "sv", "sw", "tr", "zh",
)  # fmt: skip
"""``SUPPORTED_LANGUAGES`` of chatterbox-tts 0.1.7's ``mtl_tts`` (the multilingual model)."""


def fetch(repo: str | None = None) -> list[Path]:
    """Both real checkpoints (English and multilingual) of ``repo`` in the hub cache."""
    return [download(repo or HUB_REPO, multilingual) for multilingual in (False, True)]
