"""Transcript exports, read back with ffmpeg's own WebVTT and SubRip parsers (PyAV)."""

from __future__ import annotations

import io
import json

import av

from minutes.transcript import Segment
from minutes.transcript_formats import to_json, to_srt, to_text, to_webvtt

START = 1_780_000_000.0
SEGMENTS = [
    Segment("bob", "Bob", START + 63.25, START + 65.5, "Sure, I'll send it by Friday.", 7),
    Segment(
        "alice", "Alice <Admin> & Co", START + 1.0, START + 4.5, "x --> y <b>bold</b> & more", 3
    ),
    Segment("carol", "Carol", START + 3_600 * 101 + 2.0, START + 3_600 * 101 + 3.0, "late\n\nline"),
]


def _cues(text: str, fmt: str) -> list[tuple[float, float, str]]:
    container = av.open(io.BytesIO(text.encode()), mode="r", format=fmt)
    stream = container.streams.subtitles[0]
    cues = []
    for packet in container.demux(stream):
        if packet.size == 0 or packet.pts is None or packet.duration is None:
            continue
        for subtitle in packet.decode():
            assert packet.time_base is not None
            cues.append(
                (
                    float(packet.pts * packet.time_base),
                    float(packet.duration * packet.time_base),
                    bytes(getattr(subtitle, "dialogue", b"")).decode(),
                )
            )
    container.close()
    return cues


def test_webvtt_is_valid_ordered_escaped_and_voiced() -> None:
    vtt = to_webvtt(SEGMENTS, START)
    assert vtt.startswith("WEBVTT\n\n")
    assert "1\n00:00:01.000 --> 00:00:04.500\n<v Alice &lt;Admin&gt; &amp; Co>Alice" in vtt
    assert "x --&gt; y &lt;b&gt;bold&lt;/b&gt; &amp; more" in vtt
    assert "<v Bob>Bob: Sure, I'll send it by Friday." in vtt
    assert "101:00:02.000 --> 101:00:03.000" in vtt  # hours are not capped at 99
    assert _cues(vtt, "webvtt") == [
        (1.0, 3.5, "Alice <Admin> & Co: x --> y <b>bold</b> & more"),
        (63.25, 2.25, "Bob: Sure, I'll send it by Friday."),
        (363_602.0, 1.0, "Carol: late line"),  # a blank line would have ended the cue
    ]


def test_srt_uses_comma_milliseconds_and_parses() -> None:
    srt = to_srt(SEGMENTS, START)
    assert srt.startswith("1\n00:00:01,000 --> 00:00:04,500\nAlice <Admin> & Co: x")
    assert "2\n00:01:03,250 --> 00:01:05,500\nBob: Sure, I'll send it by Friday.\n" in srt
    cues = _cues(srt, "srt")
    assert [(start, length) for start, length, _ in cues] == [
        (1.0, 3.5),
        (63.25, 2.25),
        (363_602.0, 1.0),
    ]
    assert cues[1][2] == "Bob: Sure, I'll send it by Friday."


def test_json_keeps_ids_and_relative_times() -> None:
    document = json.loads(to_json(SEGMENTS, START))
    assert document["meeting_start"] == START
    assert document["segments"][:2] == [
        {
            "id": 3,
            "identity": "alice",
            "name": "Alice <Admin> & Co",
            "start": 1.0,
            "end": 4.5,
            "text": "x --> y <b>bold</b> & more",
        },
        {
            "id": 7,
            "identity": "bob",
            "name": "Bob",
            "start": 63.25,
            "end": 65.5,
            "text": "Sure, I'll send it by Friday.",
        },
    ]


def test_plain_text_lines() -> None:
    assert to_text(SEGMENTS, START).splitlines() == [
        "[00:00:01] Alice <Admin> & Co: x --> y <b>bold</b> & more",
        "[00:01:03] Bob: Sure, I'll send it by Friday.",
        "[101:00:02] Carol: late line",
    ]


def test_odd_times_never_break_a_file() -> None:
    odd = [
        Segment("a", "", START - 5.0, START - 4.0, "before the start"),
        Segment("b", "B", START + 2.0, START + 2.0, "zero length"),
        Segment("c", "C", float("nan"), float("inf"), "broken clock"),
    ]
    vtt = to_webvtt(odd, START)
    cues = _cues(vtt, "webvtt")
    assert len(cues) == 3 and all(length > 0 for _, length, _ in cues)
    assert "Unknown: before the start" in vtt
    assert "00:00:02.000 --> 00:00:02.001" in vtt
    assert len(_cues(to_srt(odd, START), "srt")) == 3
    assert json.loads(to_json(odd, START))["segments"][0]["start"] == 0.0
    assert len(to_text(odd, START).splitlines()) == 3


def test_empty_transcript() -> None:
    assert to_webvtt([], START) == "WEBVTT\n"
    assert to_srt([], START) == ""
    assert to_text([], START) == ""
    assert json.loads(to_json([], START)) == {"meeting_start": START, "segments": []}
