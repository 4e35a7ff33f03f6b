"""One ASGI middleware for what every request needs: an id, auth, a body limit and metrics."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polyvox import clients
from polyvox.api.errors import error_response
from polyvox.errors import PolyvoxError, RequestTooLarge, Unauthorized
from polyvox.logs import request_id
from polyvox.metrics import Metrics
from polyvox.types import TRUSTED, Caller

OPEN_PATHS = frozenset({"/health", "/health/ready", "/"})
OPEN_PREFIX = "/ui/"
"""The web UI's files are open (the page asks for a key); every API call it makes is not."""
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _route_path(scope: Scope) -> str:
    """The path without a ``--root-path`` prefix (uvicorn keeps the prefix in ``path``)."""
    root: str = scope.get("root_path", "")
    path: str = scope["path"]
    return (path[len(root) :] or "/") if root and path.startswith(root) else path


def key_owner(key: bytes) -> str:
    """What a key's voices are owned by: a digest of it (the key itself is never stored)."""
    return hashlib.sha256(b"polyvox-owner:" + key).hexdigest()[:32]


def _presented_key(scope: Scope) -> bytes | None:
    """The key from ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``; None otherwise.

    A bare ``Authorization: KEY`` is not a credential scheme any client sends on purpose,
    so it is refused rather than guessed at.
    """
    scheme, _, credential = (_header(scope, b"authorization") or "").strip().partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return credential.strip().encode()
    alternative = (_header(scope, b"x-api-key") or "").strip()
    return alternative.encode() if alternative else None


def _client(scope: Scope) -> str | None:
    """Who the per-client limits count this request against: its key (None without keys)."""
    caller = scope.get("state", {}).get("caller")
    return (caller.key or None) if isinstance(caller, Caller) else None


class RequestMiddleware:
    """Request id (X-Request-ID), API keys, body size limit and per-route metrics."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        api_keys: Sequence[str],
        max_body_bytes: int,
        admin_keys: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.keys = [(k.encode(), False) for k in api_keys]
        self.keys += [(k.encode(), True) for k in admin_keys]
        self.max_body = max_body_bytes

    def _caller(self, scope: Scope) -> Caller | None:
        """Who presented which key (TRUSTED without keys); None for a missing or wrong key."""
        if not self.keys:
            return TRUSTED
        given = _presented_key(scope)
        if given is None:
            return None
        # compare with every key, so the time taken says nothing about which one matched
        matches = [(hmac.compare_digest(given, key), admin) for key, admin in self.keys]
        admin = [is_admin for matched, is_admin in matches if matched]
        if not admin:
            return None
        return Caller(key=key_owner(given), admin=any(admin))

    def _authorized(self, scope: Scope) -> bool:
        """Check the key, and keep the caller in the scope's state for the routes."""
        caller = self._caller(scope)
        scope.setdefault("state", {})["caller"] = caller
        path = _route_path(scope)
        return caller is not None or path in OPEN_PATHS or path.startswith(OPEN_PREFIX)

    def _check_size(self, scope: Scope) -> None:
        length = _header(scope, b"content-length")
        if length and length.isdigit() and int(length) > self.max_body:
            raise RequestTooLarge(f"the request body is over {self.max_body} bytes")

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise RequestTooLarge(f"the request body is over {self.max_body} bytes")
            return message

        return limited_receive

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _header(scope, b"x-request-id") or ""
        rid = rid if _SAFE_ID.match(rid) else uuid.uuid4().hex
        token = request_id.set(rid)
        status = 0
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            if not self._authorized(scope):
                raise Unauthorized(
                    "a valid API key is required (Authorization: Bearer KEY, or X-API-Key: KEY)"
                )
            self._check_size(scope)
            clients.current.set(_client(scope))  # this request's task only
            await self.app(scope, self._limited(receive), send_with_id)
        except PolyvoxError as exc:
            if status:  # the response has begun: nothing to do but cut it
                raise
            self.metrics.errors.labels(exc.code).inc()
            await error_response(exc)(scope, receive, send_with_id)
        finally:
            self._observe(scope, status or 500, time.perf_counter() - started)
            request_id.reset(token)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._authorized(scope):
            await send({"type": "websocket.close", "code": 1008, "reason": "invalid API key"})
            return
        rid = _header(scope, b"x-request-id") or ""
        token = request_id.set(rid if _SAFE_ID.match(rid) else uuid.uuid4().hex)
        client = clients.current.set(_client(scope))
        try:
            await self.app(scope, receive, send)
        finally:
            clients.current.reset(client)
            request_id.reset(token)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        model = str(scope.get("state", {}).get("model", ""))
        self.metrics.observe_request(route, model, status, seconds)
