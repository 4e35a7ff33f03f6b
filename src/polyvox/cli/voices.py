"""``polyvox voices``: list every model's voices and the library's; add and remove library
voices (in the library ``POLYVOX_VOICES__URL`` names, the one the server uses)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from polyvox.cli.options import ConfigFile, EnvFile, fail, settings_or_exit
from polyvox.errors import PolyvoxError
from polyvox.service import SpeechService
from polyvox.types import TRUSTED
from polyvox.voices.records import Consent, VoiceDraft

app = typer.Typer(help="Voices: every model's own, and the voice library.")


@app.callback(invoke_without_command=True)
def list_voices(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="Only this model's voices.")] = None,
    env_file: EnvFile = None,
    config: ConfigFile = None,
) -> None:
    """List voices (id, model, language, sample rate), then library voices (id, name,
    language, seconds)."""
    if ctx.invoked_subcommand is not None:
        return
    service = SpeechService(settings_or_exit(config, env_file))
    try:
        voices = service.catalogue.voices(model)
        library = service.library.voices(TRUSTED)
    except PolyvoxError as exc:
        raise fail(exc) from exc
    for v in voices:
        typer.echo(f"{v.id}\t{v.model}\t{v.language}\t{v.sample_rate}")
    for lv in library:
        typer.echo(f"{lv.id}\tlibrary\t{lv.language or ''}\t{lv.name}\t{lv.seconds:.1f}s")


@app.command("add")
def add_voice(
    name: Annotated[str, typer.Argument(help="The voice's name.")],
    files: Annotated[list[Path], typer.Argument(help="Reference audio files (any format).")],
    consent: Annotated[str, typer.Option(help="Who consented to having their voice cloned.")],
    transcript: Annotated[str | None, typer.Option(help="What the audio says.")] = None,
    language: Annotated[str | None, typer.Option(help="Language code, e.g. en.")] = None,
    defaults: Annotated[
        str | None, typer.Option(help='Per-engine defaults as JSON: {"xtts": {"temperature": 0.7}}')
    ] = None,
    env_file: EnvFile = None,
    config: ConfigFile = None,
) -> None:
    """Add a library voice from reference audio; prints its id."""
    service = SpeechService(settings_or_exit(config, env_file))
    try:
        parsed = json.loads(defaults) if defaults else None
    except ValueError:
        typer.echo("error (defaults): not JSON", err=True)
        raise typer.Exit(2) from None
    draft = VoiceDraft(
        name=name,
        audio=[f.read_bytes() for f in files],
        language=language,
        transcript=transcript,
        defaults=parsed,
        consent=Consent(by=consent, at=datetime.now(UTC).isoformat(timespec="seconds")),
    )
    try:
        voice = service.library.create(TRUSTED, draft)
    except PolyvoxError as exc:
        raise fail(exc) from exc
    typer.echo(f"{voice.id}\t{voice.name}\t{voice.seconds:.1f}s")


@app.command("rm")
def remove_voice(
    voice: Annotated[str, typer.Argument(help="The voice's id or name.")],
    env_file: EnvFile = None,
    config: ConfigFile = None,
) -> None:
    """Delete a library voice, and what engines built from it (on this machine and on
    remote polyvox servers; a running server's workers drop theirs when the voice is deleted
    through its API instead)."""
    service = SpeechService(settings_or_exit(config, env_file))
    try:
        deleted, orphaned = service.library.delete(TRUSTED, voice)
        if orphaned:
            asyncio.run(service.forget_reference(deleted.digest))
    except PolyvoxError as exc:
        raise fail(exc) from exc
    typer.echo(f"deleted {deleted.id}\t{deleted.name}")
