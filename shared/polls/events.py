"""Policy-opinion polls (Pendapat Kebijakan): the storage contract of a poll's stream.

Each poll lives in its own stream `poll-<CODE>`; the code is the poll's id (short, unambiguous,
typed by citizens in `POLL <CODE> <CHOICE>`). Events, in the order a poll lives them:

- `PollOpened`: an institution consults citizens on a draft policy (questions, region, window).
- `OpinionSubmitted`: a verified citizen's first answer; `OpinionChanged`: the same citizen (same
  `voter_hash`) answers differently before the poll closes; only the latest answer counts.
- `PollClosed`: at `closes_at` (schedule) or earlier by the institution (early).
- `PollResultsPublished`: the tallies, computed once from the answers when the poll closes and
  appended right after `PollClosed`; nothing tallies answers before that.
- `AgencyResponsePublished`: the institution's answer to the consultation, after closing.

Secrecy: answers are sealed (`sealed`, shared/polls/ballots.py) with the poll's own key until it
closes; `PollClosed` releases the key, so nobody with the stream or NATS can count a running poll
and everybody can check the published tallies afterwards. Results by region never show a group
of fewer than `MIN_GROUP` voters.

Privacy: a citizen appears only as `voter_hash`, a keyed hash (HMAC with a key derived from the
master secret) of the verified phone number or e-mail address *and the poll's code*, so answers
to two polls cannot be linked to each other nor to the person without the master secret.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.base import DomainEvent, Upcaster
from shared.regions.legacy import official_code
from shared.values import Attachment, Channel

POLL_STREAM_PREFIX = "poll-"
POLL_CODE_PATTERN = r"^[A-Z0-9]{4,8}$"
CHOICE_KEY_PATTERN = r"^[A-Z]$"
QUESTION_KEY_PATTERN = r"^[1-9][0-9]?$"
VOTER_HASH_PATTERN = r"^[0-9a-f]{64}$"
REGION_PATTERN = r"^[0-9]{2,10}$"
AGENCY_PATTERN = r"^[A-Z0-9-]{1,64}$"
UNKNOWN_REGION = "unknown"
# Results by region show no group smaller than this: the smaller ones are counted together.
MIN_GROUP = 5
OTHER_REGIONS = "other"
MAX_COMMENT = 1000

# question key -> the choice keys picked (one for a single-choice question), in choice order
Answers = dict[str, tuple[str, ...]]
# question key -> choice key -> how many voters picked it
Tallies = dict[str, dict[str, int]]


def poll_stream(code: str) -> str:
    return f"{POLL_STREAM_PREFIX}{code}"


class QuestionKind(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"


class CloseReason(StrEnum):
    SCHEDULE = "schedule"  # closes_at passed (closed by the ticker, a read, or the institution)
    EARLY = "early"  # the institution closed it before closes_at


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PollChoice(_Frozen):
    key: str = Field(pattern=CHOICE_KEY_PATTERN, description="A, B, C, … as typed in an SMS")
    label: str = Field(min_length=1, max_length=200)


class PollQuestion(_Frozen):
    key: str = Field(pattern=QUESTION_KEY_PATTERN, description="1, 2, 3, … in order")
    text: str = Field(min_length=1, max_length=500)
    kind: QuestionKind = QuestionKind.SINGLE
    choices: tuple[PollChoice, ...] = Field(min_length=2, max_length=26)


class PollOpened(DomainEvent):
    event_type: ClassVar[str] = "PollOpened"
    schema_version: ClassVar[int] = 2  # v2: `region_code` is official (v1: the pilot's codes)

    code: str = Field(pattern=POLL_CODE_PATTERN, description="The poll's id and SMS code")
    title: str = Field(min_length=3, max_length=200)
    policy_text: str = Field(min_length=1, max_length=20_000, description="The draft policy")
    attachment: Attachment | None = Field(default=None, description="The draft as a document")
    questions: tuple[PollQuestion, ...] = Field(min_length=1, max_length=10)
    allow_comment: bool = Field(default=True, description="Citizens may add a free comment")
    region_code: str | None = Field(
        default=None, pattern=REGION_PATTERN, description="The region the policy concerns"
    )
    opens_at: AwareDatetime
    closes_at: AwareDatetime
    agency_code: str = Field(pattern=AGENCY_PATTERN, description="The consulting institution")


class _Opinion(DomainEvent):
    voter_hash: str = Field(
        pattern=VOTER_HASH_PATTERN,
        description="Keyed hash of the verified phone/e-mail and the poll code; never the person",
    )
    answers: Answers = Field(
        default_factory=dict,
        description="question key -> choice keys; empty when the answer is sealed",
    )
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)
    channel: Channel
    region_code: str | None = Field(
        default=None, pattern=REGION_PATTERN, description="Where the citizen lives, if given"
    )
    sealed: str | None = Field(
        default=None,
        max_length=8000,
        description="The answer, comment and region sealed with the poll's ballot key until it"
        " closes (shared/polls/ballots.py); then `answers`, `comment`, `region_code` are empty",
    )


class OpinionSubmitted(_Opinion):
    event_type: ClassVar[str] = "OpinionSubmitted"
    schema_version: ClassVar[int] = 2  # v2: `region_code` is official (v1: the pilot's codes)


class OpinionChanged(_Opinion):
    """The same voter answered again, differently, before closing: this answer replaces theirs."""

    event_type: ClassVar[str] = "OpinionChanged"
    schema_version: ClassVar[int] = 2  # v2: `region_code` is official (v1: the pilot's codes)


class PollClosed(DomainEvent):
    event_type: ClassVar[str] = "PollClosed"

    reason: CloseReason
    closed_at: AwareDatetime = Field(
        description="closes_at for a scheduled close (even if noticed later), else the moment"
    )
    ballot_key: str | None = Field(
        default=None,
        description="The poll's ballot key (base64url), released at closing: every sealed"
        " answer of the stream can be opened with it and the tallies checked",
    )


class RegionResult(_Frozen):
    voters: int = Field(ge=0)
    tallies: Tallies


class PollComment(_Frozen):
    text: str = Field(min_length=1, max_length=MAX_COMMENT)
    region_code: str | None = None


class PollResultsPublished(DomainEvent):
    """Counted once, when the poll closed, from each voter's latest answer."""

    event_type: ClassVar[str] = "PollResultsPublished"
    schema_version: ClassVar[int] = 2  # v2: region codes are official (v1: the pilot's codes)

    total_voters: int = Field(ge=0)
    tallies: Tallies = Field(description="question key -> choice key -> voters")
    by_region: dict[str, RegionResult] = Field(
        description=f"region code (or {UNKNOWN_REGION!r}) -> voters and tallies; only groups of"
        f" {MIN_GROUP} voters or more, the smaller ones together as {OTHER_REGIONS!r} (when"
        " that makes a group of as many)"
    )
    by_channel: dict[str, int] = Field(description="channel -> voters")
    comments: tuple[PollComment, ...] = ()


class AgencyResponsePublished(DomainEvent):
    event_type: ClassVar[str] = "AgencyResponsePublished"

    agency_code: str = Field(pattern=AGENCY_PATTERN)
    text: str = Field(min_length=1, max_length=20_000)
    attachment: Attachment | None = None


PollEvent = (
    PollOpened
    | OpinionSubmitted
    | OpinionChanged
    | PollClosed
    | PollResultsPublished
    | AgencyResponsePublished
)
POLL_EVENTS: tuple[type[DomainEvent], ...] = (
    PollOpened,
    OpinionSubmitted,
    OpinionChanged,
    PollClosed,
    PollResultsPublished,
    AgencyResponsePublished,
)


def _official_region(data: dict[str, Any]) -> dict[str, Any]:
    code = data.get("region_code")
    return {**data, "region_code": official_code(code)} if code else data


def _official_results(data: dict[str, Any]) -> dict[str, Any]:
    by_region: dict[str, Any] = {}
    for code, result in (data.get("by_region") or {}).items():
        key = code if code == UNKNOWN_REGION else official_code(code) or code
        if key not in by_region:
            by_region[key] = result
            continue
        merged = by_region[key]  # two pilot codes for one region: add their counts up
        tallies: dict[str, dict[str, int]] = {q: dict(c) for q, c in merged["tallies"].items()}
        for question, counts in result["tallies"].items():
            for choice, n in counts.items():
                tallies.setdefault(question, {})[choice] = tallies[question].get(choice, 0) + n
        by_region[key] = {"voters": merged["voters"] + result["voters"], "tallies": tallies}
    comments = [_official_region(c) for c in data.get("comments") or ()]
    return {**data, "by_region": by_region, "comments": comments}


# Version 1 carried the pilot's region codes (`shared.regions.legacy`); read as official ones.
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("PollOpened", 1): _official_region,
    ("OpinionSubmitted", 1): _official_region,
    ("OpinionChanged", 1): _official_region,
    ("PollResultsPublished", 1): _official_results,
}
BALLOT_EVENTS: frozenset[str] = frozenset({OpinionSubmitted.event_type, OpinionChanged.event_type})
