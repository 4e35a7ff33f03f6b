"""IndexTTS-2's emotion controls (``emo_*``): the request parameters, with the ranges its
web UI allows, checked here and turned into the fields of index-tts-vllm's ``/tts_url``
body (the server answers bad input with a 500 and a traceback)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polyvox.errors import InvalidRequest
from polyvox.types import ParamSpec, ParamValue

EMOTIONS = "happy, angry, sad, afraid, disgusted, melancholic, surprised, calm"
APPLIES: dict[str, tuple[int, ...]] = {  # emotion parameter -> its emo_control_method values
    "emo_voice": (1,), "emo_weight": (1,), "emo_vec": (2,), "emo_text": (3,), "emo_random": (2, 3),
}  # fmt: skip


def emotion_params(voices: Mapping[str, str]) -> dict[str, ParamSpec]:
    """IndexTTS-2's per-request parameters, with the ranges its web UI allows."""
    return {
        "emo_control_method": ParamSpec(
            "int",
            "Emotion from: 0 the speaker's reference, 1 emo_voice's reference "
            "(weighted by emo_weight), 2 emo_vec, 3 emo_text",
            0,
            0,
            3,
        ),
        "emo_voice": ParamSpec(
            "str",
            "Method 1: the voice whose reference gives the emotion (default: the speaker's)",
            choices=tuple(voices),
        ),
        "emo_weight": ParamSpec("float", "Method 1: strength of the emotion", 1.0, 0.0, 1.6),
        "emo_vec": ParamSpec(
            "str",
            f"Method 2: 8 comma-separated weights from 0 to 1 ({EMOTIONS}), summing to at most 1.5",
        ),
        "emo_text": ParamSpec("str", "Method 3: the emotion in words (default: the text)"),
        "emo_random": ParamSpec("bool", "Methods 2 and 3: random emotion exemplars", False),
        "max_text_tokens_per_sentence": ParamSpec(
            "int",
            "Longest sentence, in text tokens, spoken in one piece",
            120,
            20,
            600,
        ),
    }


def emotion_fields(
    model: str, p: Mapping[str, ParamValue], voices: Mapping[str, str]
) -> dict[str, Any]:
    """The ``/tts_url`` body's fields for a request's parameters ``p`` (``voices``: voice
    id -> reference path on the server); raises before anything is sent."""
    method = int(p.get("emo_control_method", 0))
    for key, methods in APPLIES.items():
        if key in p and method not in methods:
            raise InvalidRequest(
                f"parameter {key!r} of model {model!r} applies only with "
                f"emo_control_method {' or '.join(map(str, methods))}",
                param=key,
            )
    body: dict[str, Any] = {"emo_control_method": method}
    if method == 1:
        body["emo_weight"] = float(p.get("emo_weight", 1.0))
        if "emo_voice" in p:
            body["emo_ref_path"] = voices[str(p["emo_voice"])]
    if method == 2:
        body["emo_vec"] = _vector(model, p.get("emo_vec", ",".join(["0"] * 8)))
    if method == 3 and "emo_text" in p:
        body["emo_text"] = str(p["emo_text"])
    if "emo_random" in p:
        body["emo_random"] = bool(p["emo_random"])
    if "max_text_tokens_per_sentence" in p:
        body["max_text_tokens_per_sentence"] = int(p["max_text_tokens_per_sentence"])
    return body


def _vector(model: str, value: ParamValue) -> list[float]:
    try:
        vector = [float(part) for part in str(value).split(",")]
    except ValueError:
        vector = []
    where = f"parameter 'emo_vec' of model {model!r}"
    if len(vector) != 8 or not all(0.0 <= v <= 1.0 for v in vector):
        raise InvalidRequest(
            f"{where} must be 8 numbers from 0 to 1, comma-separated ({EMOTIONS})",
            param="emo_vec",
        )
    if sum(vector) > 1.5:
        raise InvalidRequest(f"{where} must sum to at most 1.5", param="emo_vec")
    return vector
