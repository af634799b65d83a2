"""Process and machine CPU from /proc, read from outside the measured process.

``/proc/<pid>/stat`` fields 14-15 (utime, stime, in clock ticks; man 5 proc) cover every
thread of the process, so a server that encodes in a thread pool (aiortc's relay) is charged
for it. ``/proc/stat``'s first line gives the whole machine, so the report can say how busy
the rest of the machine was during a window.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class CpuSample:
    wall: float  # time.monotonic()
    process_s: float  # user + system CPU seconds of the process
    machine_busy_s: float  # non-idle CPU seconds of the whole machine
    rss_bytes: int


def sample(pid: int) -> CpuSample:
    with open(f"/proc/{pid}/stat") as handle:
        # The command name (field 2) is in parentheses and may contain spaces.
        fields = handle.read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    rss_pages = int(fields[21])
    return CpuSample(
        wall=time.monotonic(),
        process_s=(utime + stime) / _TICK,
        machine_busy_s=_machine_busy_s(),
        rss_bytes=rss_pages * _PAGE,
    )


def _machine_busy_s() -> float:
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / _TICK


@dataclass(frozen=True)
class CpuUse:
    cores: float  # CPU seconds per wall second of the process
    machine_cores: float  # of the whole machine (all processes)
    rss_bytes: int  # at the end of the window


def between(start: CpuSample, end: CpuSample) -> CpuUse:
    wall = max(end.wall - start.wall, 1e-9)
    return CpuUse(
        cores=(end.process_s - start.process_s) / wall,
        machine_cores=(end.machine_busy_s - start.machine_busy_s) / wall,
        rss_bytes=end.rss_bytes,
    )
