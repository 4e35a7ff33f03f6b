"""Loading settings: a TOML config file, ``POLYVOX_*`` variables, an env file, overrides.

Precedence, highest first: command-line overrides, environment variables, the env file,
the config file, defaults. Anything wrong stops the program at start with a message that
names the file, the model and the key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from polyvox.models import ConfigError, check_models
from polyvox.settings import Settings


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first.get("loc", ())) or "?"
    return f"{key}: {first.get('msg', 'invalid value')}"


def _file_settings(path: Path) -> type[Settings]:
    """A Settings class that also reads ``path``; unknown top-level keys are refused."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r}")
    config = SettingsConfigDict(**{**Settings.model_config, "toml_file": path})
    return type("FileSettings", (Settings,), {"model_config": config, "__module__": __name__})


def load_settings(
    config: Path | None = None, env_file: Path | None = None, **overrides: Any
) -> Settings:
    """Settings from every source, with every model's engine and options checked."""
    where = str(config) if config else "settings (POLYVOX_* variables)"
    cls = _file_settings(config) if config else Settings
    updates = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = cls(_env_file=env_file) if env_file else cls()
        if updates:
            settings = cls.model_validate({**settings.model_dump(), **updates})
    except ValidationError as exc:
        raise ConfigError(f"{where}: {_describe(exc)}") from None
    try:
        check_models(settings)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return settings
