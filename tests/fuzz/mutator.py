"""Text mutation operators shared by the SDP and message fuzzers.

Deterministic: everything draws from one ``random.Random`` seeded by the test, so a failure
reproduces from the seed alone. The values are the ones that broke real parsers: Python's
``str.isdigit`` accepts superscripts that ``int()`` refuses, ``str.splitlines`` splits on
characters ``split("\\n")`` keeps, JSON escapes deliver lone surrogates, and 32/64-bit
boundaries overflow C fields.
"""

from __future__ import annotations

import random
import re

NUMBERS = (
    "0", "-0", "-1", "1", "63", "64", "95", "96", "127", "128", "255", "256", "65535",
    "65536", "99999", "2147483647", "2147483648", "4294967295", "4294967296",
    "18446744073709551616", "9" * 20, "9" * 400, "1e5", "0x10", "+1", "1.5", "",
    "²", "³", "٣", "३", "𝟘", "①", "¹²⁸",
)  # fmt: skip
# Characters a line splitter, a printable check or an encoder may disagree about.
CHARACTERS = (
    "\x00", "\r", "\n", "\r\n", "\t", "\x0b", "\x0c", "\x1c", "\x1e", "\x7f", "\x85",
    "\u2028", "\u2029", "\ufeff", "\u202e", "\u200b", "é", "²", "٣", "𝟘", "\ud800",
    "\udc80", "\U0001f600", " ", ":", "/", "=", ";", "{", '"', "\\",
)  # fmt: skip
STRINGS = ("", " ", "x", ":", "::", "-", "*", "/", "a=", "m=", "x" * 300, "x" * 5000, "null")
_NUMBER = re.compile(r"[0-9]+")


class TextMutator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def junk(self) -> str:
        choice = self.rng.randrange(3)
        pool = NUMBERS if choice == 0 else CHARACTERS if choice == 1 else STRINGS
        return self.rng.choice(pool)

    def mutate(self, text: str) -> str:
        """One character-level mutation of ``text``."""
        op = self.rng.randrange(7)
        if op == 0:
            return self.flip_bit(text)
        if op == 1:
            return self.insert(text, self.rng.choice(CHARACTERS))
        if op == 2:
            return self.replace_number(text)
        if op == 3:
            return self.delete_span(text)
        if op == 4:
            return self.duplicate_span(text)
        if op == 5:
            return text[: self.rng.randrange(len(text) + 1)]
        return self.insert(text, self.junk())

    def flip_bit(self, text: str) -> str:
        """Flip one bit of the UTF-8 form. Undecodable bytes become lone surrogates
        (``surrogateescape``), which a JSON ``\\udcxx`` escape can deliver too."""
        data = bytearray(text.encode("utf-8", errors="surrogatepass"))
        if not data:
            return text
        data[self.rng.randrange(len(data))] ^= 1 << self.rng.randrange(8)
        return bytes(data).decode("utf-8", errors="surrogateescape")

    def insert(self, text: str, piece: str) -> str:
        at = self.rng.randrange(len(text) + 1)
        return text[:at] + piece + text[at:]

    def replace_number(self, text: str) -> str:
        numbers = list(_NUMBER.finditer(text))
        if not numbers:
            return self.insert(text, self.rng.choice(NUMBERS))
        match = self.rng.choice(numbers)
        return text[: match.start()] + self.rng.choice(NUMBERS) + text[match.end() :]

    def delete_span(self, text: str) -> str:
        if not text:
            return text
        start = self.rng.randrange(len(text))
        return text[:start] + text[start + self.rng.randint(1, 16) :]

    def duplicate_span(self, text: str) -> str:
        if not text:
            return text
        start = self.rng.randrange(len(text))
        span = text[start : start + self.rng.randint(1, 32)]
        return self.insert(text, span * self.rng.choice((1, 2, 100)))
