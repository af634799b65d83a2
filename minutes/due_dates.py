"""Deadlines said in meetings: find the phrase, then resolve it against when it was said.

``dateparser`` alone reads "we" as Wednesday and misreads "by the 10th" (39 false dates in
85 non-action sentences, /work/shared/notes/ai-workers.md), so the phrase is found by a
closed set of patterns first and resolved here, relative to the moment it was said in the
meeting's own time zone (a 16:30 meeting in Los Angeles is already "tomorrow" in UTC).

What each phrase means (the labelled set, benchmarks/data/meeting_utterances.json, uses the
same rules; weeks run Monday to Sunday, ISO 8601):

- "today", "tonight", "this afternoon", "end of day", "EOD", "COB", "after the call",
  "in an hour": the day it was said.
- "tomorrow" (+ "morning", "first thing"): the next day; "the day after tomorrow": +2.
- a weekday ("by Friday", "on Monday", "before Thursday's meeting"): the next such day
  *after* the day it was said (said on a Friday, "by Friday" is a week later); "this
  Friday": the Friday of this week, today included, else the next one; "next Tuesday":
  the Tuesday of next week. "last Friday" is not a deadline.
- "this week", "end of the week", "by the weekend": this week's Friday.
- "next week", "end of next week": next week's Friday (a deadline of "next week" is met by
  the end of its working week); "early next week": next week's Monday.
- "in two weeks", "within three days", "in a couple of days": that many days later.
- "by the 10th": the next 10th on or after the day it was said.
- "March 3rd", "the third of March": that date, next year when it has passed this year.
- "end of the month" / "next month" / "quarter" / "year": the last day of that period.
"""

from __future__ import annotations

import calendar
import datetime
import enum
import re
from dataclasses import dataclass


class DueKind(enum.Enum):
    TODAY = "today"
    TOMORROW = "tomorrow"
    DAY_AFTER_TOMORROW = "day_after_tomorrow"
    WEEKDAY = "weekday"  # value = 0 (Monday) .. 6; modifier "", "this" or "next"
    THIS_WEEK = "this_week"
    NEXT_WEEK = "next_week"
    EARLY_NEXT_WEEK = "early_next_week"
    IN_DAYS = "in_days"  # value = days
    DAY_OF_MONTH = "day_of_month"  # value = day
    DATE = "date"  # value = day, month = month
    END_OF_MONTH = "end_of_month"
    END_OF_NEXT_MONTH = "end_of_next_month"
    END_OF_QUARTER = "end_of_quarter"
    END_OF_YEAR = "end_of_year"


@dataclass(frozen=True)
class DuePhrase:
    text: str  # as said, e.g. "by Friday"
    start: int  # span in the text searched
    end: int
    kind: DueKind
    value: int = 0
    month: int = 0
    modifier: str = ""

    @property
    def is_deadline(self) -> bool:
        """Said with "by", "before", "until": a deadline rather than a mention of a day."""
        return bool(_DEADLINE_WORD.match(self.text))


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_UNITS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"]
_TEENS = [
    "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
    "seventeenth", "eighteenth", "nineteenth",
]  # fmt: skip
ORDINALS: dict[str, int] = {
    **{word: i + 1 for i, word in enumerate(_UNITS)},
    **{word: i + 10 for i, word in enumerate(_TEENS)},
    "twentieth": 20,
    **{f"twenty {word}": i + 21 for i, word in enumerate(_UNITS)},
    "thirtieth": 30,
    "thirty first": 31,
}
COUNTS: dict[str, int] = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14,
    "fifteen": 15, "twenty": 20, "thirty": 30, "a couple of": 2, "a couple": 2,
    "couple of": 2, "a few": 3, "few": 3,
}  # fmt: skip

_S = r"[\s-]+"  # ASR writes "end-of-day" as often as "end of day"
_PREP = r"(?:(?:by|before|until|till|no later than|on|for|at)\s+)?"
_DEADLINE_WORD = re.compile(r"(?:by|before|until|till|no later than)\b", re.IGNORECASE)


def _alt(words: list[str]) -> str:
    # Longest first so "twenty first" wins over "twenty"; spaces may be hyphens.
    return "|".join(w.replace(" ", _S) for w in sorted(words, key=len, reverse=True))


_ORD = rf"(?:\d{{1,2}}(?:st|nd|rd|th)|{_alt(list(ORDINALS))})"
_DAY = rf"(?:\d{{1,2}}(?:st|nd|rd|th)?|{_alt(list(ORDINALS))})"
_MONTH = rf"(?:{_alt(list(MONTHS))})"
_WEEKDAY = rf"(?:{_alt(list(WEEKDAYS))})"
_COUNT = rf"(?:\d{{1,2}}|{_alt(list(COUNTS))})"
# "the second one", "the first quarter" are not days of the month.
_NOT_A_DAY = r"(?!\s+(?:one|ones|floor|time|times|item|half|quarter|round|version|page|option))"

_END_OF = rf"(?:the\s+)?end{_S}of{_S}"
_THIS = r"(?:the\s+|this\s+)?"
_PART_OF_DAY = r"(?:\s+(?:morning|afternoon|evening|night))?"
_MODIFIER = r"(?:(?:this|next|this\s+coming|coming)\s+)?"
_EVENT = r"(?:'s(?:\s+(?:meeting|call|sync|standup|review|session|demo))?)?"  # Thursday's call
_SPAN = r"(?:(?:business|working)\s+)?(?:days?|weeks?)"
_BY = r"(?:by|before|until|till|no later than|on)"

_PATTERNS: list[tuple[DueKind, str]] = [
    (DueKind.END_OF_NEXT_MONTH, rf"{_PREP}{_END_OF}next{_S}month"),
    (DueKind.NEXT_WEEK, rf"{_PREP}{_END_OF}next{_S}week"),
    (DueKind.TODAY, rf"{_PREP}(?:the\s+)?(?:end|close){_S}of{_S}(?:the\s+)?(?:business{_S})?day"),
    (DueKind.TODAY, rf"{_PREP}(?:the\s+)?(?:end|close){_S}of{_S}business"),
    (DueKind.THIS_WEEK, rf"{_PREP}{_END_OF}{_THIS}week"),
    (DueKind.END_OF_MONTH, rf"{_PREP}{_END_OF}{_THIS}month"),
    (DueKind.END_OF_MONTH, rf"{_PREP}(?:the\s+)?month{_S}end"),
    (DueKind.END_OF_QUARTER, rf"{_PREP}{_END_OF}{_THIS}quarter"),
    (DueKind.END_OF_YEAR, rf"{_PREP}(?:{_END_OF}{_THIS}year|(?:the\s+)?year{_S}end)"),
    (DueKind.TODAY, rf"{_PREP}(?:e\.?o\.?d|c\.?o\.?b)\b\.?"),
    (DueKind.THIS_WEEK, rf"{_PREP}(?:e\.?o\.?w)\b\.?"),
    (DueKind.END_OF_MONTH, rf"{_PREP}(?:e\.?o\.?m)\b\.?"),
    (DueKind.DAY_AFTER_TOMORROW, rf"{_PREP}(?:the\s+)?day{_S}after{_S}tomorrow"),
    (DueKind.TOMORROW, rf"{_PREP}(?:first{_S}thing\s+)?tomorrow{_PART_OF_DAY}"),
    (DueKind.TODAY, rf"{_PREP}(?:later\s+)?(?:today|tonight)"),
    (DueKind.TODAY, rf"{_PREP}this\s+(?:morning|afternoon|evening)"),
    (DueKind.TODAY, r"(?:right\s+)?after\s+(?:the|this)\s+(?:call|meeting)"),
    (DueKind.TODAY, r"(?:by|before|after)\s+lunch"),
    (DueKind.TODAY, rf"(?:in|within)\s+(?:an|one|a\s+few|a\s+couple\s+of|{_COUNT})\s+hours?"),
    (
        DueKind.EARLY_NEXT_WEEK,
        rf"{_PREP}(?:early|(?:the\s+)?(?:beginning|start){_S}of)\s+next\s+week",
    ),
    (DueKind.NEXT_WEEK, rf"{_PREP}next\s+week"),
    (DueKind.THIS_WEEK, rf"{_PREP}(?:this\s+week|the\s+weekend)"),
    (DueKind.IN_DAYS, rf"(?:in|within)\s+(?:the\s+next\s+)?{_COUNT}\s+{_SPAN}"),
    (DueKind.IN_DAYS, rf"{_COUNT}\s+(?:days?|weeks?)\s+from\s+(?:now|today)"),
    (DueKind.DATE, rf"{_PREP}{_MONTH}\s+(?:the\s+)?{_DAY}\b"),
    (DueKind.DATE, rf"{_PREP}(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}\b"),
    (DueKind.DAY_OF_MONTH, rf"{_BY}\s+the\s+{_ORD}\b{_NOT_A_DAY}"),
    (
        DueKind.WEEKDAY,
        rf"{_PREP}(?:first{_S}thing\s+)?{_MODIFIER}(?<!last\s){_WEEKDAY}{_EVENT}{_PART_OF_DAY}",
    ),
]
_COMPILED = [(kind, re.compile(rf"\b{p}\b", re.IGNORECASE)) for kind, p in _PATTERNS]
_LAST = re.compile(r"\b(?:last|previous|past)\s+$", re.IGNORECASE)


def _number(word: str, table: dict[str, int]) -> int:
    key = re.sub(_S, " ", word.lower()).strip()
    digits = re.match(r"\d+", key)
    return int(digits.group()) if digits else table[key]


def _parse(kind: DueKind, text: str) -> DuePhrase | None:
    low = re.sub(_S, " ", text.lower())
    if kind is DueKind.WEEKDAY:
        day = next(i for i, name in enumerate(WEEKDAYS) if name in low)
        modifier = "next" if re.search(r"\bnext\b", low) else ""
        modifier = modifier or ("this" if re.search(r"\bthis\b", low) else "")
        return DuePhrase(text, 0, 0, kind, value=day, modifier=modifier)
    if kind is DueKind.IN_DAYS:
        match = re.search(rf"({_COUNT})\s+(?:(?:business|working)\s+)?(day|week)", low)
        if match is None:
            return None
        count = _number(match.group(1), COUNTS)
        return DuePhrase(text, 0, 0, kind, value=count * (7 if match.group(2) == "week" else 1))
    if kind is DueKind.DAY_OF_MONTH:
        match = re.search(rf"the\s+({_ORD})$", low)
        return None if match is None else DuePhrase(text, 0, 0, kind, _number(match[1], ORDINALS))
    if kind is DueKind.DATE:
        month = next(MONTHS[w] for w in re.findall(r"[a-z]+", low) if w in MONTHS and w != "the")
        after_month = re.search(rf"{_MONTH}\s+(?:the\s+)?({_DAY})$", low)
        before_month = re.search(rf"({_DAY})\s+(?:of\s+)?{_MONTH}$", low)
        found = after_month or before_month
        if found is None:
            return None
        return DuePhrase(text, 0, 0, kind, value=_number(found.group(1), ORDINALS), month=month)
    return DuePhrase(text, 0, 0, kind)


def find_due_phrases(text: str) -> list[DuePhrase]:
    """Every deadline phrase in ``text``, left to right, none overlapping (the longest wins)."""
    found: list[tuple[int, int, DueKind]] = []
    for kind, pattern in _COMPILED:
        for match in pattern.finditer(text):
            if kind is DueKind.WEEKDAY and _LAST.search(text[: match.start()]):
                continue  # "last Friday" is the past
            found.append((match.start(), match.end(), kind))
    found.sort(key=lambda span: (span[0], -(span[1] - span[0])))
    phrases: list[DuePhrase] = []
    taken_until = -1
    for start, end, kind in found:
        if start < taken_until:
            continue
        parsed = _parse(kind, text[start:end])
        if parsed is None:
            continue
        phrases.append(
            DuePhrase(
                text[start:end].strip(),
                start,
                end,
                kind,
                parsed.value,
                parsed.month,
                parsed.modifier,
            )
        )
        taken_until = end
    return phrases


def find_due_phrase(text: str) -> DuePhrase | None:
    """The deadline phrase of ``text``: the first said with "by"/"before"/"until", else the
    first at all ("I'll draft the plan for next quarter by May first" -> "by May first")."""
    phrases = find_due_phrases(text)
    deadlines = [p for p in phrases if p.is_deadline]
    chosen = deadlines or phrases
    return chosen[0] if chosen else None


def _last_day(year: int, month: int) -> datetime.date:
    return datetime.date(year, month, calendar.monthrange(year, month)[1])


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def resolve_due(phrase: DuePhrase, said_at: datetime.datetime) -> datetime.date | None:
    """The date ``phrase`` names, counted from ``said_at`` in its own time zone (pass an aware
    datetime in the meeting's zone). None when the phrase names no valid date ("February
    30th")."""
    today = said_at.date()
    monday = today - datetime.timedelta(days=today.weekday())
    kind = phrase.kind
    if kind is DueKind.TODAY:
        return today
    if kind is DueKind.TOMORROW:
        return today + datetime.timedelta(days=1)
    if kind is DueKind.DAY_AFTER_TOMORROW:
        return today + datetime.timedelta(days=2)
    if kind is DueKind.WEEKDAY:
        if phrase.modifier == "next":
            return monday + datetime.timedelta(days=7 + phrase.value)
        ahead = (phrase.value - today.weekday()) % 7
        if ahead == 0 and phrase.modifier != "this":
            ahead = 7
        return today + datetime.timedelta(days=ahead)
    if kind is DueKind.THIS_WEEK:
        friday = monday + datetime.timedelta(days=4)
        return friday if friday >= today else friday + datetime.timedelta(days=7)
    if kind is DueKind.NEXT_WEEK:
        return monday + datetime.timedelta(days=7 + 4)
    if kind is DueKind.EARLY_NEXT_WEEK:
        return monday + datetime.timedelta(days=7)
    if kind is DueKind.IN_DAYS:
        return today + datetime.timedelta(days=phrase.value)
    if kind is DueKind.DAY_OF_MONTH:
        for months in range(13):  # the 31st skips the months without one
            year, month = _add_months(today.year, today.month, months)
            if phrase.value <= calendar.monthrange(year, month)[1]:
                candidate = datetime.date(year, month, phrase.value)
                if candidate >= today:
                    return candidate
        return None
    if kind is DueKind.DATE:
        for year in (today.year, today.year + 1):
            try:
                candidate = datetime.date(year, phrase.month, phrase.value)
            except ValueError:
                continue  # February 29th outside a leap year
            if candidate >= today:
                return candidate
        return None
    if kind is DueKind.END_OF_MONTH:
        return _last_day(today.year, today.month)
    if kind is DueKind.END_OF_NEXT_MONTH:
        return _last_day(*_add_months(today.year, today.month, 1))
    if kind is DueKind.END_OF_QUARTER:
        return _last_day(today.year, (today.month - 1) // 3 * 3 + 3)
    return datetime.date(today.year, 12, 31)  # END_OF_YEAR
