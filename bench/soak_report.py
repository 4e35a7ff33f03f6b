"""What one soak measured, the targets it is judged against, and its markdown section."""

from __future__ import annotations

import argparse
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from results import Target
from soak_probe import Probe
from soak_server import Counters, route_transport
from soak_tally import ATTACK_OUTCOMES, OUTCOMES, Tally

TRANSPORTS = ("HTTP", "WebSocket", "Wyoming")
DESCRIPTOR_MARGIN = 4
"""Descriptors the server may hold above its baseline once the attack sockets are closed."""
FIRST_AUDIO_LIMIT = 2.0
"""Most the well-behaved client's loaded first-audio p95 may be, in its unloaded p95s."""


@dataclass(frozen=True)
class Result:
    """Everything one soak measured."""

    tally: Tally
    unloaded: Probe
    loaded: Probe
    rss_mb: tuple[float, float]  # settled, before and after the soak
    peak_mb: float
    descriptors: tuple[int, int]
    inflight: dict[str, float]
    drain_s: float
    counters: Counters
    """What the server counted from the baseline on (statuses from before the unloaded
    requests, the waits from the start of the load)."""
    cores: tuple[float, float, float]
    """Cores the server, the bench's clients and other processes used during the load."""
    log_problems: list[str] = field(default_factory=list)

    def server_5xx(self) -> Counter[str]:
        """5xx the server counted, by transport."""
        found: Counter[str] = Counter(dict.fromkeys(TRANSPORTS, 0))
        for (route, status), count in self.counters.statuses.items():
            if status.isdigit() and int(status) >= 500:
                found[route_transport(route)] += count
        return found

    def server_5xx_routes(self) -> str:
        """5xx the server counted, by route and status."""
        found = [
            f"{n}x {s} on {route}"
            for (route, s), n in sorted(self.counters.statuses.items())
            if s.isdigit() and int(s) >= 500 and n
        ]
        return ", ".join(found) or "none"


def _per_transport(counts: Counter[str]) -> str:
    return ", ".join(f"{t} {counts[t]}" for t in TRANSPORTS)


def targets(r: Result) -> list[Target]:
    """The acceptance line of the hardening issue, judged on this run."""
    seen, counted = r.tally.five_xx(), r.server_5xx()
    seen["HTTP"] += r.unloaded.outcomes["5xx"] + r.loaded.outcomes["5xx"]
    errors = r.tally.total("errors") + r.unloaded.outcomes["errors"] + r.loaded.outcomes["errors"]
    before, after = r.unloaded.percentile(95), r.loaded.percentile(95)
    ratio, rss = after / before, r.rss_mb[1] / r.rss_mb[0]
    inflight = ", ".join(f"{m} {v:g}" for m, v in sorted(r.inflight.items())) or "none"
    return [
        Target(
            "0 5xx on any route (clients' and attackers' view; the server's metrics)",
            f"seen: {_per_transport(seen)}; counted: {_per_transport(counted)}",
            not seen.total() and not counted.total(),
        ),
        Target(
            "0 broken answers (no status, cut body, early close) not hung up on purpose",
            str(errors),
            errors == 0,
        ),
        Target(
            f"well-behaved client's first-audio p95 under load <= {FIRST_AUDIO_LIMIT:g}x unloaded",
            f"{after:.3f} s / {before:.3f} s = {ratio:.2f}x",
            ratio <= FIRST_AUDIO_LIMIT,
        ),
        Target(
            "0 jobs in flight after the run, every model",
            f"{inflight} ({r.drain_s:.1f} s of polling /metrics)",
            not any(r.inflight.values()),
        ),
        Target(
            "settled RSS after the run within 10% of the baseline",
            f"{r.rss_mb[1]:.0f} MB / {r.rss_mb[0]:.0f} MB = {rss:.3f}x",
            rss <= 1.10,
        ),
        Target(
            f"open descriptors back to the baseline (+{DESCRIPTOR_MARGIN} at most)",
            f"{r.descriptors[1]} after, {r.descriptors[0]} before",
            r.descriptors[1] <= r.descriptors[0] + DESCRIPTOR_MARGIN,
        ),
    ]


def _table(head: list[str], rows: list[list[object]]) -> list[str]:
    return [
        "| " + " | ".join(head) + " |",
        "|---" * len(head) + "|",
        *("| " + " | ".join(map(str, row)) + " |" for row in rows),
    ]


def route_tables(tally: Tally, loaded: Probe) -> list[str]:
    """The clients' outcomes by route, then the attacks' by attack."""
    ours = [
        (route, c) for route, c in sorted(tally.routes.items()) if not route.startswith("attack")
    ]
    ours.append(("/v1/audio/speech (well-behaved, under load)", loaded.outcomes))
    rows = [[route, c.total(), *(c[o] for o in OUTCOMES)] for route, c in ours]
    total = sum((c for _, c in ours), Counter())
    rows.append(["**all**", total.total(), *(total[o] for o in OUTCOMES)])
    attacks = [(r, c) for r, c in sorted(tally.routes.items()) if r.startswith("attack")]
    attack_rows = [[route, c.total(), *(c[o] for o in ATTACK_OUTCOMES)] for route, c in attacks]
    return [
        *_table(["route", "requests", *OUTCOMES], rows),
        "",
        *_table(["attack", "connections", *ATTACK_OUTCOMES], attack_rows),
    ]


def _probe_line(name: str, p: Probe) -> str:
    samples = p.first_audio_s
    return (
        f"- Well-behaved client {name}: {len(samples)} requests, first audio p50 "
        f"{p.percentile(50):.3f} s, **p95 {p.percentile(95):.3f} s**, max "
        f"{max(samples, default=float('nan')):.3f} s"
    )


def _waits_line(counters: Counters) -> str:
    """The server's mean slot wait and first audio per model over the load."""
    models = sorted({key.split("/")[1].split()[0] for key in counters.waits})
    means = (("queue", "slot wait {:.3f} s per chunk"), ("first", "first audio {:.3f} s per job"))
    parts = [
        f"{m}: "
        + ", ".join(
            what.format(value)
            for kind, what in means
            if not math.isnan(value := counters.mean(kind, m))
        )
        for m in models
    ]
    return "- The server's means over the load (all clients): " + ("; ".join(parts) or "none")


def _pace(think: float) -> str:
    """How the mixed clients space their requests."""
    if think <= 0:
        return "requests back to back (`--think 0`: closed loop), a 429 retried after 0.1-0.5 s"
    return (
        f"a think time of {think:g} s between a client's requests (each pause x0.5-1.5 of it, "
        f"seeded; the first request after 0-{think:g} s), a 429 retried after 0.1-0.5 s"
    )


def _setup(args: argparse.Namespace, r: Result, machine: dict[str, str]) -> list[str]:
    count = r.tally.total() + r.loaded.outcomes.total()
    return [
        *(f"- {key}: {value}" for key, value in machine.items()),
        f"- Three API keys: the well-behaved client's, the mixed clients' and the attacker's. "
        f"Idle deadlines of {args.stream_idle:g} s (`POLYVOX_LIMITS__STREAM_IDLE_TIMEOUT`, "
        f"default 30) and {args.wyoming_idle:g} s (`POLYVOX_WYOMING__IDLE_TIMEOUT`, default 60) "
        f"so that each attack connection is ended and re-opened about "
        f"{args.seconds / max(args.stream_idle, args.wyoming_idle):.0f} times in the run "
        "rather than 2-4 times: the cycle of ending and re-opening is what could leak",
        f"- Load for {args.seconds:.0f} s, seed {args.seed}: {args.clients} HTTP clients "
        f"(speech in every format, SSE, /tts, /synthesize, transcriptions), "
        f"{args.ws_clients} WebSocket stream clients, {args.wyoming_clients} Wyoming clients "
        f"(synthesize, synthesize-start/chunk/stop, transcribe) from 127.0.0.1, hang-up "
        f"probability {args.hangup} (0.05-1.5 s after sending or after the first byte), "
        f"{_pace(args.think)}; {count} requests ({count / args.seconds:.1f}/s)",
        f"- Attacks throughout, each connection re-opened {args.pause:g} s (x0.5-1.5) after the "
        f"server ends it: (5) {args.held} Wyoming connections from 127.0.0.2 sending "
        f"synthesize-start and one chunk, never stopping; (6) {args.configs} WebSocket "
        f"streams with the attacker's key sending a config and nothing else; (7) {args.flood} "
        f"idle Wyoming sockets from {args.flood_peers} address(es) from 127.0.0.3 on, "
        f"re-opened {args.flood_pause:g} s (x0.5-1.5) after the server closes them",
        f"- CPU during the load: the server used {r.cores[0]:.2f} cores, the bench's clients "
        f"and attackers {r.cores[1]:.2f}, other processes {r.cores[2]:.2f} "
        f"(nproc {os.cpu_count()})",
    ]


def report(r: Result, args: argparse.Namespace, command: str, machine: dict[str, str]) -> str:
    errors = ", ".join(f"{code} {n}" for code, n in sorted(r.counters.errors.items())) or "none"
    failures = r.tally.failures + r.unloaded.failures + r.loaded.failures
    listed = ", ".join(f"{n}x {what}" for what, n in failures.most_common(12)) or "none"
    problems = "; ".join(f"`{line.strip()[:200]}`" for line in r.log_problems[:5])
    lines = [
        f"- Command: `{command}` (`make bench-soak` runs the defaults); "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        *_setup(args, r, machine),
        "",
        *route_tables(r.tally, r.loaded),
        "",
        "`errors`: not hung up on purpose, yet no status, a broken body or an early close. "
        f"`broken` (attacks): refused or reset below the protocol, or not ended in "
        f"{args.attack_limit:.0f} s. 5xx, errors and broken: {listed}.",
        f"- The server's error codes: {errors}; its 5xx by route: {r.server_5xx_routes()}; "
        f"it counted {r.counters.cancelled} jobs as cancelled",
        "- 429s by route and reason: "
        + (", ".join(f"{n}x {why}" for why, n in sorted(r.tally.refusals.items())) or "none"),
        _probe_line("alone before the load", r.unloaded),
        _probe_line(f"under load (one every {args.interval:g} s)", r.loaded),
        _waits_line(r.counters),
        f"- RSS: baseline {r.rss_mb[0]:.0f} MB (settled, both models loaded), peak (VmHWM) "
        f"{r.peak_mb:.0f} MB, after {r.rss_mb[1]:.0f} MB (settled): "
        f"**{r.rss_mb[1] / r.rss_mb[0]:.3f}x**",
        f"- Open descriptors: {r.descriptors[0]} before, {r.descriptors[1]} after",
        f"- Server log (level warning): {len(r.log_problems)} error or traceback lines"
        + (f", the first: {problems}" if problems else ""),
        "",
        *_table(
            ["target", "measured", "verdict"],
            [[t.name, t.measured, t.verdict] for t in targets(r)],
        ),
    ]
    return "\n".join(lines)
