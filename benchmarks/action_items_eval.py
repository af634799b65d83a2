"""Action-item extraction scored against the labelled meetings (issue 5).

`python -m benchmarks.action_items_eval [--data PATH] [--out docs/benchmarks.md]` prints
precision, recall, F1, owner accuracy and due-date accuracy for all meetings, the "dev"
meetings (the rules were written looking at these) and the held-out "test" meetings.

Matching is by utterance: a predicted item counts for the utterance it came from; several
items from one utterance count once. Precision and recall are over utterances labelled as
action items; owner and due accuracy are over the true positives (a missing due date where
one was labelled is wrong, and so is a date where none was labelled).

`evaluate(meetings, texts)` is also used by benchmarks/transcribe_eval.py with the
recognizer's text in place of the reference (``texts[(meeting_index, utterance_index)]``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from minutes.action_items import ActionItem, extract_action_items
from minutes.transcript import Participant, Segment

from .report import replace_section

DATA = Path(__file__).resolve().parent / "data" / "meeting_utterances.json"
TARGET_F1 = 0.8
TARGET_OWNER = 0.9
TARGET_DUE = 0.9
# Utterances are placed this far apart from the meeting's start (the labels carry no times;
# every meeting lasts well under an hour, so no utterance crosses midnight).
UTTERANCE_SPACING_S = 12.0
BEGIN = "<!-- action-items:begin -->"
END = "<!-- action-items:end -->"


@dataclass(frozen=True)
class Utterance:
    speaker: str
    text: str
    action: bool
    owner: str | None
    due: datetime.date | None


@dataclass(frozen=True)
class Meeting:
    title: str
    split: str  # "dev" | "test"
    start: datetime.datetime  # aware, in the meeting's time zone
    roster: tuple[Participant, ...]
    utterances: tuple[Utterance, ...]


@dataclass(frozen=True)
class Scores:
    labelled: int  # utterances labelled as action items
    predicted: int  # utterances with at least one predicted item
    true_positives: int
    owner_correct: int
    due_correct: int
    utterances: int
    errors: tuple[str, ...]  # one line per mistake, for reading

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.labelled if self.labelled else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def owner_accuracy(self) -> float:
        return self.owner_correct / self.true_positives if self.true_positives else 0.0

    @property
    def due_accuracy(self) -> float:
        return self.due_correct / self.true_positives if self.true_positives else 0.0

    @property
    def meets_targets(self) -> bool:
        return (
            self.f1 >= TARGET_F1
            and self.owner_accuracy >= TARGET_OWNER
            and self.due_accuracy >= TARGET_DUE
        )


def load_meetings(path: Path = DATA) -> list[Meeting]:
    """The labelled meetings; a malformed file raises ValueError naming the place."""
    raw = json.loads(path.read_text())
    meetings: list[Meeting] = []
    for number, m in enumerate(raw["meetings"]):
        try:
            start = datetime.datetime.fromisoformat(m["date"]).astimezone(
                zoneinfo.ZoneInfo(m["time_zone"])
            )
            roster = tuple(Participant(p["identity"], p["name"]) for p in m["roster"])
            utterances = tuple(
                Utterance(
                    u["speaker"],
                    u["text"],
                    bool(u["action"]),
                    u["owner"],
                    datetime.date.fromisoformat(u["due"]) if u["due"] else None,
                )
                for u in m["utterances"]
            )
        except (KeyError, TypeError, ValueError, zoneinfo.ZoneInfoNotFoundError) as exc:
            raise ValueError(f"{path}: meeting {number} is malformed: {exc!r}") from exc
        meetings.append(Meeting(m["title"], m["split"], start, roster, utterances))
    return meetings


def segments_of(meeting: Meeting, texts: Sequence[str] | None = None) -> list[Segment]:
    """The meeting as the server would store it: one segment per utterance."""
    names = {p.identity: p.name for p in meeting.roster}
    base = meeting.start.timestamp()
    return [
        Segment(
            identity=u.speaker,
            name=names.get(u.speaker, u.speaker),
            start=base + i * UTTERANCE_SPACING_S,
            end=base + i * UTTERANCE_SPACING_S + UTTERANCE_SPACING_S * 0.8,
            text=u.text if texts is None else texts[i],
        )
        for i, u in enumerate(meeting.utterances)
    ]


def _first_by_utterance(items: Sequence[ActionItem]) -> dict[int, ActionItem]:
    first: dict[int, ActionItem] = {}
    for item in items:
        first.setdefault(item.segment_index, item)
    return first


def evaluate(
    meetings: Sequence[Meeting], texts: Mapping[tuple[int, int], str] | None = None
) -> Scores:
    """Score the extractor on ``meetings``; ``texts`` replaces reference utterances (keys:
    index into ``meetings``, index of the utterance), e.g. with speech-recognizer output."""
    labelled = predicted = tp = owner_ok = due_ok = total = 0
    errors: list[str] = []
    for mi, meeting in enumerate(meetings):
        said = [
            u.text if texts is None else texts.get((mi, ui), u.text)
            for ui, u in enumerate(meeting.utterances)
        ]
        items = _first_by_utterance(
            extract_action_items(segments_of(meeting, said), meeting.roster, meeting.start)
        )
        for ui, u in enumerate(meeting.utterances):
            total += 1
            item = items.get(ui)
            labelled += u.action
            predicted += item is not None
            where = f"[{meeting.split} {mi}:{ui}] {said[ui]!r}"
            if item is None:
                if u.action:
                    errors.append(f"missed {where}")
                continue
            if not u.action:
                errors.append(f"false positive {where} -> {item.task!r}")
                continue
            tp += 1
            if item.owner == u.owner:
                owner_ok += 1
            else:
                errors.append(f"owner {item.owner} != {u.owner} {where}")
            if item.due == u.due:
                due_ok += 1
            else:
                errors.append(f"due {item.due} ({item.due_text!r}) != {u.due} {where}")
    return Scores(labelled, predicted, tp, owner_ok, due_ok, total, tuple(errors))


def table(rows: Sequence[tuple[str, Scores]]) -> list[str]:
    lines = [
        "| meetings | utterances | action items | precision | recall | F1 | owner acc. "
        "| due acc. |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in rows:
        lines.append(
            f"| {name} | {s.utterances} | {s.labelled} | {s.precision:.3f} | {s.recall:.3f} "
            f"| {s.f1:.3f} | {s.owner_accuracy:.3f} | {s.due_accuracy:.3f} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, help="write a section into this markdown file")
    parser.add_argument("--errors", action="store_true", help="print every mistake")
    args = parser.parse_args(argv)
    meetings = load_meetings(args.data)
    rows = [
        ("all", evaluate(meetings)),
        ("dev (rules written on these)", evaluate([m for m in meetings if m.split == "dev"])),
        ("test (held out)", evaluate([m for m in meetings if m.split == "test"])),
    ]
    lines = table(rows)
    print("\n".join(lines))
    if args.errors:
        for name, scores in rows[1:]:
            print(f"\n{name}:")
            print("\n".join(f"  {e}" for e in scores.errors) or "  none")
    if args.out is not None:
        section = [
            f"Rules in minutes/action_items.py on {len(meetings)} labelled meetings "
            f"({rows[0][1].utterances} utterances, {rows[0][1].labelled} action items) "
            "from benchmarks/data/meeting_utterances.json, reference text; targets: "
            f"F1 >= {TARGET_F1}, owner accuracy >= {TARGET_OWNER}, due-date accuracy >= "
            f"{TARGET_DUE}. `python -m benchmarks.action_items_eval`.",
            "",
            *lines,
        ]
        replace_section(args.out, section, BEGIN, END, "Action items")
    return 0 if all(s.meets_targets for _, s in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
