"""Streaming voice activity detection: Silero VAD v6 (the ONNX model bundled with
faster-whisper), fed as audio arrives.

faster-whisper's ``SileroVADModel.__call__`` scores a whole buffer at once, starting from a
zero LSTM state each call; a live caption path that re-ran it over the growing buffer would
cost O(n^2). This keeps what the model needs between calls instead: the recurrent state
``h``/``c`` (1x1x128 each) and the last ``CONTEXT`` samples of the previous window, which
Silero prepends to every 512-sample window (silero-vad ``OnnxWrapper``: context 64 at
16 kHz). Fed the same audio, the probabilities equal faster-whisper's batch ones (pinned by
tests/unit/test_vad.py), whatever the chunk sizes.

Cost: ~0.1 ms of CPU per 32 ms window, ~0.3% of a core per speaker.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

RATE = 16_000
WINDOW = 512  # samples per score at 16 kHz (32 ms), fixed by the model
CONTEXT = 64
STATE_SHAPE = (1, 1, 128)


def silero_session() -> Any:
    """faster-whisper's loaded Silero session (it caches one per process; the session is
    stateless and safe to share: the recurrent state lives in each ``StreamingVad``)."""
    from faster_whisper.vad import get_vad_model

    return get_vad_model().session


class StreamingVad:
    """Speech probability per 512-sample window of one stream, state kept across pushes."""

    def __init__(self, session: Any = None) -> None:
        self._session = session if session is not None else silero_session()
        self._pending = np.zeros(0, dtype=np.float32)
        self.windows = 0  # windows scored so far: window i covers samples [512 i, 512 (i+1))
        self.reset()

    def reset(self) -> None:
        """Forget the stream (a new speaker or a gap): zero state and context."""
        self._h = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self.windows = 0

    def push(self, samples: npt.NDArray[np.float32]) -> list[float]:
        """Probabilities for every window completed by ``samples`` (float32 16 kHz mono)."""
        chunk = np.asarray(samples, dtype=np.float32).reshape(-1)
        buffered = np.concatenate([self._pending, chunk]) if len(self._pending) else chunk
        count = len(buffered) // WINDOW
        self._pending = buffered[count * WINDOW :].copy()
        probabilities: list[float] = []
        for index in range(count):
            window = buffered[index * WINDOW : (index + 1) * WINDOW]
            framed = np.concatenate([self._context, window]).reshape(1, CONTEXT + WINDOW)
            output, self._h, self._c = self._session.run(
                None, {"input": framed, "h": self._h, "c": self._c}
            )
            self._context = window[-CONTEXT:].copy()
            probabilities.append(float(np.asarray(output).reshape(-1)[0]))
        self.windows += count
        return probabilities
