"""The reporter's escalation to the Ombudsman RI: one use case for every channel (intake's report
page and SMS `ESKALASI <ID>`, sla's `POST /api/v1/reports/{id}/escalate`).

Load the report's stream, derive its deadlines (``shared.reports.deadlines``), plan the escalation
(``shared.reports.escalation``: open or not, the office of the province from the live directory,
the digest of the trail as the reporter saw it) and append it under the report's one escalation
key. Whoever asks first escalates; a second request, on any channel, finds that escalation.
Checking that the caller is the reporter is the channel's part (access code, session, phone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from shared.clock import Clock
from shared.events.base import Actor
from shared.reports.deadlines import Eligibility, ReportDeadlines, derive
from shared.reports.escalation import escalation_key, ombudsman_office, plan_escalation
from shared.reports.facts import facts_of
from shared.reports.lifecycle import ReportNotFound, ReportState
from shared.runtime.directory import LiveDirectory
from shared.runtime.repository import Meta, ReportRepository
from shared.runtime.rules import Rules
from shared.store.chain import trail_digest
from shared.store.port import RecordedEvent


@dataclass(frozen=True)
class Escalated:
    """A report's escalation: made by this request (`new`) or found in its stream."""

    tracking_id: str
    new: bool
    ombudsman_office: str | None
    ombudsman_office_name: str | None
    province_code: str | None
    evidence_sha256: str | None
    escalated_at: datetime
    position: int


@dataclass(frozen=True)
class EscalationStatus:
    """What a reporter is told about escalating: escalated already, open now, or from when."""

    escalated: bool
    eligible: bool
    opens_on: date | None
    reason: str
    office_name: str


def reporter_actor(state: ReportState) -> Actor:
    return Actor(kind="citizen", id="anonymous" if state.anonymous else "reporter")


class Escalations:
    """The escalation use case on a service's store, clock, live directory and rules."""

    def __init__(
        self, reports: ReportRepository, directory: LiveDirectory, rules: Rules, clock: Clock
    ) -> None:
        self.reports = reports
        self.directory = directory
        self.rules = rules
        self.clock = clock

    def deadlines(self, tracking_id: str, events: list[RecordedEvent]) -> ReportDeadlines:
        return derive(tracking_id, facts_of(events), self.rules.calendar, self.rules.policy)

    async def load(self, tracking_id: str) -> tuple[ReportState, list[RecordedEvent]]:
        state, events = await self.reports.load(tracking_id)
        if state is None:
            raise ReportNotFound("no such report")
        return state, events

    async def status(
        self, state: ReportState, events: list[RecordedEvent], now: datetime | None = None
    ) -> EscalationStatus:
        """For the report page and the SMS reply: may the reporter escalate, or from when."""
        directory = await self.directory.get()
        office = ombudsman_office(directory, state.region_code)
        if state.escalated:
            return EscalationStatus(True, False, None, "escalated already", office.name)
        eligibility: Eligibility = self.deadlines(state.tracking_id, events).escalation_eligibility(
            now or self.clock.now()
        )
        return EscalationStatus(
            False, eligibility.eligible, eligibility.opens_on, eligibility.reason, office.name
        )

    async def escalate(
        self, state: ReportState, events: list[RecordedEvent], correlation_id: str
    ) -> Escalated:
        """Escalate (the caller has checked that the reporter asks); `EscalationNotOpen` names
        the day it opens. A report escalated before answers with that escalation."""
        tracking_id = state.tracking_id
        directory = await self.directory.get()
        if state.escalated:
            return self._found(tracking_id, events)
        plan = plan_escalation(
            state,
            self.deadlines(tracking_id, events),
            directory,
            self.clock.now(),
            # What the reporter saw when asking; an event the system appends before the
            # escalation (a breach at the same moment) is not covered (see the evidence pack).
            trail_digest([e.stored_form() for e in events]),
        )
        done = await self.reports.run(
            tracking_id,
            plan.command,
            Meta(
                actor=reporter_actor(state),
                correlation_id=correlation_id,
                idempotency_key=escalation_key(tracking_id),
            ),
        )
        if not done.events:  # escalated meanwhile by another request
            state, events = await self.load(tracking_id)
            return self._found(tracking_id, events)
        event = next(e for e in done.events if e.event_type == "EscalatedToOmbudsman")
        return Escalated(
            tracking_id=tracking_id,
            # Another request under the same key may have stored it a moment before this one
            # appended: then this caller is told it was escalated already.
            new=done.appended,
            ombudsman_office=event.data.get("ombudsman_office"),
            ombudsman_office_name=plan.office.name,
            province_code=event.data.get("province_code"),
            evidence_sha256=event.data.get("evidence_sha256"),
            escalated_at=event.occurred_at,
            position=event.position,
        )

    def _found(self, tracking_id: str, events: list[RecordedEvent]) -> Escalated:
        done = next(e for e in events if e.event_type == "EscalatedToOmbudsman")
        office = done.data.get("ombudsman_office")
        known = self.directory.current.find(office) if office else None
        return Escalated(
            tracking_id=tracking_id,
            new=False,
            ombudsman_office=office,
            ombudsman_office_name=known.name if known else None,
            province_code=done.data.get("province_code"),
            evidence_sha256=done.data.get("evidence_sha256"),
            escalated_at=done.occurred_at,
            position=done.position,
        )
