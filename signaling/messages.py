"""Server -> client messages of the WebSocket protocol (docs/protocol.md): one builder per
``type``, each returning the plain dict that is sent as JSON. Client frames are parsed in
signaling/protocol.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sfu.events import PublishedTrack
from sfu.settings import IceServer
from signaling.errors import SparkleError
from signaling.protocol import PROTOCOL_VERSION, RequestId


@dataclass(frozen=True)
class ParticipantInfo:
    sid: str
    identity: str
    name: str
    host: bool
    hand: int | None = None
    # Effective permissions (signaling/floor.py): host, room policy and grants combined.
    speak: bool = True
    screen_share: bool = False
    file_share: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "identity": self.identity,
            "name": self.name,
            "host": self.host,
            "hand": self.hand,
            "permissions": {
                "speak": self.speak,
                "screen_share": self.screen_share,
                "file_share": self.file_share,
            },
        }


def track_info(track: PublishedTrack, muted: bool) -> dict[str, Any]:
    return {
        "sid": track.sid,
        "participant_sid": track.peer_id,
        "kind": track.kind,
        "source": track.source,
        "muted": muted,
    }


def _with_id(payload: dict[str, Any], request_id: RequestId | None) -> dict[str, Any]:
    if request_id is not None:
        payload["id"] = request_id
    return payload


def joined(
    *,
    room: dict[str, Any],
    participant: ParticipantInfo,
    participants: Sequence[ParticipantInfo],
    tracks: Sequence[dict[str, Any]],
    ice_servers: Sequence[IceServer],
    max_message_bytes: int,
    messages_per_second: float,
    camera_required: bool = False,
    recording: dict[str, Any] | None = None,
    transcription: dict[str, Any] | None = None,
    framing: Sequence[dict[str, Any]] = (),
    request_id: RequestId | None = None,
) -> dict[str, Any]:
    return _with_id(
        {
            "type": "joined",
            "v": PROTOCOL_VERSION,
            "room": room,
            "participant": participant.to_wire(),
            "participants": [p.to_wire() for p in participants],
            "tracks": list(tracks),
            "ice_servers": [ice_server(server) for server in ice_servers],
            "limits": {
                "max_message_bytes": max_message_bytes,
                "messages_per_second": messages_per_second,
            },
            "camera_required": camera_required,
            "recording": recording,
            "transcription": transcription,
            "framing": list(framing),
        },
        request_id,
    )


def ice_server(server: IceServer) -> dict[str, Any]:
    # The shape of RTCIceServer (W3C webrtc-pc section 4.2.2), so a browser can use it as is.
    out: dict[str, Any] = {"urls": list(server.urls)}
    if server.username is not None:
        out["username"] = server.username
    if server.credential is not None:
        out["credential"] = server.credential
    return out


def answer(sdp: str, mids: Mapping[str, str], request_id: RequestId | None) -> dict[str, Any]:
    return _with_id({"type": "answer", "sdp": sdp, "mids": dict(mids)}, request_id)


def renegotiate(audio_slots: int, video_slots: int) -> dict[str, Any]:
    return {"type": "renegotiate", "recv": {"audio": audio_slots, "video": video_slots}}


def participant_joined(participant: ParticipantInfo) -> dict[str, Any]:
    return {"type": "participant_joined", "participant": participant.to_wire()}


def participant_left(participant_sid: str, reason: str) -> dict[str, Any]:
    return {"type": "participant_left", "participant_sid": participant_sid, "reason": reason}


def track_published(track: PublishedTrack, muted: bool) -> dict[str, Any]:
    return {"type": "track_published", "track": track_info(track, muted)}


def track_unpublished(track: PublishedTrack) -> dict[str, Any]:
    return {"type": "track_unpublished", "track_sid": track.sid, "participant_sid": track.peer_id}


def track_muted(track: PublishedTrack, muted: bool) -> dict[str, Any]:
    return {
        "type": "track_muted",
        "track_sid": track.sid,
        "participant_sid": track.peer_id,
        "source": track.source,
        "muted": muted,
    }


def active_speaker(participant_sid: str | None) -> dict[str, Any]:
    return {"type": "active_speaker", "participant_sid": participant_sid}


def participant_updated(participant: ParticipantInfo) -> dict[str, Any]:
    return {"type": "participant_updated", "participant": participant.to_wire()}


def room_updated(room: dict[str, Any]) -> dict[str, Any]:
    """``room`` is ``RoomSettings.to_wire``: name, sid and every host setting."""
    return {"type": "room_updated", "room": room}


def actor(participant: ParticipantInfo) -> dict[str, Any]:
    return {"sid": participant.sid, "name": participant.name}


def muted_by_host(source: str, by: ParticipantInfo | None) -> dict[str, Any]:
    """``by`` None: the room's mute-on-entry setting muted the newcomer."""
    return {"type": "muted_by_host", "source": source, "by": None if by is None else actor(by)}


def unmute_requested(by: ParticipantInfo) -> dict[str, Any]:
    return {"type": "unmute_requested", "by": actor(by)}


def share_stopped(by: ParticipantInfo) -> dict[str, Any]:
    return {"type": "share_stopped", "by": actor(by)}


def camera_accepted(
    participants: Sequence[ParticipantInfo], tracks: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "type": "camera_accepted",
        "participants": [p.to_wire() for p in participants],
        "tracks": list(tracks),
    }


def recording(state: dict[str, Any]) -> dict[str, Any]:
    """``state``: ``{id, state, started_at, by}`` (signaling/recording.py)."""
    return {"type": "recording", "recording": state}


def transcription(state: dict[str, Any]) -> dict[str, Any]:
    """``state``: ``{state: on|off, by, meeting_id, error?}`` (signaling/transcription.py)."""
    return {"type": "transcription", **state}


def framing(state: dict[str, Any]) -> dict[str, Any]:
    """``state``: ``{participant_sid, state: off|starting|on, by, error?}``
    (signaling/framing.py)."""
    return {"type": "framing", **state}


def framing_targets(
    targets: Sequence[dict[str, str]], output: dict[str, int], speaker_focus: bool
) -> dict[str, Any]:
    """To a framing worker: the cameras to frame (``{track_sid, participant_sid}``) and the
    output it publishes for each (``{width, height, max_fps}``)."""
    return {
        "type": "framing_targets",
        "targets": list(targets),
        "output": dict(output),
        "speaker_focus": speaker_focus,
    }


def caption(
    *, segment_id: int, identity: str, name: str, start: float, end: float, text: str
) -> dict[str, Any]:
    return {
        "type": "caption",
        "segment_id": segment_id,
        "identity": identity,
        "name": name,
        "start": start,
        "end": end,
        "text": text,
    }


def meeting_summary(meeting_id: str) -> dict[str, Any]:
    return {"type": "meeting_summary", "meeting_id": meeting_id, "url": f"/meetings/{meeting_id}"}


def camera_off(participant_sid: str) -> dict[str, Any]:
    return {"type": "camera_off", "participant_sid": participant_sid}


def lobby_entry(participant: ParticipantInfo) -> dict[str, Any]:
    # No ``host`` field: a waiting participant is never a host (hosts skip the lobby).
    return {"sid": participant.sid, "identity": participant.identity, "name": participant.name}


def lobby_waiting(room_name: str, request_id: RequestId | None) -> dict[str, Any]:
    return _with_id({"type": "lobby_waiting", "room": {"name": room_name}}, request_id)


def lobby_knock(participant: ParticipantInfo) -> dict[str, Any]:
    return {"type": "lobby_knock", "participant": lobby_entry(participant)}


def lobby(waiting: Sequence[ParticipantInfo]) -> dict[str, Any]:
    return {"type": "lobby", "waiting": [lobby_entry(p) for p in waiting]}


def lobby_left(participant_sid: str, reason: str) -> dict[str, Any]:
    return {"type": "lobby_left", "participant_sid": participant_sid, "reason": reason}


def pong(request_id: RequestId | None) -> dict[str, Any]:
    return _with_id({"type": "pong"}, request_id)


def bye(reason: str) -> dict[str, Any]:
    return {"type": "bye", "reason": reason}


def error(exc: SparkleError, request_id: RequestId | None = None) -> dict[str, Any]:
    return exc.to_ws(request_id)
