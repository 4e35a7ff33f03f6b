"""The nested sections of Settings (``POLYVOX_SECTION__FIELD``): storage, references, the
voice library, Wyoming, the seed routes, the RunPod worker, HTTP and per-client limits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, SecretStr

from polyvox.types import ParamValue


def _seed_values(values: dict[str, ParamValue]) -> dict[str, ParamValue]:
    if not isinstance(values.get("language", ""), str):
        raise ValueError("language must be a string")
    speed = values.get("speed", 1.0)
    if isinstance(speed, bool) or not isinstance(speed, int | float):
        raise ValueError("speed must be a number")
    return values


SeedValues = Annotated[dict[str, ParamValue], AfterValidator(_seed_values)]
"""A seed shape's defaults: ``language``, ``speed`` or engine parameters (by their names);
each applies where the model takes it (a language it speaks, a parameter it declares)."""


class StorageSettings(BaseModel):
    """Where generated audio is uploaded (worker ``url`` output, XTTS-shaped jobs)."""

    output_url: str | None = Field(None, description="gs://, s3://, file:// or a local directory.")
    """Base location for uploads: ``gs://bucket/prefix``, ``s3://bucket/prefix`` or a path."""
    url_expiry: Annotated[int, Field(ge=1, le=604_800)] = 86_400
    """Seconds a signed URL stays valid (S3 and GCS allow at most 7 days)."""
    s3_endpoint_url: str | None = None
    """S3-compatible endpoint (MinIO, R2, moto, ...); None means AWS."""
    s3_region: str | None = None
    """S3 region name; None lets botocore decide."""
    s3_access_key_id: SecretStr | None = None
    """S3 access key; None uses the usual AWS_* variables or instance credentials."""
    s3_secret_access_key: SecretStr | None = None
    """S3 secret key; never logged."""
    gcs_credentials_env: Annotated[str, Field(min_length=1)] = "GCS_CREDENTIALS"
    """Environment variable holding a service-account JSON; unset means default credentials."""
    gcs_project: str | None = None
    """GCP project for gcsfs; None takes it from the credentials."""
    gcs_endpoint_url: str | None = None
    """GCS-compatible endpoint (an emulator such as fake-gcs-server); None means Google."""


class ReferenceSettings(BaseModel):
    """Fetching and caching reference audio for voice-cloning engines."""

    cache_dir: Path = Path("/tmp/polyvox/references")  # noqa: S108
    """Directory of cached reference files, named by the SHA-256 of their content."""
    cache_max_bytes: Annotated[int, Field(ge=1_000_000)] = 5_000_000_000
    """Cache size cap; least recently used files are evicted past it."""
    max_bytes: Annotated[int, Field(ge=1_000, le=1_000_000_000)] = 50_000_000
    """Largest reference file accepted (download or base64)."""
    max_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0
    """Longest reference audio accepted, in seconds."""
    schemes: list[str] = ["https", "gs", "s3"]
    """URL schemes a reference may be fetched from (add ``http`` for plain HTTP)."""
    allow_private_addresses: bool = False
    """Allow fetching from loopback, private and link-local addresses (off: SSRF guard)."""
    timeout: Annotated[float, Field(gt=0, le=600)] = 30.0
    """Seconds allowed for one reference download."""
    object_prefixes: list[str] = []
    """``gs://`` / ``s3://`` locations references may be read from (``["s3://bucket/refs/"]``);
    empty: any object the server's credentials can read. The voice library's own storage
    is never read as a reference."""


class VoiceLibrarySettings(BaseModel):
    """The voice library (``/v1/audio/voices``): cloned voices kept by name, with consent."""

    url: str = "~/.local/share/polyvox/voices"
    """Where voices live: a directory, ``s3://bucket/prefix`` or ``gs://bucket/prefix``
    (credentials as for ``storage``). Replicas that share it share one library."""
    min_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    """Shortest reference accepted, in seconds of speech."""
    max_seconds: Annotated[float, Field(gt=0, le=600)] = 30.0
    """References are clipped to this many seconds (the longest span cloning engines read)."""
    max_input_seconds: Annotated[float, Field(gt=0, le=3600)] = 300.0
    """Seconds of each uploaded file that are read at most."""
    max_files: Annotated[int, Field(ge=1, le=64)] = 8
    """Reference files one voice is made of, at most."""
    loudness_dbfs: Annotated[float, Field(ge=-40, le=-6)] = -20.0
    """Loudness references are normalised to (RMS of the speech, dBFS; peaks stay under -1)."""
    cache_seconds: Annotated[float, Field(ge=0, le=3600)] = 5.0
    """A speech request that names a library voice uses a listing of the library up to this
    old (no LIST of the store per request); this server's own changes show at once, other
    replicas' within this. 0: list for every request."""
    orphan_grace_seconds: Annotated[float, Field(ge=60, le=30 * 86_400)] = 3600.0
    """Audio no voice uses (a crash came between a delete and its audio's removal) is swept
    when the server starts and after each delete, once it is this many seconds old: a
    create that stored its audio and has not yet written its record is never swept."""


class WyomingSettings(BaseModel):
    """The Wyoming protocol server (Home Assistant), beside the HTTP server.

    Wyoming has no credentials, so its bounds are per peer address and per connection."""

    uri: Annotated[str | None, Field(pattern=r"^(tcp://[^/]+:\d+|unix://.+)$")] = None
    """``tcp://HOST:PORT`` (or ``unix://PATH``) to serve Wyoming on; None: off."""
    zeroconf: bool = False
    """Announce the server over mDNS as the wyoming-* servers do (needs ``zeroconf``)."""
    zeroconf_name: str | None = None
    """The announced name (default: this machine's MAC address, as wyoming-* servers use)."""
    max_connections: Annotated[int, Field(ge=1, le=100_000)] = 64
    """Wyoming connections open at once; one past it gets an ``error`` event and is closed.
    Counted beside ``http.max_connections`` against the open-file limit."""
    max_connections_per_peer: Annotated[int, Field(ge=1, le=100_000)] = 16
    """Connections one peer address may hold open at once."""
    idle_timeout: Annotated[float, Field(gt=0, le=86_400)] = 60.0
    """Seconds a connection with no request running may wait for its next event (or for
    the rest of one it began) before it is closed."""
    max_event_bytes: Annotated[int, Field(ge=1024, le=2**30)] = 1024 * 1024
    """Largest event header line, data and payload, each, in bytes; checked at the header
    before anything is read (Home Assistant's audio chunks are a few KB)."""


class CompatSettings(BaseModel):
    """Models behind the routes of the services polyvox replaces."""

    qwen_model: Annotated[str, Field(min_length=1)] = "piper"
    """Model answering the Qwen-TTS routes ``/tts`` and ``/stream-tts``."""
    qwen_voice: str | None = None
    """Voice for the Qwen-TTS routes; None is the model's default voice."""
    proxy_model: Annotated[str, Field(min_length=1)] = "piper"
    """Model answering the lean proxy's ``/synthesize`` when the body names none."""
    qwen_defaults: SeedValues = {"temperature": 0.7}
    """The Qwen-TTS service's defaults for ``/tts`` and ``/stream-tts`` bodies, where the
    model takes them (a Qwen3 model does; Piper has no temperature and keeps its own)."""
    qwen_stream_defaults: SeedValues = {"max_length": 1000}
    """More defaults for ``/stream-tts`` alone (its ``max_length``: codec frames per call)."""


class WorkerSettings(BaseModel):
    """The RunPod serverless worker."""

    streaming: bool = False
    """Use the generator handler: audio chunks come back as stream partials."""
    concurrency: Annotated[int, Field(ge=1, le=64)] = 1
    """Jobs one worker runs at once (RunPod concurrency modifier)."""
    chatterbox_models: dict[str, str] = {"english": "piper", "multilingual": "piper"}
    """Chatterbox-shaped jobs: ``model_type`` -> model id."""
    xtts_model: Annotated[str, Field(min_length=1)] = "piper"
    """Model answering XTTS-shaped jobs (``gen_text``)."""
    xtts_defaults: SeedValues = {
        "language": "pt",
        "temperature": 0.7,
        "speed": 1.0,
        "top_k": 50,
        "top_p": 0.85,
    }
    """The XTTS worker's defaults for XTTS-shaped jobs: each applies where the model takes
    it (speaks the language, declares the parameter), else the model's own stays; the job's
    ``parameters`` echo lists them either way."""
    upload_prefix: str = "generated"
    """Folder under ``storage.output_url`` that uploaded audio goes to."""


class HttpSettings(BaseModel):
    """HTTP connections: read deadlines, keep-alive and a bound on open connections."""

    header_timeout: Annotated[float, Field(gt=0, le=3600)] = 10.0
    """Seconds a client has to send a request's headers, counted from connecting (or from
    the first byte of a later request on a kept-alive connection); past it: 408 and close."""
    body_timeout: Annotated[float, Field(gt=0, le=86_400)] = 60.0
    """Seconds a client has to send a whole request body once its headers are in; past it:
    408 and close. 60 s passes a 25 MiB upload at about 3.5 Mbit/s; raise it for slower
    clients with large files."""
    keepalive_timeout: Annotated[float, Field(gt=0, le=3600)] = 5.0
    """Idle seconds a kept-alive connection may wait for its next request before it closes."""
    max_connections: Annotated[int, Field(ge=1, le=1_000_000)] = 256
    """Open connections held at once; a connection past it gets 503 with Retry-After and is
    closed at once. Keep it well below the open-file limit (``ulimit -n``)."""


class LimitSettings(BaseModel):
    """What one client (an API key; a Wyoming peer address) may hold of the server, so that
    no client can take every slot, queue place or thread of a model."""

    client_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    """Share of a model's places (slots plus queue) one client may hold at once, streams
    waiting for text included (at least one place); past it the client gets 429. 1 turns
    the per-client bound off. Without API keys HTTP clients are one client: no bound."""
    stream_idle_timeout: Annotated[float, Field(gt=0, le=3600)] = 30.0
    """Seconds a streamed text (the WebSocket, Wyoming's ``synthesize-start``) may go
    without its next message before it ends with 408. While it waits, a stream holds its
    client's place but not the model's."""
    io_threads: Annotated[int, Field(ge=2, le=1024)] = 16
    """Threads for reference fetches, the voice library's store and object storage (model
    calls and audio encoding have pools of their own)."""
    io_per_client: Annotated[int, Field(ge=1, le=1024)] = 4
    """Of those, how many one client may use at once; its other steps wait their turn."""
