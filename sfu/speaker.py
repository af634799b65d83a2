"""Active speaker from the audio-level header extension (RFC 6464).

Each audio packet carries the level of its audio in -dBov (0 = loudest, 127 = silence).
Per peer, the loudness (127 - level) of the packets seen in one evaluation interval is
averaged and smoothed across intervals; the loudest peer above a threshold becomes the
speaker. A speaker is kept for at least ``hold_s`` so the indicator does not flap between
two people talking over each other, and ``None`` is reported once nobody has spoken for
``hold_s``. The clock is passed in, so this is testable without waiting.
"""

from __future__ import annotations

from dataclasses import dataclass

# -dBov. Speech at a normal distance is about 20-40 dBov below full scale; breathing and
# room noise usually sit under 60 (the WebRTC VAD's sensitivity is of the same order).
SPEECH_LEVEL_DBOV = 60
# Exponential smoothing weight of the newest interval.
SMOOTHING = 0.5
# A challenger must be louder than the current speaker by this margin (dB) to take over.
SWITCH_MARGIN_DB = 6.0
# Minimum time a speaker (or "nobody") is kept.
DEFAULT_HOLD_S = 1.0


@dataclass
class _Level:
    total: int = 0
    count: int = 0
    smoothed: float = 0.0


class SpeakerDetector:
    def __init__(self, *, hold_s: float = DEFAULT_HOLD_S) -> None:
        self.hold_s = hold_s
        self._levels: dict[str, _Level] = {}
        self.current: str | None = None
        self._since = float("-inf")

    def observe(self, peer_id: str, level_dbov: int) -> None:
        """One packet's audio level (0-127 -dBov; other values are ignored)."""
        if not 0 <= level_dbov <= 127:
            return
        entry = self._levels.get(peer_id)
        if entry is None:
            entry = self._levels[peer_id] = _Level()
        entry.total += 127 - level_dbov
        entry.count += 1

    def forget(self, peer_id: str) -> None:
        self._levels.pop(peer_id, None)

    def evaluate(self, now: float) -> str | None:
        """Fold the interval into the smoothed levels; return the (possibly new) speaker."""
        threshold = 127 - SPEECH_LEVEL_DBOV
        loudest: str | None = None
        loudest_level = float(threshold)
        for peer_id, entry in self._levels.items():
            mean = entry.total / entry.count if entry.count else 0.0
            entry.total = entry.count = 0
            entry.smoothed = SMOOTHING * mean + (1 - SMOOTHING) * entry.smoothed
            if entry.smoothed >= loudest_level:
                loudest, loudest_level = peer_id, entry.smoothed
        current = self.current
        if current is not None and current not in self._levels:
            self._set(loudest, now)  # the speaker left: no hold for someone who is gone
        elif loudest != current and now - self._since >= self.hold_s:
            current_entry = self._levels.get(current) if current is not None else None
            speaking = current_entry is not None and current_entry.smoothed >= threshold
            if (
                loudest is None
                or not speaking
                or current_entry is None
                or loudest_level >= current_entry.smoothed + SWITCH_MARGIN_DB
            ):
                self._set(loudest, now)
        return self.current

    def _set(self, peer_id: str | None, now: float) -> None:
        if peer_id != self.current:
            self.current = peer_id
            self._since = now
