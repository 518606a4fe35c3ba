"""The poll aggregate: state, evolve (fold events into state), decide (commands -> events), and the
sealed results. Pure: no I/O, no clock; time arrives inside commands.

Rules:
- A poll opens once under its code (the same OpenPoll again is a no-op; another poll under a
  taken code is refused).
- Answers count only while the poll is open: `opens_at <= now < closes_at` and not closed.
  Late answers, answers to a closed or not-yet-open poll, unknown questions or choices, a second
  choice on a single-choice question: a PollError and no events.
- One answer per `voter_hash`. The same answer again is a no-op; a different one before closing
  is an `OpinionChanged` that replaces the earlier answer (a comment or region left out is kept).
- Answers are stored sealed with the poll's ballot key (ballots.py); closing takes the key,
  opens them, and appends `PollClosed` (releasing the key) and, in the same step,
  `PollResultsPublished`: the tallies are computed here, once, from each voter's latest answer.
  Nothing can count answers before that. Results by region hide groups under MIN_GROUP.
- `read_results` refuses until the poll has closed. It takes no role on purpose: nobody,
  administrators included, can read running tallies.
- Only the poll's institution (or an administrator, `by_agency=None`) closes it or publishes the
  response; the response comes after closing, once.

`evolve` updates the state it is given and returns it (a fold owns its state: folding a poll of a
million answers stays linear); it never raises. `decide` never changes the state.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from pydantic import ValidationError

from shared.calendar import FIRST_YEAR, LAST_YEAR
from shared.errors import DomainError
from shared.events.aggregate import Aggregate
from shared.events.base import DomainEvent
from shared.polls.ballots import BallotSealBroken, encode_key, open_sealed, seal
from shared.polls.events import (
    BALLOT_EVENTS,
    MAX_COMMENT,
    MIN_GROUP,
    OTHER_REGIONS,
    UNKNOWN_REGION,
    AgencyResponsePublished,
    Answers,
    CloseReason,
    OpinionChanged,
    OpinionSubmitted,
    PollClosed,
    PollComment,
    PollOpened,
    PollQuestion,
    PollResultsPublished,
    QuestionKind,
    RegionResult,
    Tallies,
    poll_stream,
)
from shared.values import Attachment, Channel

Phase = Literal["upcoming", "open", "closed"]
# A poll opens and closes within the years LAPOR's calendar knows: an instant far beyond them
# cannot be shown in a local zone (the poll pages answered 500 for everyone).
EARLIEST, LATEST = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC), datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)


# --- errors -----------------------------------------------------------------------------------
class PollError(DomainError):
    """A poll command the rules do not allow. The text is `field: message` where a field is to
    blame (as every DomainError)."""


class PollNotFound(PollError):
    def __init__(self, code: str | None = None) -> None:
        super().__init__(f"poll {code} not found" if code else "poll not found")
        self.code = code


class PollCodeTaken(PollError):
    pass


class PollNotOpen(PollError):
    """An answer outside the poll's window: `phase` is `upcoming` or `closed`."""

    def __init__(self, code: str, phase: Phase) -> None:
        what = "is not open yet" if phase == "upcoming" else "is closed"
        super().__init__(f"poll {code} {what}; no answer was recorded")
        self.code = code
        self.phase = phase


class InvalidAnswer(PollError):
    pass


class NotYourPoll(PollError):
    pass


class ResultsSealed(PollError):
    def __init__(self, code: str, closes_at: datetime) -> None:
        super().__init__(
            f"results of poll {code} are sealed until it closes ({closes_at.isoformat()})"
        )
        self.code = code
        self.closes_at = closes_at


class ResponseNotAllowed(PollError):
    pass


# --- commands ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class OpenPoll:
    code: str
    title: str
    policy_text: str
    questions: tuple[PollQuestion, ...]
    opens_at: datetime
    closes_at: datetime
    agency_code: str
    now: datetime
    region_code: str | None = None
    attachment: Attachment | None = None
    allow_comment: bool = True


@dataclass(frozen=True)
class SubmitOpinion:
    """A verified citizen's answer. `comment`/`region_code` None keep an earlier answer's.

    With `ballot_key` (the poll's, see ballots.py) and a fresh random `nonce` the answer is
    stored sealed; without, in the clear (only events written before sealing existed are)."""

    voter_hash: str
    answers: Mapping[str, Sequence[str]]
    channel: Channel
    now: datetime
    comment: str | None = None
    region_code: str | None = None
    ballot_key: bytes | None = None
    nonce: bytes | None = None


@dataclass(frozen=True)
class ClosePoll:
    """`by_agency`: the institution closing it; None for an administrator or the schedule.
    `ballot_key` opens the sealed answers to count them and is released in PollClosed."""

    now: datetime
    by_agency: str | None = None
    ballot_key: bytes | None = None


@dataclass(frozen=True)
class PublishResponse:
    text: str
    now: datetime
    by_agency: str | None = None
    attachment: Attachment | None = None


Command = OpenPoll | SubmitOpinion | ClosePoll | PublishResponse


# --- state ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ballot:
    answers: Answers
    comment: str | None
    channel: Channel
    region_code: str | None


@dataclass(frozen=True)
class Cast:
    """A voter's latest answer as stored: sealed (opened only with the ballot key) or, from
    before sealing, in the clear."""

    channel: Channel
    sealed: str | None = None
    plain: Ballot | None = None


@dataclass
class PollState:
    opened: PollOpened
    ballots: dict[str, Cast] = field(default_factory=dict)
    closed: PollClosed | None = None
    results: PollResultsPublished | None = None
    response: AgencyResponsePublished | None = None

    @property
    def code(self) -> str:
        return self.opened.code

    def phase(self, now: datetime) -> Phase:
        if self.closed is not None or now >= self.opened.closes_at:
            return "closed"
        if now < self.opened.opens_at:
            return "upcoming"
        return "open"

    def close_due(self, now: datetime) -> bool:
        """closes_at has passed but PollClosed is not recorded yet."""
        return self.closed is None and now >= self.opened.closes_at


def evolve(state: PollState | None, event: DomainEvent) -> PollState | None:
    if isinstance(event, PollOpened):
        return state if state is not None else PollState(opened=event)
    if state is None:
        return None
    if isinstance(event, OpinionSubmitted | OpinionChanged):
        if state.closed is None:
            if event.sealed is not None:
                cast = Cast(channel=event.channel, sealed=event.sealed)
            else:
                cast = Cast(
                    channel=event.channel,
                    plain=Ballot(
                        answers={k: tuple(v) for k, v in event.answers.items()},
                        comment=event.comment,
                        channel=event.channel,
                        region_code=event.region_code,
                    ),
                )
            state.ballots[event.voter_hash] = cast
    elif isinstance(event, PollClosed):
        state.closed = state.closed or event
    elif isinstance(event, PollResultsPublished):
        state.results = state.results or event
    elif isinstance(event, AgencyResponsePublished):
        state.response = state.response or event
    return state


def fold(events: Iterable[DomainEvent]) -> PollState | None:
    state: PollState | None = None
    for event in events:
        state = evolve(state, event)
    return state


# --- decide -----------------------------------------------------------------------------------
def decide(state: PollState | None, command: Command) -> list[DomainEvent]:
    """The events a command produces (none when it changes nothing), or a PollError."""
    match command:
        case OpenPoll():
            return _open(state, command)
        case SubmitOpinion():
            return _submit(_existing(state), command)
        case ClosePoll():
            return _close(_existing(state), command)
        case PublishResponse():
            return _respond(_existing(state), command)
    raise AssertionError(f"unknown command {command!r}")  # pragma: no cover


def _existing(state: PollState | None) -> PollState:
    if state is None:
        raise PollNotFound()
    return state


def _open(state: PollState | None, c: OpenPoll) -> list[DomainEvent]:
    try:
        event = PollOpened(
            code=c.code,
            title=c.title,
            policy_text=c.policy_text,
            attachment=c.attachment,
            questions=c.questions,
            allow_comment=c.allow_comment,
            region_code=c.region_code,
            opens_at=c.opens_at,
            closes_at=c.closes_at,
            agency_code=c.agency_code,
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "poll"
        raise PollError(f"{where}: {first.get('msg', 'invalid')}") from None
    if state is not None:
        if state.opened == event:
            return []
        raise PollCodeTaken(f"code: poll code {c.code} is taken")
    for name, at in (("opens_at", c.opens_at), ("closes_at", c.closes_at)):
        if not EARLIEST <= at < LATEST:
            raise PollError(f"{name}: must lie between {EARLIEST:%Y} and {LATEST.year - 1}")
    if c.closes_at <= c.opens_at:
        raise PollError("closes_at: must be after opens_at")
    if c.closes_at <= c.now:
        raise PollError("closes_at: must be in the future")
    for index, question in enumerate(c.questions, start=1):
        if question.key != str(index):
            raise PollError(f"questions: question keys must be 1, 2, 3, … in order ({index})")
        keys = [choice.key for choice in question.choices]
        if len(set(keys)) != len(keys):
            raise PollError(f"questions.{question.key}: choice keys must be unique")
    return [event]


def check_open(state: PollState, now: datetime) -> None:
    """PollNotOpen unless answers count now."""
    phase = state.phase(now)
    if phase != "open":
        raise PollNotOpen(state.code, phase)


def validate_answers(opened: PollOpened, raw: Mapping[str, Sequence[str]]) -> Answers:
    """Every question answered with known choices, the right number for its kind; normalized
    (choice keys upper-case, in the question's order)."""
    questions = {q.key: q for q in opened.questions}
    for key in raw:
        if key not in questions:
            raise InvalidAnswer(f"answers.{key}: poll {opened.code} has no question {key}")
    answers: Answers = {}
    for question in opened.questions:
        picked = raw.get(question.key)
        if not picked:
            raise InvalidAnswer(f"answers.{question.key}: question {question.key} is not answered")
        if isinstance(picked, str):
            picked = [picked]
        keys = [str(p).strip().upper() for p in picked]
        order = [choice.key for choice in question.choices]
        for key in keys:
            if key not in order:
                raise InvalidAnswer(
                    f"answers.{question.key}: {key[:10]!r} is not a choice ({', '.join(order)})"
                )
        if len(set(keys)) != len(keys):
            raise InvalidAnswer(f"answers.{question.key}: a choice is given twice")
        if question.kind is QuestionKind.SINGLE and len(keys) != 1:
            raise InvalidAnswer(
                f"answers.{question.key}: question {question.key} takes exactly one choice"
            )
        answers[question.key] = tuple(k for k in order if k in keys)
    return answers


def _clean_comment(opened: PollOpened, comment: str | None) -> str | None:
    if comment is None:
        return None
    text = comment.strip()
    if not text:
        return None
    if not opened.allow_comment:
        raise InvalidAnswer("comment: this poll takes no comment")
    if len(text) > MAX_COMMENT:
        raise InvalidAnswer(f"comment: at most {MAX_COMMENT} characters")
    return text


def open_ballot(state: PollState, voter_hash: str, key: bytes | None) -> Ballot | None:
    """A voter's latest answer, opened with the ballot key (PollError without the right one)."""
    cast = state.ballots.get(voter_hash)
    if cast is None:
        return None
    if cast.plain is not None:
        return cast.plain
    assert cast.sealed is not None
    if key is None:
        raise PollError(f"ballot_key: the answers of poll {state.code} are sealed")
    try:
        content = open_sealed(key, state.code, voter_hash, cast.sealed)
    except BallotSealBroken as error:
        raise PollError(f"ballot_key: {error}") from None
    return Ballot(
        answers={k: tuple(v) for k, v in content["answers"].items()},
        comment=content.get("comment"),
        channel=cast.channel,
        region_code=content.get("region_code"),
    )


def _opinion(
    kind: type[OpinionSubmitted] | type[OpinionChanged],
    state: PollState,
    c: SubmitOpinion,
    ballot: Ballot,
) -> DomainEvent:
    content = {
        "answers": {k: list(v) for k, v in ballot.answers.items()},
        "comment": ballot.comment,
        "region_code": ballot.region_code,
    }
    if c.ballot_key is None:  # from before sealing: the answer in the clear
        return kind(voter_hash=c.voter_hash, channel=c.channel, **content)
    if c.nonce is None:
        raise PollError("nonce: a sealed answer needs a fresh nonce")
    sealed = seal(c.ballot_key, c.nonce, state.code, c.voter_hash, content)
    return kind(voter_hash=c.voter_hash, channel=c.channel, sealed=sealed)


def _submit(state: PollState, c: SubmitOpinion) -> list[DomainEvent]:
    check_open(state, c.now)
    answers = validate_answers(state.opened, c.answers)
    comment = _clean_comment(state.opened, c.comment)
    previous = open_ballot(state, c.voter_hash, c.ballot_key)
    if previous is None:
        ballot = Ballot(answers, comment, c.channel, c.region_code)
        return [_opinion(OpinionSubmitted, state, c, ballot)]
    comment = comment if comment is not None else previous.comment
    region = c.region_code if c.region_code is not None else previous.region_code
    if (answers, comment, region) == (previous.answers, previous.comment, previous.region_code):
        return []  # the same answer again: one voter, one answer
    return [_opinion(OpinionChanged, state, c, Ballot(answers, comment, c.channel, region))]


def _owner(state: PollState, by_agency: str | None) -> None:
    if by_agency is not None and by_agency != state.opened.agency_code:
        raise NotYourPoll(f"poll {state.code} belongs to {state.opened.agency_code}")


def _close(state: PollState, c: ClosePoll) -> list[DomainEvent]:
    _owner(state, c.by_agency)
    if state.closed is not None:
        return []
    results = tally(state, c.ballot_key)  # opens every sealed answer: a wrong key fails here
    key = encode_key(c.ballot_key) if c.ballot_key is not None else None
    if c.now >= state.opened.closes_at:
        closed = PollClosed(
            reason=CloseReason.SCHEDULE, closed_at=state.opened.closes_at, ballot_key=key
        )
    else:
        closed = PollClosed(reason=CloseReason.EARLY, closed_at=c.now, ballot_key=key)
    return [closed, results]


def _respond(state: PollState, c: PublishResponse) -> list[DomainEvent]:
    _owner(state, c.by_agency)
    if state.closed is None:
        raise ResponseNotAllowed(f"poll {state.code} is still open: respond after it closes")
    event = AgencyResponsePublished(
        agency_code=state.opened.agency_code, text=c.text.strip(), attachment=c.attachment
    )
    if state.response is not None:
        if state.response == event:
            return []
        raise ResponseNotAllowed(f"poll {state.code}: the response is published already")
    return [event]


# --- results ----------------------------------------------------------------------------------
def _empty_tallies(opened: PollOpened) -> Tallies:
    return {q.key: {c.key: 0 for c in q.choices} for q in opened.questions}


def tally(state: PollState, key: bytes | None = None) -> PollResultsPublished:
    """Count each voter's latest answer (opened with the ballot key): overall, by the voter's
    region (no group smaller than MIN_GROUP, see `suppress_small_groups`), by channel."""
    totals = _empty_tallies(state.opened)
    regions: dict[str, tuple[list[int], Tallies]] = {}
    channels: dict[str, int] = {}
    comments: list[PollComment] = []
    opened = [open_ballot(state, voter, key) for voter in state.ballots]
    for ballot in (b for b in opened if b is not None):
        region = ballot.region_code or UNKNOWN_REGION
        voters, in_region = regions.setdefault(region, ([0], _empty_tallies(state.opened)))
        voters[0] += 1
        channels[ballot.channel.value] = channels.get(ballot.channel.value, 0) + 1
        for question, picked in ballot.answers.items():
            for choice in picked:
                totals[question][choice] += 1
                in_region[question][choice] += 1
        if ballot.comment:
            comments.append(PollComment(text=ballot.comment, region_code=ballot.region_code))
    by_region = suppress_small_groups(
        {
            region: RegionResult(voters=voters[0], tallies=counts)
            for region, (voters, counts) in sorted(regions.items())
        }
    )
    return PollResultsPublished(
        total_voters=len(state.ballots),
        tallies=totals,
        by_region=by_region,
        by_channel=dict(sorted(channels.items())),
        # A comment names its region only where that region is shown as a group of its own.
        comments=tuple(
            c if c.region_code in by_region else c.model_copy(update={"region_code": None})
            for c in comments
        ),
    )


def suppress_small_groups(
    by_region: Mapping[str, RegionResult], minimum: int = MIN_GROUP
) -> dict[str, RegionResult]:
    """Results by region without any group smaller than `minimum` voters.

    Regions below it are counted together as OTHER_REGIONS. Were that group itself smaller
    than `minimum`, the total minus the regions shown would give it away: then the smallest
    regions shown join it until it is large enough, and if it never is, nothing is shown by
    region at all. Applied to what is stored (older results too) before anyone reads it.
    """
    shown = {k: v for k, v in by_region.items() if k != OTHER_REGIONS and v.voters >= minimum}
    rest = [v for k, v in by_region.items() if k not in shown]
    while shown and 0 < sum(v.voters for v in rest) < minimum:
        smallest = min(shown, key=lambda k: (shown[k].voters, k))
        rest.append(shown.pop(smallest))
    result = dict(sorted(shown.items()))
    voters = sum(v.voters for v in rest)
    if voters >= minimum:
        merged: Tallies = {}
        for part in rest:
            for question, choices in part.tallies.items():
                counts = merged.setdefault(question, {})
                for choice, n in choices.items():
                    counts[choice] = counts.get(choice, 0) + n
        result[OTHER_REGIONS] = RegionResult(voters=voters, tallies=merged)
    return result


def read_results(state: PollState | None) -> PollResultsPublished:
    """The published results, or ResultsSealed while the poll has not closed.

    No role, no clock: nothing lets anyone (an administrator included) read tallies before
    `PollClosed`. A poll past its `closes_at` must be closed first (ClosePoll), which publishes.
    """
    state = _existing(state)
    if state.results is None:
        raise ResultsSealed(state.code, state.opened.closes_at)
    return state.results


# --- SMS --------------------------------------------------------------------------------------
_SEPARATORS = re.compile(r"[\s,;/+]+")


def _plain(text: str) -> str:
    return " ".join(text.upper().split()).strip(" .!")


def parse_sms_choice(opened: PollOpened, text: str) -> Answers:
    """`POLL <CODE> <CHOICE>`'s choice: `B`, a choice's label (`SETUJU`), several choices for a
    multiple-choice question (`A C`, `AC`, `A,C`), or one choice per question in order
    (`A C B`; `AC` for a multiple-choice one). InvalidAnswer when it does not fit the poll."""
    plain = _plain(text)
    questions = opened.questions
    if len(questions) == 1:
        question = questions[0]
        for choice in question.choices:
            if _plain(choice.label) == plain and len(plain) > 1:
                return {question.key: (choice.key,)}
        tokens = [t for t in _SEPARATORS.split(plain) if t]
        if len(tokens) == 1 and question.kind is QuestionKind.MULTIPLE:
            tokens = list(tokens[0])
        return validate_answers(opened, {question.key: tokens})
    tokens = [t for t in _SEPARATORS.split(plain) if t]
    if len(tokens) != len(questions):
        raise InvalidAnswer(
            f"answers: poll {opened.code} has {len(questions)} questions; send one choice each"
        )
    return validate_answers(
        opened, {q.key: list(t) for q, t in zip(questions, tokens, strict=True)}
    )


def sms_example(opened: PollOpened) -> str:
    """How to answer this poll by SMS, e.g. `POLL AIR24 A` or `POLL AIR24 A C`."""
    return f"POLL {opened.code} " + " ".join(q.choices[0].key for q in opened.questions)


def choice_keys(opened: PollOpened) -> str:
    """The choices to name in a reply: `A/B/C`, or per question `1:A/B 2:A/B/C`."""
    if len(opened.questions) == 1:
        return "/".join(c.key for c in opened.questions[0].choices)
    return " ".join(f"{q.key}:" + "/".join(c.key for c in q.choices) for q in opened.questions)


class Polls(Aggregate[PollState | None, Command]):
    """Poll streams for the repository: `poll-<CODE>`, published under the poll's region and
    institution, except answers: they carry no institution, so a subscription filtered to an
    institution's own events does not see its poll's running answers."""

    def stream(self, key: str) -> str:
        return poll_stream(key)

    def initial(self) -> PollState | None:
        return None

    def evolve(self, state: PollState | None, event: DomainEvent, at: datetime) -> PollState | None:
        return evolve(state, event)

    def decide(self, state: PollState | None, command: Command) -> list[DomainEvent]:
        return decide(state, command)

    def address(
        self, before: PollState | None, event: DomainEvent, after: PollState | None
    ) -> tuple[str | None, str | None]:
        opened = event if isinstance(event, PollOpened) else after.opened if after else None
        if opened is None:
            return None, None
        agency = None if event.event_type in BALLOT_EVENTS else opened.agency_code
        return opened.region_code, agency


POLLS = Polls()
