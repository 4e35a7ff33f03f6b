"""Reference audio for cloning engines: fetched once, checked, cached on disk by content hash."""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from urllib.parse import urlsplit

from polyvox import decoding
from polyvox.errors import InvalidRequest, PolyvoxError, ReferenceNotFound, RequestTooLarge
from polyvox.settings import ReferenceSettings
from polyvox.storage import ObjectStore
from polyvox.types import ReferenceAudio
from polyvox.voices.fetch import HttpFetcher

log = logging.getLogger(__name__)
_KNOWN_URLS = 4096
HASH_PREFIX = "sha256:"
"""A reference named by the SHA-256 of its bytes, already in this server's cache."""
_DIGEST = re.compile(r"[0-9a-f]{64}")


def decode_base64(value: str, param: str) -> bytes:
    """Base64 (optionally a ``data:`` URI) -> bytes; a 422 naming ``param`` when invalid."""
    payload = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{param} is not valid base64", param=param) from None


def parse_reference(value: str, param: str = "reference_audio") -> ReferenceAudio:
    """A reference as clients send it: a URL, ``sha256:<hex>`` (already sent once) or base64."""
    if "://" in value or value.startswith(HASH_PREFIX):
        return ReferenceAudio(value, param=param)
    return ReferenceAudio(decode_base64(value, param), param=param)


class ReferenceStore:
    """Resolves a ReferenceAudio to a cached file named by the SHA-256 of its bytes."""

    def __init__(
        self, settings: ReferenceSettings, objects: ObjectStore, refused: tuple[str, ...] = ()
    ) -> None:
        self.settings = settings
        self._objects = objects
        self._refused = tuple(p.rstrip("/") + "/" for p in refused)
        """Object-store locations never read as references (the voice library's)."""
        self._urls: OrderedDict[str, str] = OrderedDict()  # source URL -> content hash
        self._lock = threading.Lock()
        self._http = HttpFetcher(settings)

    def resolve(self, ref: ReferenceAudio) -> Path:
        """The cached file for ``ref``, fetching and checking it first if needed (blocking)."""
        if isinstance(ref.source, bytes):
            return self.put(ref.source, param=ref.param)
        if ref.source.startswith(HASH_PREFIX):
            return self._named(ref.source.removeprefix(HASH_PREFIX), ref.param)
        with self._lock:
            known = self._urls.get(ref.source)
            if known is not None:
                self._urls.move_to_end(ref.source)
        if known is not None and (path := self.find(known)) is not None:
            return path
        data = self.fetch(ref.source, param=ref.param)
        path = self.put(data, param=ref.param)
        with self._lock:  # the most recent URLs only: a long-lived worker sees many
            self._urls[ref.source] = path.name
            self._urls.move_to_end(ref.source)
            while len(self._urls) > _KNOWN_URLS:
                self._urls.popitem(last=False)
        return path

    def _named(self, digest: str, param: str) -> Path:
        if not _DIGEST.fullmatch(digest):
            raise InvalidRequest(
                f"{param}: {HASH_PREFIX} needs 64 lowercase hex digits", param=param
            )
        path = self.find(digest)
        if path is None:
            raise ReferenceNotFound(
                f"{param}: no reference audio with hash {digest[:12]}... is cached here; "
                "send the audio itself",
                param=param,
            )
        return path

    # -- cache -------------------------------------------------------------------------
    def find(self, digest: str) -> Path | None:
        """The cached file for a content hash (marked as just used), or None."""
        path = self.settings.cache_dir / digest
        try:
            os.utime(path)
        except FileNotFoundError:
            return None
        return path

    def put(self, data: bytes, *, param: str = "reference_audio") -> Path:
        """Check ``data`` is usable reference audio, store it under its hash, evict past the cap."""
        self.check(data, param=param)
        digest = hashlib.sha256(data).hexdigest()
        if (found := self.find(digest)) is not None:
            return found
        directory = self.settings.cache_dir
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".part-", delete=False) as tmp:
            tmp.write(data)
        path = directory / digest
        os.replace(tmp.name, path)
        self.evict(keep=path)
        return path

    def evict(self, keep: Path | None = None) -> list[Path]:
        """Delete least recently used files until the cache fits ``cache_max_bytes``."""
        with self._lock:
            files = [p for p in self.settings.cache_dir.iterdir() if not p.name.startswith(".")]
            stats = {p: p.stat() for p in files}
            total = sum(s.st_size for s in stats.values())
            removed: list[Path] = []
            for path in sorted(files, key=lambda p: stats[p].st_mtime_ns):
                if total <= self.settings.cache_max_bytes:
                    break
                if path == keep:
                    continue
                path.unlink(missing_ok=True)
                total -= stats[path].st_size
                removed.append(path)
        if removed:
            log.info("reference cache: evicted %d file(s)", len(removed))
        return removed

    def check(self, data: bytes, *, param: str) -> None:
        """Size and duration limits; the audio must decode. It is decoded a frame at a time,
        nothing kept, and only until it passes ``max_seconds`` (a small file can hold hours)."""
        limit = self.settings.max_bytes
        if len(data) > limit:
            raise RequestTooLarge(f"{param}: reference audio is over {limit} bytes", param=param)
        max_seconds = self.settings.max_seconds
        try:
            seconds = decoding.measure(data, max_seconds=max_seconds, param=param)
        except RequestTooLarge:
            raise InvalidRequest(
                f"{param}: reference audio is longer than allowed; the limit is {max_seconds:g}s",
                param=param,
            ) from None
        except PolyvoxError as exc:
            exc.param = param
            exc.message = f"{param}: {exc.message}"
            raise
        if seconds == 0:
            raise InvalidRequest(f"{param}: reference audio is empty", param=param)

    # -- fetching ----------------------------------------------------------------------
    def _check_object(self, url: str, param: str) -> None:
        """An object-store reference must be under an allowed prefix, and not the library's
        (the server's credentials read it: a client must not reach other tenants' audio)."""
        allowed = self.settings.object_prefixes
        if any(url.startswith(p) for p in self._refused) or (
            allowed and not any(url.startswith(p) for p in allowed)
        ):
            raise InvalidRequest(
                f"{param}: references are not read from that location", param=param
            )

    def fetch(self, url: str, *, param: str) -> bytes:
        """Download a reference from an allowed scheme, within the size limit."""
        scheme = urlsplit(url).scheme.lower()
        if scheme not in self.settings.schemes:
            allowed = ", ".join(f"{s}://" for s in self.settings.schemes)
            raise InvalidRequest(f"{param}: scheme must be one of {allowed}", param=param)
        if scheme in ("http", "https"):
            if "@" in urlsplit(url).netloc:
                raise InvalidRequest(
                    f"{param}: user names and passwords in URLs are not accepted", param=param
                )
            data = self._http.fetch(url, param=param)
        else:
            self._check_object(url, param)
            try:
                data = self._objects.read(url, self.settings.max_bytes, self.settings.timeout)
            except PolyvoxError as exc:
                raise InvalidRequest(f"{param}: {exc.message}", param=param) from exc
        if len(data) > self.settings.max_bytes:
            raise RequestTooLarge(
                f"{param}: reference audio is over {self.settings.max_bytes} bytes", param=param
            )
        return data
