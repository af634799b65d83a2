"""Crashes found by a fuzz run: grouped by where they happen, shrunk, written as files.

A crash is any exception other than the parser's documented one. Each distinct signature
(exception type + innermost frame) keeps its first input, shrunk by greedy deletion so the
report shows the few lines that matter. Inputs are written byte-exact (``newline=""``,
``surrogatepass``: JSON escapes can produce lone surrogates) so a replay sees the same str.
"""

from __future__ import annotations

import hashlib
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).parent / "corpus"
CRASHERS = CORPUS / "crashers"
ROOT = Path(__file__).resolve().parents[2]
# Set to write new crashers straight into corpus/crashers/ instead of the test's tmp_path.
SAVE_ENV = "SPARKLE_FUZZ_SAVE_CRASHERS"
SCALE_ENV = "SPARKLE_FUZZ_SCALE"


def scaled(count: int) -> int:
    """``count`` times SPARKLE_FUZZ_SCALE (default 1), for longer local runs."""
    return int(count * float(os.environ.get(SCALE_ENV, "1")))


def read_input(path: Path) -> str:
    with path.open(encoding="utf-8", errors="surrogatepass", newline="") as file:
        return file.read()


def write_input(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8", errors="surrogatepass", newline="") as file:
        file.write(text)


def corpus_files(folder: str, suffix: str) -> list[Path]:
    return sorted((CORPUS / folder).glob(f"*{suffix}"))


KnownBugs = dict[str, tuple[type[Exception], str]]


def replay_params(paths: list[Path], known_bugs: KnownBugs) -> list[Any]:
    """One pytest param per corpus file; a crasher whose bug is not fixed yet (listed in
    ``known_bugs``: file name -> exception type, the bug) is a strict xfail, so the suite
    stays green while the bug is visible and turns red the day it is fixed."""
    params = []
    for path in paths:
        marks = []
        if path.name in known_bugs:
            raises, reason = known_bugs[path.name]
            marks.append(pytest.mark.xfail(strict=True, raises=raises, reason=reason))
        params.append(pytest.param(path, id=path.name, marks=marks))
    return params


def signature(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    path = Path(last.filename)
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    return f"{type(exc).__name__} at {where}:{last.lineno} in {last.name}"


def shrink(text: str, fails: Callable[[str], bool], budget: int = 3000) -> str:
    """Greedy deletion of lines, then of character runs, while ``fails`` stays true."""
    best = text
    for size in (0, 64, 16, 4, 1):  # 0 = whole lines
        pieces = best.splitlines(keepends=True) if size == 0 else None
        if size and len(best) > 4000:
            break
        index = len(pieces) - 1 if pieces is not None else len(best) - size
        while index >= 0 and budget > 0:
            budget -= 1
            if pieces is not None:
                candidate = "".join(pieces[:index] + pieces[index + 1 :])
            else:
                candidate = best[:index] + best[index + size :]
            if candidate != best and fails(candidate):
                best = candidate
                if pieces is not None:
                    pieces = best.splitlines(keepends=True)
            index -= 1 if pieces is not None else size
    return best


@dataclass
class Crash:
    signature: str
    text: str
    traceback: str
    count: int = 1


class CrashLog:
    def __init__(self, name: str, suffix: str) -> None:
        self.name = name  # file name prefix, e.g. "sdp-guard"
        self.suffix = suffix
        self.crashes: dict[str, Crash] = {}

    def record(self, text: str, exc: BaseException) -> None:
        key = signature(exc)
        if key in self.crashes:
            self.crashes[key].count += 1
            return
        formatted = "".join(traceback.format_exception(exc))
        self.crashes[key] = Crash(key, text, formatted)

    def absorb(self, other: CrashLog) -> None:
        """Merge the crashes another process found."""
        for key, crash in other.crashes.items():
            if key in self.crashes:
                self.crashes[key].count += crash.count
            else:
                self.crashes[key] = crash

    def forget(self, signatures: set[str]) -> int:
        """Drop crashes of known, already-reported bugs; return how many inputs hit them."""
        known = [key for key in self.crashes if key in signatures]
        return sum(self.crashes.pop(key).count for key in known)

    def __bool__(self) -> bool:
        return bool(self.crashes)

    def report(self, out_dir: Path, fails: Callable[[str], str | None] | None = None) -> str:
        """Shrink (when ``fails`` re-runs the target and returns the signature), write each
        crasher, and describe them for the assertion message."""
        if os.environ.get(SAVE_ENV):
            out_dir = CRASHERS
        out_dir.mkdir(parents=True, exist_ok=True)
        parts = [f"{sum(c.count for c in self.crashes.values())} crashing inputs:"]
        for crash in self.crashes.values():
            text = crash.text
            if fails is not None:
                text = shrink(text, lambda t, key=crash.signature: fails(t) == key)
            digest = hashlib.sha1(text.encode("utf-8", errors="surrogatepass")).hexdigest()
            path = out_dir / f"{self.name}-{digest[:12]}{self.suffix}"
            write_input(path, text)
            parts.append(
                f"\n--- {crash.signature} ({crash.count}x), saved to {path}\n"
                f"input: {text[:600]!r}\n{crash.traceback}"
            )
        return "".join(parts)
