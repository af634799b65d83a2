"""Action items from a meeting transcript, by rules.

Precision matters more than recall here: a summary full of chatter is ignored, and action
items are 0.5-2.4% of real meeting talk (AMI, ICSI; /work/shared/notes/ai-workers.md). So an
utterance becomes an item only through an explicit commitment or request, and the usual
look-alikes are rejected first:

- commitments: "I'll ...", "I'm going to ...", "Alice will ...", "Bob is going to ...";
- requests: "Bob, can you ...", "could you ... , Bob?", "Bob, please ...", "Bob, send ...";
- group tasks: "we need to ...", "we'll ...", "let's <task>" (owner unassigned);
- rejected: past tense (no trigger matches "I sent"), negation before or right after the
  trigger ("I won't", "let's not"), questions other than requests ("should we ...?"),
  hypotheticals ("if we had budget we'll ..."), reported speech ("he said he'd ..."), bare
  agreements whose task is only a pronoun ("Sure, I'll do that": the item is the request it
  answers), and meeting procedure without a date ("let's get started").

Owners: "I" is the speaker; names are matched against the roster (first or full name,
case-insensitive); "you" is the person named in the same sentence, else the previous
speaker (the one being answered); "we"/"let's" stay unassigned. Due dates come from
minutes.due_dates, resolved in the meeting's time zone at the moment the words were said.
"""

from __future__ import annotations

import datetime
import enum
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .due_dates import find_due_phrase, find_due_phrases, resolve_due
from .transcript import Participant, Segment


@dataclass(frozen=True)
class ActionItem:
    task: str  # what is to be done, e.g. "send the budget to finance"
    owner: str | None  # participant identity, None = unassigned
    owner_name: str | None
    due: datetime.date | None
    due_text: str | None  # the phrase it came from, e.g. "by Friday"
    segment_index: int  # index into the segments passed in
    start: float  # the segment's start (epoch s)
    quote: str  # the segment's text


class _Trigger(enum.Enum):
    SELF = "self"  # I'll ...
    NAMED = "named"  # Alice will ...
    REQUEST = "request"  # (Bob,) can you / please ...
    IMPERATIVE = "imperative"  # Bob, send ...
    GROUP = "group"  # we need to / let's ...


_SELF = re.compile(r"\b(?:i'll|i will|i'm going to|i am going to|i'm gonna|i shall)\b")
_GROUP = re.compile(
    r"\b(?:we need to|we have to|we must|we've got to|we'll|we will|we're going to|"
    r"we are going to|let's|let us|someone needs to|somebody needs to|someone has to)\b"
)
_REQUEST = re.compile(r"\b(?:can you|could you|would you mind|would you|will you|please)\b")
_NAMED_VERB = (
    r"(?:'ll|\s+will|\s+is\s+going\s+to|'s\s+going\s+to|\s+is\s+gonna|\s+needs\s+to|\s+has\s+to)\b"
)
_VOCATIVE_BEFORE = re.compile(
    r"(?:^|[,.!?;:]\s*|\b(?:then|okay|ok|so|yes|and|hey|right|alright|now)\s+)$"
)
_VOCATIVE_AFTER = re.compile(r"\s*(?:[,.?!]|$)|\s+(?:can|could|would|will|please)\b")

# Checked in the clause before the trigger (since the last comma): "I don't think we need
# to" is not a task, but "I didn't get to it, I'll do it tomorrow" is.
_NEGATION = re.compile(r"n't\b|\bnot\b|\bnever\b|\bno longer\b")
_REPORTED = re.compile(
    r"\b(?:said|says|told|mentioned|promised|claimed|heard|thought|wondered|asked)\b"
)
# Checked in the whole sentence before the trigger.
_HYPOTHETICAL = re.compile(r"\b(?:if|unless|suppose|supposing|imagine|in case|whether)\b")
_AFTER_NEGATION = re.compile(r"\s*(?:not|never|n't)\b|\s+like\b")  # "let's not", "would you like"

_CLAUSE_END = re.compile(
    r",\s*(?:but|because|since|so that|and then|unless|if|or)\b"
    r"|\s+(?:if|unless|because|once|as soon as|while|whenever)\b|[;:.!?]"
)
_LEADING_FILLER = re.compile(
    r"^(?:also|just|then|please|go ahead and|definitely|actually|quickly|first|try to|aim to)\s+",
    re.I,
)
_TRAILING_FILLER = re.compile(r"(?:\s+(?:too|as well|instead|then|now|please|for me))+$", re.I)
_PRONOUNISH = {
    "it", "that", "this", "them", "those", "these", "one", "so", "done", "ready", "out", "up",
    "too", "then", "now", "sorted", "care", "of", "there", "again", "a", "the", "sure",
}  # fmt: skip
_GENERIC_VERBS = {"do", "get", "have", "handle", "take", "sort", "manage", "deal", "make"}
# Present-meeting procedure, not work to track, unless a later date is attached
# ("let's review the numbers in two weeks" is a task).
_PROCEDURE = re.compile(
    r"^(?:get started|start|begin|go around|go through|go over|look at|move on|kick off|"
    r"wrap up|take a break|dive in|discuss|talk about|keep|circle back|recap|focus on)\b",
    re.I,
)
_NOT_A_VERB = {
    "you", "you're", "youre", "i", "i'm", "we", "we're", "it", "it's", "that", "that's",
    "this", "the", "a", "an", "thanks", "thank", "sorry", "yes", "no", "okay", "ok", "right",
    "sure", "great", "good", "nice", "hi", "hello", "hey", "welcome", "how", "what", "why",
    "when", "where", "who", "which", "is", "are", "was", "were", "do", "does", "did", "have",
    "has", "had", "can", "could", "would", "will", "should", "shall", "may", "might", "must",
    "and", "but", "or", "so", "if", "as", "to", "of", "in", "on", "at", "for", "with", "he",
    "she", "they", "there", "here", "your", "my", "our", "their", "his", "her", "its", "not",
    "just", "well", "oh", "um", "uh", "also", "too", "let's", "any", "anything", "all",
}  # fmt: skip


class _Roster:
    """Roster names -> participants: first names and full names, case-insensitive. A first
    name two participants share resolves only through the full name."""

    def __init__(self, roster: Sequence[Participant]) -> None:
        firsts: dict[str, list[Participant]] = {}
        self._by_name: dict[str, Participant] = {}
        for person in roster:
            full = " ".join(person.name.lower().split())
            if full:
                self._by_name[full] = person
                firsts.setdefault(full.split()[0], []).append(person)
        for first, people in firsts.items():
            if len(people) == 1:
                self._by_name.setdefault(first, people[0])
        names = sorted(self._by_name, key=len, reverse=True)
        alternatives = "|".join(r"\s+".join(map(re.escape, n.split())) for n in names)
        self.pattern = re.compile(rf"\b(?:{alternatives})\b") if names else None
        self._by_identity = {p.identity: p for p in roster}

    def by_name(self, name: str) -> Participant | None:
        return self._by_name.get(" ".join(name.split()))

    def by_identity(self, identity: str) -> Participant | None:
        return self._by_identity.get(identity)

    def vocative(self, low: str) -> tuple[Participant, int, int] | None:
        """The first person addressed by name ("Bob, can you", "..., Bob?")."""
        if self.pattern is None:
            return None
        for match in self.pattern.finditer(low):
            before, after = low[: match.start()], low[match.end() :]
            if after.startswith("'s"):
                continue  # "Sam's queue"
            if _VOCATIVE_BEFORE.search(before) and _VOCATIVE_AFTER.match(after):
                person = self.by_name(match.group())
                if person is not None:
                    return person, match.start(), match.end()
        return None


@dataclass(frozen=True)
class _Candidate:
    start: int
    end: int
    kind: _Trigger
    owner: Participant | None


def _candidates(low: str, speaker: Participant, roster: _Roster) -> list[_Candidate]:
    found = [_Candidate(m.start(), m.end(), _Trigger.SELF, speaker) for m in _SELF.finditer(low)]
    found += [_Candidate(m.start(), m.end(), _Trigger.GROUP, None) for m in _GROUP.finditer(low)]
    found += [
        _Candidate(m.start(), m.end(), _Trigger.REQUEST, None) for m in _REQUEST.finditer(low)
    ]
    if roster.pattern is not None:
        named = re.compile(rf"(?P<name>{roster.pattern.pattern}){_NAMED_VERB}")
        for m in named.finditer(low):
            person = roster.by_name(m.group("name"))
            if person is not None:
                found.append(_Candidate(m.start(), m.end(), _Trigger.NAMED, person))
        addressed = roster.vocative(low)
        if addressed is not None:
            person, _, end = addressed
            verb = re.match(r",\s+([a-z']+)", low[end:])
            if verb is not None and verb.group(1) not in _NOT_A_VERB:
                found.append(_Candidate(end, end + 1, _Trigger.IMPERATIVE, person))
    return sorted(found, key=lambda c: c.start)


def _rejected(low: str, candidate: _Candidate, question: bool) -> bool:
    before = low[: candidate.start]
    clause = re.split(r"[,;:]", before)[-1]
    if _NEGATION.search(clause) or _REPORTED.search(clause) or _HYPOTHETICAL.search(before):
        return True
    if _AFTER_NEGATION.match(low[candidate.end :]):
        return True
    return question and candidate.kind not in (_Trigger.REQUEST,)


def _task(sentence: str, start: int) -> str:
    rest = sentence[start:]
    for phrase in find_due_phrases(rest):
        rest = rest.replace(phrase.text, " ", 1)
    cut = _CLAUSE_END.search(rest)
    task = rest[: cut.start()] if cut else rest
    task = " ".join(task.replace(",", " , ").split()).strip(" ,")
    previous = None
    while previous != task:
        previous = task
        task = _LEADING_FILLER.sub("", task)
        task = _TRAILING_FILLER.sub("", task).strip(" ,")
    return task.replace(" ,", ",")


def _is_anaphoric(task: str) -> bool:
    """True for "do that", "have it ready", "get it done": the task is elsewhere."""
    words = re.findall(r"[a-z']+", task.lower())
    content = [w for w in words if w not in _PRONOUNISH]
    return not content or (content[0] in _GENERIC_VERBS and len(content) == 1)


def _sentences(text: str) -> list[str]:
    text = " ".join(text.replace("\u2019", "'").split())
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


def _strip_vocative(task: str, roster: _Roster) -> str:
    if roster.pattern is None:
        return task
    low = task.lower()
    ending = re.search(rf",?\s*(?:{roster.pattern.pattern})\s*$", low)
    return task[: ending.start()].rstrip(" ,") if ending else task


def _item_in(
    sentence: str,
    speaker: Participant,
    previous: Participant | None,
    roster: _Roster,
) -> tuple[str, Participant | None, _Trigger] | None:
    low = sentence.lower()
    question = sentence.rstrip().endswith("?")
    for candidate in _candidates(low, speaker, roster):
        if _rejected(low, candidate, question):
            continue
        # The task follows the trigger; an imperative's trigger ends past "Bob,".
        task = _strip_vocative(_task(sentence, candidate.end), roster)
        if not task or _is_anaphoric(task):
            continue
        has_due = find_due_phrase(sentence) is not None
        if low[candidate.start :].startswith("let") and _PROCEDURE.match(task) and not has_due:
            continue
        owner = candidate.owner
        if candidate.kind is _Trigger.REQUEST:
            addressed = roster.vocative(low)
            if addressed is not None:
                owner = addressed[0]
            elif "you" in low[candidate.start : candidate.end]:
                owner = previous
        return task, owner, candidate.kind
    return None


def extract_action_items(
    segments: Sequence[Segment],
    roster: Sequence[Participant],
    meeting_start: datetime.datetime,
) -> list[ActionItem]:
    """Action items in ``segments`` (in the order said). ``meeting_start`` must be
    timezone-aware, in the meeting's time zone (zoneinfo): due dates are counted from the
    moment each segment started, in that zone."""
    if meeting_start.tzinfo is None:
        raise ValueError("meeting_start must be timezone-aware (the meeting's time zone)")
    people = _Roster(roster)
    items: list[ActionItem] = []
    # The last two distinct speakers: "can you ..." with no name is said to the person
    # being answered, the most recent other speaker.
    recent: list[Participant] = []
    for index, segment in enumerate(segments):
        speaker = people.by_identity(segment.identity) or Participant(
            segment.identity, segment.name
        )
        if recent and recent[-1].identity == speaker.identity:
            previous = recent[-2] if len(recent) > 1 else None
        else:
            previous = recent[-1] if recent else None
            recent = [*recent[-1:], speaker]
        said_at = (
            datetime.datetime.fromtimestamp(segment.start, tz=meeting_start.tzinfo)
            if math.isfinite(segment.start)
            else meeting_start  # a broken timestamp must not lose the item
        )
        for sentence in _sentences(segment.text):
            found = _item_in(sentence, speaker, previous, people)
            if found is None:
                continue
            task, owner, _ = found
            phrase = find_due_phrase(sentence)
            items.append(
                ActionItem(
                    task=task,
                    owner=owner.identity if owner else None,
                    owner_name=owner.name if owner else None,
                    due=resolve_due(phrase, said_at) if phrase else None,
                    due_text=phrase.text if phrase else None,
                    segment_index=index,
                    start=segment.start,
                    quote=segment.text,
                )
            )
    return items
