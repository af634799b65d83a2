"""What every worker that joins rooms through the public protocol has in common.

The recorder (``recorder/``), the transcriber (``transcribe/``) and the framer (``framing/``)
are clients of the public WebSocket protocol and jobs API like any other (docs/protocol.md):
this package is the one copy of that client side.

- ``roomclient.signal_client``: the signalling socket (join, requests and their replies, leave).
- ``roomclient.roster``: who publishes what, from the server's messages.
- ``roomclient.receive_slots``: the receive-only peer connection and its slot negotiation.
- ``roomclient.room_session``: a session in one room (join, the common messages, shutdown).
- ``roomclient.job_client``: a pool's claim/done calls and the API key pair.
- ``roomclient.job_pool``: the claim loop of a pool serving several rooms at once (the
  transcriber's, the framer's).
- ``roomclient.worker_arguments``: the command-line flags the workers' entry points share.
- ``roomclient.stop_signals``: the stop event SIGTERM/SIGINT set.

It never imports ``sfu``, ``signaling`` or ``jwt`` (tests/unit/test_architecture.py) and
reaches no aiortc internals: what a worker needs of those stays in its own package
(recorder/aiortc_frames.py).
"""
