"""HTTP(S) download of reference audio behind an SSRF guard that connects only where it checked.

The guard resolves a host once, refuses it if any address is loopback, private, link-local
or otherwise not public, and then connects to exactly those addresses. Checking a name and
letting the HTTP client resolve it again would let a DNS server answer "public" to the
check and "169.254.169.254" to the connection (DNS rebinding).
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

from polyvox.errors import InvalidRequest, RequestTooLarge
from polyvox.settings import ReferenceSettings
from polyvox.storage import redact

log = logging.getLogger(__name__)
_MAX_REDIRECTS = 3
_READ_SIZE = 1 << 16
Address = tuple[str, int]
Guard = Callable[[str, int], list[Address]]


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address (not loopback/private/link-local/...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def public_addresses(host: str, port: int, *, param: str) -> list[Address]:
    """Resolve ``host`` once; every address must be public (SSRF guard) or it is a 422."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidRequest(f"{param}: cannot resolve the host", param=param) from exc
    addresses: list[Address] = []
    for *_, sockaddr in infos:
        ip = str(sockaddr[0])
        if not is_public_address(ip):
            # neither the address nor the URL's user info goes back: that would map the
            # internal network for whoever probes it
            log.info("reference fetch refused: %s resolves to %s", host, ip)
            raise InvalidRequest(f"{param}: refused: not a public address", param=param)
        addresses.append((ip, int(sockaddr[1])))
    return addresses


def _connect(addresses: list[Address], timeout: Any, source: Any) -> socket.socket:
    """Connect to the first checked address that answers (numeric: no second lookup)."""
    error: OSError = OSError("no address to connect to")
    for address in addresses:
        try:
            return socket.create_connection(address, timeout, source)
        except OSError as exc:
            error = exc
    raise error


def _guarded(base: type[http.client.HTTPConnection], guard: Guard) -> Callable[..., Any]:
    """``base`` connections that connect only to the addresses ``guard`` checked."""

    def connection(host: str, /, **kwargs: Any) -> http.client.HTTPConnection:
        conn = base(host, **kwargs)
        # http.client opens its socket through this attribute; HTTPS then wraps it with
        # server_hostname=host, so certificates are still checked against the name
        conn._create_connection = lambda address, timeout, source=None: _connect(  # type: ignore[attr-defined]
            guard(*address), timeout, source
        )
        return conn

    return connection


class _GuardedHandler(urllib.request.HTTPHandler, urllib.request.HTTPSHandler):
    def __init__(self, guard: Guard) -> None:
        urllib.request.HTTPHandler.__init__(self)
        self._http = _guarded(http.client.HTTPConnection, guard)
        self._https = _guarded(http.client.HTTPSConnection, guard)
        self._tls = ssl.create_default_context()

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._http, req)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._https, req, context=self._tls)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects are followed by hand, so each hop's scheme is checked too."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class HttpFetcher:
    """Downloads one reference over HTTP(S) within the size and time limits."""

    def __init__(self, settings: ReferenceSettings) -> None:
        self.settings = settings

    def fetch(self, url: str, *, param: str) -> bytes:
        """The body at ``url`` (at most ``max_bytes + 1`` bytes), following redirects."""
        deadline = time.monotonic() + self.settings.timeout
        opener = self._opener(param)
        for _ in range(_MAX_REDIRECTS + 1):
            scheme = urlsplit(url).scheme
            if scheme not in ("http", "https") or scheme not in self.settings.schemes:
                raise InvalidRequest(f"{param}: redirected to a disallowed scheme", param=param)
            try:
                return self._download(opener, url, deadline, param=param)
            except urllib.error.HTTPError as exc:
                exc.close()  # the error is the response: give its connection back
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
            except ValueError:  # http.client.InvalidURL: a port that is not a number, ...
                raise InvalidRequest(f"{param}: not a valid URL", param=param) from None
        raise InvalidRequest(f"{param}: too many redirects", param=param)

    def _opener(self, param: str) -> urllib.request.OpenerDirector:
        # no proxies from the environment: the guard must see the address it connects to
        handlers: list[urllib.request.BaseHandler] = [
            urllib.request.ProxyHandler({}),
            _NoRedirects(),
        ]
        if not self.settings.allow_private_addresses:
            handlers.append(
                _GuardedHandler(lambda host, port: public_addresses(host, port, param=param))
            )
        return urllib.request.build_opener(*handlers)

    def _download(
        self, opener: urllib.request.OpenerDirector, url: str, deadline: float, *, param: str
    ) -> bytes:
        limit = self.settings.max_bytes
        timeout = max(0.1, deadline - time.monotonic())
        with opener.open(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > limit:
                raise RequestTooLarge(
                    f"{param}: reference audio is over {limit} bytes", param=param
                )
            parts: list[bytes] = []
            size = 0
            while size <= limit and (block := response.read1(_READ_SIZE)):
                # the socket timeout bounds each read; this bounds the whole download
                if time.monotonic() > deadline:
                    raise InvalidRequest(
                        f"{param}: fetching {redact(url)} took longer than "
                        f"{self.settings.timeout:g}s",
                        param=param,
                    )
                parts.append(block)
                size += len(block)
        return b"".join(parts)
