"""What the soak's clients and attackers saw: outcomes by route, hang-ups, and which error
codes are 5xx. Shared by the soak's HTTP, WebSocket and Wyoming clients and its attackers."""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from polyvox.errors import PolyvoxError

BEFORE, AFTER = "hung up before 1st byte", "hung up after 1st byte"
OUTCOMES = ("completed", BEFORE, AFTER, "408", "429", "4xx", "5xx", "errors")
"""Outcomes of the clients that want their answer (HTTP, WebSocket, Wyoming)."""
ATTACK_OUTCOMES = ("408", "429", "closed", "4xx", "5xx", "broken")
"""Outcomes of an attack's connection: ended by the stream deadline (408), refused (429),
closed by the server without a word (an idle Wyoming socket), another 4xx, a 5xx, or
broken: refused or reset below the protocol, or not ended by the server in time."""
REQUEST_LIMIT_S = 180.0  # the most one request may take (non-streaming routes send at the end)


def _five_xx_codes() -> frozenset[str]:
    """The ``code`` of every polyvox error whose status is 5xx (``engine_failure``, ...)."""
    found, pending = set(), [PolyvoxError]
    while pending:
        kind = pending.pop()
        if kind.status_code >= 500:
            found.add(kind.code)
        pending.extend(kind.__subclasses__())
    return frozenset(found)


FIVE_XX_CODES = _five_xx_codes()


def classify(code: str) -> str:
    """The outcome of an error message (WebSocket) or ``error`` event (Wyoming) by its code."""
    if code in FIVE_XX_CODES:
        return "5xx"
    return {"idle_timeout": "408", "overloaded": "429"}.get(code, "4xx")


def refusal(code: str, message: str) -> tuple[str, str]:
    """(outcome, failure) of an error message or event: its class, and what it said."""
    return classify(code), f"{code}: {message[:120]}"


REASONS = {
    "its share": "the client's share of the model",
    "the server is busy": "the model's places all taken",
    "this address has": "the address's connections",
    "Wyoming connections are open": "Wyoming connections in all",
}
"""Why a 429 came, by a phrase of its message."""


def reason(message: str) -> str:
    """Why a request was refused with 429, from the refusal's message."""
    return next((why for phrase, why in REASONS.items() if phrase in message), "other")


def transport(route: str) -> str:
    """HTTP, WebSocket or Wyoming, from a route's name as the tally keeps it."""
    if "ws " in route or route.startswith("ws"):
        return "WebSocket"
    return "Wyoming" if "wyoming" in route else "HTTP"


@dataclass
class Tally:
    """Outcomes by route, and what each 5xx and error was (``HTTP 503``, an exception name)."""

    routes: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    failures: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    """429s by route and reason."""

    def add(self, route: str, outcome: str, failure: str = "") -> None:
        """Count one request (or attack connection) of ``route``; ``failure`` says what
        failed, or for a 429 what the refusal said."""
        self.routes[route][outcome] += 1
        if outcome == "429":
            self.refusals[f"{route}: {reason(failure)}"] += 1
        if outcome in ("5xx", "errors", "broken"):
            self.failures[f"{failure} ({route})"] += 1

    def total(self, outcome: str | None = None, attacks: bool | None = False) -> int:
        """Requests with ``outcome`` (all when None) over the clients' routes (``attacks``
        False), the attacks' (True) or both (None)."""
        return sum(
            c[outcome] if outcome else c.total()
            for route, c in self.routes.items()
            if attacks is None or route.startswith("attack") == attacks
        )

    def five_xx(self) -> Counter[str]:
        """5xx seen by the clients and attackers, by transport."""
        found: Counter[str] = Counter({"HTTP": 0, "WebSocket": 0, "Wyoming": 0})
        for route, counts in self.routes.items():
            found[transport(route)] += counts["5xx"]
        return found


@dataclass
class HangUp:
    """When a client hangs up on purpose: ``delay`` s after sending or after the first byte
    (``anchor``), or never (the request's own limit)."""

    anchor: str
    delay: float
    first_byte: bool = False

    @classmethod
    def draw(cls, rng: random.Random, chance: float) -> HangUp:
        """Hang up with probability ``chance``, 0.05-1.5 s after sending or the first byte."""
        anchor = rng.choice(("sending", "first byte"))
        if rng.random() < chance:
            return cls(anchor, rng.uniform(0.05, 1.5))
        return cls("never", REQUEST_LIMIT_S)

    @property
    def limit(self) -> float:
        """Seconds for the timer the request starts under."""
        return self.delay if self.anchor == "sending" else REQUEST_LIMIT_S

    def arrived(self, timer: asyncio.Timeout) -> None:
        """The first byte (audio, a transcript) came: start the countdown anchored on it."""
        if not self.first_byte and self.anchor == "first byte":
            timer.reschedule(asyncio.get_running_loop().time() + self.delay)
        self.first_byte = True

    def timed_out(self) -> tuple[str, str]:
        """(outcome, failure) when the timer fired: a hang-up, or no answer in time."""
        if self.anchor == "never" or (self.anchor == "first byte" and not self.first_byte):
            return "errors", f"no answer in {REQUEST_LIMIT_S:.0f} s"
        return (AFTER if self.first_byte else BEFORE), ""
