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
        A. Several pauses chain the same way. A request that comes after the deadline ended does
        not pause it. ReportPostponed and ReportReferred never pause or move it.
    completion_reminder / completion_expiry (5 and 10 working days, national limits)
        From each ReportCompletionRequested; met by ReportAmended (or a decision: verified,
        rejected, closed). When the reminder's deadline passes the ticker appends
        CompletionReminded (once); when the expiry's passes, ReportClosed(reason=incomplete).
    reforward (3 working days, national limits)
        From each ReportReturned; met by the next ForwardedToOPD, ReportRejected, ReportReferred
        or ReportClosed. A ReportReferred of a returned report (sent up, or by the national desk
        to a region) meets the referring desk's cycle and starts a new one for the desk that
        receives it. Breached like follow_up: each cycle in its own breach scope (the events up
        to the next cycle's start), so each desk answers for its own days.
    follow_up (the ``follow_up_due`` date carried by the event; limit ``follow_up`` only for the
    due-soon offset)
        A cycle per ForwardedToOPD and ReportTransferred, due on the event's ``follow_up_due``
        (routing counted it), and per ReportReopened, due ``follow_up`` working days after the
        reopening. Met by the first FollowUpPosted of kind ``interim`` or ``final`` (a question
        meets nothing); a ReportDelegated keeps it running for the unit; ended early (cancelled)
        by ReportReturned, ReportTransferred, a new ForwardedToOPD or ReportClosed.
    resolution (``resolution`` = 14 calendar days, or ``resolution_field_inspection`` = 60
    calendar days when the latest ReportVerified says requires_field_inspection; limits of the
    institution holding the report, else of the first one)
        From the first ForwardedToOPD, and again from each ReportReopened; met by the next
        FollowUpPosted(kind=final) or ReportClosed.
    auto_close (``auto_close``, 10 working days, limits of the institution that answered)
        From each FollowUpPosted(kind=final), and again from each ReporterReplied or
        AdministratorReplied while that final answer stands (a reply restarts the count); any
        later follow-up that is not final stops it until the next final answer. When it passes
        the ticker runs CloseReport(reason=no_response, no_response_after=<its start>).
    escalation (``escalation``, 60 working days, from ReportSubmitted; then
    ``escalation_after_reopening``, 5 working days, from each ReportReopened; national limits)
        Open until a FollowUpPosted(kind=final) (met), EscalatedToOmbudsman (escalated), or
        ReportClosed/ReportRejected (cancelled). Once it has passed the reporter may escalate,
        wherever the report is (unverified, returned, with an institution).
    due soon (warnings)
        When verification, reforward or follow_up is open and due soon, the ticker appends
        SlaDueSoon(stage, due) once per deadline, for the people who must act.

Breaches (SlaBreached, exactly once per stage and report, as the domain's RecordBreach decides)
    A breach is due when a verification, follow_up or resolution deadline ends later than its
    deadline (met or cancelled after it) or is still open after it, and no SlaBreached of its stage
    is in its *breach scope*: for verification and resolution the whole report; for follow_up the
    events since the ForwardedToOPD or ReportTransferred that began the cycle (a new forwarding
    starts a new scope, as in the domain's evolve); for reforward the events since the return or
    referral that began the cycle. Only a follow_up cycle of the current scope is
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

from shared.calendar import WorkingDayCalendar, deadline_end, local_date, timezone_for_region
from shared.reports.commands import (
    CloseReport,
    Command,
    RecordBreach,
    RecordDueSoon,
    RemindCompletion,
)
from shared.reports.events import (
    CloseReason,
    EscalationGrounds,
    SlaStage,
)
from shared.reports.facts import Fact
from shared.reports.policy import Limit, SlaLimits, SlaPolicy


class Stage(StrEnum):
    VERIFICATION = "verification"
    FOLLOW_UP = "follow_up"
    RESOLUTION = "resolution"
    AUTO_CLOSE = "auto_close"
    ESCALATION = "escalation"
    REFORWARD = "reforward"
    COMPLETION_REMINDER = "completion_reminder"
    COMPLETION_EXPIRY = "completion_expiry"


BREACH_STAGES: dict[Stage, SlaStage] = {
    Stage.VERIFICATION: SlaStage.VERIFICATION,
    Stage.FOLLOW_UP: SlaStage.FOLLOW_UP,
    Stage.RESOLUTION: SlaStage.RESOLUTION,
    Stage.REFORWARD: SlaStage.REFORWARD,
}
# The deadlines whose people are warned the working day before (SlaDueSoon).
WARNED_STAGES = frozenset({Stage.VERIFICATION, Stage.FOLLOW_UP, Stage.REFORWARD})


class Status(StrEnum):
    """Where a deadline stands by the events alone (no clock)."""

    OPEN = "open"
    PAUSED = "paused"
    MET = "met"
    CANCELLED = "cancelled"
    CLOSED = "closed"  # auto_close / completion_expiry: the report was closed for it
    ESCALATED = "escalated"  # escalation: the reporter escalated
    REMINDED = "reminded"  # completion_reminder: the reporter was reminded


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
    REMINDED = "reminded"


OPEN_STATES: tuple[State, ...] = (State.PENDING, State.DUE_SOON, State.OVERDUE)

_REGION_EVENTS = frozenset({"ReportSubmitted", "ReportReferred", "ReportVerified"})
_FORWARDINGS = frozenset({"ForwardedToOPD", "ReportTransferred"})


# --- deadlines and actions --------------------------------------------------------------------
ActionKind = Literal["breach", "auto_close", "remind", "close_incomplete", "due_soon"]


@dataclass(frozen=True)
class Action:
    """What the ticker must do once `not_before` has passed, under a fixed idempotency key."""

    kind: ActionKind
    tracking_id: str
    stage: Stage
    key: str
    due: date
    not_before: datetime
    agency_code: str | None
    correlation_id: str
    causation_id: str
    follow_up_at: datetime | None = None  # auto_close: the quiet time it counted from
    closes_on: date | None = None  # remind: when the report closes without an answer
    expires: datetime | None = None  # due_soon: pointless once the deadline itself has passed

    def command(self) -> Command:
        """The domain command that carries the action out (idempotent under `key`)."""
        if self.kind == "auto_close":
            return CloseReport(reason=CloseReason.NO_RESPONSE, no_response_after=self.follow_up_at)
        if self.kind == "close_incomplete":
            return CloseReport(reason=CloseReason.INCOMPLETE)
        if self.kind == "remind":
            assert self.closes_on is not None
            return RemindCompletion(closes_on=self.closes_on)
        if self.kind == "due_soon":
            return RecordDueSoon(stage=BREACH_STAGES[self.stage], due=self.due)
        return RecordBreach(stage=BREACH_STAGES[self.stage], due=self.due)


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
    warned: bool = False  # a SlaDueSoon for this deadline's due day is recorded
    closes_on: date | None = None  # completion_reminder: the expiry's due day

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

    def _action(self, kind: ActionKind, key: str, not_before: datetime) -> Action:
        assert self.due is not None
        return Action(
            kind=kind,
            tracking_id=self.tracking_id,
            stage=self.stage,
            key=key,
            due=self.due,
            not_before=not_before,
            agency_code=self.agency_code,
            correlation_id=self.start.correlation_id,
            causation_id=self.start.event_id,
            follow_up_at=self.start.at if kind == "auto_close" else None,
            closes_on=self.closes_on,
            expires=self.deadline_end if kind == "due_soon" else None,
        )

    @property
    def planned_actions(self) -> list[Action]:
        """What this deadline will need: a warning when it is due soon, and the action once it
        has passed (a breach, a reminder, a closing)."""
        if self.due is None or self.deadline_end is None:
            return []
        tid, version, open_ = self.tracking_id, self.start.version, self.status is Status.OPEN
        actions: list[Action] = []
        if open_ and self.stage in WARNED_STAGES and not self.warned and self.due_soon_from:
            key = f"sla:duesoon:{self.stage.value}:{tid}:{self.due.isoformat()}"
            actions.append(self._action("due_soon", key, self.due_soon_from))
        if self.stage is Stage.AUTO_CLOSE:
            if open_:
                key = f"sla:autoclose:{tid}:{version}"
                actions.append(self._action("auto_close", key, self.deadline_end))
            return actions
        if self.stage is Stage.COMPLETION_REMINDER:
            if open_:
                key = f"sla:remind:{tid}:v{version}"
                actions.append(self._action("remind", key, self.deadline_end))
            return actions
        if self.stage is Stage.COMPLETION_EXPIRY:
            if open_:
                key = f"sla:incomplete:{tid}:v{version}"
                actions.append(self._action("close_incomplete", key, self.deadline_end))
            return actions
        if self.stage not in BREACH_STAGES or self.breach_recorded or not self.current_scope:
            return actions
        if self.status is not Status.OPEN and not self.late:
            return actions
        key = f"sla:breach:{self.stage.value}:{tid}:{self.due.isoformat()}:v{version}"
        actions.append(self._action("breach", key, self.deadline_end))
        return actions

    @property
    def planned_action(self) -> Action | None:
        """The action once the deadline has passed (what the deadlines view shows)."""
        found = [a for a in self.planned_actions if a.kind != "due_soon"]
        return found[0] if found else None


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reason: str
    eligible_from: datetime | None = None
    opens_on: date | None = None  # the first local day on which the reporter may escalate
    grounds: EscalationGrounds | None = None


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
        return [a for d in self.deadlines for a in d.planned_actions]

    def due_actions(self, now: datetime) -> list[Action]:
        """The actions whose moment has come at `now`. A warning that a deadline is due soon
        is not given once the deadline has passed (a service that was down, a clock moved on):
        the breach says it then."""
        return [
            a
            for a in self.planned_actions()
            if now > a.not_before and (a.expires is None or now <= a.expires)
        ]

    def escalation_eligibility(self, now: datetime) -> Eligibility:
        """May the reporter escalate to the Ombudsman at `now`? Wherever the report is stuck:
        60 working days after submission without a final answer, or 5 working days after a
        reopening without a new one."""
        deadline = self.escalation
        if deadline is None:
            return Eligibility(False, "there is no such report")
        if deadline.status is Status.ESCALATED:
            return Eligibility(False, "the report has been escalated already")
        if deadline.status is Status.MET:
            return Eligibility(False, "the institution has given its final answer")
        if deadline.status is not Status.OPEN:
            return Eligibility(False, f"the report is {self.status}")
        assert deadline.deadline_end is not None and deadline.due is not None
        eligible_from = deadline.deadline_end + timedelta(microseconds=1)
        opens_on = deadline.due + timedelta(days=1)
        grounds = (
            EscalationGrounds.NO_FINAL_ANSWER
            if deadline.cycle == 1
            else EscalationGrounds.REOPENED_WITHOUT_ANSWER
        )
        if now <= deadline.deadline_end:
            return Eligibility(
                False,
                f"escalation opens on {opens_on.isoformat()}: {deadline.limit} without a final"
                " answer",
                eligible_from,
                opens_on,
                grounds,
            )
        return Eligibility(
            True, f"no final answer within {deadline.limit}", eligible_from, opens_on, grounds
        )


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
    closes_on: date | None = None

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
    final_standing: bool = False  # a final answer stands (no later follow-up that is not one)
    warned: set[tuple[str, date]] = field(default_factory=set)

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
    national = w.limits(None)
    match f.event_type:
        case "ReportSubmitted":
            if w.cycles:
                return  # a second submission cannot redefine the report
            limit = national.verification
            cycle = w.new_cycle(Stage.VERIFICATION, f, None, limit)
            cycle.counted_from = w.day(f.at)
            cycle.remaining = limit.days
            cycle.due = limit.due(cycle.counted_from, w.calendar, w.region)
            _start(w, Stage.ESCALATION, f, None, national.escalation)
        case "ReportCompletionRequested":
            w.status = "completion_requested"
            _start(w, Stage.COMPLETION_REMINDER, f, None, national.completion_reminder)
            expiry = _start(w, Stage.COMPLETION_EXPIRY, f, None, national.completion_expiry)
            reminder = w.open_cycle(Stage.COMPLETION_REMINDER)
            if reminder is not None:
                reminder.closes_on = expiry.due
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
            _end_completion(w, f, Status.MET)
            cycle = w.open_cycle(Stage.VERIFICATION)
            if cycle is None or cycle.status is not Status.PAUSED:
                return
            assert cycle.remaining is not None
            cycle.counted_from = w.day(f.at)
            cycle.remaining = max(cycle.remaining, 1)
            cycle.status = Status.OPEN
            cycle.due = w.calendar.add_working_days(cycle.counted_from, cycle.remaining, w.region)
        case "CompletionReminded":
            w.end_open(Stage.COMPLETION_REMINDER, f, Status.REMINDED)
        case "ReportVerified":
            w.status = "verified"
            w.field_inspection = bool(f.requires_field_inspection)
            w.end_open(Stage.VERIFICATION, f, Status.MET)
            _end_completion(w, f, Status.CANCELLED)
        case "ReportRejected":
            w.status = "rejected"
            w.closed = f
            w.end_open(Stage.VERIFICATION, f, Status.MET)
            w.end_open(Stage.REFORWARD, f, Status.MET)
            w.end_open(Stage.ESCALATION, f, Status.CANCELLED)
            _end_completion(w, f, Status.CANCELLED)
        case "ReportReferred":
            if w.status == "returned":
                # A decision of the referring desk (sent up or across); the desk that receives
                # the report has its own days to forward it (the institution's return is
                # still waiting for an administrator).
                _start(w, Stage.REFORWARD, f, None, national.reforward, met=True)
        case "ForwardedToOPD" | "ReportTransferred":
            w.status = "forwarded"
            w.agency = f.agency_code
            w.forwardings.append(f.version)
            w.end_open(Stage.REFORWARD, f, Status.MET)
            w.end_open(Stage.FOLLOW_UP, f, Status.CANCELLED)
            cycle = w.new_cycle(
                Stage.FOLLOW_UP, f, f.agency_code, w.limits(f.agency_code).follow_up
            )
            cycle.due = f.follow_up_due
            if w.first_agency is None:
                w.first_agency = f.agency_code
                w.new_cycle(Stage.RESOLUTION, f, f.agency_code, national.resolution)
        case "ReportDelegated":
            w.agency = f.agency_code  # the unit answers under the same deadline
        case "ReportReturned":
            w.status = "returned"
            w.agency = None
            w.end_open(Stage.FOLLOW_UP, f, Status.CANCELLED)
            _start(w, Stage.REFORWARD, f, None, national.reforward)
        case "FollowUpPosted":
            w.status = "followed_up"
            if f.kind != "question":  # a question answers nothing
                w.end_open(Stage.FOLLOW_UP, f, Status.MET)
            w.end_open(Stage.AUTO_CLOSE, f, Status.CANCELLED)
            if w.first_follow_up is None:
                w.first_follow_up = f
            w.final_standing = f.kind == "final"
            if w.final_standing:
                w.end_open(Stage.RESOLUTION, f, Status.MET)
                w.end_open(Stage.ESCALATION, f, Status.MET)
                _start_auto_close(w, f, f.agency_code or w.agency)
        case "ReporterReplied" | "AdministratorReplied":
            w.end_open(Stage.AUTO_CLOSE, f, Status.CANCELLED)
            if w.final_standing:  # a reply restarts the count to closing
                _start_auto_close(w, f, w.agency)
        case "ReportClosed":
            w.status = "closed"
            w.closed = f
            w.final_standing = False
            w.end_open(Stage.FOLLOW_UP, f, Status.CANCELLED)
            w.end_open(Stage.RESOLUTION, f, Status.MET)
            w.end_open(Stage.REFORWARD, f, Status.MET)
            w.end_open(Stage.ESCALATION, f, Status.CANCELLED)
            closing = Status.CLOSED if f.reason == "no_response" else Status.CANCELLED
            w.end_open(Stage.AUTO_CLOSE, f, closing)
            w.end_open(Stage.COMPLETION_REMINDER, f, Status.CANCELLED)
            expired = Status.CLOSED if f.reason == "incomplete" else Status.CANCELLED
            w.end_open(Stage.COMPLETION_EXPIRY, f, expired)
        case "ReportReopened":
            w.status = "forwarded"
            w.closed = None
            w.final_standing = False
            w.agency = f.agency_code or w.agency
            limit = w.limits(w.agency).follow_up
            cycle = w.new_cycle(Stage.FOLLOW_UP, f, w.agency, limit)
            cycle.due = limit.due(w.day(f.at), w.calendar, w.region)
            w.new_cycle(Stage.RESOLUTION, f, w.agency, national.resolution)
            _start(w, Stage.ESCALATION, f, None, national.escalation_after_reopening)
        case "SlaBreached":
            w.breaches.append(f)
        case "SlaDueSoon":
            if f.stage and f.due:
                w.warned.add((f.stage, f.due))
        case "EscalatedToOmbudsman":
            w.escalated = f
            w.end_open(Stage.ESCALATION, f, Status.ESCALATED)


def _start(
    w: _Walk, stage: Stage, f: Fact, agency: str | None, limit: Limit, *, met: bool = False
) -> _Cycle:
    """A new cycle of `stage` from `f`, due `limit` after its day (an open one ends first:
    cancelled, or met when `f` is what it waited for)."""
    w.end_open(stage, f, Status.MET if met else Status.CANCELLED)
    cycle = w.new_cycle(stage, f, agency, limit)
    cycle.due = limit.due(w.day(f.at), w.calendar, w.region)
    return cycle


def _start_auto_close(w: _Walk, f: Fact, agency: str | None) -> None:
    _start(w, Stage.AUTO_CLOSE, f, agency, w.limits(agency).auto_close)


def _end_completion(w: _Walk, f: Fact, status: Status) -> None:
    w.end_open(Stage.COMPLETION_REMINDER, f, status)
    w.end_open(Stage.COMPLETION_EXPIRY, f, status)


def _with_late_cycles(w: _Walk) -> list[_Cycle]:
    """Settle the resolution deadlines once every fact is known: their limit depends on the
    institution holding the report and on the field inspection the latest verification asked."""
    holder = w.agency or w.first_agency
    limits = w.limits(holder)
    for cycle in w.cycles:
        if cycle.stage is Stage.RESOLUTION:
            cycle.agency_code = holder
            cycle.limit = limits.resolution_limit(w.field_inspection)
            cycle.due = cycle.limit.due(w.day(cycle.start.at), w.calendar, w.region)
    return w.cycles


def _scope(w: _Walk, cycle: _Cycle) -> tuple[int, int | None]:
    """The versions (after, before) between which a SlaBreached counts for this cycle."""
    if cycle.stage is Stage.FOLLOW_UP:
        starts = w.forwardings
    elif cycle.stage is Stage.REFORWARD:  # each desk that must re-forward answers for its own
        starts = [c.start.version for c in w.cycles if c.stage is Stage.REFORWARD]
    else:
        return 0, None
    after = max((v for v in starts if v <= cycle.start.version), default=0)
    before = min((v for v in starts if v > cycle.start.version), default=None)
    return after, before


def _finish(tracking_id: str, w: _Walk, cycle: _Cycle) -> Deadline:
    breach_recorded, current_scope = _breach_and_scope(w, cycle)
    return _deadline(tracking_id, w, cycle, breach_recorded, current_scope)


def _breach_and_scope(w: _Walk, cycle: _Cycle) -> tuple[bool, bool]:
    """Is a SlaBreached of the cycle's stage in its breach scope; is the cycle's scope the
    current one."""
    after, before = _scope(w, cycle)
    breach_stage = BREACH_STAGES.get(cycle.stage)
    breach_recorded = breach_stage is not None and any(
        b.stage == breach_stage.value
        and b.version > after
        and (before is None or b.version < before)
        for b in w.breaches
    )
    return breach_recorded, before is None


def _deadline(
    tracking_id: str, w: _Walk, cycle: _Cycle, breach_recorded: bool, current_scope: bool
) -> Deadline:
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
        current_scope=current_scope,
        remaining_working_days=cycle.remaining if cycle.stage is Stage.VERIFICATION else None,
        working_days_taken=taken,
        warned=cycle.due is not None and (cycle.stage.value, cycle.due) in _warned_keys(w),
        closes_on=cycle.closes_on,
    )


def _warned_keys(w: _Walk) -> set[tuple[str, date]]:
    # SlaDueSoon names the breach stage, whose value is the deadline stage's.
    return w.warned


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
