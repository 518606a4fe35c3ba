"""The report aggregate: state, evolve (fold events into state) and decide (commands → events).

Pure: no I/O, no clock. Time arrives inside commands. A repeated command yields no new events;
a command the state does not allow raises `InvalidTransition` naming the status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any

from shared.crypto import EncryptedBlob
from shared.errors import DomainError, InvalidInput
from shared.events.aggregate import Aggregate
from shared.events.base import DomainEvent
from shared.regions import checks
from shared.reports.commands import (
    AmendReport,
    ChangeProtection,
    CloseReport,
    Command,
    DelegateReport,
    EscalateToOmbudsman,
    ForwardReport,
    PostFollowUp,
    PostponeReport,
    RateReport,
    RecordBreach,
    RecordDueSoon,
    ReferReport,
    RejectReport,
    RemindCompletion,
    ReplyAsAdministrator,
    ReplyAsReporter,
    RequestCompletion,
    ReturnReport,
    SetPublicText,
    SubmitReport,
    TransferReport,
    VerifyReport,
)
from shared.reports.events import (
    AdministratorReplied,
    Classification,
    CloseReason,
    CompletionReminded,
    EscalatedToOmbudsman,
    FollowUpKind,
    FollowUpPosted,
    ForwardedToOPD,
    Location,
    ProtectionChanged,
    PublicTextSet,
    RejectionReason,
    ReportAmended,
    ReportClosed,
    ReportCompletionRequested,
    ReportDelegated,
    ReporterReplied,
    ReportPostponed,
    ReportRated,
    ReportReferred,
    ReportRejected,
    ReportReopened,
    ReportReturned,
    ReportSubmitted,
    ReportTransferred,
    ReportVerified,
    SlaBreached,
    SlaDueSoon,
    SlaStage,
    Status,
)
from shared.values import Attachment, Channel, unnamed

REOPEN_WINDOW = timedelta(days=14)
LOW_RATING = 2


def stream_name(tracking_id: str) -> str:
    return f"report-{tracking_id}"


class InvalidTransition(DomainError):
    def __init__(self, action: str, status: Status | None) -> None:
        where = status.value if status else "no report"
        super().__init__(f"cannot {action} a report that is {where}")
        self.action = action
        self.status = status


# Read by officers through the API as well as on the desk (which shows the reader's half).
NOT_FORWARDED_TO_YOU = (
    "laporan ini tidak (lagi) diteruskan ke instansi Anda"
    " / this report is not (or no longer) forwarded to your institution"
)


class NotYourReport(DomainError):
    """An agency acting on a report that is not (or no longer) forwarded to it."""


class ReportNotFound(DomainError):
    pass


class EscalationNotOpen(DomainError):
    """The reporter may not escalate (yet): `opens_on` is the first day they may, when it is a
    matter of time; `reason` says why not otherwise (a final answer was given)."""

    def __init__(
        self,
        opens_on: date | None,
        reason: str | None = None,
        eligible_from: datetime | None = None,
    ) -> None:
        rule = (
            "60 working days after the report without a final answer, or 5 working days after a"
            " reopening without one"
        )
        if opens_on is not None:
            text = f"escalation to the Ombudsman is possible from {opens_on.isoformat()}: {rule}"
        else:
            text = f"escalation to the Ombudsman is not possible: {reason or rule}"
        super().__init__(text)
        self.opens_on = opens_on
        self.reason = reason
        self.eligible_from = eligible_from


class TrackingIdTaken(DomainError):
    """A different report already has this tracking ID (a random-ID collision)."""


# --- state ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportState:
    tracking_id: str
    status: Status
    classification: Classification
    title: str
    category: str | None
    location: Location
    channel: Channel
    channel_message_id: str | None
    anonymous: bool
    confidential: bool
    reporter: EncryptedBlob | None
    access_code_hash: str
    submitted_at: datetime
    version: int = 0
    region_code: str | None = None
    agency_code: str | None = None
    requires_field_inspection: bool = False
    verified_at: datetime | None = None
    forwarded_at: datetime | None = None
    postponed_until: date | None = None
    completion_requested_at: datetime | None = None
    last_follow_up_at: datetime | None = None
    first_follow_up_at: datetime | None = None
    last_reply_at: datetime | None = None
    last_follow_up_version: int | None = None
    last_reply_version: int | None = None
    follow_up_count: int = 0
    closed_at: datetime | None = None
    close_reason: CloseReason | None = None
    rating: int | None = None
    breached: frozenset[SlaStage] = frozenset()
    escalated: bool = False
    returned_by: tuple[str, ...] = ()
    transferred_from: str | None = None  # the agency of the last transfer, while it holds
    delegated_from: str | None = None  # the agency of the last delegation, while it holds
    ever_forwarded: bool = False
    final_answer_at: datetime | None = None  # the standing final answer (none after reopening)
    # Since when the report has been quiet after a final answer: the final answer itself, or the
    # latest reply of the reporter or an administrator after it. None: nothing counts down.
    auto_close_since: datetime | None = None
    completion_reminded: bool = False
    warned: frozenset[tuple[SlaStage, date]] = frozenset()
    public_text: tuple[str, str] | None = None  # (title, body) the public sees instead
    referred: bool = False  # its region is the one the latest referral sent it to

    @property
    def published(self) -> bool:
        """Public (lists, search, map, its public page) once forwarded, unless confidential;
        never when rejected (DESIGN §9)."""
        return self.ever_forwarded and not self.confidential and self.status is not Status.REJECTED

    @property
    def awaiting_reply(self) -> bool:
        """A follow-up was posted and nobody has answered it since.

        Ordered by place in the stream, not by time: two services' clocks (or one fixed test
        clock) can give a reply and a follow-up the same or out-of-order timestamps.
        """
        if self.last_follow_up_version is None:
            return False
        return self.last_reply_version is None or self.last_reply_version < (
            self.last_follow_up_version
        )


# What a report's state takes over from its ReportSubmitted, as recorded.
_SUBMITTED_FIELDS = tuple(
    f.name for f in dataclass_fields(ReportState) if f.name in ReportSubmitted.model_fields
)


def evolve(state: ReportState | None, event: DomainEvent, at: datetime) -> ReportState | None:
    """Apply one event. Never raises: stored events are facts."""
    if isinstance(event, ReportSubmitted) and state is None:
        return ReportState(
            **{name: getattr(event, name) for name in _SUBMITTED_FIELDS},
            status=Status.SUBMITTED,
            region_code=event.location.region_code,
            submitted_at=at,
            version=1,
        )
    if state is None:
        return None
    state = replace(state, version=state.version + 1)
    match event:
        case ReportCompletionRequested():
            return replace(
                state,
                status=Status.COMPLETION_REQUESTED,
                completion_requested_at=at,
                completion_reminded=False,
            )
        case CompletionReminded():
            return replace(state, completion_reminded=True)
        case ReportAmended():
            if state.status is Status.COMPLETION_REQUESTED:
                return replace(state, status=Status.SUBMITTED, completion_requested_at=None)
            return state
        case ReportVerified():
            return replace(
                state,
                status=Status.VERIFIED,
                classification=event.classification,
                category=event.category,
                region_code=event.region_code,
                referred=state.referred and event.region_code == state.region_code,
                location=event.location or state.location,
                requires_field_inspection=event.requires_field_inspection,
                verified_at=at,
                postponed_until=None,
            )
        case ReportRejected():
            return replace(state, status=Status.REJECTED, closed_at=at)
        case ReportPostponed():
            return replace(state, postponed_until=event.until)
        case ReportReferred():
            if state.status is Status.RETURNED:
                # The desk that receives a returned report has its own days to re-forward it.
                return replace(
                    state,
                    region_code=event.to_region,
                    breached=state.breached - {SlaStage.REFORWARD},
                    referred=True,
                )
            return replace(state, region_code=event.to_region, referred=True)
        case ProtectionChanged():
            return replace(state, anonymous=event.anonymous, confidential=event.confidential)
        case ForwardedToOPD():
            return replace(
                state,
                status=Status.FORWARDED,
                agency_code=event.agency_code,
                forwarded_at=at,
                breached=state.breached - {SlaStage.FOLLOW_UP},
                transferred_from=None,
                delegated_from=None,
                ever_forwarded=True,
            )
        case ReportDelegated():
            # The unit answers under the same deadline: nothing is reset.
            return replace(state, agency_code=event.to_agency, delegated_from=event.from_agency)
        case ReportReturned():
            return replace(
                state,
                status=Status.RETURNED,
                agency_code=None,
                returned_by=(*state.returned_by, event.agency_code),
                transferred_from=None,
                delegated_from=None,
                # Each return starts a new re-forward deadline, which can be breached anew.
                breached=state.breached - {SlaStage.REFORWARD},
            )
        case ReportSubmitted():
            return state  # a second submission cannot redefine the report: the first one stands
        case ReportTransferred():
            # A new institution, a new follow-up deadline: its breach is a new one.
            return replace(
                state,
                agency_code=event.to_agency,
                forwarded_at=at,
                breached=state.breached - {SlaStage.FOLLOW_UP},
                transferred_from=event.from_agency,
                delegated_from=None,
            )
        case FollowUpPosted():
            return replace(
                state,
                status=Status.FOLLOWED_UP,
                last_follow_up_at=at,
                last_follow_up_version=state.version,
                first_follow_up_at=state.first_follow_up_at or at,
                follow_up_count=state.follow_up_count + 1,
                # Only a final answer starts the count to closing; anything else stops it.
                final_answer_at=at if event.kind is FollowUpKind.FINAL else state.final_answer_at,
                auto_close_since=at if event.kind is FollowUpKind.FINAL else None,
            )
        case ReporterReplied():
            return replace(
                state,
                last_reply_at=at,
                last_reply_version=state.version,
                auto_close_since=at if state.auto_close_since else None,
            )
        case AdministratorReplied():
            return replace(state, auto_close_since=at if state.auto_close_since else None)
        case ReportClosed():
            # Each closure is rated on its own (a reopened report is rated again when it closes).
            return replace(
                state,
                status=Status.CLOSED,
                closed_at=at,
                close_reason=event.reason,
                rating=None,
                auto_close_since=None,
            )
        case ReportRated():
            return replace(state, rating=event.rating)
        case ReportReopened():
            return replace(
                state,
                status=Status.FORWARDED,
                agency_code=event.agency_code or state.agency_code,
                closed_at=None,
                close_reason=None,
                last_follow_up_at=None,
                last_follow_up_version=None,
                final_answer_at=None,
                auto_close_since=None,
                forwarded_at=at,
                # A reopened report gets a new follow-up deadline, which can be breached anew.
                breached=state.breached - {SlaStage.FOLLOW_UP},
            )
        case SlaBreached():
            return replace(state, breached=state.breached | {event.stage})
        case PublicTextSet():
            return replace(state, public_text=(event.title, event.body))
        case SlaDueSoon():
            return replace(state, warned=state.warned | {(event.stage, event.due)})
        case EscalatedToOmbudsman():
            return replace(state, escalated=True)
    return state


OPEN_FOR_VERIFICATION = (Status.SUBMITTED, Status.COMPLETION_REQUESTED)
WITH_AGENCY = (Status.FORWARDED, Status.FOLLOWED_UP)
WITH_ADMINS = (*OPEN_FOR_VERIFICATION, Status.RETURNED)
_VERIFIED_ONWARDS = (Status.VERIFIED, Status.FORWARDED, Status.RETURNED, Status.FOLLOWED_UP)

# The status machine of DESIGN §2 in one table: for each command, the statuses it acts on and the
# status it leads to (None: the status stays). `decide` refuses a command on any other status with
# InvalidTransition, after letting a repeat of a command that took effect pass as a no-op. Pages
# ask it which actions to offer; docs/process.md is written from it.
TRANSITIONS: Mapping[type[Command], Mapping[Status, Status | None]] = MappingProxyType(
    {
        RequestCompletion: {Status.SUBMITTED: Status.COMPLETION_REQUESTED},
        AmendReport: dict.fromkeys(OPEN_FOR_VERIFICATION, Status.SUBMITTED),
        VerifyReport: dict.fromkeys(OPEN_FOR_VERIFICATION, Status.VERIFIED),
        # A returned report is with the administrators again: forward, reject or send it up.
        RejectReport: dict.fromkeys(WITH_ADMINS, Status.REJECTED),
        PostponeReport: dict.fromkeys(OPEN_FOR_VERIFICATION),
        ReferReport: dict.fromkeys(WITH_ADMINS),
        ChangeProtection: dict.fromkeys(
            (s for s in Status if s not in (Status.CLOSED, Status.REJECTED)), None
        ),
        ForwardReport: {Status.VERIFIED: Status.FORWARDED, Status.RETURNED: Status.FORWARDED},
        ReturnReport: {Status.FORWARDED: Status.RETURNED},
        TransferReport: {Status.FORWARDED: None},
        DelegateReport: dict.fromkeys(WITH_AGENCY),
        PostFollowUp: dict.fromkeys(WITH_AGENCY, Status.FOLLOWED_UP),
        ReplyAsReporter: {Status.FOLLOWED_UP: None},
        ReplyAsAdministrator: {Status.FOLLOWED_UP: None},
        SetPublicText: dict.fromkeys(s for s in Status if s is not Status.REJECTED),
        CloseReport: dict.fromkeys(_VERIFIED_ONWARDS, Status.CLOSED),
        RateReport: {Status.CLOSED: None},
        RecordBreach: dict.fromkeys(Status),
        RecordDueSoon: dict.fromkeys(Status),
        RemindCompletion: {Status.COMPLETION_REQUESTED: None},
        # Wherever the report is stuck, as long as it is not finished (sla says when it opens).
        EscalateToOmbudsman: dict.fromkeys(
            (s for s in Status if s not in (Status.CLOSED, Status.REJECTED)), None
        ),
    }
)


def allows(command: type[Command], status: Status) -> bool:
    """Whether `command` acts on a report in `status` (its other rules aside)."""
    return status in TRANSITIONS[command]


def _check(s: ReportState, command: Command, action: str) -> None:
    if not allows(type(command), s.status):
        raise InvalidTransition(action, s.status)


def decide(state: ReportState | None, command: Command) -> list[DomainEvent]:
    """Check a command against the state; return the new events (none for a repeat)."""
    if isinstance(command, SubmitReport):
        return _submit(state, command)
    if state is None:
        raise ReportNotFound("no such report")
    handler = _DECIDERS.get(type(command))
    if handler is None:
        raise DomainError(f"unknown command {type(command).__name__}")
    return handler(state, command)


def _submit(state: ReportState | None, c: SubmitReport) -> list[DomainEvent]:
    if state is not None:
        if state.access_code_hash != c.access_code_hash:
            raise TrackingIdTaken(f"tracking_id: {c.tracking_id} belongs to another report")
        return []  # the same submission again (same tracking id and access code): nothing new
    # The event records the command's fields as given, the location checked; an anonymous
    # reporter's files under names that cannot name them.
    attachments = unnamed(c.attachments) if c.anonymous else c.attachments
    return [
        ReportSubmitted(
            **dict(c) | {"location": checked_location(c.location), "attachments": attachments}
        )
    ]


def _request_completion(s: ReportState, c: RequestCompletion) -> list[DomainEvent]:
    if s.status is Status.COMPLETION_REQUESTED:
        return []
    _check(s, c, "request completion of")
    return [ReportCompletionRequested(note=c.note)]


def unnamed_if_anonymous(s: ReportState, files: tuple[Attachment, ...]) -> tuple[Attachment, ...]:
    return unnamed(files) if s.anonymous else files


def _amend(s: ReportState, c: AmendReport) -> list[DomainEvent]:
    _check(s, c, "amend")
    return [ReportAmended(text=c.text, attachments=unnamed_if_anonymous(s, c.attachments))]


def _verify(s: ReportState, c: VerifyReport) -> list[DomainEvent]:
    if s.verified_at is not None and s.status not in (Status.REJECTED, Status.CLOSED):
        return []  # verified already (a double click, or a redelivery)
    _check(s, c, "verify")
    return [
        ReportVerified(
            classification=c.classification or s.classification,
            category=c.category or s.category,
            region_code=checks.region_code(c.region_code) or s.region_code,
            location=checked_location(c.location) if c.location is not None else None,
            requires_field_inspection=c.requires_field_inspection,
            agency_code=c.agency_code,
        )
    ]


def _reject(s: ReportState, c: RejectReport) -> list[DomainEvent]:
    if s.status is Status.REJECTED:
        return []
    _check(s, c, "reject")
    if c.reason is RejectionReason.DUPLICATE and not c.duplicate_of:
        raise DomainError("duplicate_of: a duplicate must name the report it duplicates")
    if c.duplicate_of == s.tracking_id:
        raise DomainError("duplicate_of: a report cannot duplicate itself")
    if c.reason is RejectionReason.OTHER and not (c.note and c.note.strip()):
        raise InvalidInput("note: say why the report is rejected when the reason is other")
    return [ReportRejected(reason=c.reason, note=c.note, duplicate_of=c.duplicate_of)]


def _postpone(s: ReportState, c: PostponeReport) -> list[DomainEvent]:
    _check(s, c, "postpone")
    if s.postponed_until == c.until:
        return []
    if c.due is not None and c.until > c.due:
        raise InvalidInput(
            f"until: postponing may not pass the due date {c.due.isoformat()}: the deadline stays"
        )
    return [ReportPostponed(until=c.until, note=c.note)]


def _refer(s: ReportState, c: ReferReport) -> list[DomainEvent]:
    _check(s, c, "refer")
    to_region = checks.region_code(c.to_region, "to_region")
    if s.region_code == to_region:
        if s.referred or to_region is None:  # a repeat of the referral that sent it here
            return []
        raise InvalidInput("to_region: the report is in this region already")
    return [ReportReferred(to_region=to_region, note=c.note)]


EARLIEST_EVENT_DATE = date(1900, 1, 1)


def checked_event_date(event_date: date | None, today: date) -> date | None:
    """When the problem happened, as the rules want it: not after `today` (the day the report
    is made, in Indonesia's easternmost zone, so no reporter's today is refused) and not before
    1900 (a slip of the keyboard). `InvalidInput` naming `event_date` otherwise."""
    if event_date is None:
        return None
    if event_date > today:  # said in both languages: the web form shows the reader's
        day = today.isoformat()
        raise InvalidInput(f"event_date: setelah hari ini ({day}) / after today ({day})")
    if event_date < EARLIEST_EVENT_DATE:
        day = EARLIEST_EVENT_DATE.isoformat()
        raise InvalidInput(f"event_date: sebelum {day} / before {day}")
    return event_date


def checked_location(location: Location) -> Location:
    """A report's place as the rules want it: an official region code (digits), coordinates in
    Indonesia, both or neither. `InvalidInput` naming `location.<field>` otherwise."""
    checks.coordinates(location.lat, location.lon, "location.")
    code = checks.region_code(location.region_code, "location.region_code")
    return Location(lat=location.lat, lon=location.lon, region_code=code, address=location.address)


def _protect(s: ReportState, c: ChangeProtection) -> list[DomainEvent]:
    _check(s, c, "change the protection of")
    anonymous = s.anonymous if c.anonymous is None else c.anonymous
    confidential = s.confidential if c.confidential is None else c.confidential
    if (anonymous, confidential) == (s.anonymous, s.confidential):
        return []
    return [ProtectionChanged(anonymous=anonymous, confidential=confidential, note=c.note)]


def _forward(s: ReportState, c: ForwardReport) -> list[DomainEvent]:
    if s.status in WITH_AGENCY and s.agency_code == c.agency_code:
        return []
    _check(s, c, "forward")
    return [
        ForwardedToOPD(
            agency_code=c.agency_code,
            agency_name=c.agency_name,
            follow_up_due=c.follow_up_due,
            routed_by=c.routed_by,
        )
    ]


def _require_agency(s: ReportState, agency_code: str) -> None:
    if s.agency_code != agency_code:
        raise NotYourReport(NOT_FORWARDED_TO_YOU)


def _return(s: ReportState, c: ReturnReport) -> list[DomainEvent]:
    if s.status is Status.RETURNED and s.returned_by and s.returned_by[-1] == c.agency_code:
        return []
    _check(s, c, "return")
    _require_agency(s, c.agency_code)
    return [
        ReportReturned(
            agency_code=c.agency_code,
            reason=c.reason,
            note=c.note,
            suggested_agency=c.suggested_agency,
        )
    ]


def _transfer(s: ReportState, c: TransferReport) -> list[DomainEvent]:
    if c.to_agency == c.from_agency:
        raise DomainError("agency_code: cannot transfer a report to the same institution")
    if (
        s.status in WITH_AGENCY
        and s.agency_code == c.to_agency
        and s.transferred_from == c.from_agency
    ):
        return []  # this very transfer happened already
    _check(s, c, "transfer")
    _require_agency(s, c.from_agency)
    return [
        ReportTransferred(
            from_agency=c.from_agency,
            to_agency=c.to_agency,
            to_agency_name=c.to_agency_name,
            note=c.note,
            follow_up_due=c.follow_up_due,
        )
    ]


def _follow_up(s: ReportState, c: PostFollowUp) -> list[DomainEvent]:
    _check(s, c, "post a follow-up on")
    _require_agency(s, c.agency_code)
    return [
        FollowUpPosted(
            agency_code=c.agency_code, text=c.text, kind=c.kind, attachments=c.attachments
        )
    ]


def _reply(s: ReportState, c: ReplyAsReporter) -> list[DomainEvent]:
    _check(s, c, "reply to")
    return [ReporterReplied(text=c.text, attachments=unnamed_if_anonymous(s, c.attachments))]


def _close(s: ReportState, c: CloseReport) -> list[DomainEvent]:
    if s.status is Status.CLOSED:
        return []
    if c.reason is CloseReason.NO_RESPONSE:
        # Only the quiet time the deadline was counted from (a final answer, or the latest reply
        # after it) closes the report; a stale timer changes nothing.
        if s.status is not Status.FOLLOWED_UP or s.auto_close_since is None:
            return []
        if c.no_response_after is not None and s.auto_close_since != c.no_response_after:
            return []
    elif c.reason is CloseReason.INCOMPLETE:
        # sla's timer on an unanswered completion request; stale once the reporter answered.
        if s.status is not Status.COMPLETION_REQUESTED:
            return []
    else:
        _check(s, c, "close")
    return [ReportClosed(reason=c.reason, note=c.note)]


def _rate(s: ReportState, c: RateReport) -> list[DomainEvent]:
    if s.rating is not None:
        return []  # rated already; also after a low rating reopened the report
    _check(s, c, "rate")
    assert s.closed_at is not None
    events: list[DomainEvent] = [ReportRated(rating=c.rating, comment=c.comment)]
    if c.rating <= LOW_RATING and c.now - s.closed_at <= REOPEN_WINDOW and s.agency_code:
        events.append(ReportReopened(reason="low_rating", agency_code=s.agency_code))
    return events


def _breach(s: ReportState, c: RecordBreach) -> list[DomainEvent]:
    if c.stage in s.breached:
        return []
    return [SlaBreached(stage=c.stage, due=c.due, agency_code=s.agency_code)]


def _escalate(s: ReportState, c: EscalateToOmbudsman) -> list[DomainEvent]:
    if s.escalated:
        return []
    _check(s, c, "escalate")
    if not c.eligible:
        raise EscalationNotOpen(c.opens_on, c.reason, c.eligible_from)
    return [
        EscalatedToOmbudsman(
            ombudsman_office=c.ombudsman_office,
            province_code=c.province_code,
            evidence_sha256=c.evidence_sha256,
            grounds=c.grounds,
        )
    ]


def _delegate(s: ReportState, c: DelegateReport) -> list[DomainEvent]:
    if c.to_agency == c.from_agency:
        raise DomainError("agency_code: cannot delegate a report to the same institution")
    if s.agency_code == c.to_agency and s.delegated_from == c.from_agency:
        return []  # this very delegation happened already
    _check(s, c, "delegate")
    _require_agency(s, c.from_agency)
    return [
        ReportDelegated(
            from_agency=c.from_agency,
            to_agency=c.to_agency,
            to_agency_name=c.to_agency_name,
            note=c.note,
        )
    ]


def _admin_reply(s: ReportState, c: ReplyAsAdministrator) -> list[DomainEvent]:
    _check(s, c, "reply to")
    return [AdministratorReplied(text=c.text)]


def _public_text(s: ReportState, c: SetPublicText) -> list[DomainEvent]:
    if s.public_text == (c.title, c.body):
        return []
    _check(s, c, "set the public text of")
    return [PublicTextSet(title=c.title, body=c.body, note=c.note)]


def _remind(s: ReportState, c: RemindCompletion) -> list[DomainEvent]:
    if s.status is not Status.COMPLETION_REQUESTED or s.completion_reminded:
        return []  # answered meanwhile, or reminded once already
    return [CompletionReminded(closes_on=c.closes_on)]


def _due_soon(s: ReportState, c: RecordDueSoon) -> list[DomainEvent]:
    if (c.stage, c.due) in s.warned:
        return []
    return [SlaDueSoon(stage=c.stage, due=c.due, agency_code=s.agency_code)]


_DECIDERS: dict[type[Command], Callable[[ReportState, Any], list[DomainEvent]]] = {
    RequestCompletion: _request_completion,
    AmendReport: _amend,
    VerifyReport: _verify,
    RejectReport: _reject,
    PostponeReport: _postpone,
    ReferReport: _refer,
    ChangeProtection: _protect,
    ForwardReport: _forward,
    ReturnReport: _return,
    TransferReport: _transfer,
    PostFollowUp: _follow_up,
    ReplyAsReporter: _reply,
    CloseReport: _close,
    RateReport: _rate,
    RecordBreach: _breach,
    EscalateToOmbudsman: _escalate,
    DelegateReport: _delegate,
    ReplyAsAdministrator: _admin_reply,
    SetPublicText: _public_text,
    RemindCompletion: _remind,
    RecordDueSoon: _due_soon,
}


class Reports(Aggregate[ReportState | None, Command]):
    """Report streams for the repository: `report-<tracking_id>`, published under the report's
    region and the institution holding it (or, for a return, the one it came back from)."""

    def stream(self, key: str) -> str:
        return stream_name(key)

    def initial(self) -> ReportState | None:
        return None

    def evolve(
        self, state: ReportState | None, event: DomainEvent, at: datetime
    ) -> ReportState | None:
        return evolve(state, event, at)

    def decide(self, state: ReportState | None, command: Command) -> list[DomainEvent]:
        return decide(state, command)

    def address(
        self, before: ReportState | None, event: DomainEvent, after: ReportState | None
    ) -> tuple[str | None, str | None]:
        # A return still names the agency it came from, so its systems see it.
        agency = (after.agency_code if after else None) or (before.agency_code if before else None)
        return (after.region_code if after else None), agency


REPORTS = Reports()
