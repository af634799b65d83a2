"""Action items by rule: what counts, whose it is, when it is due, and what is rejected."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest

from minutes.action_items import ActionItem, extract_action_items
from minutes.transcript import Participant, Segment

ROSTER = [
    Participant("u-alice", "Alice Nguyen"),
    Participant("u-bob", "Bob Martinez"),
    Participant("u-carol", "carol"),
]
# Monday 2 March 2026, 10:00 in New York.
START = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
NAMES = {p.identity: p.name for p in ROSTER}


def said(*lines: tuple[str, str]) -> list[Segment]:
    base = START.timestamp()
    return [
        Segment(who, NAMES.get(who, who), base + 10 * i, base + 10 * i + 8, text, id=100 + i)
        for i, (who, text) in enumerate(lines)
    ]


def one(speaker: str, text: str) -> ActionItem | None:
    items = extract_action_items(said((speaker, text)), ROSTER, START)
    assert len(items) <= 1
    return items[0] if items else None


@pytest.mark.parametrize(
    ("speaker", "text", "task", "owner", "due"),
    [
        ("u-alice", "I'll send the budget to finance by Friday.", "send the budget to finance",
         "u-alice", datetime.date(2026, 3, 6)),
        ("u-alice", "Bob will run the load test tomorrow.", "run the load test", "u-bob",
         datetime.date(2026, 3, 3)),
        ("u-alice", "Bob, can you update the release notes by EOD?", "update the release notes",
         "u-bob", datetime.date(2026, 3, 2)),
        ("u-alice", "Could you review the deck before Thursday's meeting, Bob?",
         "review the deck", "u-bob", datetime.date(2026, 3, 5)),
        ("u-bob", "Okay, Carol, please file a ticket for the flaky test.",
         "file a ticket for the flaky test", "u-carol", None),
        ("u-bob", "Alice, follow up with the agency tomorrow if you don't hear back.",
         "follow up with the agency", "u-alice", datetime.date(2026, 3, 3)),
        ("u-bob", "BOB NEEDS TO book the room by the 10th.", "book the room", "u-bob",
         datetime.date(2026, 3, 10)),
        ("u-carol", "We need to get the press kit ready by the end of the month.",
         "get the press kit ready", None, datetime.date(2026, 3, 31)),
        ("u-carol", "Let's draft the customer email in two weeks.", "draft the customer email",
         None, datetime.date(2026, 3, 16)),
        ("u-carol", "I'll take Bob's queue while he's away.", "take Bob's queue", "u-carol",
         None),
        ("u-carol", "I'm going to meet the CFO next Tuesday.", "meet the CFO", "u-carol",
         datetime.date(2026, 3, 10)),
        ("u-alice", "Alice Nguyen is going to share the targets next week.",
         "share the targets", "u-alice", datetime.date(2026, 3, 13)),
    ],
)  # fmt: skip
def test_action_items(
    speaker: str, text: str, task: str, owner: str | None, due: datetime.date | None
) -> None:
    item = one(speaker, text)
    assert item is not None
    assert (item.task, item.owner, item.due) == (task, owner, due)
    assert item.owner_name == (NAMES[owner] if owner else None)


@pytest.mark.parametrize(
    "text",
    [
        "I sent the updated checklist to everyone yesterday.",  # past
        "I won't be able to review the blog post before Thursday.",  # negation
        "I'm not going to approve any more spending this quarter.",
        "I don't think we need to, honestly.",
        "Should we move the launch to April?",  # question
        "Are we going to hit the quarterly target?",
        "If we had budget, we'll hire a designer.",  # hypothetical
        "If we had another designer we could ship dark mode.",
        "He said he'd look at the flaky test last week.",  # reported
        "Bob said he will fix it by Friday.",
        "Sure, I'll do that.",  # agreement: the item is the request it answers
        "Yes, I'll have it ready.",
        "Okay, let's get started.",  # procedure
        "Let's not go there again.",
        "We should probably think about a referral program at some point.",  # idle talk
        "Thanks Alice, you're a lifesaver.",
        "Oh no, sorry Bob.",
        "See you next Tuesday.",
        "Ha, the press kit. Remember the one with the typo?",
        "",
        "   ",
    ],
)
def test_hard_negatives(text: str) -> None:
    assert one("u-carol", text) is None


def test_items_keep_their_place_in_the_transcript() -> None:
    segments = said(
        ("u-alice", "Thanks for joining."),
        ("u-bob", "The numbers came in yesterday. I'll send them to finance by Friday."),
    )
    [item] = extract_action_items(segments, ROSTER, START)
    assert item.segment_index == 1
    assert item.start == segments[1].start
    assert item.quote == segments[1].text
    assert item.due_text == "by Friday"


def test_unnamed_you_is_the_person_being_answered() -> None:
    segments = said(
        ("u-bob", "I have the vendor numbers now."),
        ("u-alice", "Great."),
        ("u-alice", "Can you send them to finance by Friday?"),
    )
    [item] = extract_action_items(segments, ROSTER, START)
    assert (item.owner, item.owner_name) == ("u-bob", "Bob Martinez")


def test_unknown_speaker_and_empty_roster() -> None:
    segments = [
        Segment(
            "guest-7",
            "Guest",
            START.timestamp(),
            START.timestamp() + 1,
            "I'll send it by Friday to legal.",
        )
    ]
    [item] = extract_action_items(segments, [], START)
    assert (item.owner, item.owner_name, item.task) == ("guest-7", "Guest", "send it to legal")
    assert extract_action_items([], ROSTER, START) == []


def test_shared_first_names_need_the_full_name() -> None:
    roster = [Participant("a1", "Sam Lee"), Participant("a2", "Sam Park")]
    base = START.timestamp()
    ambiguous = Segment("a1", "Sam Lee", base, base + 1, "Sam will send the report.")
    assert extract_action_items([ambiguous], roster, START) == []
    full = Segment("a1", "Sam Lee", base, base + 1, "Sam Park will send the report.")
    [item] = extract_action_items([full], roster, START)
    assert item.owner == "a2"


def test_due_dates_use_the_meeting_time_zone() -> None:
    # 16:30 Thursday in Los Angeles is Friday in UTC: "by end of day" is still Thursday.
    local = datetime.datetime(2026, 1, 29, 16, 30, tzinfo=zoneinfo.ZoneInfo("America/Los_Angeles"))
    segment = Segment("u-alice", "Alice", local.timestamp() + 60, local.timestamp() + 62,
                      "I'll share the targets by end of day.")  # fmt: skip
    [item] = extract_action_items([segment], ROSTER, local)
    assert item.due == datetime.date(2026, 1, 29)


def test_bad_input_is_a_clear_error_or_kept() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        extract_action_items(
            said(("u-alice", "I'll do the review.")), ROSTER, START.replace(tzinfo=None)
        )
    broken = Segment("u-alice", "Alice", float("nan"), float("nan"), "I'll book the room tomorrow.")
    [item] = extract_action_items([broken], ROSTER, START)
    assert item.due == datetime.date(2026, 3, 3)  # counted from the meeting's start
    odd = Segment(
        "u-alice", "Alice", START.timestamp(), START.timestamp(), "\x00 <v> ' , . ? !" * 50
    )
    assert extract_action_items([odd], ROSTER, START) == []
