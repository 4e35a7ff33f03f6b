"""Prometheus metrics, one registry per service so apps and tests never share counters."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

EngineEvents = Callable[[], Iterable[tuple[str, Mapping[str, int]]]]
"""(model, {event: count}) of the engines that count events of their own."""

_LATENCY = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)
_FAST = (0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 2, 5, 10)
_RTF = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5)
RECENT = 20
"""Real-time factors kept per model for ``GET /v1/status`` (the histogram has them all)."""


class Metrics:
    """Every metric polyvox exports (names are ``polyvox_*``)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._requests(self.registry)
        self._speech(self.registry)
        self._transcription(self.registry)
        self._scheduling(self.registry)
        self._models(self.registry)
        self.errors = Counter(
            "polyvox_errors", "Errors returned, by code.", ["code"], registry=self.registry
        )
        self.recent_rtf: defaultdict[str, deque[float]] = defaultdict(lambda: deque(maxlen=RECENT))

    def _requests(self, r: CollectorRegistry) -> None:
        """HTTP requests: how many, and how long until their last byte."""
        self.requests = Counter(
            "polyvox_requests",
            "HTTP requests by route, model and status.",
            ["route", "model", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "polyvox_request_duration_seconds",
            "Time from request to the last byte sent.",
            ["route", "model"],
            buckets=_LATENCY,
            registry=r,
        )

    def _speech(self, r: CollectorRegistry) -> None:
        """Synthesis: first audio, real-time factor, audio, text and cancelled jobs."""
        self.first_audio_seconds = Histogram(
            "polyvox_time_to_first_audio_seconds",
            "Time from job start to its first audio.",
            ["model"],
            buckets=_FAST,
            registry=r,
        )
        self.real_time_factor = Histogram(
            "polyvox_real_time_factor",
            "Synthesis seconds per audio second, per chunk.",
            ["model"],
            buckets=_RTF,
            registry=r,
        )
        self.audio_seconds = Counter(
            "polyvox_audio_seconds", "Seconds of audio produced.", ["model"], registry=r
        )
        self.characters = Counter(
            "polyvox_characters", "Characters of input text spoken.", ["model"], registry=r
        )
        self.chunks = Counter(
            "polyvox_chunks_synthesized", "Text chunks synthesised.", ["model"], registry=r
        )
        self.cancelled = Counter(
            "polyvox_jobs_cancelled",
            "Jobs stopped before their end (client gone, error).",
            ["model"],
            registry=r,
        )

    def _transcription(self, r: CollectorRegistry) -> None:
        """Transcription: seconds of audio and segments."""
        self.transcribed_seconds = Counter(
            "polyvox_transcribed_seconds", "Seconds of audio transcribed.", ["model"], registry=r
        )
        self.segments = Counter(
            "polyvox_segments_transcribed", "Transcript segments produced.", ["model"], registry=r
        )

    def _scheduling(self, r: CollectorRegistry) -> None:
        """The models' queues: depth, waits and jobs in flight."""
        self.queue_depth = Gauge(
            "polyvox_queue_depth", "Chunks waiting for a synthesis slot.", ["model"], registry=r
        )
        self.queue_wait_seconds = Histogram(
            "polyvox_queue_wait_seconds",
            "Time a chunk waited for a slot.",
            ["model"],
            buckets=_FAST,
            registry=r,
        )
        self.inflight = Gauge(
            "polyvox_inflight_jobs", "Admitted jobs not yet finished.", ["model"], registry=r
        )

    def _models(self, r: CollectorRegistry) -> None:
        """Model loads, their duration, and which models are in memory."""
        self.model_loads = Counter("polyvox_model_loads", "Model loads.", ["model"], registry=r)
        self.model_load_seconds = Histogram(
            "polyvox_model_load_seconds",
            "Time to load a model.",
            ["model"],
            buckets=_LATENCY,
            registry=r,
        )
        self.models_loaded = Gauge(
            "polyvox_models_loaded", "1 while a model is in memory.", ["model"], registry=r
        )

    def observe_request(self, route: str, model: str, status: int, seconds: float) -> None:
        """One finished request of any transport (HTTP, WebSocket, Wyoming)."""
        self.requests.labels(route, model, str(status)).inc()
        self.request_seconds.labels(route, model).observe(seconds)

    def observe_rtf(self, model: str, rtf: float) -> None:
        """One engine call's real-time factor: into the histogram and the recent window."""
        self.real_time_factor.labels(model).observe(rtf)
        self.recent_rtf[model].append(rtf)

    def watch_engines(self, source: EngineEvents) -> None:
        """Export engines' own event counts (``polyvox_engine_events_total``), read at scrape."""
        self.registry.register(_EngineEventCollector(source))

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (0 when it has never been set); for tests and tools."""
        return self.registry.get_sample_value(name, labels) or 0.0


class _EngineEventCollector(Collector):
    def __init__(self, source: EngineEvents) -> None:
        self._source = source

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "polyvox_engine_events",
            "Events inside engines, by model: conditioning_built, conditioning_memory and "
            "conditioning_disk count where a cloned voice's conditioning came from.",
            labels=["model", "event"],
        )
        for model, events in self._source():
            for event, count in sorted(events.items()):
                family.add_metric([model, event], count)
        yield family
