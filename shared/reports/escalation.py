"""Escalating a report to the Ombudsman RI, the pure part every channel shares: when it is open
(the deadline calculator decides), which office receives it (the directory decides: the office of
the report's province, else the national one), and the command that records it.

The web page and SMS (intake) and the JSON API (sla) run the same use case
(`shared.runtime.escalation`) with the same idempotency key, so a reporter who escalates twice,
on two channels, escalates once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from shared.calendar import WorkingDayCalendar
from shared.directory.model import Directory, Institution, province_code
from shared.reports.commands import EscalateToOmbudsman
from shared.reports.deadlines import Eligibility, ReportDeadlines, derive
from shared.reports.facts import Fact
from shared.reports.lifecycle import ReportState
from shared.reports.policy import SlaPolicy


def escalation_key(tracking_id: str) -> str:
    """The idempotency key of a report's escalation, whichever channel asks."""
    return f"sla:escalate:{tracking_id}"


def ombudsman_office(directory: Directory, region_code: str | None) -> Institution:
    """The Ombudsman RI office that receives a report of `region_code`: its province's
    representative office (Perwakilan), else the national office."""
    return directory.ombudsman_office_for(region_code)


@dataclass(frozen=True)
class EscalationPlan:
    """What an escalation asked at `now` would do: the command (refused by the domain when
    escalation is not open) and the office it goes to."""

    eligibility: Eligibility
    office: Institution
    command: EscalateToOmbudsman

    @property
    def opens_on(self) -> date | None:
        return self.eligibility.opens_on


def plan_escalation(
    state: ReportState,
    deadlines: ReportDeadlines,
    directory: Directory,
    now: datetime,
    evidence_sha256: str | None,
) -> EscalationPlan:
    """The escalation of `state` at `now`; `evidence_sha256`: the digest of the trail the
    reporter escalates with (``shared.store.chain.trail_digest``)."""
    eligibility = deadlines.escalation_eligibility(now)
    office = ombudsman_office(directory, state.region_code)
    return EscalationPlan(
        eligibility=eligibility,
        office=office,
        command=EscalateToOmbudsman(
            ombudsman_office=office.code,
            province_code=province_code(state.region_code),
            eligible=eligibility.eligible,
            opens_on=eligibility.opens_on,
            grounds=eligibility.grounds,
            evidence_sha256=evidence_sha256,
            reason=None if eligibility.eligible else eligibility.reason,
            eligible_from=eligibility.eligible_from,
        ),
    )


def escalation_opens_on(
    tracking_id: str,
    facts: Iterable[Fact],
    calendar: WorkingDayCalendar,
    policy: SlaPolicy,
    now: datetime,
) -> date | None:
    """From which day the reporter may escalate to the Ombudsman (today's date or earlier when
    it is open already); None when it is not a matter of time (a final answer was given, the
    report is finished or escalated). What every notice that names the Ombudsman says."""
    return derive(tracking_id, facts, calendar, policy).escalation_eligibility(now).opens_on
