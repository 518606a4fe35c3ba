"""The SLA rules as a story of events and days: pure, no I/O, no clock.

Every date here was counted by hand against the 2026/2027 calendar: Lebaran 2026 is 18–24 March
(Nyepi, Idul Fitri and their cuti bersama), the year end is 24–25 December 2026, 1 January and
5 January 2027 (Isra Mikraj).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import WIB, WIT, WITA, WorkingDayCalendar
from shared.events.base import DomainEvent
from shared.reports.commands import CloseReport, RecordBreach, RecordDueSoon, RemindCompletion
from shared.reports.deadlines import Action, ReportDeadlines, Stage, State, Status, derive
from shared.reports.events import (
    AdministratorReplied,
    Classification,
    CloseReason,
    CompletionReminded,
    EscalatedToOmbudsman,
    EscalationGrounds,
    FollowUpKind,
    FollowUpPosted,
    ForwardedToOPD,
    Location,
    RejectionReason,
    ReportAmended,
    ReportClosed,
    ReportCompletionRequested,
    ReportDelegated,
    ReporterReplied,
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
)
from shared.reports.facts import Fact, fact_of
from shared.reports.policy import DEFAULT_POLICY, SlaPolicy
from shared.values import Channel

CAL = WorkingDayCalendar.default()
TID = "ABCDEFGH2K"
JAKARTA = "3171"  # WIB
KUPANG = "5371"  # WITA
JAYAPURA = "9171"  # WIT
AGENCY = "DINKES-KOTA-KUPANG"
OTHER = "DISHUB-KOTA-KUPANG"


def at(day: str, hh: int = 10, mm: int = 0, zone: tzinfo = WIB) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hh, mm), zone).astimezone(UTC)


def end_of(day: str, zone: tzinfo = WIB) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.max, zone)


def start_of(day: str, zone: tzinfo = WIB) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.min, zone)


def submitted(region: str | None = JAKARTA) -> ReportSubmitted:
    return ReportSubmitted(
        tracking_id=TID,
        classification=Classification.COMPLAINT,
        title="Puskesmas tutup",
        body="Puskesmas tutup pada jam layanan.",
        location=Location(region_code=region),
        channel=Channel.WEB,
        access_code_hash="a" * 64,
    )


def verified(region: str | None = JAKARTA, field_inspection: bool = False) -> ReportVerified:
    return ReportVerified(
        classification=Classification.COMPLAINT,
        category="kesehatan",
        region_code=region,
        requires_field_inspection=field_inspection,
    )


def forwarded(due: str, agency: str = AGENCY) -> ForwardedToOPD:
    return ForwardedToOPD(
        agency_code=agency, agency_name=agency, follow_up_due=date.fromisoformat(due)
    )


def follow_up(kind: FollowUpKind = FollowUpKind.INTERIM, agency: str = AGENCY) -> FollowUpPosted:
    return FollowUpPosted(agency_code=agency, text="Sedang kami periksa.", kind=kind)


def facts(*steps: tuple[DomainEvent, datetime]) -> list[Fact]:
    found = [
        fact_of(event, version=i, at=when, event_id=f"e{i}", correlation_id="cid-1")
        for i, (event, when) in enumerate(steps, start=1)
    ]
    return [f for f in found if f is not None]


def report(
    *steps: tuple[DomainEvent, datetime], policy: SlaPolicy = DEFAULT_POLICY
) -> ReportDeadlines:
    return derive(TID, facts(*steps), CAL, policy)


def acts(r: ReportDeadlines, now: datetime) -> list[Action]:
    """What the ticker does at `now`, warnings aside (see the due-soon tests for those)."""
    return [a for a in r.due_actions(now) if a.kind != "due_soon"]


# --- verification -----------------------------------------------------------------------------
def test_verification_is_due_three_working_days_after_the_day_of_submission_across_lebaran() -> (
    None
):
    r = report((submitted(), at("2026-03-17", 9)))
    [v] = r.of_stage(Stage.VERIFICATION)
    # Day one is Wednesday 25 March: 18–24 March are Nyepi, Idul Fitri and cuti bersama.
    assert v.due == date(2026, 3, 27)
    assert v.deadline_end == end_of("2026-03-27")
    assert v.due_soon_from == start_of("2026-03-26")
    assert v.state(at("2026-03-25", 23, 59)) is State.PENDING
    assert v.state(start_of("2026-03-26")) is State.DUE_SOON
    assert v.state(end_of("2026-03-27")) is State.DUE_SOON
    assert acts(r, end_of("2026-03-27")) == []
    [warning] = r.due_actions(at("2026-03-26", 0, 1))  # the admins are warned the day before
    assert (warning.kind, warning.key) == ("due_soon", f"sla:duesoon:verification:{TID}:2026-03-27")
    assert v.state(start_of("2026-03-28")) is State.OVERDUE
    [action] = acts(r, start_of("2026-03-28"))
    assert action.kind == "breach" and action.stage is Stage.VERIFICATION
    assert action.key == f"sla:breach:verification:{TID}:2026-03-27:v1"
    assert action.due == date(2026, 3, 27)


@pytest.mark.parametrize(
    ("hour", "minute"),
    [(0, 0), (7, 0), (16, 59), (23, 59)],
    ids=["00:00", "07:00", "16:59", "23:59"],
)
def test_the_hour_of_the_event_does_not_matter(hour: int, minute: int) -> None:
    r = report((submitted(), at("2026-03-13", hour, minute)))  # a Friday
    # Mon 16, Tue 17, then Lebaran until Tue 24: the third working day is Wed 25 March.
    assert r.of_stage(Stage.VERIFICATION)[0].due == date(2026, 3, 25)


@pytest.mark.parametrize(
    ("region", "zone", "due"),
    [
        # 16 March 2026 16:30 UTC is 23:30 on Monday 16 March in Jakarta ...
        (JAKARTA, WIB, date(2026, 3, 26)),
        # ... but already Tuesday 17 March in Kupang and Jayapura.
        (KUPANG, WITA, date(2026, 3, 27)),
        (JAYAPURA, WIT, date(2026, 3, 27)),
    ],
)
def test_the_day_of_the_event_is_the_local_day_of_the_region(
    region: str, zone: tzinfo, due: date
) -> None:
    r = report((submitted(region), datetime(2026, 3, 16, 16, 30, tzinfo=UTC)))
    [v] = r.of_stage(Stage.VERIFICATION)
    assert v.due == due
    assert v.deadline_end == datetime.combine(due, time.max, zone)


def test_a_request_for_completion_pauses_verification_and_an_amendment_resumes_the_rest() -> None:
    r = report(
        (submitted(), at("2026-03-02")),  # Monday: due Thursday 5 March
        (ReportCompletionRequested(note="Foto?"), at("2026-03-03", 15)),  # used: Tue 3 = 1 day
        (ReportAmended(text="Foto terlampir"), at("2026-03-13", 8)),  # Friday
    )
    [v] = r.of_stage(Stage.VERIFICATION)
    assert v.status is Status.OPEN
    assert v.remaining_working_days == 2
    assert v.due == date(2026, 3, 17)  # Mon 16 (1), Tue 17 (2)
    paused = report(
        (submitted(), at("2026-03-02")),
        (ReportCompletionRequested(note="Foto?"), at("2026-03-03", 15)),
    )
    [p] = paused.of_stage(Stage.VERIFICATION)
    assert p.status is Status.PAUSED and p.due is None and p.deadline_end is None
    assert p.state(at("2027-01-01")) is State.PAUSED
    # while paused, only the completion request's own timers act: a reminder, then the closing
    assert {a.kind for a in paused.due_actions(at("2027-01-01"))} == {"remind", "close_incomplete"}


def test_an_amendment_during_lebaran_resumes_on_the_first_working_day_after_it() -> None:
    r = report(
        (submitted(), at("2026-03-16")),  # Monday
        (ReportCompletionRequested(note="Alamat?"), at("2026-03-17")),  # used 1
        (ReportAmended(text="Jl. Sudirman 1"), at("2026-03-19")),  # Nyepi
    )
    assert r.of_stage(Stage.VERIFICATION)[0].due == date(2026, 3, 26)  # Wed 25, Thu 26


def test_a_request_on_the_due_day_leaves_at_least_one_working_day_after_the_amendment() -> None:
    r = report(
        (submitted(), at("2026-03-02")),  # due Thursday 5 March
        (ReportCompletionRequested(note="Foto?"), at("2026-03-05", 16)),  # used all 3
        (ReportAmended(text="Foto"), at("2026-03-07", 9)),  # Saturday
    )
    [v] = r.of_stage(Stage.VERIFICATION)
    assert v.remaining_working_days == 1
    assert v.due == date(2026, 3, 9)  # Monday


def test_a_request_after_the_deadline_does_not_pause_a_missed_verification() -> None:
    r = report(
        (submitted(), at("2026-03-02")),
        (ReportCompletionRequested(note="Foto?"), at("2026-03-06", 9)),
        (ReportAmended(text="Foto"), at("2026-03-09", 9)),
    )
    [v] = r.of_stage(Stage.VERIFICATION)
    assert v.status is Status.OPEN and v.due == date(2026, 3, 5)
    assert [a.stage for a in acts(r, at("2026-03-09", 12))] == [Stage.VERIFICATION]


def test_pauses_chain() -> None:
    r = report(
        (submitted(), at("2026-03-02")),  # Mon
        (ReportCompletionRequested(note="1"), at("2026-03-03")),  # used 1, left 2
        (ReportAmended(text="a"), at("2026-03-04")),  # due Fri 6
        (ReportCompletionRequested(note="2"), at("2026-03-05")),  # used 1, left 1
        (ReportAmended(text="b"), at("2026-03-10")),  # due Wed 11
    )
    [v] = r.of_stage(Stage.VERIFICATION)
    assert (v.remaining_working_days, v.due) == (1, date(2026, 3, 11))


def test_verification_while_paused_or_in_time_is_met_and_late_is_breached_once() -> None:
    in_time = report(
        (submitted(), at("2026-03-02")),
        (ReportCompletionRequested(note="?"), at("2026-03-03")),
        (verified(), at("2026-04-30")),
    )
    v = in_time.of_stage(Stage.VERIFICATION)[0]
    assert v.state(at("2026-05-01")) is State.MET and in_time.due_actions(at("2026-05-01")) == []
    late = report((submitted(), at("2026-03-02")), (verified(), at("2026-03-06", 8)))
    lv = late.of_stage(Stage.VERIFICATION)[0]
    assert lv.state(at("2026-03-06", 9)) is State.MET_LATE
    [action] = late.due_actions(at("2026-03-06", 9))
    assert action.stage is Stage.VERIFICATION
    recorded = report(
        (submitted(), at("2026-03-02")),
        (verified(), at("2026-03-06", 8)),
        (SlaBreached(stage=SlaStage.VERIFICATION, due=date(2026, 3, 5)), at("2026-03-06", 9)),
    )
    assert recorded.of_stage(Stage.VERIFICATION)[0].breach_recorded
    assert recorded.due_actions(at("2026-12-31")) == []


# --- first follow-up --------------------------------------------------------------------------
def forwarded_report(*more: tuple[DomainEvent, datetime], region: str = JAKARTA) -> ReportDeadlines:
    return report(
        (submitted(region), at("2026-03-02")),
        (verified(region), at("2026-03-03")),
        (forwarded("2026-03-10"), at("2026-03-03", 11)),
        *more,
    )


def test_the_follow_up_deadline_is_the_date_routing_put_on_the_forwarding() -> None:
    r = forwarded_report()
    [f] = r.of_stage(Stage.FOLLOW_UP)
    assert (f.due, f.deadline_end, f.agency_code) == (
        date(2026, 3, 10),
        end_of("2026-03-10"),
        AGENCY,
    )
    assert f.due_soon_from == start_of("2026-03-09")
    met = forwarded_report((follow_up(), at("2026-03-10", 23, 59)))
    [m] = met.of_stage(Stage.FOLLOW_UP)
    assert m.state(at("2026-03-11")) is State.MET and m.working_days_taken == 5
    late = forwarded_report((follow_up(), at("2026-03-11", 0, 1)))
    assert late.of_stage(Stage.FOLLOW_UP)[0].state(at("2026-03-12")) is State.MET_LATE
    assert [a.stage for a in late.due_actions(at("2026-03-12"))] == [Stage.FOLLOW_UP]


def test_a_transfer_starts_a_new_follow_up_deadline_and_scope() -> None:
    transfer = ReportTransferred(
        from_agency=AGENCY, to_agency=OTHER, to_agency_name=OTHER, follow_up_due=date(2026, 3, 20)
    )
    r = forwarded_report(
        (SlaBreached(stage=SlaStage.FOLLOW_UP, due=date(2026, 3, 10)), at("2026-03-11", 0, 1)),
        (transfer, at("2026-03-12")),
    )
    first, second = r.of_stage(Stage.FOLLOW_UP)
    assert first.status is Status.CANCELLED and first.breach_recorded
    assert (second.agency_code, second.due, second.breach_recorded) == (
        OTHER,
        date(2026, 3, 20),
        False,
    )
    assert [
        (a.stage, a.agency_code) for a in acts(r, at("2026-03-21")) if a.stage is Stage.FOLLOW_UP
    ] == [(Stage.FOLLOW_UP, OTHER)]


def test_a_missed_deadline_learnt_only_after_a_transfer_is_not_pinned_on_the_new_institution() -> (
    None
):
    transfer = ReportTransferred(
        from_agency=AGENCY, to_agency=OTHER, to_agency_name=OTHER, follow_up_due=date(2026, 3, 20)
    )
    r = forwarded_report((transfer, at("2026-03-12")))
    first, _ = r.of_stage(Stage.FOLLOW_UP)
    assert first.late and not first.current_scope and first.planned_action is None
    assert r.due_actions(at("2026-03-13")) == []


def test_a_return_cancels_the_follow_up_deadline_and_a_new_forwarding_starts_one() -> None:
    r = forwarded_report(
        (ReportReturned(agency_code=AGENCY, reason="not_our_authority"), at("2026-03-04")),
        (forwarded("2026-03-13", OTHER), at("2026-03-06")),
    )
    first, second = r.of_stage(Stage.FOLLOW_UP)
    assert first.status is Status.CANCELLED and not first.late
    assert second.status is Status.OPEN and second.agency_code == OTHER
    assert acts(r, at("2026-03-13", 12)) == []


# --- resolution -------------------------------------------------------------------------------
def test_resolution_is_14_calendar_days_from_forwarding_or_60_with_field_inspection() -> None:
    r = report(
        (submitted(), at("2026-03-10")),
        (verified(), at("2026-03-11")),
        (forwarded("2026-03-26"), at("2026-03-16")),
    )
    [res] = r.of_stage(Stage.RESOLUTION)
    assert res.due == date(2026, 3, 30)  # 16 + 14 calendar days, holidays or not
    inspected = report(
        (submitted(), at("2026-03-10")),
        (verified(field_inspection=True), at("2026-03-11")),
        (forwarded("2026-03-26"), at("2026-03-16")),
    )
    assert inspected.of_stage(Stage.RESOLUTION)[0].due == date(2026, 5, 15)


def test_resolution_is_met_by_a_final_follow_up_or_a_closing_not_by_an_interim_one() -> None:
    base = [
        (submitted(), at("2026-03-02")),
        (verified(), at("2026-03-02")),
        (forwarded("2026-03-09"), at("2026-03-02")),
        (follow_up(), at("2026-03-03")),
    ]
    interim = report(*base)
    assert interim.of_stage(Stage.RESOLUTION)[0].status is Status.OPEN
    final = report(*base, (follow_up(FollowUpKind.FINAL), at("2026-03-10")))
    assert final.of_stage(Stage.RESOLUTION)[0].state(at("2026-04-01")) is State.MET
    closed = report(*base, (ReportClosed(reason=CloseReason.RESOLVED), at("2026-03-20")))
    assert closed.of_stage(Stage.RESOLUTION)[0].state(at("2026-04-01")) is State.MET_LATE
    assert [a.stage for a in closed.due_actions(at("2026-04-01"))] == [Stage.RESOLUTION]


def test_an_institution_policy_overrides_the_national_limits() -> None:
    policy = SlaPolicy.from_dict(
        {"agencies": {AGENCY: {"resolution": {"days": 10, "unit": "working"}, "auto_close": 5}}}
    )
    r = report(
        (submitted(), at("2026-03-10")),
        (verified(), at("2026-03-11")),
        (forwarded("2026-03-26"), at("2026-03-16")),
        (follow_up(FollowUpKind.FINAL), at("2026-03-17")),
        policy=policy,
    )
    # 17 Mar, then 25, 26, 27, 30, 31 Mar, 1, 2 Apr; 3 Apr is Good Friday; 6, 7 Apr.
    assert r.of_stage(Stage.RESOLUTION)[0].due == date(2026, 4, 7)
    assert r.of_stage(Stage.AUTO_CLOSE)[0].due == date(2026, 3, 31)


# --- auto-close -------------------------------------------------------------------------------
def year_end(*more: tuple[DomainEvent, datetime]) -> ReportDeadlines:
    return report(
        (submitted(), at("2026-12-14")),
        (verified(), at("2026-12-15")),
        (forwarded("2026-12-23"), at("2026-12-16")),
        (follow_up(FollowUpKind.FINAL), at("2026-12-23", 14)),
        *more,
    )


def test_auto_close_ten_working_days_after_the_final_answer_across_the_year_end() -> None:
    r = year_end()
    [a] = r.of_stage(Stage.AUTO_CLOSE)
    # 24, 25 Dec: cuti bersama and Christmas; 1 Jan: New Year; 5 Jan 2027: Isra Mikraj.
    assert a.due == date(2027, 1, 12)
    assert acts(r, end_of("2027-01-12")) == []  # the final answer met resolution in time
    [action] = [x for x in r.due_actions(start_of("2027-01-13")) if x.kind == "auto_close"]
    assert action.follow_up_at == at("2026-12-23", 14)
    assert action.key == f"sla:autoclose:{TID}:4"
    assert action.causation_id == "e4"


def test_only_a_final_answer_starts_auto_close() -> None:
    for kind in (FollowUpKind.INTERIM, FollowUpKind.QUESTION):
        r = report(
            (submitted(), at("2026-12-14")),
            (verified(), at("2026-12-15")),
            (forwarded("2026-12-23"), at("2026-12-16")),
            (follow_up(kind), at("2026-12-23", 14)),
        )
        assert r.of_stage(Stage.AUTO_CLOSE) == []
        assert [x for x in r.due_actions(at("2027-06-01")) if x.kind == "auto_close"] == []


@pytest.mark.parametrize(
    "reply", [ReporterReplied(text="Belum beres"), AdministratorReplied(text="Mohon dicek")]
)
def test_a_reply_restarts_auto_close_and_a_later_answer_that_is_not_final_stops_it(
    reply: DomainEvent,
) -> None:
    replied = year_end((reply, at("2027-01-05")))
    first, second = replied.of_stage(Stage.AUTO_CLOSE)
    assert first.status is Status.CANCELLED
    # 5 Jan is Isra Mikraj: day one is 6 Jan, the tenth working day 19 Jan.
    assert second.status is Status.OPEN and second.due == date(2027, 1, 19)
    assert second.planned_action is not None
    assert second.planned_action.key == f"sla:autoclose:{TID}:5"
    assert second.planned_action.follow_up_at == at("2027-01-05")
    asked = year_end(
        (reply, at("2027-01-05")), (follow_up(FollowUpKind.QUESTION), at("2027-01-06"))
    )
    assert all(d.status is Status.CANCELLED for d in asked.of_stage(Stage.AUTO_CLOSE))
    answered = year_end(
        (reply, at("2027-01-05")),
        (follow_up(FollowUpKind.QUESTION), at("2027-01-06")),
        (follow_up(FollowUpKind.FINAL), at("2027-01-07")),
    )
    assert answered.of_stage(Stage.AUTO_CLOSE)[-1].due == date(2027, 1, 21)


def test_closing_for_no_response_ends_auto_close() -> None:
    r = year_end((ReportClosed(reason=CloseReason.NO_RESPONSE), at("2027-01-13", 0, 1)))
    assert r.of_stage(Stage.AUTO_CLOSE)[0].state(at("2027-02-01")) is State.CLOSED
    assert [x for x in r.due_actions(at("2027-02-01")) if x.kind == "auto_close"] == []


# --- escalation -------------------------------------------------------------------------------
@pytest.mark.parametrize("stuck", ["unverified", "returned", "with the institution"])
def test_escalation_60_working_days_after_submission_without_a_final_answer(stuck: str) -> None:
    """Wherever the report is stuck; counted from the Sunday it was sent (day one Monday)."""
    steps: list[tuple[DomainEvent, datetime]] = [(submitted(KUPANG), at("2026-03-01", zone=WITA))]
    if stuck != "unverified":
        steps += [
            (verified(KUPANG), at("2026-03-02", zone=WITA)),
            (forwarded("2026-03-09"), at("2026-03-02", zone=WITA)),
            (follow_up(FollowUpKind.INTERIM), at("2026-03-03", zone=WITA)),
        ]
    if stuck == "returned":
        steps.append((ReportReturned(agency_code=AGENCY, reason="x"), at("2026-03-04", zone=WITA)))
    r = report(*steps)
    e = r.escalation
    assert e is not None and e.due == date(2026, 6, 9)
    early = r.escalation_eligibility(end_of("2026-06-09", WITA))
    assert not early.eligible and early.opens_on == date(2026, 6, 10)
    assert early.eligible_from == start_of("2026-06-10", WITA)
    assert "2026-06-10" in early.reason
    open_ = r.escalation_eligibility(start_of("2026-06-10", WITA))
    assert open_.eligible and open_.grounds is EscalationGrounds.NO_FINAL_ANSWER


def test_no_escalation_once_there_was_a_follow_up_or_it_was_escalated_or_returned() -> None:
    base = [
        (submitted(), at("2026-03-01")),
        (verified(), at("2026-03-02")),
        (forwarded("2026-03-09"), at("2026-03-02")),
    ]
    late = at("2026-12-01")
    answered = report(*base, (follow_up(FollowUpKind.FINAL), at("2026-06-30")))
    assert answered.escalation_eligibility(late).reason == (
        "the institution has given its final answer"
    )
    interim = report(*base, (follow_up(FollowUpKind.INTERIM), at("2026-06-30")))
    assert interim.escalation_eligibility(late).eligible  # "akan kami cek" changes nothing
    rejected = report(*base[:1], (ReportRejected(reason=RejectionReason.SPAM), at("2026-03-02")))
    assert not rejected.escalation_eligibility(late).eligible
    escalated = report(
        *base,
        (
            EscalatedToOmbudsman(ombudsman_office="OMBUDSMAN-31", province_code="31"),
            at("2026-07-01"),
        ),
    )
    assert escalated.escalation is not None
    assert escalated.escalation.state(late) is State.ESCALATED
    assert not escalated.escalation_eligibility(late).eligible


# --- region, reopening, idempotency ------------------------------------------------------------
def test_a_referral_recounts_the_deadlines_in_the_new_region() -> None:
    r = report(
        (submitted(JAKARTA), datetime(2026, 3, 16, 16, 30, tzinfo=UTC)),
        (ReportReferred(to_region=KUPANG), at("2026-03-17")),
    )
    [v] = r.of_stage(Stage.VERIFICATION)
    assert (v.due, v.deadline_end) == (date(2026, 3, 27), end_of("2026-03-27", WITA))


def test_a_reopened_report_gets_a_new_follow_up_deadline() -> None:
    r = report(
        (submitted(), at("2026-03-02")),
        (verified(), at("2026-03-02")),
        (forwarded("2026-03-09"), at("2026-03-02")),
        (follow_up(FollowUpKind.FINAL), at("2026-03-03")),
        (ReportClosed(reason=CloseReason.RESOLVED), at("2026-03-04")),
        (ReportReopened(reason="low_rating", agency_code=AGENCY), at("2026-03-16")),
    )
    first, second = r.of_stage(Stage.FOLLOW_UP)
    assert first.status is Status.MET
    # 5 working days after Mon 16 March: 17, 25, 26, 27, 30 March.
    assert second.status is Status.OPEN and second.due == date(2026, 3, 30)
    assert r.status == "forwarded"
    # and its completion clock and escalation start again: 5 working days without a final answer
    assert r.of_stage(Stage.RESOLUTION)[-1].status is Status.OPEN
    assert r.escalation is not None and r.escalation.due == date(2026, 3, 30)
    reopened = r.escalation_eligibility(start_of("2026-03-31"))
    assert reopened.eligible and reopened.grounds is EscalationGrounds.REOPENED_WITHOUT_ANSWER


def test_derivation_ignores_repeated_and_reordered_facts() -> None:
    steps = facts(
        (submitted(), at("2026-03-02")),
        (verified(), at("2026-03-02")),
        (forwarded("2026-03-09"), at("2026-03-02")),
        (follow_up(), at("2026-03-03")),
    )
    once = derive(TID, steps, CAL, DEFAULT_POLICY)
    assert derive(TID, [*reversed(steps), *steps], CAL, DEFAULT_POLICY) == once


@settings(max_examples=300, deadline=None)
@given(
    submitted_on=st.dates(date(2026, 1, 1), date(2027, 11, 30)),
    request_after=st.integers(0, 10),
    amend_after=st.integers(0, 40),
)
def test_a_pause_never_changes_the_working_days_the_admins_get(
    submitted_on: date, request_after: int, amend_after: int
) -> None:
    """Working days before the request + working days after the amendment = the limit (3),
    or one more than were used when the request came on the due day."""
    requested_on = submitted_on + timedelta(days=request_after)
    amended_on = requested_on + timedelta(days=amend_after)
    r = report(
        (submitted(), at(submitted_on.isoformat())),
        (ReportCompletionRequested(note="?"), at(requested_on.isoformat())),
        (ReportAmended(text="!"), at(amended_on.isoformat())),
    )
    [v] = r.of_stage(Stage.VERIFICATION)
    assert v.due is not None
    original_due = CAL.add_working_days(submitted_on, 3, JAKARTA)
    if requested_on > original_due:
        assert v.due == original_due  # too late to pause
        return
    used = CAL.working_days_between(submitted_on, requested_on, JAKARTA)
    after = CAL.working_days_between(amended_on, v.due, JAKARTA)
    assert used + after == max(3, used + 1)
    assert CAL.is_working_day(v.due, JAKARTA)


# --- issue 16: answers that count, nothing stranded ----------------------------------------------
def test_a_question_meets_no_deadline_an_interim_answer_meets_the_first_one() -> None:
    base = [
        (submitted(), at("2026-03-02")),
        (verified(), at("2026-03-02")),
        (forwarded("2026-03-09"), at("2026-03-02")),
    ]
    asked = report(*base, (follow_up(FollowUpKind.QUESTION), at("2026-03-03")))
    [first] = asked.of_stage(Stage.FOLLOW_UP)
    assert first.status is Status.OPEN  # "Anak Anda umur berapa?" answers nothing
    assert [a.stage for a in acts(asked, at("2026-03-10"))] == [Stage.FOLLOW_UP]
    interim = report(*base, (follow_up(FollowUpKind.INTERIM), at("2026-03-03")))
    assert interim.of_stage(Stage.FOLLOW_UP)[0].status is Status.MET
    # "akan kami cek" starts nothing else: the completion clock still runs
    assert interim.of_stage(Stage.RESOLUTION)[0].status is Status.OPEN
    assert interim.of_stage(Stage.AUTO_CLOSE) == []


def test_a_delegation_keeps_the_deadline_running_for_the_unit() -> None:
    delegated = ReportDelegated(
        from_agency=AGENCY, to_agency="PUSKESMAS-OEBOBO", to_agency_name="Puskesmas Oebobo"
    )
    r = report(
        (submitted(), at("2026-03-02")),
        (verified(), at("2026-03-02")),
        (forwarded("2026-03-09"), at("2026-03-02")),
        (delegated, at("2026-03-04")),
    )
    [deadline] = r.of_stage(Stage.FOLLOW_UP)
    assert deadline.status is Status.OPEN and deadline.due == date(2026, 3, 9)
    assert r.agency_code == "PUSKESMAS-OEBOBO"


def test_a_returned_report_must_be_forwarded_again_within_three_working_days() -> None:
    base = [
        (submitted(), at("2026-03-02")),
        (verified(), at("2026-03-02")),
        (forwarded("2026-03-09"), at("2026-03-02")),
        (ReportReturned(agency_code=AGENCY, reason="bukan kewenangan"), at("2026-03-04")),
    ]
    r = report(*base)
    [reforward] = r.of_stage(Stage.REFORWARD)
    assert reforward.due == date(2026, 3, 9)  # Thu 5, Fri 6, Mon 9
    assert [a.kind for a in r.due_actions(at("2026-03-09", 0, 1))] == ["due_soon"]
    [breach] = acts(r, at("2026-03-10", 0, 1))
    assert (breach.stage, breach.command()) == (
        Stage.REFORWARD,
        RecordBreach(stage=SlaStage.REFORWARD, due=date(2026, 3, 9)),
    )
    again = report(*base, (forwarded("2026-03-13", OTHER), at("2026-03-06")))
    assert again.of_stage(Stage.REFORWARD)[0].status is Status.MET
    assert acts(again, at("2026-03-10", 0, 1)) == []


def test_a_returned_report_sent_up_is_the_receiving_desks_to_forward_within_three_days() -> None:
    """The referral meets the referring desk's re-forward deadline (it decided) and the desk that
    receives the report has its own 3 working days, counted in its calendar; found: the referral
    ended the only deadline and the returned report sat at the national desk with none."""
    returned = [
        (submitted(KUPANG), at("2026-03-02", zone=WITA)),
        (verified(KUPANG), at("2026-03-02", zone=WITA)),
        (forwarded("2026-03-09"), at("2026-03-02", zone=WITA)),
        (ReportReturned(agency_code=AGENCY, reason="x"), at("2026-03-04", zone=WITA)),
    ]
    r = report(*returned, (ReportReferred(to_region=None, note="Urusan pusat"), at("2026-03-06")))
    first, second = r.of_stage(Stage.REFORWARD)
    assert first.status is Status.MET and first.late is False
    assert second.status is Status.OPEN and second.start.event_type == "ReportReferred"
    # Fri 6 March at the national desk (WIB): Mon 9, Tue 10, Wed 11.
    assert (second.due, second.deadline_end) == (date(2026, 3, 11), end_of("2026-03-11", WIB))
    assert [a.kind for a in r.due_actions(at("2026-03-11", 0, 1))] == ["due_soon"]
    [breach] = acts(r, at("2026-03-12", 0, 1))
    assert breach.command() == RecordBreach(stage=SlaStage.REFORWARD, due=date(2026, 3, 11))
    # The national desk forwards it: its deadline is met, the institution's clock starts.
    on = report(
        *returned,
        (ReportReferred(to_region=None), at("2026-03-06")),
        (forwarded("2026-03-17", OTHER), at("2026-03-10")),
    )
    assert [d.status for d in on.of_stage(Stage.REFORWARD)] == [Status.MET, Status.MET]
    assert on.of_stage(Stage.FOLLOW_UP)[-1].status is Status.OPEN
    assert acts(on, at("2026-03-12", 0, 1)) == []


def test_a_late_referral_is_the_referring_desks_breach_not_the_receiving_desks() -> None:
    returned = [
        (submitted(), at("2026-03-02")),
        (verified(), at("2026-03-02")),
        (forwarded("2026-03-09"), at("2026-03-02")),
        (ReportReturned(agency_code=AGENCY, reason="bukan kewenangan"), at("2026-03-04")),
        (SlaBreached(stage=SlaStage.REFORWARD, due=date(2026, 3, 9)), at("2026-03-10", 0, 1)),
        (ReportReferred(to_region=KUPANG), at("2026-03-11")),
    ]
    r = report(*returned)
    first, second = r.of_stage(Stage.REFORWARD)
    assert first.breach_recorded and first.late
    # The receiving desk's own deadline can be breached in its turn (Thu 12, Fri 13, Mon 16).
    assert not second.breach_recorded and second.due == date(2026, 3, 16)
    [breach] = [a for a in acts(r, at("2026-03-17", 0, 1, WITA)) if a.stage is Stage.REFORWARD]
    assert breach.command() == RecordBreach(stage=SlaStage.REFORWARD, due=date(2026, 3, 16))


def test_a_completion_request_reminds_after_5_and_closes_after_10_working_days() -> None:
    requested = (ReportCompletionRequested(note="Foto lokasi?"), at("2026-03-03"))
    r = report((submitted(), at("2026-03-02")), requested)
    [reminder] = r.of_stage(Stage.COMPLETION_REMINDER)
    [expiry] = r.of_stage(Stage.COMPLETION_EXPIRY)
    assert (reminder.due, expiry.due) == (date(2026, 3, 10), date(2026, 3, 17))
    [remind] = acts(r, at("2026-03-11", 0, 1))
    assert remind.command() == RemindCompletion(closes_on=date(2026, 3, 17))
    reminded = report(
        (submitted(), at("2026-03-02")),
        requested,
        (CompletionReminded(closes_on=expiry.due), at("2026-03-11")),
    )
    assert acts(reminded, at("2026-03-17", 12)) == []
    [close] = acts(reminded, at("2026-03-18", 0, 1))
    assert close.command() == CloseReport(reason=CloseReason.INCOMPLETE)
    answered = report(
        (submitted(), at("2026-03-02")),
        requested,
        (ReportAmended(text="Ini fotonya"), at("2026-03-12")),
    )
    assert answered.of_stage(Stage.COMPLETION_EXPIRY)[0].status is Status.MET
    assert [a for a in acts(answered, at("2026-04-01")) if a.kind != "breach"] == []


def test_the_institution_is_warned_the_day_before_its_first_answer_is_due_once() -> None:
    base = [
        (submitted(), at("2026-03-02")),
        (verified(), at("2026-03-02")),
        (forwarded("2026-03-09"), at("2026-03-02")),
    ]
    [warning] = report(*base).due_actions(at("2026-03-06", 0, 1))
    assert warning.kind == "due_soon" and warning.command() == RecordDueSoon(
        stage=SlaStage.FOLLOW_UP, due=date(2026, 3, 9)
    )
    warned = report(
        *base, (SlaDueSoon(stage=SlaStage.FOLLOW_UP, due=date(2026, 3, 9)), at("2026-03-06"))
    )
    assert warned.due_actions(at("2026-03-06", 12)) == []


def test_no_warning_that_a_deadline_is_due_soon_once_it_has_passed() -> None:
    """A ticker that first runs after the deadline (the service was down, the clock jumped)
    records the breach only: telling people a day late that it is due tomorrow would mislead."""
    r = report((submitted(), at("2026-03-17", 9)))
    assert [a.kind for a in r.due_actions(end_of("2026-03-27"))] == ["due_soon"]
    assert [a.kind for a in r.due_actions(start_of("2026-03-28"))] == ["breach"]
