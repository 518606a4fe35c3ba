"""A report's deadlines as pure functions of its events, the working-day calendar and the policy:
the one deadline calculator every service uses (sla's view, ticker and escalation, the desks).

No I/O and no clock: `derive` turns a report's history (as :class:`Fact` records, one per event
that matters here) into its deadlines; `Deadline.state(now)`, `ReportDeadlines.due_actions(now)`
and `ReportDeadlines.escalation_eligibility(now)` answer what holds at a given instant. The sla
service's view, its ticker and its escalation endpoint all call these, so they always agree.

How every deadline is counted (see ``shared.calendar`` for the base rule)
    * An event belongs to its **local day D** in the timezone of the report's *current* region
      (the region of ReportSubmitted, changed by ReportReferred and ReportVerified; WIB without a
      region). Every deadline of a report is counted in that region: a referral or a verification
      that changes the region recounts the report's deadlines there (timezone and regional
      holidays).
    * N working days are **due** on the Nth working day after D (day one is the first working day
      after D, whatever the hour of the event); N calendar days are due on D + N.
    * A deadline runs until **23:59:59.999999 local time of the due day**; it is missed by
      anything after that instant. The ticker acts from the first tick after it.
    * **Due soon** from 00:00 local time of the day `due_soon` (1 working day by default) before
      the due day (``SlaLimits.due_soon_from``): due Friday → due soon from Thursday 00:00.
    * The limits are those of ``shared.reports.policy`` for the institution named below (national
      limits where there is none).

The deadlines
    verification (limit ``verification``, 3 working days, national limits)
        From ReportSubmitted until ReportVerified or ReportRejected. *Pause*: a
        ReportCompletionRequested on local day P that comes before the deadline ends pauses the
        clock; the working days used so far are the working days d with start < d ≤ P (the day
        of the request counts as used when it is a working day), and remaining = N - used. A
        ReportAmended on local day A resumes it: due on the max(remaining, 1)-th working day after
        A (the day of the amendment never counts, like any start day, and the admins always get
        at least one working day to read the amendment). Several pauses chain the same way, each
        resume counting from its own A. A request that comes after the deadline ended does not
        pause it: the deadline was missed and stays missed. ReportPostponed and ReportReferred do
        not pause it (the report stays with the admins).
    follow_up (the ``follow_up_due`` date carried by the event; limit ``follow_up`` only for the
    due-soon offset)
        A cycle per ForwardedToOPD and ReportTransferred, due on the event's ``follow_up_due``
        (routing counted it), and per ReportReopened, due ``follow_up`` working days after the
        reopening (that event carries no date), for the institution then holding the report.
        Met by the first FollowUpPosted; ended early (cancelled) by ReportReturned,
        ReportTransferred, a new ForwardedToOPD or ReportClosed.
    resolution (``resolution`` = 14 calendar days, or ``resolution_field_inspection`` = 60
    calendar days when the latest ReportVerified says requires_field_inspection; limits of the
    institution holding the report, else of the first one)
        One per report, from the first ForwardedToOPD (a transfer, a return or a reopening does not
        restart the citizen's clock); met by the first FollowUpPosted(kind=final) or ReportClosed.
    auto_close (``auto_close``, 10 working days, limits of the institution that posted)
        A cycle per FollowUpPosted, due ``auto_close`` working days after it; open while it is the
        last follow-up, nobody replied after it (ReporterReplied, ordered by place in the stream)
        and the report is still followed_up. When it passes the ticker runs
        CloseReport(reason=no_response, no_response_after=<that follow-up's occurred_at>).
    escalation (``escalation``, 60 working days, limits of the institution holding the report)
        From the first ForwardedToOPD while the report has never had any FollowUpPosted. After it
        passes the reporter may escalate, as long as the report is with an institution (status
        forwarded); EscalatedToOmbudsman ends it, a follow-up or a closing cancels it.

Breaches (SlaBreached, exactly once per stage and report, as the domain's RecordBreach decides)
    A breach is due when a verification, follow_up or resolution deadline ends later than its
    deadline (met or cancelled after it) or is still open after it, and no SlaBreached of its stage
    is in its *breach scope*: for verification and resolution the whole report; for follow_up the
    events since the ForwardedToOPD or ReportTransferred that began the cycle (a new forwarding
    starts a new scope, as in the domain's evolve). Only a follow_up cycle of the current scope is
    ever breached: an institution's missed deadline that the sla service only learns of after the
    report moved on to another institution is not recorded, because RecordBreach would name the
    new institution (see the report of issue 6).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.calendar import WorkingDayCalendar, deadline_end, local_date, timezone_for_region
from shared.events.base import DomainEvent
from shared.reports.events import (
    EscalatedToOmbudsman,
    FollowUpPosted,
    ForwardedToOPD,
    ReportAmended,
    ReportClosed,
    ReportCompletionRequested,
    ReporterReplied,
    ReportReferred,
    ReportRejected,
    ReportReopened,
    ReportReturned,
    ReportSubmitted,
    ReportTransferred,
    ReportVerified,
    SlaBreached,
    SlaStage,
)
from shared.reports.policy import Limit, SlaLimits, SlaPolicy
from shared.store.port import RecordedEvent


class Stage(StrEnum):
    VERIFICATION = "verification"
    FOLLOW_UP = "follow_up"
    RESOLUTION = "resolution"
    AUTO_CLOSE = "auto_close"
    ESCALATION = "escalation"


BREACH_STAGES: dict[Stage, SlaStage] = {
    Stage.VERIFICATION: SlaStage.VERIFICATION,
    Stage.FOLLOW_UP: SlaStage.FOLLOW_UP,
    Stage.RESOLUTION: SlaStage.RESOLUTION,
}


class Status(StrEnum):
    """Where a deadline stands by the events alone (no clock)."""

    OPEN = "open"
    PAUSED = "paused"
    MET = "met"
    CANCELLED = "cancelled"
    CLOSED = "closed"  # auto_close: the report was closed for no response
    ESCALATED = "escalated"  # escalation: the reporter escalated


class State(StrEnum):
    """Where a deadline stands at an instant: the `state` of the deadlines view."""

    PENDING = "pending"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    PAUSED = "paused"
    MET = "met"
    MET_LATE = "met_late"
    CANCELLED = "cancelled"
    CLOSED = "closed"
    ESCALATED = "escalated"


OPEN_STATES: tuple[State, ...] = (State.PENDING, State.DUE_SOON, State.OVERDUE)

# The events that move a deadline; every other event is ignored (and never parsed).
RELEVANT_EVENT_TYPES: frozenset[str] = frozenset(
    cls.event_type
    for cls in (
        ReportSubmitted,
        ReportCompletionRequested,
        ReportAmended,
        ReportVerified,
        ReportRejected,
        ReportReferred,
        ForwardedToOPD,
        ReportReturned,
        ReportTransferred,
        FollowUpPosted,
        ReporterReplied,
        ReportClosed,
        ReportReopened,
        SlaBreached,
        EscalatedToOmbudsman,
    )
)
_REGION_EVENTS = frozenset({"ReportSubmitted", "ReportReferred", "ReportVerified"})
_FORWARDINGS = frozenset({"ForwardedToOPD", "ReportTransferred"})


class Fact(BaseModel):
    """What the sla rules keep of one event: no text, no personal data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: str
    version: int
    at: datetime
    event_id: str
    correlation_id: str
    agency_code: str | None = None
    follow_up_due: date | None = None
    region_code: str | None = None
    requires_field_inspection: bool | None = None
    kind: str | None = None
    stage: str | None = None
    due: date | None = None
    reason: str | None = None


def fact_of(
    payload: DomainEvent, *, version: int, at: datetime, event_id: str, correlation_id: str
) -> Fact | None:
    """The fact of one event, or None for an event no deadline depends on."""
    base = {"version": version, "at": at, "event_id": event_id, "correlation_id": correlation_id}
    match payload:
        case ReportSubmitted():
            return Fact(
                event_type=payload.event_type, region_code=payload.location.region_code, **base
            )
        case ReportVerified():
            return Fact(
                event_type=payload.event_type,
                region_code=payload.region_code,
                requires_field_inspection=payload.requires_field_inspection,
                **base,
            )
        case ReportReferred():
            return Fact(event_type=payload.event_type, region_code=payload.to_region, **base)
        case ForwardedToOPD():
            return Fact(
                event_type=payload.event_type,
                agency_code=payload.agency_code,
                follow_up_due=payload.follow_up_due,
                **base,
            )
        case ReportTransferred():
            return Fact(
                event_type=payload.event_type,
                agency_code=payload.to_agency,
                follow_up_due=payload.follow_up_due,
                **base,
            )
        case ReportReturned():
            return Fact(event_type=payload.event_type, agency_code=payload.agency_code, **base)
        case FollowUpPosted():
            return Fact(
                event_type=payload.event_type,
                agency_code=payload.agency_code,
                kind=payload.kind.value,
                **base,
            )
        case ReportClosed():
            return Fact(event_type=payload.event_type, reason=payload.reason.value, **base)
        case ReportReopened():
            return Fact(event_type=payload.event_type, agency_code=payload.agency_code, **base)
        case SlaBreached():
            return Fact(
                event_type=payload.event_type,
                stage=payload.stage.value,
                due=payload.due,
                agency_code=payload.agency_code,
                **base,
            )
        case (
            ReportCompletionRequested()
            | ReportAmended()
            | ReportRejected()
            | ReporterReplied()
            | EscalatedToOmbudsman()
        ):
            return Fact(event_type=payload.event_type, **base)
    return None


def fact_of_recorded(event: RecordedEvent) -> Fact | None:
    """The fact of a stored event; None for other streams' and irrelevant event types."""
    if event.event_type not in RELEVANT_EVENT_TYPES:
        return None
    return fact_of(
        event.payload(),
        version=event.stream_version,
        at=event.occurred_at,
        event_id=str(event.event_id),
        correlation_id=event.correlation_id,
    )


def facts_of(events: Iterable[RecordedEvent]) -> list[Fact]:
    return [f for f in (fact_of_recorded(e) for e in events) if f is not None]


# --- deadlines and actions --------------------------------------------------------------------
@dataclass(frozen=True)
class Action:
    """What the ticker must do once `not_before` has passed, under a fixed idempotency key."""

    kind: Literal["breach", "auto_close"]
    tracking_id: str
    stage: Stage
    key: str
    due: date
    not_before: datetime
    agency_code: str | None
    correlation_id: str
    causation_id: str
    follow_up_at: datetime | None = None


@dataclass(frozen=True)
class Deadline:
    tracking_id: str
    stage: Stage
    cycle: int
    agency_code: str | None
    region_code: str | None
    limit: Limit
    start: Fact
    due: date | None  # None while paused
    deadline_end: datetime | None
    due_soon_from: datetime | None
    status: Status
    ended: Fact | None
    breach_recorded: bool
    current_scope: bool
    remaining_working_days: int | None = None  # verification only
    working_days_taken: int | None = None  # from the start day to the day it ended

    @property
    def key(self) -> str:
        return f"{self.tracking_id}:{self.stage.value}:{self.cycle}"

    @property
    def late(self) -> bool | None:
        """Ended after its deadline (None while not ended or without a deadline)."""
        if self.ended is None or self.deadline_end is None:
            return None
        return self.ended.at > self.deadline_end

    def state(self, now: datetime) -> State:
        if self.status is Status.OPEN:
            assert self.deadline_end is not None and self.due_soon_from is not None
            if now > self.deadline_end:
                return State.OVERDUE
            if now >= self.due_soon_from:
                return State.DUE_SOON
            return State.PENDING
        if self.status is Status.MET:
            return State.MET_LATE if self.late else State.MET
        return State(self.status.value)

    @property
    def planned_action(self) -> Action | None:
        """The action this deadline will need once its deadline has passed (None if none)."""
        if self.due is None or self.deadline_end is None:
            return None
        if self.stage is Stage.AUTO_CLOSE:
            if self.status is not Status.OPEN:
                return None
            return Action(
                kind="auto_close",
                tracking_id=self.tracking_id,
                stage=self.stage,
                key=f"sla:autoclose:{self.tracking_id}:{self.start.version}",
                due=self.due,
                not_before=self.deadline_end,
                agency_code=self.agency_code,
                correlation_id=self.start.correlation_id,
                causation_id=self.start.event_id,
                follow_up_at=self.start.at,
            )
        if self.stage not in BREACH_STAGES or self.breach_recorded or not self.current_scope:
            return None
        if self.status is not Status.OPEN and not self.late:
            return None
        return Action(
            kind="breach",
            tracking_id=self.tracking_id,
            stage=self.stage,
            key=(
                f"sla:breach:{self.stage.value}:{self.tracking_id}:{self.due.isoformat()}"
                f":v{self.start.version}"
            ),
            due=self.due,
            not_before=self.deadline_end,
            agency_code=self.agency_code,
            correlation_id=self.start.correlation_id,
            causation_id=self.start.event_id,
        )


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reason: str
    eligible_from: datetime | None = None


@dataclass(frozen=True)
class ReportDeadlines:
    tracking_id: str
    status: str
    region_code: str | None
    agency_code: str | None
    deadlines: tuple[Deadline, ...] = ()
    escalated: bool = False

    def of_stage(self, stage: Stage) -> list[Deadline]:
        return [d for d in self.deadlines if d.stage is stage]

    @property
    def escalation(self) -> Deadline | None:
        found = self.of_stage(Stage.ESCALATION)
        return found[-1] if found else None

    def planned_actions(self) -> list[Action]:
        return [a for a in (d.planned_action for d in self.deadlines) if a is not None]

    def due_actions(self, now: datetime) -> list[Action]:
        """The actions whose deadline has passed at `now`."""
        return [a for a in self.planned_actions() if now > a.not_before]

    def escalation_eligibility(self, now: datetime) -> Eligibility:
        """May the reporter escalate to the Ombudsman at `now`?"""
        deadline = self.escalation
        if deadline is None:
            return Eligibility(False, "the report has not been forwarded to an institution yet")
        if deadline.status is Status.ESCALATED:
            return Eligibility(False, "the report has been escalated already")
        if deadline.status is Status.CANCELLED:
            if deadline.ended is not None and deadline.ended.event_type == "FollowUpPosted":
                return Eligibility(False, "the institution has posted a follow-up")
            return Eligibility(False, f"the report is {self.status}")
        assert deadline.deadline_end is not None
        eligible_from = deadline.deadline_end + timedelta(microseconds=1)
        if now <= deadline.deadline_end:
            return Eligibility(
                False,
                f"escalation is possible only after {deadline.limit} without a follow-up",
                eligible_from,
            )
        if self.status != "forwarded":
            return Eligibility(
                False, f"the report is {self.status}, not with an institution", eligible_from
            )
        return Eligibility(True, "no follow-up within the limit", eligible_from)


# --- derivation -------------------------------------------------------------------------------
@dataclass
class _Cycle:
    stage: Stage
    cycle: int
    agency_code: str | None
    limit: Limit
    start: Fact
    due: date | None = None
    status: Status = Status.OPEN
    ended: Fact | None = None
    remaining: int | None = None
    counted_from: date | None = None

    def end(self, fact: Fact, status: Status) -> None:
        self.status = status
        self.ended = fact


@dataclass
class _Walk:
    """The state of one pass over a report's facts."""

    calendar: WorkingDayCalendar
    policy: SlaPolicy
    region: str | None
    tz: tzinfo
    status: str = "submitted"
    agency: str | None = None
    first_agency: str | None = None
    field_inspection: bool = False
    cycles: list[_Cycle] = field(default_factory=list)
    breaches: list[Fact] = field(default_factory=list)
    forwardings: list[int] = field(default_factory=list)
    first_follow_up: Fact | None = None
    escalated: Fact | None = None
    closed: Fact | None = None

    def day(self, at: datetime) -> date:
        return local_date(at, self.tz)

    def limits(self, agency: str | None) -> SlaLimits:
        return self.policy.policy_for(agency)

    def open_cycle(self, stage: Stage) -> _Cycle | None:
        for cycle in reversed(self.cycles):
            if cycle.stage is stage:
                return cycle if cycle.status in (Status.OPEN, Status.PAUSED) else None
        return None

    def new_cycle(self, stage: Stage, start: Fact, agency: str | None, limit: Limit) -> _Cycle:
        number = 1 + sum(1 for c in self.cycles if c.stage is stage)
        cycle = _Cycle(stage, number, agency, limit, start)
        self.cycles.append(cycle)
        return cycle

    def end_open(self, stage: Stage, fact: Fact, status: Status) -> None:
        cycle = self.open_cycle(stage)
        if cycle is not None:
            cycle.end(fact, status)


def _final_region(facts: Sequence[Fact]) -> str | None:
    region: str | None = None
    for fact in facts:
        if fact.event_type in _REGION_EVENTS:
            region = fact.region_code
    return region


def derive(
    tracking_id: str,
    facts: Iterable[Fact],
    calendar: WorkingDayCalendar,
    policy: SlaPolicy,
) -> ReportDeadlines:
    """A report's deadlines from its facts (in any order; repeats of a version are ignored)."""
    ordered = sorted({f.version: f for f in facts}.values(), key=lambda f: f.version)
    if not ordered or ordered[0].event_type != "ReportSubmitted":
        return ReportDeadlines(tracking_id, "unknown", None, None)
    region = _final_region(ordered)
    walk = _Walk(calendar, policy, region, timezone_for_region(region))
    for fact in ordered:
        _step(walk, fact)
    deadlines = tuple(_finish(tracking_id, walk, cycle) for cycle in _with_late_cycles(walk))
    return ReportDeadlines(
        tracking_id=tracking_id,
        status=walk.status,
        region_code=region,
        agency_code=walk.agency,
        deadlines=deadlines,
        escalated=walk.escalated is not None,
    )


def _step(w: _Walk, f: Fact) -> None:
    cycle: _Cycle | None
    match f.event_type:
        case "ReportSubmitted":
            if w.cycles:
                return  # a second submission cannot redefine the report
            limit = w.limits(None).verification
            cycle = w.new_cycle(Stage.VERIFICATION, f, None, limit)
            cycle.counted_from = w.day(f.at)
            cycle.remaining = limit.days
            cycle.due = limit.due(cycle.counted_from, w.calendar, w.region)
        case "ReportCompletionRequested":
            w.status = "completion_requested"
            cycle = w.open_cycle(Stage.VERIFICATION)
            if cycle is None or cycle.status is not Status.OPEN or cycle.due is None:
                return
            if f.at > deadline_end(cycle.due, w.tz):
                return  # too late to pause: the deadline was missed already
            assert cycle.counted_from is not None and cycle.remaining is not None
            used = w.calendar.working_days_between(cycle.counted_from, w.day(f.at), w.region)
            cycle.remaining = max(cycle.remaining - used, 0)
            cycle.status = Status.PAUSED
            cycle.due = None
        case "ReportAmended":
            if w.status == "completion_requested":
                w.status = "submitted"
            cycle = w.open_cycle(Stage.VERIFICATION)
            if cycle is None or cycle.status is not Status.PAUSED:
                return
            assert cycle.remaining is not None
            cycle.counted_from = w.day(f.at)
            cycle.remaining = max(cycle.remaining, 1)
            cycle.status = Status.OPEN
            cycle.due = w.calendar.add_working_days(cycle.counted_from, cycle.remaining, w.region)
        case "ReportVerified":
            w.status = "verified"
            w.field_inspection = bool(f.requires_field_inspection)
            w.end_open(Stage.VERIFICATION, f, Status.MET)
        case "ReportRejected":
            w.status = "rejected"
            w.closed = f
            w.end_open(Stage.VERIFICATION, f, Status.MET)
        case "ForwardedToOPD" | "ReportTransferred":
            w.status = "forwarded"
            w.agency = f.agency_code
            w.forwardings.append(f.version)
            w.end_open(Stage.FOLLOW_UP, f, Status.CANCELLED)
            cycle = w.new_cycle(
                Stage.FOLLOW_UP, f, f.agency_code, w.limits(f.agency_code).follow_up
            )
            cycle.due = f.follow_up_due
            if w.first_agency is None:
                w.first_agency = f.agency_code
                w.new_cycle(Stage.RESOLUTION, f, f.agency_code, w.limits(None).resolution)
                w.new_cycle(Stage.ESCALATION, f, f.agency_code, w.limits(None).escalation)
        case "ReportReturned":
            w.status = "returned"
            w.agency = None
            w.end_open(Stage.FOLLOW_UP, f, Status.CANCELLED)
        case "FollowUpPosted":
            w.status = "followed_up"
            w.end_open(Stage.FOLLOW_UP, f, Status.MET)
            w.end_open(Stage.AUTO_CLOSE, f, Status.CANCELLED)
            if f.kind == "final":
                w.end_open(Stage.RESOLUTION, f, Status.MET)
            if w.first_follow_up is None:
                w.first_follow_up = f
            agency = f.agency_code or w.agency
            limit = w.limits(agency).auto_close
            cycle = w.new_cycle(Stage.AUTO_CLOSE, f, agency, limit)
            cycle.due = limit.due(w.day(f.at), w.calendar, w.region)
        case "ReporterReplied":
            w.end_open(Stage.AUTO_CLOSE, f, Status.CANCELLED)
        case "ReportClosed":
            w.status = "closed"
            w.closed = f
            w.end_open(Stage.FOLLOW_UP, f, Status.CANCELLED)
            w.end_open(Stage.RESOLUTION, f, Status.MET)
            closing = Status.CLOSED if f.reason == "no_response" else Status.CANCELLED
            w.end_open(Stage.AUTO_CLOSE, f, closing)
        case "ReportReopened":
            w.status = "forwarded"
            w.closed = None
            w.agency = f.agency_code or w.agency
            limit = w.limits(w.agency).follow_up
            cycle = w.new_cycle(Stage.FOLLOW_UP, f, w.agency, limit)
            cycle.due = limit.due(w.day(f.at), w.calendar, w.region)
        case "SlaBreached":
            w.breaches.append(f)
        case "EscalatedToOmbudsman":
            w.escalated = f
        case "ReportReferred":
            pass  # only the region changes (see _final_region)


def _with_late_cycles(w: _Walk) -> list[_Cycle]:
    """Settle the report-wide deadlines (resolution, escalation) once every fact is known."""
    holder = w.agency or w.first_agency
    limits = w.limits(holder)
    for cycle in w.cycles:
        if cycle.stage is Stage.RESOLUTION:
            cycle.agency_code = holder
            cycle.limit = limits.resolution_limit(w.field_inspection)
            cycle.due = cycle.limit.due(w.day(cycle.start.at), w.calendar, w.region)
        elif cycle.stage is Stage.ESCALATION:
            cycle.agency_code = holder
            cycle.limit = limits.escalation
            cycle.due = cycle.limit.due(w.day(cycle.start.at), w.calendar, w.region)
            if w.escalated is not None:
                cycle.end(w.escalated, Status.ESCALATED)
            elif w.first_follow_up is not None:
                cycle.end(w.first_follow_up, Status.CANCELLED)
            elif w.closed is not None:
                cycle.end(w.closed, Status.CANCELLED)
    return w.cycles


def _scope(w: _Walk, cycle: _Cycle) -> tuple[int, int | None]:
    """The versions (after, before) between which a SlaBreached counts for this cycle."""
    if cycle.stage is not Stage.FOLLOW_UP:
        return 0, None
    after = max((v for v in w.forwardings if v <= cycle.start.version), default=0)
    before = min((v for v in w.forwardings if v > cycle.start.version), default=None)
    return after, before


def _finish(tracking_id: str, w: _Walk, cycle: _Cycle) -> Deadline:
    after, before = _scope(w, cycle)
    breach_stage = BREACH_STAGES.get(cycle.stage)
    breach_recorded = breach_stage is not None and any(
        b.stage == breach_stage.value
        and b.version > after
        and (before is None or b.version < before)
        for b in w.breaches
    )
    end = deadline_end(cycle.due, w.tz) if cycle.due is not None else None
    soon = (
        w.limits(cycle.agency_code).due_soon_start(cycle.due, w.calendar, w.region)
        if cycle.due is not None
        else None
    )
    taken = (
        w.calendar.working_days_between(w.day(cycle.start.at), w.day(cycle.ended.at), w.region)
        if cycle.ended is not None
        else None
    )
    return Deadline(
        tracking_id=tracking_id,
        stage=cycle.stage,
        cycle=cycle.cycle,
        agency_code=cycle.agency_code,
        region_code=w.region,
        limit=cycle.limit,
        start=cycle.start,
        due=cycle.due,
        deadline_end=end,
        due_soon_from=soon,
        status=cycle.status,
        ended=cycle.ended,
        breach_recorded=breach_recorded,
        current_scope=before is None,
        remaining_working_days=cycle.remaining if cycle.stage is Stage.VERIFICATION else None,
        working_days_taken=taken,
    )


# --- time left --------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimeLeft:
    """What a deadline due on `due` leaves at an instant, counted as every deadline is counted."""

    due: date
    deadline_end: datetime  # the last instant of the due day, in the region's local time
    remaining: timedelta  # negative once overdue
    working_days: int  # working days d with today < d <= due; negative once past the due day
    overdue: bool


def time_left(
    due: date, now: datetime, calendar: WorkingDayCalendar, region_code: str | None = None
) -> TimeLeft:
    """How long until the end of the due day in the region's local time, at the instant `now`."""
    tz = timezone_for_region(region_code)
    end = deadline_end(due, tz)
    return TimeLeft(
        due=due,
        deadline_end=end,
        remaining=end - now,
        working_days=calendar.working_days_between(local_date(now, tz), due, region_code),
        overdue=now > end,
    )
