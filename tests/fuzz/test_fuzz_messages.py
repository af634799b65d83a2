"""Signalling message fuzzing (security checklist item 13): only the catalogue error.

Default run, seeded: 100,000 mutants of valid messages of every client type in
docs/protocol.md through ``signaling.protocol.parse``. Each must parse into a message whose
fields keep the documented bounds, or raise ``MessageError`` (``bad_message`` or
``unsupported_version``) whose error frame can be serialised and sent as UTF-8. Every file
in ``corpus/messages`` (seeds) and ``corpus/crashers/*.msg`` is replayed first.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from sfu.events import SOURCES
from signaling.commands import (
    MAX_FILE_ID_LENGTH,
    MAX_PASSWORD_LENGTH,
    MAX_SCREEN_SHARES,
    MAX_SID_LENGTH,
    MUTABLE_SOURCES,
    PERMISSIONS,
    Admit,
    AdmitAll,
    AskUnmute,
    Chat,
    EndMeeting,
    LowerHand,
    MuteParticipant,
    RaiseHand,
    RecordingControl,
    RemoveParticipant,
    SetFraming,
    SetHost,
    SetPermission,
    StopShare,
    TranscriptionControl,
    Unban,
    UpdateRoom,
    is_time_zone,
)
from signaling.errors import ErrorCode
from signaling.protocol import (
    MAX_CANDIDATE_LENGTH,
    MAX_CAPTION_SPAN_S,
    MAX_ID_LENGTH,
    MAX_MID_LENGTH,
    MAX_TRACK_SID_LENGTH,
    MAX_TRACKS,
    MESSAGE_TYPES,
    Caption,
    ClientMessage,
    IceCandidate,
    Join,
    Leave,
    MessageError,
    Mute,
    Offer,
    Ping,
    parse,
)
from signaling.tokens import MAX_IDENTITY_LENGTH

from .crash_log import (
    CrashLog,
    KnownBugs,
    corpus_files,
    read_input,
    replay_params,
    scaled,
    signature,
)
from .message_mutator import MessageMutator

SEEDS = corpus_files("messages", ".json")
CRASHERS = corpus_files("crashers", ".msg")
# Unfixed crashers: file name -> (exception, bug). Strict xfail, as in test_fuzz_sdp.py.
KNOWN_BUGS: KnownBugs = {}
MUTANTS = scaled(100_000)


def check_request_id(value: object) -> None:
    if isinstance(value, str):
        assert len(value) <= MAX_ID_LENGTH
    elif value is not None:
        assert type(value) is int and abs(value) < 2**53, value


def check_message(message: ClientMessage) -> None:
    """What the session may rely on after a successful parse."""
    check_request_id(message.id)
    if isinstance(message, Join):
        assert message.v == 1 and isinstance(message.token, str)
        assert message.name is None or isinstance(message.name, str)
        assert message.password is None or 0 < len(message.password) <= MAX_PASSWORD_LENGTH
    elif isinstance(message, Offer):
        assert isinstance(message.sdp, str) and len(message.tracks) <= MAX_TRACKS
        mids = [track.mid for track in message.tracks]
        assert len(set(mids)) == len(mids)
        for track in message.tracks:
            assert isinstance(track.mid, str) and 0 < len(track.mid) <= MAX_MID_LENGTH
            assert track.source in SOURCES
            frames = track.frames
            assert frames is None or (track.source == "camera" and 0 < len(frames) <= 64)
    elif isinstance(message, IceCandidate):
        assert isinstance(message.candidate, str)
        assert len(message.candidate) <= MAX_CANDIDATE_LENGTH
        assert message.sdp_mid is None or len(message.sdp_mid) <= MAX_MID_LENGTH
        index = message.sdp_mline_index
        assert index is None or (type(index) is int and 0 <= index < MAX_TRACKS * 4)
    elif isinstance(message, Mute):
        assert message.source in SOURCES and type(message.muted) is bool
    elif isinstance(message, SetHost | RemoveParticipant):
        assert len(message.participant_sid) <= MAX_SID_LENGTH
        assert type(getattr(message, "host", getattr(message, "ban", None))) is bool
    elif isinstance(message, Unban):
        assert 0 < len(message.identity) <= MAX_IDENTITY_LENGTH
    elif isinstance(message, UpdateRoom):
        change = message.settings
        for name in ("lobby", "locked", "mute_on_entry", "self_unmute", "require_camera"):
            assert getattr(change, name) in (None, True, False)
        assert change.screen_share in (None, "hosts", "everyone")
        count = change.max_screen_shares
        assert count is None or (type(count) is int and 1 <= count <= MAX_SCREEN_SHARES)
        assert change.password is None or 0 < len(change.password) <= MAX_PASSWORD_LENGTH
        assert change.time_zone is None or change.time_zone == "" or is_time_zone(change.time_zone)
    elif isinstance(message, MuteParticipant):
        assert message.source in MUTABLE_SOURCES
        sid = message.participant_sid
        assert sid is None or len(sid) <= MAX_SID_LENGTH
    elif isinstance(message, LowerHand | AskUnmute | StopShare):
        assert len(message.participant_sid) <= MAX_SID_LENGTH
    elif isinstance(message, SetPermission):
        assert len(message.participant_sid) <= MAX_SID_LENGTH
        assert message.permission in PERMISSIONS and type(message.allowed) is bool
    elif isinstance(message, RecordingControl):
        assert message.action in ("start", "stop", "pause", "resume")
    elif isinstance(message, TranscriptionControl):
        assert type(message.on) is bool
    elif isinstance(message, Caption):
        assert len(message.track) <= MAX_TRACK_SID_LENGTH and isinstance(message.text, str)
        assert 0 <= message.start <= message.end <= message.start + MAX_CAPTION_SPAN_S
    elif isinstance(message, RaiseHand):
        assert type(message.raised) is bool
    elif isinstance(message, SetFraming):
        assert type(message.enabled) is bool
        sid = message.participant_sid
        assert sid is None or len(sid) <= MAX_SID_LENGTH
    elif isinstance(message, Chat):
        assert isinstance(message.text, str)
        assert message.text.strip() or message.file_id is not None
        assert message.to is None or len(message.to) <= MAX_SID_LENGTH
        assert message.file_id is None or len(message.file_id) <= MAX_FILE_ID_LENGTH
    elif isinstance(message, Admit):
        assert isinstance(message.participant_sid, str)
        assert len(message.participant_sid) <= MAX_SID_LENGTH
        assert type(message.deny) is bool
    elif isinstance(message, AdmitAll):
        assert type(message.deny) is bool
    else:
        assert isinstance(message, Ping | Leave | EndMeeting)


def check(text: str) -> str:
    """The oracle; returns the outcome's name (a message type or an error code)."""
    try:
        message = parse(text)
    except MessageError as exc:
        assert exc.code in (ErrorCode.BAD_MESSAGE, ErrorCode.UNSUPPORTED_VERSION)
        assert 0 < len(exc.message) < 600, exc.message
        check_request_id(exc.request_id)
        # As signaling/session.py sends it; aiohttp's send_str then encodes to UTF-8.
        json.dumps(exc.to_ws(exc.request_id), separators=(",", ":")).encode("utf-8")
        return exc.code.value
    check_message(message)
    return type(message).__name__


def check_signature(text: str) -> str | None:
    try:
        check(text)
    except Exception as exc:
        return signature(exc)
    return None


def test_seeds_cover_every_client_message_type() -> None:
    types = {json.loads(read_input(path))["type"] for path in SEEDS}
    assert types == MESSAGE_TYPES


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_seeds_parse(path: Path) -> None:
    assert check(read_input(path)) not in {code.value for code in ErrorCode}


@pytest.mark.parametrize("path", replay_params(SEEDS + CRASHERS, KNOWN_BUGS))
def test_corpus_replays_without_a_crash(path: Path) -> None:
    check(read_input(path))


def test_parser_survives_mutated_messages(tmp_path: Path) -> None:
    """MUTANTS (100,000) mutated messages: a valid message or MessageError, nothing else."""
    seeds = [json.loads(read_input(path)) for path in SEEDS]
    mutator = MessageMutator(random.Random(20240615))
    crashes = CrashLog("msg", ".msg")
    outcomes: dict[str, int] = {}
    for n in range(MUTANTS):
        text = mutator.mutant(seeds[n % len(seeds)])
        try:
            outcome = check(text)
        except Exception as exc:
            crashes.record(text, exc)
            continue
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert not crashes, crashes.report(tmp_path, check_signature)
    # Every message type still parses sometimes, and most mutants are refused.
    assert {"Join", "Offer", "IceCandidate", "Mute", "Ping", "Leave"} <= outcomes.keys()
    assert outcomes["bad_message"] > MUTANTS / 2 and outcomes["unsupported_version"] > 0
