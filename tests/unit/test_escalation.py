"""Escalating to the Ombudsman, the pure part every channel shares (shared/reports/escalation.py):
open 60 working days after the report without a final answer wherever it is stuck, to the office
of the report's province, refused before with the day it opens."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from shared.calendar import WorkingDayCalendar
from shared.directory.model import default_directory
from shared.errors import DomainError
from shared.events.base import DomainEvent
from shared.reports.deadlines import derive
from shared.reports.escalation import escalation_key, escalation_opens_on, plan_escalation
from shared.reports.events import EscalatedToOmbudsman, EscalationGrounds, FollowUpKind, Status
from shared.reports.facts import Fact, fact_of
from shared.reports.lifecycle import EscalationNotOpen, decide
from shared.reports.policy import DEFAULT_POLICY
from tests.builders import HISTORIES, T0, TRACKING_ID, fold_at, followed_up

CAL = WorkingDayCalendar.default()


def facts(events: list[DomainEvent]) -> list[Fact]:
    found = [
        fact_of(e, version=i + 1, at=T0 + timedelta(hours=i), event_id=str(i), correlation_id="c")
        for i, e in enumerate(events)
    ]
    return [f for f in found if f is not None]


OPENS = CAL.add_working_days(date(2026, 3, 2), 60, "5371") + timedelta(days=1)


@pytest.mark.parametrize(
    "status", [Status.SUBMITTED, Status.COMPLETION_REQUESTED, Status.RETURNED, Status.FORWARDED]
)
def test_wherever_the_report_is_stuck_it_opens_60_working_days_after_submission(
    status: Status,
) -> None:
    events = HISTORIES[status]
    state = fold_at(events)
    assert state is not None
    before = datetime.combine(OPENS - timedelta(days=1), datetime.min.time(), T0.tzinfo)
    assert escalation_opens_on(TRACKING_ID, facts(events), CAL, DEFAULT_POLICY, before) == OPENS
    deadlines = derive(TRACKING_ID, facts(events), CAL, DEFAULT_POLICY)
    early = plan_escalation(state, deadlines, default_directory(), before, "d" * 64)
    with pytest.raises(EscalationNotOpen) as refused:
        decide(state, early.command)
    assert refused.value.opens_on == OPENS and OPENS.isoformat() in str(refused.value)
    later = datetime.combine(OPENS, datetime.min.time(), T0.tzinfo) + timedelta(hours=9)
    plan = plan_escalation(state, deadlines, default_directory(), later, "d" * 64)
    [event] = decide(state, plan.command)
    assert isinstance(event, EscalatedToOmbudsman)
    assert (event.ombudsman_office, event.province_code, event.grounds) == (
        "OMBUDSMAN-53",
        "53",
        EscalationGrounds.NO_FINAL_ANSWER,
    )
    assert plan.office.name == "Ombudsman RI Perwakilan Nusa Tenggara Timur"


def test_a_final_answer_closes_the_way_and_says_why() -> None:
    events = [*HISTORIES[Status.FORWARDED], followed_up(kind=FollowUpKind.FINAL)]
    state = fold_at(events)
    assert state is not None
    later = T0 + timedelta(days=200)
    assert escalation_opens_on(TRACKING_ID, facts(events), CAL, DEFAULT_POLICY, later) is None
    plan = plan_escalation(
        state,
        derive(TRACKING_ID, facts(events), CAL, DEFAULT_POLICY),
        default_directory(),
        later,
        None,
    )
    with pytest.raises(DomainError, match="final answer"):
        decide(state, plan.command)


def test_a_province_without_its_own_office_goes_to_the_national_ombudsman() -> None:
    directory = default_directory()
    # Papua Selatan (a province since 2022) has no office of its own yet
    assert directory.ombudsman_office_for("9301").code == "OMBUDSMAN"
    assert directory.ombudsman_office_for(None).code == "OMBUDSMAN"
    assert directory.ombudsman_office_for("3171").code == "OMBUDSMAN-31"
    assert directory.ombudsman_office_for("3572").code == "OMBUDSMAN-35"
    assert escalation_key(TRACKING_ID) == f"sla:escalate:{TRACKING_ID}"
