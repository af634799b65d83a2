"""A joined participant that misbehaves on the media plane, and the active speaker.

Security checklist item 15: malformed RTP/RTCP from a joined participant -> 0 crashes, other
streams keep flowing. The packets go through the participant's real SRTP session
(``RTCDtlsTransport._send_rtp`` protects them), so they reach the SFU exactly as a hostile
client's would; what libsrtp itself refuses to protect is reported, not silently skipped.
"""

from __future__ import annotations

import asyncio
import struct
import time
from typing import Any

import pylibsrtp
from aiortc.rtp import (
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
)

from sfu import MediaRoom
from sfu.aiortc_hooks import MAX_SSRCS_PER_RECEIVER
from tests.support.aiortc_client import MediaClient, RecordingEvents, join, loopback_settings
from tests.support.media import ColorVideoTrack, ToneAudioTrack, close_to

RED = (230, 30, 30)
GREEN = (30, 200, 60)


def rtp_header(pt: int, seq: int, ssrc: int, *, cc: int = 0, x: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80 | (0x10 if x else 0) | cc, pt, seq, 1234, ssrc)


def malformed_rtp(pt: int, ssrc: int, seq: int) -> dict[str, bytes]:
    """Each is one SRTP-protectable packet aiortc or the SFU must survive. The SSRCs are
    fresh (libsrtp's replay window on the sending side rejects reused numbers), so they
    also probe the cap on SSRCs a peer can make the SFU learn."""
    bede = b"\xbe\xde"
    return {
        # abs-send-time (id 3) with 2 bytes instead of 3: struct.error in aiortc's parser
        "short abs-send-time": rtp_header(pt, seq, ssrc, x=True)
        + bede
        + b"\x00\x01\x31\x01\x02\x00"
        + b"\x90\x80\x00",
        # one-byte element claiming 16 bytes inside a 4-byte block
        "element overruns its block": rtp_header(pt, seq + 1, ssrc, x=True)
        + bede
        + b"\x00\x01\x3f\x01\x02\x03"
        + b"\x90",
        # extension block longer than the packet (libsrtp may refuse this one)
        "block longer than packet": rtp_header(pt, seq + 2, ssrc, x=True) + bede + b"\x00\x20",
        # MID that is not UTF-8
        "bad MID": rtp_header(pt, seq + 3, ssrc, x=True)
        + bede
        + b"\x00\x01\x10\xff\x00\x00"
        + b"\x90",
        "truncated VP8 descriptor": rtp_header(pt, seq + 4, ssrc + 1) + b"\x90",
        "X without extension byte": rtp_header(pt, seq + 5, ssrc + 1) + b"\x80",
        "zero-length payload": rtp_header(pt, seq + 6, ssrc + 1),
        "15 CSRCs, nothing after": rtp_header(pt, seq + 7, ssrc, cc=15) + b"\x00" * 8,
        "15 CSRCs and a payload": rtp_header(pt, seq + 8, ssrc + 2, cc=15) + b"\x00" * 60 + b"\x90",
        "unknown payload type": rtp_header(77, seq + 9, ssrc) + b"\x90\x80\x00",
        "padding longer than packet": bytes([0xA0]) + rtp_header(pt, seq + 10, ssrc)[1:] + b"\xff",
    }


def malformed_rtcp(media_ssrc: int, sfu_ssrc: int) -> dict[str, bytes]:
    nack_unknown = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=0xDEAD)
    nack_unknown.lost = [1, 2, 3]
    # The same 17 numbers NACKed 60 times over for a real outgoing stream: no flood back.
    # (aiortc's own packer cannot write repeats: RFC 4585 6.2.1 FCI entries by hand.)
    fci = struct.pack("!HH", 100, 0xFFFF) * 60
    nack_flood = struct.pack("!BBHII", 0x81, 205, 2 + len(fci) // 4, 1, sfu_ssrc) + fci
    return {
        "length beyond data": b"\x80\xc8\x00\x40" + b"\x00" * 8,
        "unknown type (208)": b"\x80\xd0\x00\x02" + b"\x00" * 8,
        "bad version": b"\x40\xc8\x00\x01" + b"\x00" * 4,
        "REMB with 12 SSRCs claimed, 2 given": bytes.fromhex(
            "8fce0006000000010000000052454d420c0186a00000000100000002"
        ),
        "PLI for an unknown SSRC": bytes(
            RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=0xBEEF)
        ),
        "NACK for an unknown SSRC": bytes(nack_unknown),
        "NACK flood": nack_flood,
        "BYE for its own stream": bytes(RtcpByePacket(sources=[media_ssrc])),
        "SR with 31 report blocks, truncated": b"\x9f\xc8\x00\x06" + b"\x00" * 24,
    }


async def send_raw(transport: Any, packets: dict[str, bytes]) -> list[str]:
    """Send each through the participant's SRTP session; return those libsrtp refused."""
    refused = []
    for name, data in packets.items():
        try:
            await transport._send_rtp(data)
        except pylibsrtp.Error:
            refused.append(name)
    return refused


async def test_malformed_rtp_and_rtcp_from_a_participant(room_and_events):
    room, events = room_and_events
    publisher = MediaClient("pub", tracks=[("camera", ColorVideoTrack(RED))])
    mallory = MediaClient("mallory", tracks=[("camera", ColorVideoTrack(GREEN))])
    watcher = MediaClient("watcher")
    try:
        await join(room, events, publisher, subscribe=False)
        await join(room, events, mallory)
        await join(room, events, watcher)
        pub_sid, mallory_sid = (t.sid for t in events.published)

        def watching(sid: str, color: tuple[int, int, int], more_than: int = 5) -> bool:
            r = watcher.by_sid(sid)
            return r is not None and r.frames > more_than and close_to(r.colors[-1], color)

        await watcher.wait_until(
            lambda: watching(pub_sid, RED) and watching(mallory_sid, GREEN), timeout=10
        )
        await mallory.wait_for_video_frames(3, timeout=10)
        sender = mallory.senders["camera"]
        transceiver = next(t for t in mallory.pc.getTransceivers() if t.sender is sender)
        pt = transceiver._codecs[0].payloadType
        ssrc = sender._ssrc
        # The stream the SFU sends mallory (publisher's camera), for NACKs naming it.
        (slot,) = mallory.video()
        sfu_ssrc = slot.wire[-1].ssrc
        dropped = room.counters.packets_dropped
        pub_frames = watcher.by_sid(pub_sid).frames
        transport = sender.transport

        refused: list[str] = []
        for round_ in range(5):
            refused = await send_raw(transport, malformed_rtp(pt, 0x5000_0000 + 4 * round_, 100))
            refused += await send_raw(transport, malformed_rtcp(ssrc, sfu_ssrc))
            await asyncio.sleep(0.05)
        # libsrtp refuses to protect headers whose lengths exceed the packet; everything
        # else went out (and would come in the same way from a hostile client).
        assert set(refused) <= {"block longer than packet", "15 CSRCs, nothing after"}, refused
        await asyncio.sleep(0.3)

        # Nothing died: mallory's own connection at the SFU is still up ...
        assert ("mallory", "closed") not in events.states
        assert ("mallory", "failed") not in events.states
        assert mallory.pc.connectionState == "connected"
        # ... the others' streams kept flowing ...
        await watcher.wait_until(lambda: watching(pub_sid, RED, pub_frames + 10), timeout=5)
        # ... the garbage was counted ...
        assert room.counters.packets_dropped - dropped >= 5 * 6
        # ... the NACK flood was answered at most once per number, and mallory's own camera
        # comes back to the watcher (its stray SSRCs re-based the stream, a PLI got a
        # keyframe).
        assert room.counters.rtx_sent < 5 * 17 + 20
        frames = watcher.by_sid(mallory_sid).frames
        await watcher.wait_until(lambda: watching(mallory_sid, GREEN, frames + 10), timeout=10)
        # At most MAX_SSRCS_PER_RECEIVER SSRCs were learned for mallory's one camera.
        mallory_pc = room._peers["mallory"].pc
        router = mallory_pc.getTransceivers()[0].receiver.transport._rtp_router
        assert len(router.ssrc_table) <= MAX_SSRCS_PER_RECEIVER
    finally:
        await asyncio.gather(publisher.close(), mallory.close(), watcher.close())


async def test_active_speaker_follows_the_loud_participant(room_and_events):
    room, events = room_and_events
    # aiortc's sender writes the RFC 6464 level it computes from each frame it encodes.
    alice_voice = ToneAudioTrack(amplitude=0.5)
    bob_voice = ToneAudioTrack(amplitude=0.0)
    alice = MediaClient("alice", tracks=[("microphone", alice_voice)])
    bob = MediaClient("bob", tracks=[("microphone", bob_voice)])

    async def speaker_becomes(peer: str | None, timeout: float) -> float:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            # RecordingEvents only records; polling is bounded by the timeout above.
            while not events.speakers or events.speakers[-1] != peer:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        return time.monotonic()

    try:
        await join(room, events, alice, subscribe=False)
        await join(room, events, bob, subscribe=False)
        await speaker_becomes("alice", timeout=5)
        await asyncio.sleep(0.5)
        assert events.speakers[-1] == "alice"

        # Alice stops, Bob talks: Bob takes over.
        count = len(events.speakers)
        alice_voice.amplitude, bob_voice.amplitude = 0.0, 0.5
        switched = await speaker_becomes("bob", timeout=5)
        assert set(events.speakers[count:]) <= {None, "bob"}

        # Alice talks again at once: the indicator holds Bob for the hold time first.
        alice_voice.amplitude, bob_voice.amplitude = 0.5, 0.0
        back = await speaker_becomes("alice", timeout=5)
        hold = max(1.0, 3 * room.settings.speaker_interval_s)
        assert back - switched >= hold - room.settings.speaker_interval_s
        assert "alice" not in events.speakers[count:-1]
    finally:
        await asyncio.gather(alice.close(), bob.close())


async def test_reoffers_with_fresh_mids_cannot_grow_a_peer_without_bound():
    """aiortc keeps a transceiver, with its ICE/DTLS transports and UDP sockets, for every
    mid it was ever offered; a client re-offering with new mids each time must be refused
    once the mids of all its offers exceed max_m_sections."""
    from aiortc import RTCPeerConnection

    from sfu import SdpRejected

    events = RecordingEvents()
    room = MediaRoom(loopback_settings(max_m_sections=4), events)
    client = RTCPeerConnection()
    try:
        await room.add_peer("churn", allowed_sources=frozenset(), subscribe=True)
        client.addTransceiver("video", direction="recvonly")
        await client.setLocalDescription(await client.createOffer())
        sdp = client.localDescription.sdp
        refused = 0
        for i in range(10):
            renamed = sdp.replace("a=mid:0", f"a=mid:m{i}").replace("BUNDLE 0", f"BUNDLE m{i}")
            try:
                await room.handle_offer("churn", renamed, {})
            except SdpRejected as exc:
                assert "the limit is 4" in exc.reason
                refused += 1
        mids = [t.mid for t in room._peers["churn"].pc.getTransceivers()]
        assert (refused, len(mids)) == (6, 4), mids
    finally:
        await client.close()
        await room.close()
