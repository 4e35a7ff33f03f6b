"""The README documents every setting."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from polyvox.engines import registry
from polyvox.settings import Settings

README = Path(__file__).parents[2] / "README.md"


def env_names(model: type[BaseModel], prefix: str = "POLYVOX_") -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += env_names(annotation, f"{prefix}{name.upper()}__")
        else:
            names.append(f"{prefix}{name.upper()}")
    return names


def test_every_engine_option_is_in_the_readme() -> None:
    text = README.read_text()
    missing = []
    for engine in registry.BUILTIN:
        # engines with an engine-wide shorthand (POLYVOX_PIPER__*) document its rows too
        shorthand = engine in Settings.model_fields
        for option in registry.load_class(engine).Options.model_fields:
            row = f"`POLYVOX_{engine.upper()}__{option.upper()}`"
            if f"`{option}`" not in text or (shorthand and row not in text):
                missing.append(f"{engine}: {option}")
    assert not missing, missing


def test_every_setting_is_in_the_readme() -> None:
    text = README.read_text()
    missing = [name for name in env_names(Settings) if f"`{name}`" not in text]
    assert not missing, missing
