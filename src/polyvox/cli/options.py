"""Options and helpers every ``polyvox`` command shares."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from polyvox.config import load_settings
from polyvox.errors import PolyvoxError
from polyvox.models import ConfigError
from polyvox.settings import Settings

EnvFile = Annotated[
    Path | None, typer.Option("--env-file", help="Read POLYVOX_* settings from this file.")
]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config file: settings and [models.ID] tables."),
]


def settings_or_exit(config: Path | None, env_file: Path | None, **overrides: object) -> Settings:
    """Settings from every source; a configuration error ends the program with status 2."""
    try:
        return load_settings(config, env_file, **overrides)
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


def fail(error: PolyvoxError) -> typer.Exit:
    """Print an error the way a person wants to read it and pick the exit status."""
    param = f" ({error.param})" if error.param else ""
    typer.echo(f"error{param}: {error.message}", err=True)
    return typer.Exit(2 if error.status_code < 500 else 1)
