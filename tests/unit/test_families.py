"""Each engine family is declared once (``engines/<family>/family.py``), and what else
names it agrees: the registry's engines, pyproject's extras, its image's extras, and the
functions its checkpoint download names."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

from polyvox.engines import registry
from polyvox.engines.families import FAMILIES, PACKAGES
from tests.unit.test_containers import instructions

ROOT = Path(__file__).resolve().parents[2]
EXTRAS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def test_every_family_package_declares_its_family() -> None:
    assert len(FAMILIES) == len(PACKAGES)
    for package in PACKAGES:
        declared = importlib.import_module(f"polyvox.engines.{package}.family").FAMILY
        assert FAMILIES[declared.name] is declared
        for target in declared.engines.values():  # its engines live in its own package
            assert target.startswith(f"polyvox.engines.{package}."), (package, target)
            module, _, name = target.partition(":")
            assert getattr(importlib.import_module(module), name).__name__ == name


@pytest.mark.parametrize("name", list(FAMILIES))
def test_the_registry_pyproject_and_image_read_the_declaration(name: str) -> None:
    family = FAMILIES[name]
    assert family.extra in EXTRAS
    for engine, target in family.engines.items():
        assert registry.available()[engine] == target
        assert registry.BUILTIN[engine][1] == family.extra_of(engine)
    if family.image is not None:
        args = [a for n, a in instructions(ROOT / family.image) if n == "ARG"]
        extras = next(a.removeprefix("EXTRAS=") for a in args if a.startswith("EXTRAS="))
        assert family.extra in extras.split(","), family.image
    if family.fetch is not None:
        module, _, function = family.fetch.partition(":")
        assert callable(getattr(importlib.import_module(module), function))


def test_engines_are_listed_once() -> None:
    names = [engine for family in FAMILIES.values() for engine in family.engines]
    assert len(names) == len(set(names))
    assert not set(names) & set(registry.REMOTE)


class _BrokenEntryPoint:
    value = "broken_plugin:FAMILY"

    def load(self) -> object:
        raise ImportError("No module named 'broken_plugin'")


def test_a_plugin_family_that_cannot_load_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    from polyvox.engines import families

    monkeypatch.setattr(families, "entry_points", lambda group: [_BrokenEntryPoint()])
    assert families._plugins() == {}  # logged, not fatal: polyvox still imports and serves


def test_a_mistyped_engine_import_path_stops_the_server_at_start() -> None:
    from polyvox.models import ConfigError, model_spec
    from polyvox.settings import ModelConfig, Settings

    settings = Settings(models={"mine": ModelConfig(engine="tests.standins.pictur:Engine")})
    with pytest.raises(ConfigError, match=r"tests\.standins\.pictur"):
        model_spec(settings, "mine")
