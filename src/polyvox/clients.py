"""Who is asking, for per-client limits: one key or one Wyoming peer must not take it all.

The transports set ``current`` for the work of each request: the HTTP middleware to the
API key's owner digest (for HTTP and WebSocket alike), the Wyoming handler to
``peer:ADDRESS`` (Wyoming has no credentials). Admission (a share of each model's places)
and the I/O threads (a few fetches at once) read it. None means no per-client limits: a
server without API keys trusts its clients as one, and the CLI and RunPod jobs are one
client each.
"""

from __future__ import annotations

from contextvars import ContextVar

current: ContextVar[str | None] = ContextVar("polyvox_client", default=None)
"""The client the running work belongs to (None: no per-client limits)."""


def places_per_client(share: float, places: int) -> int:
    """How many of a model's ``places`` (slots and queue) one client may hold: at least one."""
    return max(1, int(share * places))
