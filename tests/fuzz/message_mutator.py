"""Mutations of client signalling messages (docs/protocol.md, "Client → server").

Half of the work is on the JSON tree (a field of the wrong type, missing or unknown, one
message type's fields under another ``type``, ``tracks`` blown up, ids past 2**53), the
other half on the text (broken syntax, duplicate keys, deep nesting, huge number
literals, NaN, lone surrogates) so the JSON decoder's own errors are covered too.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from .mutator import TextMutator

FIELDS = ("type", "id", "v", "token", "name", "sdp", "tracks", "candidate", "sdp_mid",
          "sdp_mline_index", "source", "muted", "mid", "x", "", "__proto__", "Type")  # fmt: skip
TYPES = ("join", "offer", "ice_candidate", "mute", "ping", "leave", "answer", "joined",
         "JOIN", "", "ping ", "error")  # fmt: skip
VALUES: tuple[Any, ...] = (
    None, True, False, 0, -1, 1, 2, 255, 256, 2**53 - 1, 2**53, -(2**53), 2**64, 10**400,
    1.0, -0.0, 0.5, 1e308, float("nan"), float("inf"), "", " ", "0", "camera", "microphone",
    "screen_share", "screen_share_audio", "CAMERA", "camera ", "x" * 33, "x" * 65, "x" * 1025,
    "\x00", "\ud800", "\udfff", "\u202e", "\U0001f600", "é" * 40, [], {}, [[]], [None],
    {"mid": "0", "source": "camera"}, {"mid": "0"}, ["camera"],
)  # fmt: skip


class MessageMutator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.text = TextMutator(rng)

    def mutant(self, seed: dict[str, Any]) -> str:
        rng = self.rng
        obj: Any = json.loads(json.dumps(seed))
        for _ in range(rng.randint(1, 3)):
            obj = self.mutate_tree(obj)
        text = json.dumps(obj, ensure_ascii=rng.random() < 0.5)
        roll = rng.random()
        if roll < 0.35:
            for _ in range(rng.randint(1, 3)):
                text = self.text.mutate(text)
        elif roll < 0.45:
            text = self.mutate_syntax(text)
        return text

    def mutate_tree(self, obj: Any) -> Any:
        rng = self.rng
        if not isinstance(obj, dict):
            return obj if rng.random() < 0.8 else {"type": rng.choice(TYPES)}
        op = rng.randrange(8)
        if op == 0:
            obj[rng.choice([*obj, *FIELDS])] = self.value()
        elif op == 1 and obj:
            del obj[rng.choice(list(obj))]
        elif op == 2:
            obj["type"] = rng.choice(TYPES)
        elif op == 3:
            obj[rng.choice(FIELDS)] = self.nest(self.value(), rng.choice((1, 5, 50)))
        elif op == 4 and isinstance(obj.get("tracks"), list):
            obj["tracks"] = self.mutate_tracks(obj["tracks"])
        elif op == 5:
            return self.value()
        elif (op == 6 and "id" in obj) or op == 7:
            obj["id"] = self.value()
        else:
            obj[rng.choice(FIELDS)] = self.value()
        return obj

    def value(self) -> Any:
        # A copy: VALUES holds lists and dicts that later mutations change in place.
        return copy.deepcopy(self.rng.choice(VALUES))

    def nest(self, value: Any, depth: int) -> Any:
        for _ in range(depth):
            value = [value] if self.rng.random() < 0.5 else {"mid": value}
        return value

    def mutate_tracks(self, tracks: list[Any]) -> list[Any]:
        rng = self.rng
        tracks = list(tracks) or [{"mid": "0", "source": "camera"}]
        i = rng.randrange(len(tracks))
        op = rng.randrange(5)
        if op == 0 and isinstance(tracks[i], dict):
            tracks[i] = dict(tracks[i], **{rng.choice(("mid", "source", "x")): self.value()})
        elif op == 1 and isinstance(tracks[i], dict) and tracks[i]:
            tracks[i] = {k: v for k, v in tracks[i].items() if k != rng.choice(list(tracks[i]))}
        elif op == 2:
            tracks.append(tracks[i])  # a mid listed twice
        elif op == 3:
            count = rng.choice((63, 64, 65, 1000))
            tracks = [{"mid": str(n), "source": "camera"} for n in range(count)]
        else:
            tracks[i] = self.value()
        return tracks

    def mutate_syntax(self, text: str) -> str:
        rng = self.rng
        op = rng.randrange(5)
        if op == 0:  # duplicate keys: json.loads keeps the last one
            return '{"type": "ping", ' + text[1:] if text.startswith("{") else text
        if op == 1:
            depth = rng.choice((100, 1000, 100_000))
            return "[" * depth + text + "]" * depth
        if op == 2:
            return text.replace("1", "1" * rng.choice((400, 4301, 10_000)), 1)
        if op == 3:
            return rng.choice(("NaN", "Infinity", "-Infinity", "[NaN]", '{"type": NaN}'))
        return rng.choice(("\ufeff", " \n\t", "\x00", "")) + text
