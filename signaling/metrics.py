"""Prometheus metrics, on a registry owned by the app (no process-global registry).

Room and media figures are not updated on every packet: a custom collector reads a snapshot
from the room registry when ``/metrics`` is scraped, so the media plane only bumps plain
integers (``sfu.counters.MediaCounters``) on its hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sfu.counters import MediaCounters

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class MetricsSnapshot:
    rooms: int = 0  # live rooms
    participants: int = 0  # connected participants, hidden ones included
    media: MediaCounters = field(default_factory=MediaCounters)  # summed over rooms


SnapshotProvider = Callable[[], MetricsSnapshot]

# (metric name, help, MediaCounters attribute)
_GAUGES = (
    ("sparkle_tracks_published", "Tracks currently published.", "tracks_published"),
    ("sparkle_tracks_subscribed", "Forwarding edges (track x subscriber).", "tracks_subscribed"),
)
_COUNTERS = (
    ("sparkle_packets_received", "RTP packets received from publishers.", "packets_received"),
    ("sparkle_bytes_received", "RTP bytes received from publishers.", "bytes_received"),
    ("sparkle_packets_forwarded", "RTP packets sent to subscribers.", "packets_forwarded"),
    ("sparkle_bytes_forwarded", "RTP bytes sent to subscribers.", "bytes_forwarded"),
    ("sparkle_packets_dropped", "RTP packets not forwarded.", "packets_dropped"),
    ("sparkle_nack", "Sequence numbers NACKed by subscribers.", "nack_received"),
    ("sparkle_rtx", "Retransmissions sent from history.", "rtx_sent"),
    ("sparkle_pli_received", "PLI/FIR received from subscribers.", "pli_received"),
    ("sparkle_pli_sent", "PLI sent to publishers.", "pli_sent"),
)


class _SnapshotCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        snap = self._metrics.snapshot()
        yield GaugeMetricFamily("sparkle_rooms", "Live rooms.", value=snap.rooms)
        yield GaugeMetricFamily(
            "sparkle_participants", "Connected participants.", value=snap.participants
        )
        for name, doc, attr in _GAUGES:
            yield GaugeMetricFamily(name, doc, value=getattr(snap.media, attr))
        for name, doc, attr in _COUNTERS:
            # CounterMetricFamily appends the _total suffix itself.
            yield CounterMetricFamily(name, doc, value=getattr(snap.media, attr))


class Metrics:
    """The app's metrics. ``set_snapshot_provider`` wires in the room registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._provider: SnapshotProvider | None = None
        self._join_latency = Histogram(
            "sparkle_join_latency_seconds",
            "From the join message to the joined reply.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self._ws_errors = Counter(
            "sparkle_ws_errors",
            "Errors sent on WebSockets, by code.",
            ["code"],
            registry=self.registry,
        )
        # Issue 4: recordings. Active ones are a gauge the recording service keeps current;
        # bytes are counted when a recording's files are final (its worker exited).
        self._recordings_active = Gauge(
            "sparkle_recordings_active",
            "Recordings under way (recording or paused).",
            registry=self.registry,
        )
        self._recording_bytes = Counter(
            "sparkle_recording_bytes",
            "Bytes written by finished recordings.",
            registry=self.registry,
        )
        self._recorder_errors = Counter(
            "sparkle_recorder_errors",
            "Recorder workers that failed (did not start, or exited with an error).",
            registry=self.registry,
        )
        # Issue 5: transcription. Jobs by state (waiting for a transcriber: the queue an
        # operator sizes the transcriber pool by), captions stored, and failed jobs.
        self._transcriptions = Gauge(
            "sparkle_transcriptions",
            "Rooms with transcription on, by state (waiting: no transcriber has joined yet).",
            ["state"],
            registry=self.registry,
        )
        self._captions = Counter(
            "sparkle_captions", "Captions stored (one per utterance).", registry=self.registry
        )
        self._transcriber_errors = Counter(
            "sparkle_transcriber_errors",
            "Transcriptions that stopped on their own (no transcriber joined, or it left).",
            registry=self.registry,
        )
        # Issue 6: auto-framing. Framed cameras by state (starting: no framed video yet).
        self._framings = Gauge(
            "sparkle_framed_cameras",
            "Cameras with auto-framing on, by state (starting: no framed video yet).",
            ["state"],
            registry=self.registry,
        )
        self._framing_errors = Counter(
            "sparkle_framing_errors",
            "Framing jobs that failed (no framing worker joined in time, or it kept leaving).",
            registry=self.registry,
        )
        # Issue 7: webhook delivery attempts by result (delivered, retry: failed and will be
        # tried again, failed: given up), so an operator sees a receiver that is down.
        self._webhook_deliveries = Counter(
            "sparkle_webhook_deliveries",
            "Webhook delivery attempts, by result (delivered, retry, failed).",
            ["result"],
            registry=self.registry,
        )
        self.registry.register(_SnapshotCollector(self))

    def set_snapshot_provider(self, provider: SnapshotProvider | None) -> None:
        self._provider = provider

    def snapshot(self) -> MetricsSnapshot:
        return MetricsSnapshot() if self._provider is None else self._provider()

    def observe_join_latency(self, seconds: float) -> None:
        self._join_latency.observe(seconds)

    def count_ws_error(self, code: str) -> None:
        self._ws_errors.labels(code=code).inc()

    def set_recordings_active(self, count: int) -> None:
        self._recordings_active.set(count)

    def count_recording_bytes(self, size: int) -> None:
        self._recording_bytes.inc(size)

    def count_recorder_error(self) -> None:
        self._recorder_errors.inc()

    def set_transcriptions(self, waiting: int, running: int) -> None:
        self._transcriptions.labels(state="waiting").set(waiting)
        self._transcriptions.labels(state="running").set(running)

    def count_caption(self) -> None:
        self._captions.inc()

    def count_transcriber_error(self) -> None:
        self._transcriber_errors.inc()

    def set_framings(self, starting: int, on: int) -> None:
        self._framings.labels(state="starting").set(starting)
        self._framings.labels(state="on").set(on)

    def count_framing_error(self) -> None:
        self._framing_errors.inc()

    def count_webhook_delivery(self, result: str) -> None:
        self._webhook_deliveries.labels(result=result).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of everything."""
        return generate_latest(self.registry)
