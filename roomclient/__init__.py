"""What every worker that joins rooms through the public protocol has in common.

The recorder (``recorder/``) and the transcriber (``transcribe/``) are clients of the public
WebSocket protocol and jobs API like any other (docs/protocol.md): this package is the one
copy of that client side.

- ``roomclient.signal_client``: the signalling socket (join, requests and their replies, leave).
- ``roomclient.roster``: who publishes what, from the server's messages.
- ``roomclient.receive_slots``: the receive-only peer connection and its slot negotiation.
- ``roomclient.room_session``: a session in one room (join, the common messages, shutdown).
- ``roomclient.job_client``: a pool's claim/done calls and the API key pair.

It never imports ``sfu``, ``signaling`` or ``jwt`` (tests/unit/test_architecture.py) and
reaches no aiortc internals: what a worker needs of those stays in its own package
(recorder/aiortc_frames.py).
"""
