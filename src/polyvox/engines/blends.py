"""Voice blends in Kokoro-FastAPI's syntax: ``"voice_a(2)+voice_b(1)"``, relative weights.

For engines whose voices are style vectors (Kokoro): a blend is the weighted mean of its
parts' vectors; a part without a weight weighs 1, so ``"a+b"`` is an even mix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

EXAMPLE = "jf_alpha(2)+jm_kumo(1)"
_PART = re.compile(r"\s*([\w.-]+)\s*(?:\(([^()]*)\))?\s*")
Part = tuple[str, float]


def is_blend(name: str) -> bool:
    """Whether ``name`` is written as a blend (it may still be malformed)."""
    return "+" in name or "(" in name


def _weight(text: str | None) -> float | None:
    try:
        weight = 1.0 if text is None else float(text)
    except ValueError:
        return None
    return weight if math.isfinite(weight) and weight > 0 else None


def parse(name: str) -> list[Part] | None:
    """The (voice, weight) parts of a blend; None when a part or a weight is malformed
    (weights must be finite numbers above 0)."""
    parts = []
    for text in name.split("+"):
        match = _PART.fullmatch(text)
        weight = _weight(match[2]) if match else None
        if match is None or weight is None:
            return None
        parts.append((match[1], weight))
    return parts


def canonical(parts: Sequence[Part]) -> str:
    """One spelling per blend: ``"a+b"`` is ``"a(1)+b(1)"``."""
    return "+".join(f"{voice}({weight:g})" for voice, weight in parts)


def mix(
    styles: Mapping[str, npt.NDArray[np.float32]], parts: Sequence[Part]
) -> npt.NDArray[np.float32]:
    """The weighted mean of the parts' style vectors."""
    total = sum(weight for _, weight in parts)
    mixed = sum(styles[voice] * (weight / total) for voice, weight in parts)
    return np.asarray(mixed, dtype=np.float32)
