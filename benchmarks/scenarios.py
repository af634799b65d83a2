"""The two measurements: CPU per subscriber (forward vs relay) and the packet-rate ramp.

Both run their load (publishers and subscribers) in this process and the server in a
``media_server`` child; CPU is read from /proc for both over a steady window that starts
after a warm-up.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import profile
from .clients import ClipPublisher, DirectPair, RawPublisherPeer, Subscriber, wait_connected
from .clip import EncodedClip
from .cpu_meter import CpuUse, between, sample
from .profile import Profile
from .rtp_meter import RtpMeter, StreamSnapshot, WindowCount, window
from .server_process import ServerProcess

FIRST_MEDIA_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Window:
    seconds: float
    server: CpuUse
    load: CpuUse  # this process: publishers + subscribers


@dataclass(frozen=True)
class CpuRow:
    mode: str
    subscribers: int
    window: Window
    video: WindowCount  # summed over subscribers
    audio: WindowCount
    video_fps_min: float  # the worst subscriber
    published_fps: float  # what the publisher sent

    @property
    def video_fps(self) -> float:
        return self.video.frames / self.window.seconds / max(1, self.video.streams)


Snapshots = list[dict[int, StreamSnapshot]]


@dataclass(frozen=True)
class Measured:
    window: Window
    before: Snapshots
    after: Snapshots
    sent: int  # by the publishers, from sent_count, in the window
    server_before: dict[str, Any]  # the server's /stats at the window's start
    server_after: dict[str, Any]

    def server_delta(self, name: str) -> int:
        before, after = self.server_before["counters"], self.server_after["counters"]
        return int(after.get(name, 0)) - int(before.get(name, 0))

    def count(self, kind: str, index: int | None = None) -> WindowCount:
        """Received ``kind`` in the window: by meter ``index``, or summed over all."""
        pairs = zip(self.before, self.after, strict=True)
        counts = [window(b, a, kind) for b, a in pairs]
        return counts[index] if index is not None else _sum(counts)


async def _measure(
    server: ServerProcess,
    meters: Sequence[RtpMeter],
    sent_count: Callable[[], int],
    warmup_s: float,
    window_s: float,
) -> Measured:
    await asyncio.sleep(warmup_s)
    before = [m.snapshot() for m in meters]
    sent_before = sent_count()
    server_start, load_start = server.cpu(), sample(os.getpid())
    for meter in meters:
        meter.latencies_ns.clear()
    stats_before = await server.stats()
    await asyncio.sleep(window_s)
    stats_after = await server.stats()
    server_end, load_end = server.cpu(), sample(os.getpid())
    sent = sent_count() - sent_before
    after = [m.snapshot() for m in meters]
    measured = Window(
        seconds=server_end.wall - server_start.wall,
        server=between(server_start, server_end),
        load=between(load_start, load_end),
    )
    return Measured(measured, before, after, sent, stats_before, stats_after)


async def _wait_for_video(meters: Sequence[RtpMeter]) -> None:
    """Until every subscriber has video, at most FIRST_MEDIA_TIMEOUT_S (the relay may be
    slow to start; a subscriber still without video shows up as 0 fps in the table)."""
    deadline = time.monotonic() + FIRST_MEDIA_TIMEOUT_S
    while time.monotonic() < deadline:
        if all(any(s.kind == "video" and s.packets for s in m.streams.values()) for m in meters):
            return
        await asyncio.sleep(0.05)


async def cpu_comparison(
    mode: str,
    counts: Sequence[int],
    video: EncodedClip,
    audio: EncodedClip,
    *,
    warmup_s: float,
    window_s: float,
) -> list[CpuRow]:
    """One publisher (640x480@30 VP8 + Opus); subscribers added up to each N in turn."""
    server = await ServerProcess.start(mode)
    pcs = []
    rows: list[CpuRow] = []
    try:
        publisher = await ClipPublisher.join(server, "publisher", video, audio)
        pcs.append(publisher.pc)
        await wait_connected(pcs)
        subscribers: list[Subscriber] = []
        for count in counts:
            while len(subscribers) < count:
                subscriber = await Subscriber.join(
                    server, f"sub{len(subscribers)}", video_slots=1, audio_slots=1
                )
                subscribers.append(subscriber)
                pcs.append(subscriber.pc)
            await wait_connected(pcs)
            meters = [s.meter for s in subscribers]
            await _wait_for_video(meters)
            result = await _measure(
                server, meters, lambda: publisher.video.sent, warmup_s, window_s
            )
            seconds = result.window.seconds
            rows.append(
                CpuRow(
                    mode=mode,
                    subscribers=count,
                    window=result.window,
                    video=result.count("video"),
                    audio=result.count("audio"),
                    video_fps_min=min(
                        (result.count("video", i).frames / seconds for i in range(len(meters))),
                        default=0.0,
                    ),
                    published_fps=result.sent / seconds,
                )
            )
    finally:
        for pc in pcs:
            await pc.close()
        await server.stop()
    return rows


def _sum(counts: Sequence[WindowCount]) -> WindowCount:
    return WindowCount(
        packets=sum(c.packets for c in counts),
        expected=sum(c.expected for c in counts),
        frames=sum(c.frames for c in counts),
        streams=sum(c.streams for c in counts),
        octets=sum(c.octets for c in counts),
    )


@dataclass(frozen=True)
class Latency:
    samples: int
    p50_ms: float
    p99_ms: float


def latency(samples_ns: Sequence[int]) -> Latency:
    if not samples_ns:
        return Latency(0, float("nan"), float("nan"))
    values = np.asarray(samples_ns, dtype=np.float64) / 1e6
    p50, p99 = np.percentile(values, [50, 99])
    return Latency(len(values), float(p50), float(p99))


@dataclass(frozen=True)
class RateRow:
    rate_per_stream: float
    publishers: int
    subscribers: int
    window: Window
    sent_pps: float  # by all publishers to the SFU
    received: WindowCount  # at all subscribers, video
    direct_received: WindowCount  # by the direct pair's subscriber
    via_sfu: Latency
    direct: Latency
    sfu_forwarded_pps: float  # the SFU's own counter
    sfu_dropped: int

    @property
    def forwarded_pps(self) -> float:
        return self.received.packets / self.window.seconds

    @property
    def added_p50_ms(self) -> float:
        return self.via_sfu.p50_ms - self.direct.p50_ms

    @property
    def added_p99_ms(self) -> float:
        return self.via_sfu.p99_ms - self.direct.p99_ms


async def packet_rate_ramp(
    rates: Sequence[float],
    *,
    publishers: int,
    subscribers: int,
    warmup_s: float,
    window_s: float,
    profile_last: bool = False,
) -> Ramp:
    """``publishers`` synthetic video streams, each forwarded to ``subscribers`` peers, at
    rising per-stream packet rates; a direct publisher->subscriber pair runs alongside at
    the same per-stream rate as the latency baseline. Stops once loss is clearly above 1%.
    With ``profile_last``, py-spy samples the SFU during the last window."""
    server = await ServerProcess.start("forward")
    pcs = []
    raw: list[RawPublisherPeer] = []
    rows: list[RateRow] = []
    sampled: Profile | None = None
    direct: DirectPair | None = None
    try:
        for index in range(publishers):
            raw.append(await RawPublisherPeer.join(server, f"pub{index}"))
            pcs.append(raw[-1].pc)
        await wait_connected(pcs)
        subs = []
        for index in range(subscribers):
            subs.append(
                await Subscriber.join(
                    server, f"sub{index}", video_slots=publishers, audio_slots=0, keep_latency=True
                )
            )
            pcs.append(subs[-1].pc)
        direct = await DirectPair.connect()
        pcs += [direct.publisher_pc, direct.subscriber_pc]
        await wait_connected(pcs)
        senders = [p.publisher for p in raw] + [direct.publisher]
        for sender in senders:
            sender.start()
        meters = [s.meter for s in subs]
        over = 0
        for step, rate in enumerate(rates):
            for sender in senders:
                sender.rate = rate
            if step == 0:
                await _wait_for_video(meters)
            profiler = None
            if profile_last and step == len(rates) - 1 and profile.available():
                profiler = asyncio.ensure_future(_profile_after(server.pid, warmup_s, window_s))
            result = await _measure(
                server,
                [*meters, direct.meter],
                lambda: sum(p.publisher.sent for p in raw),
                warmup_s,
                window_s,
            )
            seconds = result.window.seconds
            if profiler is not None:
                sampled = await profiler
            # latencies were cleared at the window start by _measure
            via = [ns for m in meters for ns in m.latencies_ns]
            direct_count = result.count("video", len(meters))
            received = _sum([result.count("video", i) for i in range(len(meters))])
            row = RateRow(
                rate_per_stream=rate,
                publishers=publishers,
                subscribers=subscribers,
                window=result.window,
                sent_pps=result.sent / seconds,
                received=received,
                direct_received=direct_count,
                via_sfu=latency(via),
                direct=latency(direct.meter.latencies_ns),
                sfu_forwarded_pps=result.server_delta("packets_forwarded") / seconds,
                sfu_dropped=result.server_delta("packets_dropped"),
            )
            rows.append(row)
            over = over + 1 if row.received.loss >= 0.01 else 0
            if row.received.loss >= 0.05 or over >= 2:
                break
    finally:
        if direct is not None:
            await direct.publisher.stop()
        for peer in raw:
            await peer.publisher.stop()
        for pc in pcs:
            await pc.close()
        await server.stop()
    return Ramp(rows, sampled)


@dataclass(frozen=True)
class Ramp:
    rows: list[RateRow]
    profile: Profile | None


async def _profile_after(pid: int, delay_s: float, seconds: float) -> Profile:
    await asyncio.sleep(delay_s)
    return await profile.record(pid, seconds)


def best_rate(rows: Sequence[RateRow], max_loss: float = 0.01) -> RateRow | None:
    passing = [r for r in rows if r.received.loss < max_loss and r.received.packets]
    return max(passing, key=lambda r: r.forwarded_pps, default=None)
