"""Speech evaluation of the transcriber: WER, caption latency, real-time factor, and the
action items found in the ASR text (issue 5's acceptance figures).

    taskset -c 0 python -m benchmarks.transcribe_eval [--limit N] [--silences 0.3,0.8]
        [--pin] [--variants piper-clean,piper-noisy] [--no-batch] [--out docs/benchmarks.md]
        [--window-min S --window-margin S --window-step S --pad zero|silence]
        [--tokens-per-s N --repetition-penalty X --no-repeat-ngram N]

The ``--window-*``, ``--pad`` and decoder options override the recognizer's measured
defaults (transcribe/recognizer.py, transcribe/encoder_window.py) to compare others;
``--window-min 30`` is faster-whisper's own 30 s window.

Audio: every utterance of ``benchmarks/data/meeting_utterances.json`` spoken offline
(benchmarks/speech_audio.py): Piper clean, noisy (pink noise at 12 dB SNR), reverberant,
and espeak-ng clean. Each goes through the live path exactly as the worker runs it: 0.6 s of
silence, the speech, 1.2 s of silence, pushed in 20 ms chunks into an ``UtteranceSegmenter``,
each utterance recognized by a one-thread ``Recognizer`` with the meeting's names as prompt.

- WER: word edits (Levenshtein over words) summed over all utterances / reference words.
  Both sides are normalised the same way first: lowercase; "%" -> "percent", "&" -> "and";
  digits written out as words ("10th" -> "tenth", "5,000" -> "five thousand", "3pm" ->
  "three pm"); hyphens and slashes split words; other punctuation dropped; "ok" -> "okay",
  "alright" -> "all right". So "by the 10th." and "By the tenth" are equal, while a wrong
  word, a dropped word or a misspelt name counts.
- Caption latency: from where the speech really ends (last sample above 1% of full scale in
  the clean take) to the caption being ready = the endpoint delay in audio time (the
  segmenter needs ``min_silence_s`` of silence, in 32 ms VAD windows) + the recognition's
  wall time. Audio is pushed faster than real time, so this excludes network and the
  track's jitter buffer (~20-60 ms in a browser call).
- RTF: recognition + VAD time / seconds of speech audio, one process, ``cpu_threads=1``.
  Run under ``taskset -c 0`` for a one-core figure: without it, numpy's and OpenMP's helper
  threads (started at import) spin on the other core, and CPU time exceeds wall time (0.20
  vs 0.16 measured). ``--pin`` pins every thread of the process to its first allowed core,
  the same thing from inside (``os.sched_setaffinity`` on each thread). Wall and CPU time
  are both shown: on a shared machine the wall figures include waiting for a core, the CPU
  ones do not. "batch" rows transcribe each meeting as one file (faster-whisper's own VAD).
- Fallbacks: decodes retried at a higher temperature (the recognizer's ``fallbacks``).
- Action items: ``benchmarks.action_items_eval.evaluate`` on the Piper-clean ASR text
  instead of the reference text, when that module exists.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from transcribe.encoder_window import EncoderWindow
from transcribe.model_settings import ModelSettings
from transcribe.recognizer import (
    LIVE_DECODING,
    LIVE_WINDOW,
    DecoderLimits,
    Recognizer,
    names_prompt,
)
from transcribe.utterances import SegmenterSettings, UtteranceSegmenter

from . import report
from .speech_audio import RATE, SpeechSynthesizer, Variant, Voice, silence

DATA = Path(__file__).parent / "data" / "meeting_utterances.json"
BEGIN = "<!-- transcribe-eval:begin -->"
END = "<!-- transcribe-eval:end -->"
CHUNK = RATE // 50  # 20 ms, a WebRTC audio frame
LEAD_S, TRAIL_S = 0.6, 1.2
SPEECH_LEVEL = 0.01  # |sample| above this is speech, to find where the take really ends
VARIANTS: tuple[tuple[Voice, Variant], ...] = (
    ("piper", "clean"),
    ("piper", "noisy"),
    ("piper", "reverb"),
    ("espeak", "clean"),
)
TARGETS = {"wer_clean": 0.06, "wer_noisy": 0.12, "latency_p95": 1.5, "rtf": 0.1}
# Used only while the labelled set does not exist (a fresh checkout of part B alone).
FALLBACK_MEETING: dict[str, Any] = {
    "date": "2026-03-02T10:00:00-05:00",
    "time_zone": "America/New_York",
    "roster": [{"identity": "alice", "name": "Alice"}, {"identity": "bob", "name": "Bob"}],
    "utterances": [
        {"speaker": "alice", "text": "Bob, can you send the budget to finance by Friday?"},
        {"speaker": "bob", "text": "Sure, I will do that after the call."},
        {"speaker": "alice", "text": "I finished the slides yesterday."},
    ],
}


@dataclass
class Run:
    """One variant over the utterances."""

    name: str
    edits: int = 0
    words: int = 0
    latencies: list[float] = field(default_factory=list)
    audio_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    splits: int = 0  # sentences cut into more than one caption
    fallbacks: int = 0  # decodes retried warmer
    missed: int = 0  # sentences whose caption only came at the track's end (flush)
    texts: dict[tuple[int, int], str] = field(default_factory=dict)

    @property
    def wer(self) -> float:
        return self.edits / self.words if self.words else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        return float(np.percentile(np.array(self.latencies), p))


def load_meetings(path: Path = DATA) -> list[dict[str, Any]]:
    if not path.is_file():
        return [FALLBACK_MEETING]
    data = json.loads(path.read_text())
    meetings = data["meetings"] if isinstance(data, dict) else data
    return list(meetings)


def utterances(meetings: Sequence[dict[str, Any]], limit: int | None) -> list[tuple[int, int]]:
    keys = [(m, u) for m, meeting in enumerate(meetings) for u in range(len(meeting["utterances"]))]
    return keys[:limit] if limit else keys


def live_run(
    name: str,
    meetings: Sequence[dict[str, Any]],
    keys: Sequence[tuple[int, int]],
    takes: dict[tuple[int, int], np.ndarray],
    clean_ends: dict[tuple[int, int], float],
    recognizer: Recognizer,
    segmenter_settings: SegmenterSettings,
) -> Run:
    run = Run(name)
    fallbacks = recognizer.fallbacks
    for key in keys:
        meeting = meetings[key[0]]
        prompt = names_prompt(p["name"] for p in meeting["roster"])
        reference = meeting["utterances"][key[1]]["text"]
        take = takes[key]
        stream = np.concatenate([silence(LEAD_S), take, silence(TRAIL_S)])
        speech_end = LEAD_S + clean_ends[key]
        segmenter = UtteranceSegmenter(segmenter_settings)
        texts: list[str] = []
        last_latency: float | None = None
        wall, cpu = time.perf_counter(), time.process_time()
        for index in range(0, len(stream), CHUNK):
            for utterance in segmenter.push(stream[index : index + CHUNK]):
                detected = (index + CHUNK) / RATE
                started = time.perf_counter()
                texts.append(recognizer.transcribe(utterance.audio, prompt))
                last_latency = detected - speech_end + time.perf_counter() - started
        flushed = segmenter.flush()
        for utterance in flushed:
            texts.append(recognizer.transcribe(utterance.audio, prompt))
        run.wall_s += time.perf_counter() - wall
        run.cpu_s += time.process_time() - cpu
        run.audio_s += len(take) / RATE
        if flushed or last_latency is None:
            run.missed += 1
        else:
            run.latencies.append(last_latency)
        run.splits += len(texts) > 1
        hypothesis = " ".join(t for t in texts if t)
        run.texts[key] = hypothesis
        edits, words = word_errors(reference, hypothesis)
        run.edits += edits
        run.words += words
    run.fallbacks = recognizer.fallbacks - fallbacks
    return run


def batch_run(
    meetings: Sequence[dict[str, Any]],
    keys: Sequence[tuple[int, int]],
    takes: dict[tuple[int, int], np.ndarray],
    recognizer: Recognizer,
) -> Run:
    """Each meeting's clean takes joined (0.5 s apart) and transcribed as one file."""
    run = Run("piper clean, batch")
    for m, meeting in enumerate(meetings):
        mine = [k for k in keys if k[0] == m]
        if not mine:
            continue
        audio = np.concatenate([np.concatenate([takes[k], silence(0.5)]) for k in mine])
        prompt = names_prompt(p["name"] for p in meeting["roster"])
        wall, cpu = time.perf_counter(), time.process_time()
        hypothesis = " ".join(text for _, _, text in recognizer.transcribe_file(audio, prompt))
        run.wall_s += time.perf_counter() - wall
        run.cpu_s += time.process_time() - cpu
        run.audio_s += len(audio) / RATE
        reference = " ".join(meeting["utterances"][k[1]]["text"] for k in mine)
        edits, words = word_errors(reference, hypothesis)
        run.edits += edits
        run.words += words
    return run


# --- WER ---------------------------------------------------------------------------------

ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
ORDINAL = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip
SPELLING = {"ok": "okay", "alright": "all right", "percent": "percent", "email": "email"}


def number_words(value: int) -> str:
    if value < 20:
        return ONES[value]
    if value < 100:
        tens, ones = divmod(value, 10)
        return TENS[tens] + ("" if ones == 0 else " " + ONES[ones])
    for size, name in (
        (10**9, "billion"),
        (10**6, "million"),
        (1000, "thousand"),
        (100, "hundred"),
    ):
        if value >= size:
            high, rest = divmod(value, size)
            return f"{number_words(high)} {name}" + (f" {number_words(rest)}" if rest else "")
    raise AssertionError(value)


def ordinal_words(value: int) -> str:
    words = number_words(value).split()
    last = words[-1]
    if last in ORDINAL:
        words[-1] = ORDINAL[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def normalize(text: str) -> list[str]:
    text = text.lower().replace("%", " percent").replace("&", " and ")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # 5,000 -> 5000
    text = re.sub(r"(\d)(am|pm)\b", r"\1 \2", text)
    text = re.sub(r"\b([ap])\.m\.", r"\1m", text)

    def spell(match: re.Match[str]) -> str:
        value = int(match.group(1))
        if value > 10**12:
            return match.group(0)
        return f" {ordinal_words(value) if match.group(2) else number_words(value)} "

    text = re.sub(r"(\d+)(st|nd|rd|th)?\b", spell, text)
    text = re.sub(r"[-/:]", " ", text)
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    words = [w.strip("'") for w in text.split()]
    return " ".join(SPELLING.get(w, w) for w in words if w).split()


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edits, reference words) after ``normalize`` on both sides."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
    return row[-1], len(ref)


# --- report ------------------------------------------------------------------------------


def action_item_scores(run: Run) -> list[str]:
    """Action items found in the reference text and in the ASR text (the same extractor)."""
    try:
        module: Any = importlib.import_module("benchmarks.action_items_eval")
    except ImportError:
        return ["action items: benchmarks/action_items_eval.py not present, not scored"]
    meetings = module.load_meetings()
    lines = [
        "| text | precision | recall | F1 | owner acc | due acc |",
        "|---|---|---|---|---|---|",
    ]
    # With --limit, utterances past the limit keep their reference text on both rows.
    for label, texts in (("reference", None), (f"ASR, {run.name}", run.texts)):
        s = module.evaluate(meetings, texts)
        lines.append(
            f"| {label} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f}"
            f" | {s.owner_accuracy:.3f} | {s.due_accuracy:.3f} |"
        )
    return lines


def table(runs: Sequence[Run]) -> list[str]:
    lines = [
        "| audio | WER | caption p50 s | caption p95 s | RTF wall | RTF CPU | split | missed"
        " | fallbacks |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run.name} | {run.wer:.1%} | {_seconds(run.percentile(50))} "
            f"| {_seconds(run.percentile(95))}"
            f" | {run.wall_s / run.audio_s:.3f} | {run.cpu_s / run.audio_s:.3f}"
            f" | {run.splits} | {run.missed} | {run.fallbacks} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, help="only the first N utterances")
    parser.add_argument("--model", default=ModelSettings.model)
    parser.add_argument("--silences", default="", help="also sweep min_silence_s, e.g. 0.3,0.8")
    parser.add_argument("--cache-dir", type=Path, help="speech cache (~/.cache/sparkle-speech)")
    parser.add_argument("--out", type=Path, help="write a section to this markdown file")
    parser.add_argument("--pin", action="store_true", help="pin all threads to one core")
    parser.add_argument(
        "--variants",
        default=",".join(f"{voice}-{variant}" for voice, variant in VARIANTS),
        help="comma-separated voice-variant runs, the first two scored as clean and noisy",
    )
    parser.add_argument("--no-batch", action="store_true", help="skip the whole-file run")
    parser.add_argument("--dump", type=Path, help="write each run's captions to this JSON file")
    window, decoding = LIVE_WINDOW, LIVE_DECODING
    parser.add_argument("--window-min", type=float, default=window.min_s)
    parser.add_argument("--window-margin", type=float, default=window.margin_s)
    parser.add_argument("--window-step", type=float, default=window.step_s)
    parser.add_argument("--pad", choices=("zero", "silence"), default=window.pad)
    parser.add_argument("--tokens-per-s", type=float, default=decoding.tokens_per_s)
    parser.add_argument("--repetition-penalty", type=float, default=decoding.repetition_penalty)
    parser.add_argument("--no-repeat-ngram", type=int, default=decoding.no_repeat_ngram_size)
    args = parser.parse_args(argv)
    if args.pin:
        pin_to_one_core()
    variants = parse_variants(args.variants)
    window = EncoderWindow(args.window_min, args.window_margin, args.window_step, args.pad)
    decoding = DecoderLimits(
        tokens_per_s=args.tokens_per_s,
        min_tokens=decoding.min_tokens,
        repetition_penalty=args.repetition_penalty,
        no_repeat_ngram_size=args.no_repeat_ngram,
    )
    meetings = load_meetings()
    keys = utterances(meetings, args.limit)
    synthesizer = SpeechSynthesizer(args.cache_dir)
    model_settings = ModelSettings(model=args.model, cpu_threads=1)
    recognizer = Recognizer(model_settings, window, decoding)
    texts = {key: meetings[key[0]]["utterances"][key[1]]["text"] for key in keys}
    clean = {key: synthesizer.synthesize(texts[key], "piper", "clean") for key in keys}
    espeak = {key: synthesizer.synthesize(texts[key], "espeak", "clean") for key in keys}
    ends = {key: _speech_end(take) for key, take in clean.items()}
    runs: list[Run] = []
    default = SegmenterSettings()
    for voice, variant in variants:
        name = f"{voice} {variant}"
        if voice == "piper":
            takes = {key: synthesizer.synthesize(texts[key], voice, variant) for key in keys}
            take_ends = ends
        else:
            takes, take_ends = espeak, {key: _speech_end(t) for key, t in espeak.items()}
        runs.append(live_run(name, meetings, keys, takes, take_ends, recognizer, default))
        print(table(runs[-1:])[-1], flush=True)
    for value in (float(v) for v in args.silences.split(",") if v.strip()):
        settings = SegmenterSettings(min_silence_s=value, speech_pad_s=min(0.2, value))
        name = f"piper clean, min_silence_s={value}"
        runs.append(live_run(name, meetings, keys, clean, ends, recognizer, settings))
        print(table(runs[-1:])[-1], flush=True)
    if not args.no_batch:
        runs.append(batch_run(meetings, keys, clean, recognizer))
    lines = [
        f"{len(keys)} utterances, {runs[0].words} words, {runs[0].audio_s / 60:.1f} min of "
        f"speech per variant; model {args.model} int8, beam 1, 1 thread"
        f"{', one core' if len(os.sched_getaffinity(0)) == 1 else ''}; segmenter {default}.",
        f"Live path: {window}, {decoding}.",
        "",
        *table(runs),
        "",
        *action_item_scores(runs[0]),
        "",
        *_verdicts(runs, batch=not args.no_batch),
    ]
    print("\n".join(lines))
    if args.dump:
        dump = {
            run.name: [
                {"key": list(key), "reference": texts[key], "caption": caption}
                for key, caption in run.texts.items()
            ]
            for run in runs
            if run.texts
        }
        args.dump.write_text(json.dumps(dump, indent=1))
    if args.out:
        report.replace_section(args.out, lines, BEGIN, END, "Transcription")
    return 0


def pin_to_one_core() -> None:
    """Every thread of this process (numpy's and OpenMP's helpers included: they start at
    import) onto the first core it may use; ``sched_setaffinity(0)`` alone moves only the
    calling thread."""
    core = min(os.sched_getaffinity(0))
    for task in Path("/proc/self/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), {core})
        except (ProcessLookupError, PermissionError):
            continue  # a thread that ended meanwhile


def parse_variants(text: str) -> list[tuple[Voice, Variant]]:
    known = {f"{voice}-{variant}": (voice, variant) for voice, variant in VARIANTS}
    chosen = [known.get(name.strip()) for name in text.split(",") if name.strip()]
    if not chosen or None in chosen:
        raise SystemExit(f"--variants: choose from {', '.join(known)}")
    return [variant for variant in chosen if variant is not None]


def _verdicts(runs: Sequence[Run], batch: bool = True) -> list[str]:
    clean, noisy = runs[0], runs[1 if len(runs) > 1 else 0]
    p95 = clean.percentile(95)
    rtf = clean.cpu_s / clean.audio_s
    checks = [
        (f"WER, {clean.name}", clean.wer, TARGETS["wer_clean"]),
        (f"WER, {noisy.name}", noisy.wer, TARGETS["wer_noisy"]),
        (f"caption latency p95 (s), {clean.name}", p95, TARGETS["latency_p95"]),
        ("RTF (CPU) on one core, live path", rtf, TARGETS["rtf"]),
    ]
    if batch:
        whole_file = runs[-1].cpu_s / runs[-1].audio_s
        checks.append(("RTF (CPU) on one core, whole file", whole_file, TARGETS["rtf"]))
    return [
        f"- {name}: {value:.3f} (target <= {target}) {'met' if value <= target else 'NOT met'}"
        for name, value, target in checks
    ]


def _speech_end(take: np.ndarray) -> float:
    loud = np.nonzero(np.abs(take) > SPEECH_LEVEL)[0]
    return float(loud[-1] + 1) / RATE if len(loud) else len(take) / RATE


if __name__ == "__main__":
    raise SystemExit(main())


def _seconds(value: float) -> str:
    """A latency for the table; "-" where there is none (a whole file has no captions)."""
    return "-" if math.isnan(value) else f"{value:.2f}"
