"""Strict parsing of client frames: every rejection names the field and what was expected."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sfu.events import PublishedTrack
from sfu.settings import IceServer
from signaling import messages, protocol
from signaling.commands import SetFraming
from signaling.errors import ErrorCode
from signaling.messages import ParticipantInfo
from signaling.protocol import (
    IceCandidate,
    Join,
    Leave,
    MessageError,
    Mute,
    Offer,
    Ping,
    TrackSource,
)


def parse(obj: Any) -> protocol.ClientMessage:
    return protocol.parse(json.dumps(obj))


def rejected(text: str) -> MessageError:
    with pytest.raises(MessageError) as info:
        protocol.parse(text)
    return info.value


# --- valid messages ------------------------------------------------------------------------


def test_join_minimal_and_full() -> None:
    assert parse({"type": "join", "v": 1, "token": "t"}) == Join(token="t", name=None)
    assert parse({"type": "join", "v": 1, "token": "t", "name": "Ann", "id": "j1"}) == Join(
        token="t", name="Ann", id="j1"
    )
    assert parse({"type": "join", "v": 1, "token": "t", "name": None}) == Join("t", None)


def test_offer_with_tracks() -> None:
    message = parse(
        {
            "type": "offer",
            "sdp": "v=0\r\n",
            "tracks": [{"mid": "0", "source": "camera"}, {"mid": "1", "source": "microphone"}],
            "id": 7,
        }
    )
    assert message == Offer(
        sdp="v=0\r\n",
        tracks=(TrackSource("0", "camera"), TrackSource("1", "microphone")),
        id=7,
    )
    assert isinstance(message, Offer)
    assert message.sources() == {"0": "camera", "1": "microphone"}


def test_a_framing_workers_offer_declares_stand_ins() -> None:
    message = parse(
        {
            "type": "offer",
            "sdp": "v=0\r\n",
            "tracks": [{"mid": "0", "source": "camera", "frames": "TR_cam"}],
        }
    )
    assert isinstance(message, Offer)
    assert message.tracks == (TrackSource("0", "camera", "TR_cam"),)
    assert message.sources() == {}
    assert message.stand_ins() == {"0": "TR_cam"}


def test_set_framing_forms() -> None:
    assert parse({"type": "set_framing", "enabled": True}) == SetFraming(None, True)
    assert parse(
        {"type": "set_framing", "enabled": False, "participant_sid": "PA_1", "id": "f"}
    ) == SetFraming("PA_1", False, id="f")


def test_offer_without_tracks_is_a_receive_only_offer() -> None:
    assert parse({"type": "offer", "sdp": "x", "tracks": []}) == Offer(sdp="x", tracks=())


def test_ice_candidate_forms() -> None:
    assert parse(
        {
            "type": "ice_candidate",
            "candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ host",
            "sdp_mid": "0",
            "sdp_mline_index": 0,
        }
    ) == IceCandidate("candidate:1 1 udp 1 1.2.3.4 5 typ host", "0", 0)
    # End of candidates, as browsers send it.
    assert parse(
        {"type": "ice_candidate", "candidate": "", "sdp_mid": None, "sdp_mline_index": None}
    ) == IceCandidate("", None, None)


def test_mute_ping_leave() -> None:
    assert parse({"type": "mute", "source": "microphone", "muted": True}) == Mute(
        "microphone", True
    )
    assert parse({"type": "ping", "id": "p"}) == Ping(id="p")
    assert parse({"type": "leave"}) == Leave()


# --- rejections ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "not valid JSON: Expecting value at line 1 column 1"),
        ("{", "not valid JSON"),
        ('{"type": "ping"} x', "not valid JSON: Extra data"),
        ('{"type": "ping", "id": NaN}', "not valid JSON: NaN is not a JSON value"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON: nested too deeply"),
        ("[]", "a message must be a JSON object, got a list"),
        ('"join"', "a message must be a JSON object, got a string"),
        ("null", "a message must be a JSON object, got null"),
        ("42", "a message must be a JSON object, got a number"),
        ("{}", "missing field 'type'"),
        ('{"type": 3}', "field 'type' must be a string, got a number"),
        (
            '{"type": "hello"}',
            "unknown type 'hello'; the message types of protocol v1 are listed in docs/protocol.md",
        ),
        ('{"type": "JOIN"}', "unknown type 'JOIN'"),
        ('{"type": "ping", "x": 1}', "ping: unknown field 'x'"),
        ('{"type": "join", "v": 1}', "join: missing field 'token'"),
        (
            '{"type": "join", "v": "1", "token": "t"}',
            "join: field 'v' must be an integer, got a string",
        ),
        (
            '{"type": "join", "v": true, "token": "t"}',
            "join: field 'v' must be an integer, got a boolean",
        ),
        (
            '{"type": "join", "v": 1.0, "token": "t"}',
            "join: field 'v' must be an integer, got a number",
        ),
        (
            '{"type": "join", "v": 1, "token": 5}',
            "join: field 'token' must be a string, got a number",
        ),
        (
            '{"type": "join", "v": 1, "token": "t", "name": 5}',
            "join: field 'name' must be a string or null",
        ),
        ('{"type": "join", "v": 1, "token": "t", "room": "b"}', "join: unknown field 'room'"),
        ('{"type": "offer", "sdp": "x"}', "offer: missing field 'tracks'"),
        (
            '{"type": "offer", "sdp": 1, "tracks": []}',
            "offer: field 'sdp' must be a string, got a number",
        ),
        (
            '{"type": "offer", "sdp": "x", "tracks": {}}',
            "offer: field 'tracks' must be a list, got an object",
        ),
        (
            '{"type": "offer", "sdp": "x", "tracks": [1]}',
            "offer: tracks[0] must be an object, got a number",
        ),
        (
            '{"type": "offer", "sdp": "x", "tracks": [{"mid": "0"}]}',
            "offer: tracks[0]: missing field 'source'",
        ),
        (
            '{"type": "offer", "sdp": "x", "tracks": [{"mid": "0", "source": "camera", "k": 1}]}',
            "offer: tracks[0]: unknown field 'k'",
        ),
        (
            '{"type": "offer", "sdp": "x", "tracks": [{"mid": "0", "source": "camera", '
            '"frames": ""}]}',
            "offer: tracks[0]: field 'frames' must not be empty",
        ),
        (
            '{"type": "offer", "sdp": "x", "tracks": [{"mid": "0", "source": "camera", '
            '"frames": 5}]}',
            "offer: tracks[0]: field 'frames' must be a string, got a number",
        ),
        (
            '{"type": "offer", "sdp": "x", "tracks": [{"mid": "0", "source": "screen_share", '
            '"frames": "TR_1"}]}',
            "offer: tracks[0]: only a 'camera' track can frame another",
        ),
        (
            '{"type": "set_framing", "enabled": "yes"}',
            "set_framing: field 'enabled' must be true or false, got a string",
        ),
        (
            '{"type": "set_framing"}',
            "set_framing: missing field 'enabled'",
        ),
        (
            '{"type": "offer", "sdp": "x", "tracks": [{"mid": 0, "source": "camera"}]}',
            "offer: tracks[0]: field 'mid' must be a string, got a number",
        ),
        (
            '{"type": "offer", "sdp": "x", "tracks": [{"mid": "", "source": "camera"}]}',
            "offer: tracks[0]: field 'mid' must not be empty",
        ),
        (
            '{"type": "offer", "sdp": "x", "tracks": [{"mid": "0", "source": "webcam"}]}',
            "offer: tracks[0]: field 'source' is 'webcam'; expected one of camera, microphone, "
            "screen_share, screen_share_audio",
        ),
        (
            '{"type": "offer", "sdp": "x", "tracks": [{"mid": "0", "source": "camera"}, '
            '{"mid": "0", "source": "microphone"}]}',
            "offer: tracks[1]: mid '0' is listed twice",
        ),
        (
            '{"type": "ice_candidate", "candidate": "c", "sdp_mid": "0"}',
            "ice_candidate: missing field 'sdp_mline_index'",
        ),
        (
            '{"type": "ice_candidate", "candidate": null, "sdp_mid": "0", "sdp_mline_index": 0}',
            "ice_candidate: field 'candidate' must be a string, got null",
        ),
        (
            '{"type": "ice_candidate", "candidate": "c", "sdp_mid": 0, "sdp_mline_index": 0}',
            "ice_candidate: field 'sdp_mid' must be a string or null, got a number",
        ),
        (
            '{"type": "ice_candidate", "candidate": "c", "sdp_mid": "0", "sdp_mline_index": "0"}',
            "ice_candidate: field 'sdp_mline_index' must be an integer or null, got a string",
        ),
        (
            '{"type": "ice_candidate", "candidate": "c", "sdp_mid": "0", "sdp_mline_index": -1}',
            "ice_candidate: field 'sdp_mline_index' is out of range 0-255",
        ),
        (
            '{"type": "mute", "source": "camera", "muted": 1}',
            "mute: field 'muted' must be true or false, got a number",
        ),
        ('{"type": "mute", "source": "tv", "muted": true}', "mute: field 'source' is 'tv'"),
        ('{"type": "ping", "id": 1.5}', "field 'id' must be a string of at most 64 characters"),
        ('{"type": "ping", "id": true}', "field 'id' must be a string"),
        ('{"type": "ping", "id": 9007199254740992}', "or an integer below 2**53, got a number"),
    ],
)
def test_bad_messages_say_what_is_wrong(text: str, expected: str) -> None:
    error = rejected(text)
    assert error.code is ErrorCode.BAD_MESSAGE
    assert expected in error.message, error.message
    assert not error.fatal


def test_long_fields_are_refused() -> None:
    error = rejected(json.dumps({"type": "ping", "id": "x" * 65}))
    assert "field 'id' must be a string of at most 64 characters" in error.message
    error = rejected(
        json.dumps({"type": "offer", "sdp": "x", "tracks": [{"mid": "m" * 33, "source": "camera"}]})
    )
    assert error.message == "offer: tracks[0]: field 'mid' is longer than 32 characters"
    tracks = [{"mid": str(i), "source": "camera"} for i in range(65)]
    error = rejected(json.dumps({"type": "offer", "sdp": "x", "tracks": tracks}))
    assert error.message == "offer: field 'tracks' has more than 64 entries"
    error = rejected(
        json.dumps(
            {
                "type": "ice_candidate",
                "candidate": "c" * 1025,
                "sdp_mid": None,
                "sdp_mline_index": None,
            }
        )
    )
    assert "longer than 1024 characters" in error.message


def test_a_long_unknown_type_is_clipped_in_the_error() -> None:
    error = rejected(json.dumps({"type": "z" * 5000}))
    # The clipped type plus the list of the 16 known types.
    assert len(error.message) < 300 and "z" * 41 not in error.message


def test_errors_echo_a_valid_id() -> None:
    assert rejected('{"type": "nope", "id": "abc"}').request_id == "abc"
    assert rejected('{"type": "join", "v": 1, "token": 1, "id": 5}').request_id == 5
    assert rejected('{"type": "ping", "id": []}').request_id is None


def test_join_with_another_version_is_fatal() -> None:
    error = rejected('{"type": "join", "v": 2, "token": "t", "id": "x"}')
    assert error.code is ErrorCode.UNSUPPORTED_VERSION
    assert error.fatal
    assert error.spec.close_code == 4400
    assert error.request_id == "x"


def test_duplicate_keys_last_wins_but_types_are_still_checked() -> None:
    # json.loads keeps the last value; what matters is that it is then checked strictly.
    error = rejected('{"type": "ping", "type": 1}')
    assert "field 'type' must be a string" in error.message


# --- builders --------------------------------------------------------------------------------


def test_error_payload_matches_the_catalogue() -> None:
    error = MessageError(ErrorCode.OFFER_IN_FLIGHT, request_id="o2")
    assert messages.error(error, error.request_id) == {
        "type": "error",
        "code": "offer_in_flight",
        "message": "an offer is already being answered; wait for 'answer'",
        "fatal": False,
        "id": "o2",
    }


def test_joined_payload_shape() -> None:
    me = ParticipantInfo(sid="PA_1", identity="ann", name="Ann", host=True)
    other = ParticipantInfo(sid="PA_2", identity="bob", name="Bob", host=False)
    track = PublishedTrack(sid="TR_1", peer_id="PA_2", kind="video", source="camera", mid="0")
    payload = messages.joined(
        room={"name": "r", "sid": "RM_1"},
        participant=me,
        participants=[other],
        tracks=[messages.track_info(track, muted=False)],
        ice_servers=[
            IceServer(urls=("turn:t.example:3478",), username="u", credential="c"),
            IceServer(urls=("stun:s.example",)),
        ],
        max_message_bytes=65536,
        messages_per_second=20.0,
        request_id="j",
    )
    assert payload == {
        "type": "joined",
        "v": 1,
        "room": {"name": "r", "sid": "RM_1"},
        "participant": {**me.to_wire(), "host": True},
        "participants": [{**other.to_wire(), "sid": "PA_2", "host": False}],
        "tracks": [
            {
                "sid": "TR_1",
                "participant_sid": "PA_2",
                "kind": "video",
                "source": "camera",
                "muted": False,
            }
        ],
        "ice_servers": [
            {"urls": ["turn:t.example:3478"], "username": "u", "credential": "c"},
            {"urls": ["stun:s.example"]},
        ],
        "limits": {"max_message_bytes": 65536, "messages_per_second": 20.0},
        "camera_required": False,
        "recording": None,
        "transcription": None,
        "framing": [],
        "id": "j",
    }
    json.dumps(payload)  # serialisable as is


def test_event_payloads() -> None:
    track = PublishedTrack(sid="TR_1", peer_id="PA_2", kind="audio", source="microphone", mid="1")
    assert messages.track_unpublished(track) == {
        "type": "track_unpublished",
        "track_sid": "TR_1",
        "participant_sid": "PA_2",
    }
    assert messages.track_muted(track, True) == {
        "type": "track_muted",
        "track_sid": "TR_1",
        "participant_sid": "PA_2",
        "source": "microphone",
        "muted": True,
    }
    assert messages.renegotiate(1, 2) == {"type": "renegotiate", "recv": {"audio": 1, "video": 2}}
    assert messages.participant_left("PA_2", "left") == {
        "type": "participant_left",
        "participant_sid": "PA_2",
        "reason": "left",
    }
    assert messages.active_speaker(None) == {"type": "active_speaker", "participant_sid": None}
    assert messages.answer("sdp", {"2": "TR_1"}, None) == {
        "type": "answer",
        "sdp": "sdp",
        "mids": {"2": "TR_1"},
    }
    assert messages.pong(3) == {"type": "pong", "id": 3}
    assert messages.bye("left") == {"type": "bye", "reason": "left"}
