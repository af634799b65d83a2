"""ICE on loopback only, for the benchmark's own processes.

aioice lists host addresses itself and skips 127.0.0.1 (aioice/ice.py ``get_host_addresses``),
so two peers on one machine with no other interface could not connect, and on a machine with
one they would pair over it. The SFU handles this per connection through its settings
(``SfuSettings.listen_addresses``); the naive relay server and the load clients here replace
aioice's function while they run (``loopback_ice`` restores it afterwards, so a test process
is left as it was).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import aioice.ice


def _loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


@contextlib.contextmanager
def loopback_ice() -> Iterator[None]:
    original = aioice.ice.get_host_addresses
    aioice.ice.get_host_addresses = _loopback_only
    try:
        yield
    finally:
        aioice.ice.get_host_addresses = original
