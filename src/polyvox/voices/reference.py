"""Reference audio for cloning engines: fetched once, checked, cached on disk by content hash."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import socket
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from polyvox import codecs
from polyvox.errors import InvalidRequest, PolyvoxError, RequestTooLarge
from polyvox.settings import ReferenceSettings
from polyvox.storage import ObjectStore, redact
from polyvox.types import ReferenceAudio

log = logging.getLogger(__name__)
_MAX_REDIRECTS = 3
_READ_SIZE = 1 << 16


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address (not loopback/private/link-local/...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_host(host: str, port: int, *, param: str) -> None:
    """Refuse a host that resolves to any non-public address (SSRF guard)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidRequest(f"{param}: cannot resolve host {host!r}", param=param) from exc
    for *_, sockaddr in infos:
        if not is_public_address(str(sockaddr[0])):
            raise InvalidRequest(
                f"{param}: host {host!r} resolves to a loopback, private or link-local address "
                f"({sockaddr[0]}); set POLYVOX_REFERENCE__ALLOW_PRIVATE_ADDRESSES to allow it",
                param=param,
            )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects are followed by hand, so each hop passes the SSRF guard."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class ReferenceStore:
    """Resolves a ReferenceAudio to a cached file named by the SHA-256 of its bytes."""

    def __init__(self, settings: ReferenceSettings, objects: ObjectStore) -> None:
        self.settings = settings
        self._objects = objects
        self._urls: dict[str, str] = {}  # source URL -> content hash, for this process
        self._lock = threading.Lock()
        self._opener = urllib.request.build_opener(_NoRedirects)

    def resolve(self, ref: ReferenceAudio) -> Path:
        """The cached file for ``ref``, fetching and checking it first if needed (blocking)."""
        if isinstance(ref.source, bytes):
            return self.put(ref.source, param=ref.param)
        known = self._urls.get(ref.source)
        if known is not None and (path := self.find(known)) is not None:
            return path
        data = self.fetch(ref.source, param=ref.param)
        path = self.put(data, param=ref.param)
        self._urls[ref.source] = path.name
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
        """Size and duration limits; the audio must decode."""
        limit = self.settings.max_bytes
        if len(data) > limit:
            raise RequestTooLarge(f"{param}: reference audio is over {limit} bytes", param=param)
        try:
            samples, rate = codecs.decode(data)
        except PolyvoxError as exc:
            exc.param = param
            exc.message = f"{param}: {exc.message}"
            raise
        seconds = len(samples) / rate
        if seconds > self.settings.max_seconds:
            raise InvalidRequest(
                f"{param}: reference audio is {seconds:.1f}s; the limit is "
                f"{self.settings.max_seconds:g}s",
                param=param,
            )
        if seconds == 0:
            raise InvalidRequest(f"{param}: reference audio is empty", param=param)

    # -- fetching ----------------------------------------------------------------------
    def fetch(self, url: str, *, param: str) -> bytes:
        """Download a reference from an allowed scheme, within the size limit."""
        scheme = urlsplit(url).scheme.lower()
        if scheme not in self.settings.schemes:
            allowed = ", ".join(f"{s}://" for s in self.settings.schemes)
            raise InvalidRequest(f"{param}: scheme must be one of {allowed}", param=param)
        if scheme in ("http", "https"):
            data = self._fetch_http(url, param=param)
        else:
            try:
                data = self._objects.read(url, self.settings.max_bytes)
            except PolyvoxError as exc:
                raise InvalidRequest(f"{param}: {exc.message}", param=param) from exc
        if len(data) > self.settings.max_bytes:
            raise RequestTooLarge(
                f"{param}: reference audio is over {self.settings.max_bytes} bytes", param=param
            )
        return data

    def _fetch_http(self, url: str, *, param: str) -> bytes:
        for _ in range(_MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or parts.scheme not in self.settings.schemes:
                raise InvalidRequest(f"{param}: redirected to a disallowed scheme", param=param)
            if not self.settings.allow_private_addresses:
                default_port = 443 if parts.scheme == "https" else 80
                check_host(parts.hostname or "", parts.port or default_port, param=param)
            try:
                return self._download(url, param=param)
            except urllib.error.HTTPError as exc:
                location = exc.headers.get("Location") if 300 <= exc.code < 400 else None
                if not location:
                    raise InvalidRequest(
                        f"{param}: fetching {redact(url)} failed: HTTP {exc.code}", param=param
                    ) from None
                url = urljoin(url, location)
            except (urllib.error.URLError, OSError) as exc:
                raise InvalidRequest(
                    f"{param}: fetching {redact(url)} failed: {exc}", param=param
                ) from None
        raise InvalidRequest(f"{param}: too many redirects", param=param)

    def _download(self, url: str, *, param: str) -> bytes:
        limit = self.settings.max_bytes
        # the scheme is checked against settings.reference.schemes by the caller
        with self._opener.open(url, timeout=self.settings.timeout) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > limit:
                raise RequestTooLarge(
                    f"{param}: reference audio is over {limit} bytes", param=param
                )
            parts: list[bytes] = []
            size = 0
            while size <= limit and (block := response.read(_READ_SIZE)):
                parts.append(block)
                size += len(block)
        return b"".join(parts)
