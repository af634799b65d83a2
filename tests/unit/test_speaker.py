"""Active speaker detection from RFC 6464 audio levels."""

from __future__ import annotations

import itertools

from sfu.speaker import SpeakerDetector

LOUD, SOFT, SILENT = 20, 45, 127  # -dBov


def feed(detector: SpeakerDetector, levels: dict[str, int], packets: int = 15) -> None:
    for peer, level in levels.items():
        for _ in range(packets):
            detector.observe(peer, level)


def test_loudest_speaker_wins_and_silence_reports_none():
    d = SpeakerDetector(hold_s=1.0)
    t = 0.0
    assert d.evaluate(t) is None
    for _ in range(3):
        t += 0.3
        feed(d, {"alice": LOUD, "bob": SILENT})
        d.evaluate(t)
    assert d.current == "alice"
    for _ in range(10):
        t += 0.3
        feed(d, {"alice": SILENT, "bob": SILENT})
        d.evaluate(t)
    assert d.current is None


def test_hold_prevents_flapping():
    d = SpeakerDetector(hold_s=1.0)
    t = 0.3
    feed(d, {"alice": LOUD})
    assert d.evaluate(t) is None  # one interval is a blip (a cough), not speech
    t += 0.3
    feed(d, {"alice": LOUD})
    assert d.evaluate(t) == "alice"
    changes = []
    for i in range(20):  # alternating who is louder every interval
        t += 0.1
        loud, soft = ("bob", "alice") if i % 2 else ("alice", "bob")
        feed(d, {loud: LOUD, soft: SOFT})
        changes.append(d.evaluate(t))
    switches = sum(1 for a, b in itertools.pairwise(changes) if a != b)
    assert switches <= 2  # 2 s of alternation with a 1 s hold


def test_a_clearly_louder_challenger_takes_over_after_the_hold():
    d = SpeakerDetector(hold_s=1.0)
    t = 0.0
    for _ in range(4):
        t += 0.3
        feed(d, {"alice": SOFT})
        d.evaluate(t)
    assert d.current == "alice"
    for _ in range(6):
        t += 0.3
        feed(d, {"alice": SOFT, "bob": LOUD})
        d.evaluate(t)
    assert d.current == "bob"


def test_forgotten_speaker_is_replaced_at_once_and_bad_levels_ignored():
    d = SpeakerDetector(hold_s=10.0)
    for t in (0.7, 1.0):
        feed(d, {"alice": LOUD, "bob": SOFT})
        d.evaluate(t)
    assert d.current == "alice"
    d.forget("alice")
    feed(d, {"bob": LOUD})
    assert d.evaluate(1.1) == "bob"
    d.observe("carol", 500)
    d.observe("carol", -3)
    feed(d, {"bob": LOUD})
    assert d.evaluate(1.2) == "bob"
