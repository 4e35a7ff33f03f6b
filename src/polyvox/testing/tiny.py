"""Pieces shared by the tiny random checkpoints the tests write (no weights ship on PyPI)."""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt


def char_tokenizer_json(tokens: list[str], units: list[str]) -> str:
    """A ``tokenizers`` JSON that maps each character (and each of ``units``, such as
    ``[SPACE]`` or ``[en]``, kept whole) to its index in ``tokens``; others to ``[UNK]``."""
    from tokenizers import Regex, Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Split

    vocab = {token: i for i, token in enumerate(tokens)}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))  # noqa: S106 - a token, not a secret
    alternatives = "|".join(re.escape(t) for t in units)
    tokenizer.pre_tokenizer = Split(
        Regex(rf"{alternatives}|." if units else "."), behavior="isolated"
    )
    return str(tokenizer.to_str())


LETTERS = [chr(c) for c in range(32, 127)] + list("àâçéèêëîïôûùüÿñäöåæøœßáíóúãõ")
"""Characters a tiny tokenizer knows: printable ASCII and common Latin accents."""


def synthetic_voice(rate: int, seconds: float = 3.0) -> npt.NDArray[np.float32]:
    """A voiced-sounding reference (a 160 Hz tone, amplitude-modulated), float32."""
    t = np.arange(int(rate * seconds)) / rate
    voice = 0.3 * np.sin(2 * np.pi * 160 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    return np.asarray(voice, dtype=np.float32)
