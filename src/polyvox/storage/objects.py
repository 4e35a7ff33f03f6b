"""ObjectStore: read, upload and sign objects on gs://, s3:// or local paths through fsspec."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fsspec.asyn import sync
from fsspec.exceptions import FSTimeoutError

from polyvox.errors import StorageFailure, StorageUnavailable
from polyvox.logs import redact_url, with_request_id
from polyvox.settings import StorageSettings

log = logging.getLogger(__name__)
redact = redact_url
"""A URL as logs and messages may show it (no user info, no query)."""
REMOTE_SCHEMES = ("gs", "gcs", "s3")


@dataclass(frozen=True)
class StoredObject:
    """An uploaded object: where it lives and a URL a client can download it from."""

    url: str
    signed_url: str
    size: int


def is_local(url: str) -> bool:
    """True for a plain path or a file:// URL."""
    return urlsplit(url).scheme in ("", "file")


def _local_path(url: str) -> str:
    return urlsplit(url).path if url.startswith("file://") else url


class ObjectStore:
    """Filesystems for storage URLs, built from settings; credentials never leave here."""

    def __init__(self, settings: StorageSettings) -> None:
        self.settings = settings

    # -- filesystems -------------------------------------------------------------------
    def filesystem(self, url: str) -> tuple[Any, str]:
        """The fsspec filesystem for ``url`` and the path inside it."""
        scheme = urlsplit(url).scheme
        try:
            if scheme in ("", "file"):
                from fsspec.implementations.local import LocalFileSystem

                return LocalFileSystem(auto_mkdir=True), _local_path(url)
            if scheme == "s3":
                return self._s3(), url.split("://", 1)[1]
            if scheme in ("gs", "gcs"):
                return self._gcs(), url.split("://", 1)[1]
        except ImportError as exc:
            raise StorageUnavailable(
                f"{scheme}:// storage needs libraries that are not installed ({exc.name}): "
                "pip install 'polyvox[storage]'"
            ) from exc
        raise StorageUnavailable(
            f"unsupported storage scheme {scheme!r}; use gs://, s3:// or a path"
        )

    def _s3(self) -> Any:
        import s3fs

        s = self.settings
        client_kwargs = {"region_name": s.s3_region} if s.s3_region else {}
        return s3fs.S3FileSystem(
            key=s.s3_access_key_id.get_secret_value() if s.s3_access_key_id else None,
            secret=s.s3_secret_access_key.get_secret_value() if s.s3_secret_access_key else None,
            endpoint_url=s.s3_endpoint_url,
            client_kwargs=client_kwargs,
            # SigV4: accepted by every region and S3-compatible server; expiry up to 7 days
            config_kwargs={"signature_version": "s3v4"},
        )

    def _gcs(self) -> Any:
        # gcsfs.core's filesystem, not the package default (ExtendedGcsFileSystem): that one
        # asks the gRPC storage-control API for each bucket's layout first, which needs
        # another permission and, where it is unreachable, waits a minute per bucket
        from gcsfs.core import GCSFileSystem

        token = gcs_token(self.settings.gcs_credentials_env)
        project = self.settings.gcs_project
        if project is None and isinstance(token, dict):
            project = token.get("project_id")
        return GCSFileSystem(
            project=project, token=token, endpoint_url=self.settings.gcs_endpoint_url
        )

    # -- operations --------------------------------------------------------------------
    def read(self, url: str, max_bytes: int, timeout: float | None = None) -> bytes:
        """At most ``max_bytes + 1`` bytes of an object (so callers can tell it is too big),
        within ``timeout`` seconds on an object store (the request is cancelled past it)."""
        fs, path = self.filesystem(url)
        try:
            if timeout is not None and getattr(fs, "async_impl", False):
                found: bytes = sync(
                    fs.loop, fs._cat_file, path, start=0, end=max_bytes + 1, timeout=timeout
                )
                return found
            with fs.open(path, "rb") as f:
                data: bytes = f.read(max_bytes + 1)
                return data
        except FileNotFoundError:
            raise StorageFailure(f"{redact(url)} does not exist") from None
        except FSTimeoutError:
            raise StorageFailure(f"reading {redact(url)} took longer than {timeout}s") from None
        except Exception as exc:
            raise StorageFailure(f"reading {redact(url)} failed: {type(exc).__name__}") from exc

    def upload(self, data: bytes, name: str, content_type: str) -> StoredObject:
        """Write ``data`` under ``storage.output_url`` and return it with a signed URL."""
        base = self.settings.output_url
        if not base:
            raise StorageUnavailable(
                "no upload location: set POLYVOX_STORAGE__OUTPUT_URL to gs://, s3:// or a path"
            )
        url = f"{base.rstrip('/')}/{name.lstrip('/')}"
        fs, path = self.filesystem(url)
        try:
            fs.pipe_file(path, data, **_content_type_kwargs(url, content_type))
        except Exception as exc:
            log.warning("upload to %s failed: %s", redact(url), type(exc).__name__)
            message = with_request_id(f"uploading to {redact(url)} failed")
            raise StorageFailure(message) from exc
        return StoredObject(url=url, signed_url=self.sign(url), size=len(data))

    def sign(self, url: str) -> str:
        """A URL that downloads ``url`` for ``storage.url_expiry`` seconds (file:// if local)."""
        if is_local(url):
            return Path(_local_path(url)).resolve().as_uri()
        fs, path = self.filesystem(url)
        try:
            kwargs = gcs_signing(fs.credentials.credentials) if _is_gcs(url) else {}
            signed: str = fs.sign(path, expiration=self.settings.url_expiry, **kwargs)
        except Exception as exc:
            log.warning("signing a URL for %s failed: %s", redact(url), type(exc).__name__)
            message = with_request_id(f"signing a URL for {redact(url)} failed")
            raise StorageFailure(message) from exc
        return signed


def gcs_token(variable: str) -> Any:
    """gcsfs ``token`` from the variable: service-account JSON, a path to one, or None.

    None means Google's default credentials (metadata server, workload identity, gcloud).
    """
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return None
    if not raw.startswith("{"):
        if Path(raw).is_file():
            return raw
        raise StorageUnavailable(f"{variable} is neither service-account JSON nor a file")
    try:
        return json.loads(raw)
    except ValueError:
        # never echo the variable's content: it is a private key
        raise StorageUnavailable(f"{variable} is set but is not valid JSON") from None


def gcs_signing(credentials: Any) -> dict[str, Any]:
    """Arguments for a V4 signed URL with these credentials.

    A service-account key signs locally. Credentials without a key (the metadata server's,
    workload identity) sign through the IAM signBlob API with their access token; the
    service account then needs roles/iam.serviceAccountTokenCreator on itself.
    """
    from google.auth.credentials import Signing

    if credentials is None:
        raise StorageUnavailable(
            "no Google credentials to sign with: set GCS_CREDENTIALS to a service-account "
            "JSON or run with default credentials"
        )
    if isinstance(credentials, Signing):
        return {"version": "v4"}
    if not credentials.valid:
        from google.auth.transport.requests import Request

        credentials.refresh(Request())
    return {
        "version": "v4",
        "service_account_email": credentials.service_account_email,
        "access_token": credentials.token,
    }


def _is_gcs(url: str) -> bool:
    return urlsplit(url).scheme in ("gs", "gcs")


def _content_type_kwargs(url: str, content_type: str) -> dict[str, str]:
    if urlsplit(url).scheme == "s3":
        return {"ContentType": content_type}
    if _is_gcs(url):
        return {"content_type": content_type}
    return {}
