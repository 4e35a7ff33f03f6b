"""Chatterbox checkpoints: loading (a local directory or the hub) and tiny random ones.

Runs inside the ``chatterbox`` engine environment (torch, ``chatterbox-tts``). Loading does
what ``ChatterboxTTS.from_local`` / ``ChatterboxMultilingualTTS.from_local`` do, with one
difference: the T3 backbone's depth and width are read from the checkpoint's weights
instead of assumed (30 layers), so the tiny checkpoint of the tests loads through the very
same code as the real 3 GB one.

    python -m polyvox.engines.chatterbox_model DIR [--multilingual]

writes a tiny randomly initialised checkpoint (a 2-layer T3; S3Gen and the voice encoder
at their fixed sizes) in the layout the loader reads; ``--download`` fetches the real
ones into the Hugging Face cache instead (what the GPU image does at build time).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
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
TINY_VERSION = 1
"""Written into a tiny checkpoint (``polyvox-tiny.json``): a newer writer rebuilds it."""
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


def _tokenizer_json(multilingual: bool) -> str:
    """A character-level tokenizer with the special tokens the library's tokenizers check."""
    from polyvox.engines.tiny import LETTERS, char_tokenizer_json

    specials = ["[STOP]", "[UNK]", "[SPACE]", "[PAD]", "[SEP]", "[CLS]", "[MASK]"]
    languages = [f"[{code}]" for code in LANGUAGES] if multilingual else []
    tokens = [*specials, *languages, *LETTERS[: 95 + 22]]
    tokens += [f"[unused{i}]" for i in range(len(tokens), 255)]
    # [START] is T3Config.start_text_token (255), [STOP] its stop token (0)
    return char_tokenizer_json([*tokens, "[START]"], ["[SPACE]", *languages])


LANGUAGES = (
    "ar", "da", "de", "el", "en", "es", "fi", "fr", "he", "hi", "it", "ja", "ko", "ms",
    "nl", "no", "pl", "pt", "ru", "sv", "sw", "tr", "zh",
)  # fmt: skip
"""``SUPPORTED_LANGUAGES`` of chatterbox-tts 0.1.7's ``mtl_tts`` (the multilingual model)."""


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

    from polyvox.engines.tiny import synthetic_voice

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a tiny random Chatterbox checkpoint.")
    parser.add_argument("directory", type=Path, nargs="?")
    parser.add_argument("--multilingual", action="store_true")
    parser.add_argument(
        "--download",
        action="store_true",
        help=f"instead: fetch both real checkpoints of {HUB_REPO} into the hub cache",
    )
    args = parser.parse_args(argv)
    if args.download:
        for multilingual in (False, True):
            print(f"downloaded {download(HUB_REPO, multilingual)}")
        return 0
    if args.directory is None:
        parser.error("a directory is needed (or --download)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    write_tiny(args.directory, args.multilingual)
    print(f"wrote {args.directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
