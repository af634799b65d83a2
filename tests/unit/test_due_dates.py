"""Deadline phrases: found by pattern, resolved against when they were said, in the meeting's
time zone (the rules are listed in minutes/due_dates.py)."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest

from minutes.due_dates import DueKind, find_due_phrase, find_due_phrases, resolve_due

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
# Monday 2 March 2026, 10:00 in New York.
MONDAY = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=NEW_YORK)


def due(text: str, said_at: datetime.datetime = MONDAY) -> datetime.date | None:
    phrase = find_due_phrase(text)
    return None if phrase is None else resolve_due(phrase, said_at)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'll send it by end of day.", datetime.date(2026, 3, 2)),
        ("update the notes by EOD", datetime.date(2026, 3, 2)),
        ("close of business", datetime.date(2026, 3, 2)),
        ("send the notes after the call", datetime.date(2026, 3, 2)),
        ("I'll do it tonight", datetime.date(2026, 3, 2)),
        ("tomorrow", datetime.date(2026, 3, 3)),
        ("first thing tomorrow morning", datetime.date(2026, 3, 3)),
        ("the day after tomorrow", datetime.date(2026, 3, 4)),
        ("by Friday", datetime.date(2026, 3, 6)),
        ("on Monday", datetime.date(2026, 3, 9)),  # said on a Monday: a week later
        ("this Monday", datetime.date(2026, 3, 2)),
        ("next Tuesday", datetime.date(2026, 3, 10)),  # the Tuesday of next week
        ("before Thursday's meeting", datetime.date(2026, 3, 5)),
        ("by the end of the week", datetime.date(2026, 3, 6)),
        ("next week", datetime.date(2026, 3, 13)),  # next week's Friday
        ("by the end of next week", datetime.date(2026, 3, 13)),
        ("early next week", datetime.date(2026, 3, 9)),
        ("in two weeks", datetime.date(2026, 3, 16)),
        ("within three days", datetime.date(2026, 3, 5)),
        ("in a couple of days", datetime.date(2026, 3, 4)),
        ("by the 10th", datetime.date(2026, 3, 10)),
        ("by the tenth", datetime.date(2026, 3, 10)),
        ("by the twenty-first", datetime.date(2026, 3, 21)),
        ("by the first", datetime.date(2026, 4, 1)),  # the 1st has passed: next month's
        ("end of the month", datetime.date(2026, 3, 31)),
        ("end of next month", datetime.date(2026, 4, 30)),
        ("by the end of the quarter", datetime.date(2026, 3, 31)),
        ("before the end of the year", datetime.date(2026, 12, 31)),
        ("by March 3rd", datetime.date(2026, 3, 3)),
        ("the third of March", datetime.date(2026, 3, 3)),
        ("by January eighth", datetime.date(2027, 1, 8)),  # passed this year: next year's
        ("at the August fifth retro", datetime.date(2026, 8, 5)),
        ("I'll draft the plan for next quarter by May first", datetime.date(2026, 5, 1)),
    ],
)
def test_phrases_resolve_against_the_meeting_day(text: str, expected: datetime.date) -> None:
    assert due(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "we need to talk",  # "we" is not Wednesday (dateparser's mistake)
        "they renewed it last Friday",
        "the second one feels cleaner",
        "in the first quarter",
        "I tried automating it in March 2026",
        "may I ask a question",
        "that was the one we dropped last year",
        "",
    ],
)
def test_no_deadline_in_chatter(text: str) -> None:
    assert find_due_phrase(text) is None


def test_the_deadline_phrase_is_preferred_and_spans_are_exact() -> None:
    text = "On Monday I'll draft it by the 20th"
    phrases = find_due_phrases(text)
    assert [p.text for p in phrases] == ["On Monday", "by the 20th"]
    chosen = find_due_phrase(text)
    assert chosen is not None and chosen.text == "by the 20th" and chosen.is_deadline
    assert text[chosen.start : chosen.end] == "by the 20th"
    assert chosen.kind is DueKind.DAY_OF_MONTH and chosen.value == 20


def test_a_weekday_said_on_that_day_means_the_next_one() -> None:
    friday = datetime.datetime(2026, 4, 10, 16, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert due("by Friday", friday) == datetime.date(2026, 4, 17)
    assert due("this Friday", friday) == datetime.date(2026, 4, 10)
    assert due("next Friday", friday) == datetime.date(2026, 4, 17)
    assert due("this week", friday) == datetime.date(2026, 4, 10)
    saturday = friday + datetime.timedelta(days=1)
    assert due("by the end of the week", saturday) == datetime.date(2026, 4, 17)


def test_the_meeting_time_zone_decides_the_day() -> None:
    # 16:30 on Thursday in Los Angeles is already Friday 00:30 in UTC.
    local = datetime.datetime(2026, 1, 29, 16, 30, tzinfo=zoneinfo.ZoneInfo("America/Los_Angeles"))
    assert due("by end of day", local) == datetime.date(2026, 1, 29)
    assert due("tomorrow", local) == datetime.date(2026, 1, 30)
    assert due("by end of day", local.astimezone(datetime.UTC)) == datetime.date(2026, 1, 30)


def test_month_edges() -> None:
    in_january = datetime.datetime(2026, 1, 31, 9, 0, tzinfo=NEW_YORK)
    assert due("by the end of next month", in_january) == datetime.date(2026, 2, 28)
    assert due("by the 31st", datetime.datetime(2026, 4, 5, tzinfo=NEW_YORK)) == datetime.date(
        2026, 5, 31
    )  # April has no 31st
    in_december = datetime.datetime(2026, 12, 16, 17, 0, tzinfo=NEW_YORK)
    assert due("by the fifth", in_december) == datetime.date(2027, 1, 5)
    assert due("end of the month", in_december) == datetime.date(2026, 12, 31)
    # Neither 2026 nor 2027 has a February 29th: no deadline rather than a guess.
    assert due("by February 29th", in_december) is None
    assert due("by February 29th", datetime.datetime(2027, 3, 1, tzinfo=NEW_YORK)) == (
        datetime.date(2028, 2, 29)
    )
    assert due("by February 30th") is None
