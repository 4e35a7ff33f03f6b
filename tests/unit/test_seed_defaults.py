"""Which seed defaults a model takes: each where the request left it unset and the model
declares it (a language it speaks, a speed in range, a parameter with the value in range);
the capabilities are the engines' own declarations (no torch needed)."""

from __future__ import annotations

from typing import Any

import pytest

from polyvox.api.routes.compat import QwenFullBody, QwenStreamBody
from polyvox.checks import apply_seed_defaults, takes
from polyvox.engines.chatterbox.options import _params as chatterbox_params
from polyvox.engines.core.piper import PARAMS as PIPER_PARAMS
from polyvox.engines.qwen3 import options as qwen3_options
from polyvox.engines.qwen3.voices import LANGUAGES as QWEN_LANGUAGES
from polyvox.engines.xtts import options as xtts_options
from polyvox.engines.xtts.model import LANGUAGES as XTTS_LANGUAGES
from polyvox.settings import CompatSettings, WorkerSettings
from polyvox.types import EngineInfo, ParamValue, SeedDefaults, SpeechParams

XTTS = EngineInfo(
    model="xtts",
    engine="xtts",
    kind="tts",
    description="",
    languages=XTTS_LANGUAGES,
    params=xtts_options.params(),
)
PIPER = EngineInfo(
    model="piper",
    engine="piper",
    kind="tts",
    description="",
    languages=("en_US",),
    params=PIPER_PARAMS,
)
CHATTERBOX = EngineInfo(
    model="cb",
    engine="chatterbox",
    kind="tts",
    description="",
    languages=("en",),
    speed=False,
    params=chatterbox_params(False),
)


def qwen3(cap: int | None) -> EngineInfo:
    return EngineInfo(
        model="qwen3",
        engine="qwen3",
        kind="tts",
        description="",
        languages=(*QWEN_LANGUAGES, "auto"),
        params=qwen3_options.params(None, cap),
    )


def resolve(info: EngineInfo, defaults: dict[str, ParamValue], **sent: Any) -> SpeechParams:
    seed = SeedDefaults(defaults)
    resolved = apply_seed_defaults(
        info, SpeechParams(model=info.model, input="x", **sent, defaults=seed)
    )
    assert resolved.defaults is seed
    return resolved


XTTS_DEFAULTS = WorkerSettings().xtts_defaults


def test_the_xtts_worker_defaults_on_xtts() -> None:
    params = resolve(XTTS, XTTS_DEFAULTS)
    assert (params.language, params.speed) == ("pt", 1.0)
    assert params.params == {"temperature": 0.7, "top_k": 50, "top_p": 0.85}
    assert params.defaults is not None
    assert params.defaults.applied == XTTS_DEFAULTS


def test_what_a_request_sends_stays() -> None:
    params = resolve(XTTS, XTTS_DEFAULTS, language="en", speed=1.2, params={"temperature": 0.3})
    assert (params.language, params.speed) == ("en", 1.2)
    assert params.params == {"temperature": 0.3, "top_k": 50, "top_p": 0.85}
    assert params.defaults is not None
    assert set(params.defaults.applied) == {"top_k", "top_p"}


def test_piper_takes_only_the_speed() -> None:
    params = resolve(PIPER, XTTS_DEFAULTS)
    assert (params.language, params.speed, dict(params.params)) == (None, 1.0, {})


def test_chatterbox_takes_the_parameters_it_declares_and_no_speed() -> None:
    params = resolve(CHATTERBOX, XTTS_DEFAULTS)
    assert (params.language, params.speed) == (None, None)  # no pt, no speed
    assert params.params == {"temperature": 0.7, "top_p": 0.85}  # no top_k


@pytest.mark.parametrize(
    ("info", "key", "value", "taken"),
    [
        (XTTS, "temperature", 5.0, False),  # out of XTTS's range
        (XTTS, "top_k", 0.5, False),  # not an int
        (XTTS, "language", "pt-BR", False),  # as the request check (and the seed: "pt, não pt-BR")
        (XTTS, "language", "xx", False),
        (XTTS, "speed", 9.0, False),
        (XTTS, "speed", True, False),
        (XTTS, "seed", 7, True),
        (PIPER, "language", "pt", False),
        (PIPER, "language", "en", True),
        (EngineInfo(model="m", engine="e", kind="tts", description=""), "language", "pt", False),
    ],
)
def test_takes(info: EngineInfo, key: str, value: ParamValue, taken: bool) -> None:
    assert takes(info, key, value) is taken


def test_the_qwen_routes_defaults() -> None:
    compat = CompatSettings(qwen_model="qwen3")
    full = QwenFullBody(text="Привет, мир!").params(compat, "wav")
    stream = QwenStreamBody(text="Привет, мир!").params(compat, "wav", stream=True)
    assert full.defaults == SeedDefaults({"temperature": 0.7})
    assert stream.defaults == SeedDefaults({"temperature": 0.7, "max_length": 1000})
    # a Qwen3 model capped below the seed's max_length takes only the temperature
    assert apply_seed_defaults(qwen3(10), stream).params == {"temperature": 0.7}
    uncapped = apply_seed_defaults(qwen3(None), stream).params
    assert uncapped == {"temperature": 0.7, "max_length": 1000}
    assert apply_seed_defaults(PIPER, full).params == {}
    sent = QwenFullBody(text="Hi.", temperature=1.1).params(compat, "wav")
    assert apply_seed_defaults(qwen3(None), sent).params == {"temperature": 1.1}


def test_without_seed_defaults_nothing_changes() -> None:
    params = SpeechParams(model="xtts", input="x")
    assert apply_seed_defaults(XTTS, params) is params


@pytest.mark.parametrize(
    "values", [{"language": 5}, {"speed": "fast"}, {"speed": True}, {"temperature": [1]}]
)
def test_bad_default_mappings_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="xtts_defaults"):
        WorkerSettings.model_validate({"xtts_defaults": values})
