"""What a subscriber sees on the wire: slot reuse, sender reports, retransmissions.

Real aiortc peers on 127.0.0.1. The subscriber's receivers log every RTP packet and SR
before aiortc's receiver sees them (tests/support/aiortc_client.py ``Received.wire``), and
can drop packets there to make aiortc's NACK generator ask for them.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import av
import pytest
from aiortc.rtp import RtcpPacket, RtcpSrPacket, RtpPacket, is_rtcp

from tests.support.aiortc_client import (
    MediaClient,
    WirePacket,
    join,
)
from tests.support.media import ColorVideoTrack, PreEncodedVideoTrack, ToneAudioTrack, close_to

RED = (230, 30, 30)
BLUE = (30, 60, 220)
SEQ = 1 << 16
TS = 1 << 32


def media_packets(wire: list[WirePacket]) -> list[WirePacket]:
    return [p for p in wire if p.original_sequence is None]


async def test_a_freed_slot_is_reused_with_contiguous_numbers(room_and_events):
    room, events = room_and_events
    first = MediaClient("a", tracks=[("camera", ColorVideoTrack(RED))])
    second = MediaClient("b", tracks=[("camera", ColorVideoTrack(BLUE))])
    subscriber = MediaClient("sub")
    try:
        await join(room, events, first, subscribe=False)
        await join(room, events, subscriber)
        await subscriber.wait_until(
            lambda: any(r.frames >= 5 and close_to(r.colors[-1], RED) for r in subscriber.video()),
            timeout=10,
        )
        (slot,) = subscriber.video()
        await room.remove_peer("a")
        await first.close()
        left = time.monotonic()
        await asyncio.sleep(0.7)
        await join(room, events, second, subscribe=False)
        b_sid = events.published[-1].sid
        await subscriber.wait_until(
            lambda: slot.sid == b_sid and slot.frames > 5 and close_to(slot.colors[-1], BLUE),
            timeout=10,
        )
        assert subscriber.video() == [slot]  # the same receive slot, no new m-section
        wire = media_packets(slot.wire)
        assert len({p.ssrc for p in wire}) == 1  # one outgoing stream for the slot's life
        # Contiguous on the wire: a jump would read as loss (or as a new stream) to a browser.
        steps = [(b.sequence_number - a.sequence_number) % SEQ for a, b in itertools.pairwise(wire)]
        assert set(steps) == {1}, sorted(set(steps))
        # Timestamps move forward across the switch by about the time that passed.
        switch = next(i for i, p in enumerate(wire) if p.at > left)
        before, after = wire[switch - 1], wire[switch]
        advance = (after.timestamp - before.timestamp) % TS
        assert advance < TS // 2
        assert abs(advance / 90000 - (after.at - before.at)) < 0.1
        assert all((b.timestamp - a.timestamp) % TS < TS // 2 for a, b in itertools.pairwise(wire))
    finally:
        await asyncio.gather(first.close(), second.close(), subscriber.close())


class SenderReportShifter:
    """Wraps a publisher's DTLS transport: records the RTP it sends (payload -> timestamp)
    and moves the NTP time of its SRs by a per-SSRC amount, as a sender whose capture
    pipeline delays audio and video differently would report (RFC 3550 6.4.1)."""

    def __init__(self, client: MediaClient, shifts: dict[int, float]) -> None:
        self.shifts = shifts
        self.reports: dict[int, list[tuple[int, int]]] = {ssrc: [] for ssrc in shifts}
        self.first_report_at: float | None = None
        # payload digest -> RTP timestamp; None when two payloads were identical (a steady
        # tone can encode to the same Opus packet again), which cannot identify a packet.
        self.timestamps: dict[int, int | None] = {}
        transport: Any = next(iter(client.senders.values())).transport
        original = transport._send_rtp

        async def send_rtp(data: bytes) -> None:
            if is_rtcp(data):
                packets = RtcpPacket.parse(data)
                for packet in packets:
                    if isinstance(packet, RtcpSrPacket) and packet.ssrc in shifts:
                        info = packet.sender_info
                        info.ntp_timestamp += int(shifts[packet.ssrc] * (1 << 32))
                        self.reports[packet.ssrc].append((info.ntp_timestamp, info.rtp_timestamp))
                        self.first_report_at = self.first_report_at or time.monotonic()
                data = b"".join(bytes(p) for p in packets)
            else:
                packet = RtpPacket.parse(data)
                digest = hash(packet.payload)
                self.timestamps[digest] = None if digest in self.timestamps else packet.timestamp
            await original(data)

        transport._send_rtp = send_rtp


def mapping_error(
    report: tuple[int, int], publisher: list[tuple[int, int]], offset: int, clock: int
) -> float:
    """Seconds between a subscriber SR's NTP time and the publisher's NTP time for the same
    media instant (subscriber RTP time minus the rewrite offset), best publisher SR."""
    ntp, rtp = report
    errors = []
    for pub_ntp, pub_rtp in publisher:
        delta = ((rtp - offset - pub_rtp + TS // 2) % TS) - TS // 2
        errors.append(abs((ntp - pub_ntp) / (1 << 32) - delta / clock))
    return min(errors)


async def test_sender_reports_carry_the_publishers_clock_for_av_sync(room_and_events):
    room, events = room_and_events
    publisher = MediaClient(
        "pub", tracks=[("camera", ColorVideoTrack(RED)), ("microphone", ToneAudioTrack())]
    )
    subscriber = MediaClient("sub")
    try:
        await join(room, events, publisher, subscribe=False)
        audio_ssrc = publisher.senders["microphone"]._ssrc
        video_ssrc = publisher.senders["camera"]._ssrc
        # Audio captured 150 ms later than video (relative to RTP time): a subscriber that
        # lines up by SRs must see exactly that, not the SFU's arrival times.
        shifter = SenderReportShifter(publisher, {audio_ssrc: 0.15, video_ssrc: -0.1})
        await join(room, events, subscriber)
        streams = {"audio": (audio_ssrc, 48000), "video": (video_ssrc, 90000)}

        def settled() -> bool:
            first = shifter.first_report_at
            return first is not None and all(
                sum(1 for r in received.reports if r.at > first + 0.2) >= 2
                for received in subscriber.received.values()
            )

        await subscriber.wait_until(settled, timeout=10)
        assert len(subscriber.received) == 2
        for received in subscriber.received.values():
            ssrc, clock = streams[received.kind]
            offsets = {
                (p.timestamp - sent) % TS
                for p in media_packets(received.wire)
                if (sent := shifter.timestamps.get(p.digest)) is not None
            }
            assert len(offsets) == 1, offsets  # one rewrite offset for the whole run
            (offset,) = offsets
            last = received.reports[-1]
            error = mapping_error(
                (last.ntp_timestamp, last.rtp_timestamp), shifter.reports[ssrc], offset, clock
            )
            assert error < 0.003, (received.kind, error)
    finally:
        await asyncio.gather(publisher.close(), subscriber.close())


@pytest.mark.skipif("libx264" not in av.codecs_available, reason="no H.264 encoder")
async def test_nacks_are_answered_with_the_rtx_type_of_the_forwarded_codec(room_and_events):
    room, events = room_and_events
    video = PreEncodedVideoTrack(BLUE, codec="h264", fps=30)
    publisher = MediaClient("pub", tracks=[("camera", video)], video_codec="H264")
    subscriber = MediaClient("sub")  # offers VP8 first, H.264 later
    dropped: list[int] = []
    seen = 0

    def drop(mid: str, packet: RtpPacket) -> bool:
        nonlocal seen
        if packet.payload_type not in media_types or len(dropped) >= 8:
            return False
        seen += 1
        if seen > 30 and seen % 6 == 0:
            dropped.append(packet.sequence_number)
            return True
        return False

    media_types: set[int] = set()
    try:
        await join(room, events, publisher, subscribe=False)
        await join(room, events, subscriber)
        await subscriber.wait_for_video_frames(3, timeout=10)
        (slot,) = subscriber.video()
        transceiver = next(t for t in subscriber.pc.getTransceivers() if t.mid == slot.mid)
        codecs = transceiver.receiver._RTCRtpReceiver__codecs
        h264 = next(pt for pt, c in codecs.items() if c.mimeType.lower() == "video/h264")
        first = next(pt for pt, c in codecs.items() if c.mimeType.lower() == "video/vp8")
        rtx = {c.parameters["apt"]: pt for pt, c in codecs.items() if c.name.lower() == "rtx"}
        assert rtx[first] != rtx[h264]  # the old bug would have sent rtx[first]
        media_types.add(h264)
        subscriber.drop_rtp = drop
        rtx_sent = room.counters.rtx_sent
        frames = slot.frames

        def repaired() -> bool:
            resent = {p.original_sequence for p in slot.wire if p.original_sequence is not None}
            return len(dropped) == 8 and set(dropped) <= resent

        await subscriber.wait_until(repaired, timeout=10)
        retransmissions = [p for p in slot.wire if p.original_sequence is not None]
        assert {p.payload_type for p in retransmissions} == {rtx[h264]}
        assert len({p.ssrc for p in retransmissions}) == 1
        assert retransmissions[0].ssrc != slot.wire[0].ssrc  # RTX has its own SSRC (RFC 4588)
        assert room.counters.rtx_sent - rtx_sent >= 8
        assert room.counters.nack_received >= 8
        # aiortc's receiver took the repairs: it stopped asking and kept decoding.
        receiver = transceiver.receiver
        assert not set(dropped) & receiver._RTCRtpReceiver__nack_generator.missing
        await subscriber.wait_until(lambda: slot.frames > frames + 15, timeout=5)
    finally:
        await asyncio.gather(publisher.close(), subscriber.close())
