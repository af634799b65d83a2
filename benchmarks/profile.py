"""Where the SFU's time goes: a py-spy sample of the server process during a steady window.

py-spy samples from outside (no instrumentation overhead, unlike cProfile); its ``raw``
output is one collapsed stack per line with a sample count. Self time is charged to the
innermost frame, inclusive time to every distinct frame on the stack.
"""

from __future__ import annotations

import asyncio
import shutil
import sysconfig
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Profile:
    samples: int
    self_top: list[tuple[str, float]]  # (frame, share of samples)
    inclusive_top: list[tuple[str, float]]


def available() -> bool:
    return shutil.which("py-spy") is not None


async def record(pid: int, seconds: float, top: int = 25) -> Profile:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "stacks.txt"
        process = await asyncio.create_subprocess_exec(
            "py-spy",
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            "250",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.wait_for(process.wait(), seconds + 30)
        text = out.read_text() if out.exists() else ""
    return parse(text, top)


def parse(text: str, top: int = 25) -> Profile:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    share = max(total, 1)
    return Profile(
        samples=total,
        self_top=[(f, n / share) for f, n in own.most_common(top)],
        inclusive_top=[(f, n / share) for f, n in inclusive.most_common(top)],
    )


def _short(frame: str) -> str:
    """``send (/…/site-packages/aiortc/rtp.py:120)`` -> ``send (aiortc/rtp.py:120)``."""
    for prefix in _PREFIXES:
        frame = frame.replace(prefix, "")
    return frame


_PREFIXES = (
    sysconfig.get_paths()["purelib"] + "/",
    sysconfig.get_paths()["platlib"] + "/",
    sysconfig.get_paths()["stdlib"] + "/",
    str(Path(__file__).resolve().parent.parent) + "/",
)
