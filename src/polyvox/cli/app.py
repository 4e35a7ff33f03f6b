"""Typer commands; each parses its options, calls SpeechService (or uvicorn) and prints."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from pydantic import ValidationError

from polyvox import codecs
from polyvox.cli.engines import app as engines_app
from polyvox.cli.options import ConfigFile, EnvFile, fail, settings_or_exit
from polyvox.cli.voices import app as voices_app
from polyvox.errors import PolyvoxError
from polyvox.jobs import SpeechJob
from polyvox.service import SpeechService
from polyvox.settings import Settings, WyomingSettings
from polyvox.types import SpeechParams, TranscriptionParams

app = typer.Typer(
    name="polyvox",
    help="One self-hosted speech server for many open voice models.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(engines_app, name="engines")
app.add_typer(voices_app, name="voices")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: 8000]")] = None,
    log_level: Annotated[str | None, typer.Option(help="debug, info, warning, error")] = None,
    wyoming: Annotated[
        str | None, typer.Option(help="Also serve Wyoming (Home Assistant) on tcp://HOST:PORT.")
    ] = None,
    env_file: EnvFile = None,
    config: ConfigFile = None,
) -> None:
    """Run the HTTP server (OpenAI-compatible API), and Wyoming when asked."""
    import uvicorn

    from polyvox.api import create_app
    from polyvox.api.server import uvicorn_config
    from polyvox.logs import logging_config
    from polyvox.supervisor import supervised
    from polyvox.wyoming.server import serving as serving_wyoming

    settings = settings_or_exit(config, env_file, host=host, port=port, log_level=log_level)
    if wyoming is not None:
        try:
            where = WyomingSettings.model_validate(
                {**settings.wyoming.model_dump(), "uri": wyoming}
            )
        except ValidationError:
            typer.echo("error (--wyoming): use tcp://HOST:PORT or unix://PATH", err=True)
            raise typer.Exit(2) from None
        settings = settings.model_copy(update={"wyoming": where})
    # a supervised worker never blocks on its log (its server reads it through a pipe)
    log_config = logging_config(settings.log_level, settings.log_format, background=supervised())
    beside = [serving_wyoming] if settings.wyoming.uri else []
    server_config = uvicorn_config(
        create_app(settings, beside=beside),
        settings,
        log_config=log_config,
        log_level=settings.log_level,
        timeout_graceful_shutdown=settings.shutdown_grace,
    )
    server = uvicorn.Server(server_config)
    with contextlib.suppress(KeyboardInterrupt):  # as uvicorn.run: Ctrl+C is a clean exit
        server.run()
    if not server.started:
        raise typer.Exit(3)  # uvicorn.run's status for a server that never started


def _format_for(output: str, fmt: str | None) -> str:
    if fmt:
        return fmt
    suffix = Path(output).suffix.lstrip(".").lower()
    return {"ogg": "opus", "m4a": "aac", "raw": "pcm"}.get(suffix, suffix) if suffix else "wav"


async def _speak(settings: Settings, params: SpeechParams, output: str) -> None:
    async with SpeechService(settings) as service:
        await _write(await service.prepare(params), params, output)  # fails before the file


async def _write(job: SpeechJob, params: SpeechParams, output: str) -> None:
    with contextlib.ExitStack() as stack:
        out: BinaryIO = (
            # the CLI runs one job; a blocking open of the output file delays nothing
            sys.stdout.buffer if output == "-" else stack.enter_context(open(output, "wb"))  # noqa: ASYNC230
        )
        written = 0
        async for data in job.stream():
            out.write(data)
            out.flush()
            written += len(data)
        if params.response_format == "wav" and output != "-":
            out.seek(0)  # a file can carry the real sizes, unlike a stream
            out.write(codecs.wav_header(job.out_rate, written - 44))


@app.command()
def speak(
    text: Annotated[str, typer.Argument(help="Text to speak, or - to read standard input.")],
    output: Annotated[str, typer.Option("-o", "--output", help="File to write, or -.")] = "-",
    model: Annotated[str | None, typer.Option(help="Model id or alias.")] = None,
    voice: Annotated[str | None, typer.Option(help="Voice id or OpenAI voice name.")] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="mp3, opus, aac, flac, wav or pcm.")
    ] = None,
    speed: Annotated[float | None, typer.Option(min=0.25, max=4.0)] = None,
    sample_rate: Annotated[int | None, typer.Option(help="Output sample rate.")] = None,
    env_file: EnvFile = None,
    config: ConfigFile = None,
) -> None:
    """Synthesise speech to a file or standard output, without a server."""
    settings = settings_or_exit(config, env_file, preload=[])
    if text == "-":
        text = sys.stdin.read()
    params = SpeechParams(
        model=model or settings.default_tts_model,
        input=text,
        voice=voice,
        response_format=_format_for(output, fmt),
        speed=speed,
        sample_rate=sample_rate,
    )
    try:
        asyncio.run(_speak(settings, params, output))
    except PolyvoxError as exc:
        raise fail(exc) from exc


async def _transcribe(settings: Settings, params: TranscriptionParams) -> str:
    async with SpeechService(settings) as service:
        body = await (await service.transcribe(params)).render()
    if isinstance(body, dict):
        return json.dumps(body, ensure_ascii=False, indent=2) + "\n"
    return body


@app.command()
def transcribe(
    file: Annotated[
        str, typer.Argument(help="Audio file (any format PyAV reads), or - for stdin.")
    ],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="text, json, srt, vtt or verbose_json.")
    ] = "text",
    language: Annotated[str | None, typer.Option(help="Language of the speech, e.g. en.")] = None,
    model: Annotated[str | None, typer.Option(help="Model id or alias.")] = None,
    prompt: Annotated[str | None, typer.Option(help="Text to guide style or spelling.")] = None,
    words: Annotated[bool, typer.Option("--words", help="Word timestamps (verbose_json).")] = False,
    translate: Annotated[bool, typer.Option(help="Translate the speech into English.")] = False,
    output: Annotated[str, typer.Option("-o", "--output", help="File to write, or -.")] = "-",
    env_file: EnvFile = None,
    config: ConfigFile = None,
) -> None:
    """Transcribe speech to text, subtitles or JSON, without a server."""
    settings = settings_or_exit(config, env_file, preload=[])
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {file}: {exc.strerror}", param_hint="FILE") from exc
    params = TranscriptionParams(
        model=model or settings.default_stt_model,
        file=data,
        language=language,
        prompt=prompt,
        response_format=fmt,
        timestamp_granularities=("segment", "word") if words else (),
        task="translate" if translate else "transcribe",
    )
    try:
        result = asyncio.run(_transcribe(settings, params))
    except PolyvoxError as exc:
        raise fail(exc) from exc
    if output == "-":
        sys.stdout.write(result)
    else:
        Path(output).write_text(result, encoding="utf-8")


@app.command("models")
def list_models(env_file: EnvFile = None, config: ConfigFile = None) -> None:
    """List the models this configuration serves."""
    service = SpeechService(settings_or_exit(config, env_file))
    for info in service.catalogue.models():
        typer.echo(f"{info.model}\t{info.kind}\t{','.join(info.languages)}\t{info.description}")
