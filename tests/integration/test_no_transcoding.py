"""The SFU never decodes or encodes forwarded media.

The MediaRoom runs in a subprocess (tests/support/sfu_harness.py) that counts every FFmpeg
codec context PyAV opens and every aiortc decoder/encoder; the clients here publish with a
real encoder and decode what they receive. A pass means the subscribers decoded the
publisher's colour while the SFU process opened zero codecs and ran no decoder thread.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from tests.support.aiortc_client import MediaClient
from tests.support.media import ColorVideoTrack, ToneAudioTrack, close_to

ROOT = Path(__file__).resolve().parents[2]
GREEN = (30, 200, 60)


class SfuProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.clients: dict[str, MediaClient] = {}
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next = 0
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls) -> SfuProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.sfu_harness",
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        async with asyncio.timeout(20):
            assert json.loads(await process.stdout.readline()) == {"ready": True}
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            message = json.loads(line)
            if message.get("event") == "renegotiation_needed":
                self.clients[message["peer"]].renegotiate(message["audio"], message["video"])
            elif "id" in message and message["id"] in self._replies:
                self._replies.pop(message["id"]).set_result(message)

    async def call(self, op: str, **fields: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self._next += 1
        future = asyncio.get_running_loop().create_future()
        self._replies[self._next] = future
        self.process.stdin.write(
            (json.dumps({"id": self._next, "op": op, **fields}) + "\n").encode()
        )
        await self.process.stdin.drain()
        async with asyncio.timeout(15):
            reply = await future
        assert "error" not in reply, reply["error"]
        return reply

    async def join(self, client: MediaClient, *, subscribe: bool) -> None:
        self.clients[client.name] = client
        await self.call(
            "add_peer", peer=client.name, allowed=["camera", "microphone"], subscribe=subscribe
        )

        async def exchange(sdp: str, sources: dict[str, str]) -> tuple[str, dict[str, str]]:
            reply = await self.call("offer", peer=client.name, sdp=sdp, sources=sources)
            return reply["sdp"], reply["mids"]

        await client.connect(exchange)

    async def stop(self) -> None:
        try:
            await self.call("close")
        finally:
            async with asyncio.timeout(10):
                await self.process.wait()
            self._reader.cancel()


async def test_forwarded_media_is_never_decoded_or_encoded_by_the_sfu():
    sfu = await SfuProcess.start()
    publisher = MediaClient(
        "pub", tracks=[("camera", ColorVideoTrack(GREEN)), ("microphone", ToneAudioTrack())]
    )
    subscribers = [MediaClient("sub1"), MediaClient("sub2")]
    try:
        await sfu.join(publisher, subscribe=False)
        for sub in subscribers:
            await sfu.join(sub, subscribe=True)
        for sub in subscribers:
            await sub.wait_until(
                lambda s=sub: (
                    any(v.frames >= 10 and close_to(v.colors[-1], GREEN) for v in s.video())
                    and any(a.frames >= 25 for a in s.audio())
                ),
                timeout=15,
            )
        report = await sfu.call("report")
        # At least the frames waited for above went through, to each of the two subscribers.
        assert report["counters"]["packets_forwarded"] >= 2 * (10 + 25)
        assert report["calls"] == {}, report["calls"]  # no codec opened, no aiortc codec made
        assert report["live_codecs"] == []
        assert not [t for t in report["threads"] if "decoder" in t or "encoder" in t]
    finally:
        await asyncio.gather(publisher.close(), *(s.close() for s in subscribers))
        await sfu.stop()


async def test_the_harness_does_count_codecs():
    """Control: the counters would have seen a decoder/encoder had the SFU made one."""
    script = (
        "import tests.support.sfu_harness as h\n"
        "import aiortc.rtcrtpreceiver as r, aiortc.rtcrtpsender as s\n"
        "from aiortc.rtcrtpparameters import RTCRtpCodecParameters as C\n"
        "vp8 = C(mimeType='video/VP8', clockRate=90000, payloadType=96)\n"
        "d = r.get_decoder(vp8); e = s.get_encoder(vp8)\n"
        "import av; c = av.CodecContext.create('libopus', 'w')\n"
        "print(sorted(h.CALLS.items()))\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(20):
        out, _ = await process.communicate()
    calls = dict(eval(out.decode()))  # a list of (name, count) pairs printed above
    assert calls["get_decoder"] == 1 and calls["get_encoder"] == 1
    assert calls["CodecContext.create"] >= 2  # libvpx decoder via get_decoder + libopus
