"""``polyvox engines``: build, list and check the environments engine families run in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from polyvox.cli import doctor as environment_checks
from polyvox.cli.options import ConfigFile, settings_or_exit
from polyvox.placement import environments

app = typer.Typer(
    help="Engine environments: one isolated Python environment per engine family.",
    no_args_is_help=True,
)
EnvDir = Annotated[
    Path | None,
    typer.Option(
        "--env-dir",
        help="Where environments live [default: POLYVOX_ENV_DIR or ~/.cache/polyvox/envs]",
    ),
]


@app.command("install")
def install(
    family: Annotated[str, typer.Argument(help=f"One of: {', '.join(environments.FAMILIES)}")],
    env_dir: EnvDir = None,
    device: Annotated[
        str, typer.Option(help="cpu: torch's CPU builds; cuda: the libraries' CUDA torch")
    ] = "cpu",
    force: Annotated[
        bool, typer.Option("--force", help="Install again even if nothing it is built from changed")
    ] = False,
) -> None:
    """Build (or update) FAMILY's environment (uv when available, else venv + pip). One
    built from the same pins, project file and interpreter is left as it is."""
    try:
        current = not force and environments.up_to_date(family, env_dir, device)
        env = environments.install(family, env_dir, device=device, force=force)
    except environments.EnvironmentMissing as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{family} is up to date in {env}" if current else f"installed {family} in {env}")


@app.command("list")
def list_environments(env_dir: EnvDir = None) -> None:
    """Installed environments: family, versions, size and device."""
    found = environments.installed(env_dir)
    if not found:
        typer.echo("no engine environments installed; polyvox engines install FAMILY builds one")
    for env in found:
        versions = " ".join(f"{name}=={v}" for name, v in sorted(env.versions.items()))
        size = env.size_bytes / 1e6
        typer.echo(f"{env.family}\t{env.device}\t{size:.0f} MB\t{versions}\t{env.path}")


@app.command("doctor")
def doctor(
    family: Annotated[str, typer.Argument(help="The family whose environment to check.")],
    env_dir: EnvDir = None,
    here: Annotated[
        bool, typer.Option("--here", help="Check this interpreter, not the environment.")
    ] = False,
    config: ConfigFile = None,
) -> None:
    """Load FAMILY's configured models (else its engines' defaults) in its environment,
    and report the device each runs on."""
    if not here:
        try:
            status = environment_checks.doctor(family, env_dir, config)
        except environments.EnvironmentMissing as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(1) from None
        raise typer.Exit(status)
    settings = settings_or_exit(config, None)  # POLYVOX_MODELS or the file's models
    try:
        for line in environment_checks.check_here(family, settings):
            typer.echo(line)
    except environments.EnvironmentMissing as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except Exception as exc:  # the point of a doctor: say what is broken, plainly
        typer.echo(f"error: {family} does not work here: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{family}: ok")
