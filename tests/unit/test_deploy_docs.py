"""docs/deployment.md documents every deployment setting (storage, reference, compat, worker)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from polyvox.settings import Settings

GUIDE = Path(__file__).parents[2] / "docs" / "deployment.md"
SECTIONS = ("storage", "reference", "compat", "worker")


def env_names(model: type[BaseModel], prefix: str) -> list[str]:
    return [f"{prefix}{name.upper()}" for name in model.model_fields]


def test_every_deployment_setting_is_documented() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    missing = []
    for section in SECTIONS:
        annotation = Settings.model_fields[section].annotation
        assert isinstance(annotation, type)
        assert issubclass(annotation, BaseModel)
        names = env_names(annotation, f"POLYVOX_{section.upper()}__")
        missing += [name for name in names if f"`{name}`" not in text]
    assert not missing, missing
