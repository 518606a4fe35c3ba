"""The report aggregate: decide and evolve, told as tables and stories.

The table below is the lifecycle of DESIGN.md §2: every command against every status. Allowed
transitions produce the listed events; a repeat of a command that took effect produces none;
the rest raise a DomainError (mostly InvalidTransition).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.errors import DomainError, InvalidInput
from shared.events.base import DomainEvent
from shared.reports.audience import readable_after_handing_on
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
from shared.reports.lifecycle import (
    REOPEN_WINDOW,
    TRANSITIONS,
    EscalationNotOpen,
    InvalidTransition,
    NotYourReport,
    ReportNotFound,
    ReportState,
    TrackingIdTaken,
    decide,
    evolve,
)
from shared.runtime.repository import same_request
from shared.values import Attachment
from tests.builders import (
    ACCESS_HASH,
    AGENCY,
    OTHER_AGENCY,
    REGION,
    T0,
    TRACKING_ID,
    apply,
    fold_at,
    followed_up,
    forwarded,
    state_in,
    submit_command,
    submitted,
    verified,
)

S = Status
NOTHING: tuple[type[DomainEvent], ...] = ()
LATER = T0 + timedelta(days=1)  # "now" for commands that carry it: a day after every history


@dataclass(frozen=True)
class Row:
    """One command against every status: `allowed` maps a status to its outcome, the rest raise."""

    command: Command
    allowed: dict[Status, tuple[type[DomainEvent], ...] | type[Exception]]
    otherwise: type[Exception] = InvalidTransition
    leads_to: Status | None = None  # status after the events (None: unchanged)
    message: bool = False  # a message (amend, follow-up, reply): each one is new, see below


WITH_AGENCY = (S.FORWARDED, S.FOLLOWED_UP)
VERIFIED_ONWARDS = (S.VERIFIED, S.FORWARDED, S.RETURNED, S.FOLLOWED_UP)
NOT_ENDED = tuple(s for s in Status if s not in (S.CLOSED, S.REJECTED))

TABLE: dict[str, Row] = {
    "submit again": Row(submit_command(), dict.fromkeys(Status, NOTHING)),
    "request completion": Row(
        RequestCompletion(note="Mohon lampirkan foto lokasi"),
        {S.SUBMITTED: (ReportCompletionRequested,), S.COMPLETION_REQUESTED: NOTHING},
        leads_to=S.COMPLETION_REQUESTED,
    ),
    "amend": Row(
        AmendReport(text="Foto terlampir"),
        {S.SUBMITTED: (ReportAmended,), S.COMPLETION_REQUESTED: (ReportAmended,)},
        leads_to=S.SUBMITTED,
        message=True,
    ),
    "verify": Row(
        VerifyReport(),
        {
            S.SUBMITTED: (ReportVerified,),
            S.COMPLETION_REQUESTED: (ReportVerified,),
            # verified already (a double click, a redelivery): nothing new
            **dict.fromkeys(VERIFIED_ONWARDS, NOTHING),
        },
        leads_to=S.VERIFIED,
    ),
    "reject": Row(
        RejectReport(reason=RejectionReason.SPAM),
        {
            S.SUBMITTED: (ReportRejected,),
            S.COMPLETION_REQUESTED: (ReportRejected,),
            S.RETURNED: (ReportRejected,),  # back with the administrators
            S.REJECTED: NOTHING,
        },
        leads_to=S.REJECTED,
    ),
    "postpone": Row(
        PostponeReport(until=date(2026, 4, 1)),
        {S.SUBMITTED: (ReportPostponed,), S.COMPLETION_REQUESTED: (ReportPostponed,)},
    ),
    "refer (not our authority)": Row(
        ReferReport(to_region="5301", note="Kabupaten Kupang, bukan Kota"),
        {
            S.SUBMITTED: (ReportReferred,),
            S.COMPLETION_REQUESTED: (ReportReferred,),
            S.RETURNED: (ReportReferred,),
        },
    ),
    "change protection": Row(
        ChangeProtection(confidential=True),
        dict.fromkeys(NOT_ENDED, (ProtectionChanged,)),
    ),
    "forward": Row(
        ForwardReport(
            agency_code=AGENCY, agency_name="Dinas Kesehatan", follow_up_due=date(2026, 3, 9)
        ),
        {
            S.VERIFIED: (ForwardedToOPD,),
            S.RETURNED: (ForwardedToOPD,),
            **dict.fromkeys(WITH_AGENCY, NOTHING),  # with that agency already
        },
        leads_to=S.FORWARDED,
    ),
    "return": Row(
        ReturnReport(agency_code=AGENCY, reason="not_our_authority"),
        {S.FORWARDED: (ReportReturned,), S.RETURNED: NOTHING},
        leads_to=S.RETURNED,
    ),
    "transfer": Row(
        TransferReport(
            from_agency=AGENCY,
            to_agency=OTHER_AGENCY,
            to_agency_name="Dinas Perhubungan",
            follow_up_due=date(2026, 3, 10),
        ),
        {S.FORWARDED: (ReportTransferred,)},
    ),
    "follow up": Row(
        PostFollowUp(agency_code=AGENCY, text="Sudah kami tambal."),
        dict.fromkeys(WITH_AGENCY, (FollowUpPosted,)),
        leads_to=S.FOLLOWED_UP,
        message=True,
    ),
    "reply as reporter": Row(
        ReplyAsReporter(text="Belum, lubangnya masih ada."),
        {S.FOLLOWED_UP: (ReporterReplied,)},
        message=True,
    ),
    "close (resolved)": Row(
        CloseReport(reason=CloseReason.RESOLVED),
        {**dict.fromkeys(VERIFIED_ONWARDS, (ReportClosed,)), S.CLOSED: NOTHING},
        leads_to=S.CLOSED,
    ),
    "close (by reporter)": Row(
        CloseReport(reason=CloseReason.BY_REPORTER),
        {**dict.fromkeys(VERIFIED_ONWARDS, (ReportClosed,)), S.CLOSED: NOTHING},
        leads_to=S.CLOSED,
    ),
    # sla's auto-close: a stale timer on any other status changes nothing (never an error).
    "close (no response)": Row(
        CloseReport(reason=CloseReason.NO_RESPONSE),
        {**dict.fromkeys(Status, NOTHING), S.FOLLOWED_UP: (ReportClosed,)},
        leads_to=S.CLOSED,
    ),
    "rate": Row(
        RateReport(rating=4, now=LATER),
        {S.CLOSED: (ReportRated,)},
    ),
    "record a breach": Row(
        RecordBreach(stage=SlaStage.VERIFICATION, due=date(2026, 3, 5)),
        dict.fromkeys(Status, (SlaBreached,)),
    ),
    # wherever the report is stuck, once sla says escalation is open
    "escalate to the Ombudsman": Row(
        EscalateToOmbudsman(ombudsman_office="NTT", province_code="53", eligible=True),
        dict.fromkeys(NOT_ENDED, (EscalatedToOmbudsman,)),
    ),
    "delegate to a unit": Row(
        DelegateReport(
            from_agency=AGENCY, to_agency="PUSKESMAS-OEBOBO", to_agency_name="Puskesmas Oebobo"
        ),
        dict.fromkeys(WITH_AGENCY, (ReportDelegated,)),
    ),
    "reply as administrator": Row(
        ReplyAsAdministrator(text="Mohon pelapor menanggapi."),
        {S.FOLLOWED_UP: (AdministratorReplied,)},
        message=True,
    ),
    "set the public text": Row(
        SetPublicText(title="Jalan rusak", body="Jalan berlubang di depan sekolah."),
        {s: (PublicTextSet,) for s in Status if s is not S.REJECTED},
    ),
    # sla's timers: a stale one changes nothing (never an error)
    "remind of the completion request": Row(
        RemindCompletion(closes_on=date(2026, 3, 16)),
        {**dict.fromkeys(Status, NOTHING), S.COMPLETION_REQUESTED: (CompletionReminded,)},
    ),
    "close (incomplete)": Row(
        CloseReport(reason=CloseReason.INCOMPLETE),
        {**dict.fromkeys(Status, NOTHING), S.COMPLETION_REQUESTED: (ReportClosed,)},
        leads_to=S.CLOSED,
    ),
    "warn that a deadline is near": Row(
        RecordDueSoon(stage=SlaStage.VERIFICATION, due=date(2026, 3, 5)),
        dict.fromkeys(Status, (SlaDueSoon,)),
    ),
}

CASES = [
    pytest.param(name, status, id=f"{name} | {status.value}") for name in TABLE for status in Status
]


def expected(name: str, status: Status) -> tuple[type[DomainEvent], ...] | type[Exception]:
    row = TABLE[name]
    return row.allowed.get(status, row.otherwise)


@pytest.mark.parametrize(("name", "status"), CASES)
def test_every_command_against_every_status(name: str, status: Status) -> None:
    row, outcome = TABLE[name], expected(name, status)
    state = state_in(status)
    if isinstance(outcome, type):
        with pytest.raises(outcome):
            decide(state, row.command)
        return
    events = decide(state, row.command)
    assert tuple(type(e) for e in events) == outcome
    if events:
        after = apply(state, events, LATER)
        assert after.status is (row.leads_to or status)
        assert after.version == state.version + len(events)


TOOK_EFFECT = [
    pytest.param(name, status, id=f"{name} | {status.value}")
    for name, row in TABLE.items()
    for status, outcome in row.allowed.items()
    if isinstance(outcome, tuple) and outcome and not row.message
]


@pytest.mark.parametrize(("name", "status"), TOOK_EFFECT)
def test_a_command_repeated_after_it_took_effect_yields_nothing(name: str, status: Status) -> None:
    command = TABLE[name].command
    state = state_in(status)
    after = apply(state, decide(state, command), LATER)
    assert decide(after, command) == []
    # ... and a third time, in case the second was a lucky no-op
    assert decide(after, command) == []


@pytest.mark.parametrize("name", [name for name, row in TABLE.items() if row.message], ids=str)
def test_messages_are_not_deduplicated_by_content_the_idempotency_key_does_that(name: str) -> None:
    """Two identical follow-ups may be two real messages; a *retried* one carries the same
    idempotency key, which the use case turns into the same event ids (test_reports_usecase)."""
    row = TABLE[name]
    status = next(s for s, o in row.allowed.items() if isinstance(o, tuple) and o)
    state = state_in(status)
    first = decide(state, row.command)
    after = apply(state, first, LATER)
    assert [type(e) for e in decide(after, row.command)] == [type(e) for e in first]


def test_the_table_covers_every_command_the_domain_knows() -> None:
    from shared.reports.lifecycle import _DECIDERS

    assert {type(row.command) for row in TABLE.values()} >= set(_DECIDERS)


# --- the specific rules, as stories --------------------------------------------------------------
def test_a_command_on_a_report_that_does_not_exist_is_not_found() -> None:
    with pytest.raises(ReportNotFound):
        decide(None, VerifyReport())


def test_an_unknown_command_is_a_domain_error() -> None:
    class Dance(Command):
        pass

    with pytest.raises(DomainError, match="unknown command"):
        decide(state_in(S.SUBMITTED), Dance())


def test_a_submission_creates_the_report_with_what_the_citizen_sent() -> None:
    [event] = decide(None, submit_command(language="en", anonymous=True))
    assert isinstance(event, ReportSubmitted)
    assert (event.tracking_id, event.language, event.anonymous) == (TRACKING_ID, "en", True)
    state = evolve(None, event, T0)
    assert state is not None
    assert (state.status, state.region_code, state.version, state.submitted_at) == (
        S.SUBMITTED,
        REGION,
        1,
        T0,
    )


def test_a_different_report_under_a_taken_tracking_id_is_refused_not_silently_dropped() -> None:
    state = state_in(S.SUBMITTED)
    with pytest.raises(TrackingIdTaken):
        decide(state, submit_command(access_code_hash="b" * 64))


def test_an_invalid_submission_fails_when_the_command_is_built_not_inside_decide() -> None:
    with pytest.raises(ValidationError):
        submit_command(title="")
    with pytest.raises(ValidationError):
        submit_command(language="fr")
    with pytest.raises(ValidationError):
        ForwardReport(
            agency_code=AGENCY, agency_name="x", follow_up_due=date(2026, 3, 9), routed_by="magic"
        )


def test_verify_keeps_what_the_admin_did_not_change_and_takes_what_they_did() -> None:
    state = state_in(S.SUBMITTED)
    [kept] = decide(state, VerifyReport())
    assert isinstance(kept, ReportVerified)
    assert (kept.classification, kept.category, kept.region_code) == (
        Classification.COMPLAINT,
        "infrastruktur",
        REGION,
    )
    [changed] = decide(
        state,
        VerifyReport(
            classification=Classification.ASPIRATION,
            category="kesehatan",
            region_code="5301",
            location=Location(region_code="5301"),
            requires_field_inspection=True,
        ),
    )
    after = apply(state, [changed], LATER)
    assert (after.classification, after.category, after.region_code) == (
        Classification.ASPIRATION,
        "kesehatan",
        "5301",
    )
    assert after.requires_field_inspection and after.verified_at == LATER


def test_a_postponed_report_is_postponed_once_per_date_and_verification_lifts_it() -> None:
    state = state_in(S.SUBMITTED)
    until = date(2026, 4, 1)
    state = apply(state, decide(state, PostponeReport(until=until)), LATER)
    assert state.postponed_until == until
    assert decide(state, PostponeReport(until=until)) == []
    assert [type(e) for e in decide(state, PostponeReport(until=date(2026, 4, 2)))] == [
        ReportPostponed
    ]
    state = apply(state, decide(state, VerifyReport()), LATER)
    assert state.postponed_until is None


def test_a_referral_to_the_region_it_is_in_is_refused_and_a_repeat_changes_nothing() -> None:
    """Referring a report to its own region changed nothing and answered as done; it is
    refused. Repeating a referral that sent it there (a retry) still changes nothing."""
    state = state_in(S.SUBMITTED)
    with pytest.raises(DomainError, match="to_region: the report is in this region already"):
        decide(state, ReferReport(to_region=REGION))
    moved = apply(state, decide(state, ReferReport(to_region="5301")), LATER)
    assert moved.region_code == "5301"
    assert decide(moved, ReferReport(to_region="5301")) == []
    national = apply(state, decide(state, ReferReport(to_region=None)), LATER)
    assert national.region_code is None
    assert decide(national, ReferReport(to_region=None)) == []


def test_an_amendment_answers_a_completion_request() -> None:
    state = state_in(S.COMPLETION_REQUESTED)
    state = apply(state, decide(state, AmendReport(text="Foto terlampir")), LATER)
    assert state.status is S.SUBMITTED and state.completion_requested_at is None
    # ... and the admins may ask again
    assert [type(e) for e in decide(state, RequestCompletion(note="Masih kurang"))] == [
        ReportCompletionRequested
    ]


def test_a_duplicate_must_name_another_report() -> None:
    state = state_in(S.SUBMITTED)
    with pytest.raises(DomainError, match="duplicate_of"):
        decide(state, RejectReport(reason=RejectionReason.DUPLICATE))
    with pytest.raises(DomainError, match="itself"):
        decide(state, RejectReport(reason=RejectionReason.DUPLICATE, duplicate_of=TRACKING_ID))
    [event] = decide(
        state, RejectReport(reason=RejectionReason.DUPLICATE, duplicate_of="ZZZZZZZZZZ")
    )
    assert isinstance(event, ReportRejected) and event.duplicate_of == "ZZZZZZZZZZ"


def test_protection_changes_only_what_was_asked_and_the_same_values_change_nothing() -> None:
    state = state_in(S.FORWARDED)
    assert decide(state, ChangeProtection()) == []
    assert decide(state, ChangeProtection(anonymous=False, confidential=False)) == []
    [event] = decide(state, ChangeProtection(anonymous=True))
    assert isinstance(event, ProtectionChanged)
    assert (event.anonymous, event.confidential) == (True, False)
    after = apply(state, [event], LATER)
    assert decide(after, ChangeProtection(anonymous=True, confidential=False)) == []


def test_forwarding_to_another_agency_while_one_has_it_is_a_transfer_not_a_forward() -> None:
    state = state_in(S.FORWARDED)
    with pytest.raises(InvalidTransition):
        decide(
            state,
            ForwardReport(
                agency_code=OTHER_AGENCY, agency_name="x", follow_up_due=date(2026, 3, 9)
            ),
        )


@pytest.mark.parametrize(
    ("status", "command"),
    [
        (S.FORWARDED, PostFollowUp(agency_code=OTHER_AGENCY, text="bukan kami")),
        (S.FOLLOWED_UP, PostFollowUp(agency_code=OTHER_AGENCY, text="bukan kami")),
        (S.FORWARDED, ReturnReport(agency_code=OTHER_AGENCY, reason="not_our_authority")),
        (
            S.FORWARDED,
            TransferReport(
                from_agency=OTHER_AGENCY,
                to_agency="BPBD-KOTA-KUPANG",
                to_agency_name="BPBD",
                follow_up_due=date(2026, 3, 10),
            ),
        ),
        (
            S.FORWARDED,  # "transfer" it to where it already is: not a no-op for a stranger
            TransferReport(
                from_agency=OTHER_AGENCY,
                to_agency=AGENCY,
                to_agency_name="Dinas Kesehatan",
                follow_up_due=date(2026, 3, 10),
            ),
        ),
    ],
    ids=["follow-up", "follow-up after one", "return", "transfer", "transfer to its holder"],
)
def test_another_agency_cannot_act_on_a_report_that_is_not_forwarded_to_it(
    status: Status, command: Command
) -> None:
    with pytest.raises(NotYourReport):
        decide(state_in(status), command)


def test_after_a_transfer_only_the_new_agency_may_act() -> None:
    state = state_in(S.FORWARDED)
    transfer = TransferReport(
        from_agency=AGENCY,
        to_agency=OTHER_AGENCY,
        to_agency_name="Dinas Perhubungan",
        follow_up_due=date(2026, 3, 10),
    )
    state = apply(state, decide(state, transfer), LATER)
    assert (state.status, state.agency_code, state.forwarded_at) == (
        S.FORWARDED,
        OTHER_AGENCY,
        LATER,
    )
    with pytest.raises(NotYourReport):
        decide(state, PostFollowUp(agency_code=AGENCY, text="masih kami"))
    assert decide(state, PostFollowUp(agency_code=OTHER_AGENCY, text="kami tangani"))


def test_an_agency_cannot_transfer_to_itself() -> None:
    with pytest.raises(DomainError, match="same institution"):
        decide(
            state_in(S.FORWARDED),
            TransferReport(
                from_agency=AGENCY,
                to_agency=AGENCY,
                to_agency_name="x",
                follow_up_due=date(2026, 3, 9),
            ),
        )


def test_a_returned_report_remembers_who_returned_it_and_can_be_forwarded_again() -> None:
    state = state_in(S.RETURNED)
    assert state.agency_code is None and state.returned_by == (AGENCY,)
    forward = ForwardReport(
        agency_code=OTHER_AGENCY, agency_name="Dinas Perhubungan", follow_up_due=date(2026, 3, 12)
    )
    state = apply(state, decide(state, forward), LATER)
    assert (state.status, state.agency_code) == (S.FORWARDED, OTHER_AGENCY)
    assert decide(state, forward) == []


def test_a_report_is_rated_once_per_closure() -> None:
    state = state_in(S.CLOSED)
    state = apply(state, decide(state, RateReport(rating=5, now=LATER)), LATER)
    assert state.rating == 5
    assert decide(state, RateReport(rating=1, now=LATER)) == []


# --- a low rating reopens within 14 days of closure -----------------------------------------------
def closed_at(at: datetime) -> ReportState:
    state = state_in(S.FOLLOWED_UP)
    return apply(state, [ReportClosed(reason=CloseReason.RESOLVED)], at)


@pytest.mark.parametrize(
    ("rating", "after_closure", "reopens"),
    [
        (1, timedelta(days=1), True),
        (2, timedelta(days=13, hours=23), True),
        (2, REOPEN_WINDOW, True),  # the 14th day still counts
        (1, REOPEN_WINDOW + timedelta(seconds=1), False),
        (1, timedelta(days=30), False),
        (3, timedelta(days=1), False),
        (5, timedelta(days=1), False),
    ],
)
def test_a_low_rating_within_14_days_of_closure_reopens_the_report(
    rating: int, after_closure: timedelta, reopens: bool
) -> None:
    state = closed_at(T0)
    events = decide(state, RateReport(rating=rating, now=T0 + after_closure))
    wanted: list[type[DomainEvent]] = [ReportRated, ReportReopened] if reopens else [ReportRated]
    assert [type(e) for e in events] == wanted
    after = apply(state, events, T0 + after_closure)
    if reopens:
        assert isinstance(events[1], ReportReopened) and events[1].agency_code == AGENCY
        assert (after.status, after.agency_code, after.closed_at) == (S.FORWARDED, AGENCY, None)
        assert not after.awaiting_reply
    else:
        assert after.status is S.CLOSED


def test_a_low_rating_repeated_after_it_reopened_the_report_changes_nothing() -> None:
    state = closed_at(T0)
    rate = RateReport(rating=1, comment="Tidak ada perbaikan", now=T0 + timedelta(days=2))
    reopened = apply(state, decide(state, rate), rate.now)
    assert reopened.status is S.FORWARDED
    assert decide(reopened, rate) == []


def test_a_reopened_report_goes_round_again_and_is_rated_again_when_it_closes() -> None:
    state = closed_at(T0)
    state = apply(state, decide(state, RateReport(rating=1, now=T0 + timedelta(days=1))), T0)
    state = apply(
        state, decide(state, PostFollowUp(agency_code=AGENCY, text="Sudah diperbaiki ulang")), T0
    )
    state = apply(state, decide(state, CloseReport(reason=CloseReason.RESOLVED)), T0)
    assert state.status is S.CLOSED and state.rating is None
    assert [type(e) for e in decide(state, RateReport(rating=4, now=T0))] == [ReportRated]


def test_a_report_closed_before_it_reached_an_agency_is_not_reopened_by_a_low_rating() -> None:
    state = state_in(S.VERIFIED)
    state = apply(state, decide(state, CloseReport(reason=CloseReason.BY_ADMIN)), T0)
    assert [type(e) for e in decide(state, RateReport(rating=1, now=T0))] == [ReportRated]


# --- auto-close when the reporter does not answer a follow-up -------------------------------------
def test_only_a_final_answer_counts_down_to_closing() -> None:
    """An interim answer or a question never closes a report for want of a reply."""
    forwarded_state = state_in(S.FORWARDED)
    for kind in (FollowUpKind.INTERIM, FollowUpKind.QUESTION):
        asked = apply(forwarded_state, [followed_up(kind=kind)], T0)
        assert asked.status is S.FOLLOWED_UP and asked.auto_close_since is None
        assert decide(asked, CloseReport(reason=CloseReason.NO_RESPONSE)) == []
    answered = apply(forwarded_state, [followed_up(kind=FollowUpKind.FINAL)], T0)
    assert answered.auto_close_since == T0
    assert [type(e) for e in decide(answered, CloseReport(reason=CloseReason.NO_RESPONSE))] == [
        ReportClosed
    ]
    # a question after the final answer stops the count until the next final answer
    asked_again = apply(answered, [followed_up(kind=FollowUpKind.QUESTION)], LATER)
    assert decide(asked_again, CloseReport(reason=CloseReason.NO_RESPONSE)) == []


@pytest.mark.parametrize(
    "reply", [ReplyAsReporter(text="Masih rusak"), ReplyAsAdministrator(text="Sudah dicek?")]
)
def test_a_reply_of_the_reporter_or_an_administrator_restarts_the_count(reply: Command) -> None:
    answered = apply(state_in(S.FORWARDED), [followed_up(kind=FollowUpKind.FINAL)], T0)
    replied = apply(answered, decide(answered, reply), LATER)
    assert replied.auto_close_since == LATER
    stale = CloseReport(reason=CloseReason.NO_RESPONSE, no_response_after=T0)
    assert decide(replied, stale) == []  # counted from the final answer: the reply restarted it
    current = CloseReport(reason=CloseReason.NO_RESPONSE, no_response_after=LATER)
    assert [type(e) for e in decide(replied, current)] == [ReportClosed]


def test_no_response_closes_only_for_the_quiet_time_the_deadline_was_counted_from() -> None:
    first_at, second_at = T0, T0 + timedelta(days=3)
    state = apply(state_in(S.FORWARDED), [followed_up(kind=FollowUpKind.FINAL)], first_at)
    state = apply(state, [followed_up(kind=FollowUpKind.FINAL)], second_at)
    stale = CloseReport(reason=CloseReason.NO_RESPONSE, no_response_after=first_at)
    assert decide(state, stale) == []
    current = CloseReport(reason=CloseReason.NO_RESPONSE, no_response_after=second_at)
    assert [type(e) for e in decide(state, current)] == [ReportClosed]
    # the same instant written in another offset is the same follow-up
    wita = timezone(timedelta(hours=8))
    same = CloseReport(reason=CloseReason.NO_RESPONSE, no_response_after=second_at.astimezone(wita))
    assert [type(e) for e in decide(state, same)] == [ReportClosed]


def test_a_reply_at_the_same_instant_as_the_follow_up_still_answers_it() -> None:
    """Order in the stream decides, not timestamps: a fixed clock (or two services' clocks) can
    stamp a follow-up and its reply with the same time, or the reply earlier."""
    state = apply(state_in(S.FORWARDED), [followed_up()], T0)
    for reply_at in (T0, T0 - timedelta(seconds=5)):
        replied = apply(state, [ReporterReplied(text="Terima kasih")], reply_at)
        assert not replied.awaiting_reply


def test_a_follow_up_at_the_same_instant_as_an_earlier_reply_waits_for_a_new_reply() -> None:
    state = apply(state_in(S.FOLLOWED_UP), [ReporterReplied(text="Masih rusak")], T0)
    state = apply(state, [followed_up()], T0)
    assert state.awaiting_reply


def test_postponing_never_passes_the_due_date() -> None:
    state = state_in(S.SUBMITTED)
    due = date(2026, 3, 5)
    with pytest.raises(InvalidInput, match=r"^until: "):
        decide(state, PostponeReport(until=due + timedelta(days=1), due=due))
    assert [type(e) for e in decide(state, PostponeReport(until=due, due=due))] == [ReportPostponed]


def test_a_rejection_for_another_reason_must_say_which() -> None:
    for note in (None, "   "):
        with pytest.raises(InvalidInput, match=r"^note: "):
            decide(state_in(S.SUBMITTED), RejectReport(reason=RejectionReason.OTHER, note=note))


def test_escalation_before_it_opens_names_the_day_it_does() -> None:
    opens = date(2026, 6, 1)
    with pytest.raises(EscalationNotOpen) as refused:
        decide(
            state_in(S.VERIFIED),
            EscalateToOmbudsman(
                ombudsman_office="NTT", province_code="53", eligible=False, opens_on=opens
            ),
        )
    assert refused.value.opens_on == opens and "2026-06-01" in str(refused.value)


def test_a_delegation_keeps_the_deadline_and_is_done_once() -> None:
    state = state_in(S.FORWARDED)
    command = DelegateReport(
        from_agency=AGENCY, to_agency="PUSKESMAS-OEBOBO", to_agency_name="Puskesmas Oebobo"
    )
    delegated = apply(state, decide(state, command), LATER)
    assert delegated.agency_code == "PUSKESMAS-OEBOBO"
    assert delegated.forwarded_at == state.forwarded_at  # the same follow-up deadline
    assert decide(delegated, command) == []
    with pytest.raises(NotYourReport):
        decide(state, command.model_copy(update={"from_agency": OTHER_AGENCY}))


def test_an_institution_reads_what_it_delegated_and_what_it_handed_on_unless_confidential() -> None:
    assert readable_after_handing_on("delegated", confidential=False)
    assert readable_after_handing_on("delegated", confidential=True)  # it still answers for it
    for how in ("transferred", "returned"):
        assert readable_after_handing_on(how, confidential=False)  # type: ignore[arg-type]
        assert not readable_after_handing_on(how, confidential=True)  # type: ignore[arg-type]


def test_a_report_is_public_once_forwarded_unless_confidential_or_rejected() -> None:
    assert not state_in(S.SUBMITTED).published
    assert not state_in(S.VERIFIED).published
    assert state_in(S.FORWARDED).published
    assert state_in(S.RETURNED).published  # published once, it stays so
    assert not state_in(S.REJECTED).published
    confidential = apply(
        state_in(S.FORWARDED), [ProtectionChanged(anonymous=False, confidential=True)], LATER
    )
    assert not confidential.published


# --- SLA breaches and the Ombudsman ---------------------------------------------------------------
def test_each_stage_is_breached_once_and_the_breach_names_the_agency() -> None:
    state = state_in(S.FORWARDED)
    [event] = decide(state, RecordBreach(stage=SlaStage.FOLLOW_UP, due=date(2026, 3, 9)))
    assert isinstance(event, SlaBreached) and event.agency_code == AGENCY
    state = apply(state, [event], LATER)
    assert decide(state, RecordBreach(stage=SlaStage.FOLLOW_UP, due=date(2026, 3, 9))) == []
    assert decide(state, RecordBreach(stage=SlaStage.RESOLUTION, due=date(2026, 3, 16)))


@pytest.mark.parametrize("how", ["return and forward", "transfer"])
def test_a_new_agency_gets_a_new_follow_up_deadline_that_can_be_breached_again(how: str) -> None:
    state = state_in(S.FORWARDED)
    state = apply(state, [SlaBreached(stage=SlaStage.FOLLOW_UP, due=date(2026, 3, 9))], LATER)
    new: list[DomainEvent]
    if how == "transfer":
        new = [
            ReportTransferred(
                from_agency=AGENCY,
                to_agency=OTHER_AGENCY,
                to_agency_name="Dinas Perhubungan",
                follow_up_due=date(2026, 3, 16),
            )
        ]
    else:
        new = [ReportReturned(agency_code=AGENCY, reason="not_ours"), forwarded(OTHER_AGENCY)]
    state = apply(state, new, LATER)
    assert SlaStage.FOLLOW_UP not in state.breached
    assert decide(state, RecordBreach(stage=SlaStage.FOLLOW_UP, due=date(2026, 3, 16)))


@pytest.mark.parametrize("how", ["sent up", "returned again"])
def test_a_desk_that_must_re_forward_gets_a_deadline_that_can_be_breached_again(how: str) -> None:
    """Each desk that receives a returned report answers for its own re-forwarding: after a
    referral, or after a second return, the breach of the one before does not silence it."""
    state = state_in(S.RETURNED)
    state = apply(state, [SlaBreached(stage=SlaStage.REFORWARD, due=date(2026, 3, 9))], LATER)
    assert decide(state, RecordBreach(stage=SlaStage.REFORWARD, due=date(2026, 3, 9))) == []
    new: list[DomainEvent]
    if how == "sent up":
        new = [ReportReferred(to_region=None, note="bukan kewenangan daerah")]
    else:
        new = [forwarded(OTHER_AGENCY), ReportReturned(agency_code=OTHER_AGENCY, reason="x")]
    state = apply(state, new, LATER)
    assert SlaStage.REFORWARD not in state.breached
    assert decide(state, RecordBreach(stage=SlaStage.REFORWARD, due=date(2026, 3, 16)))


def test_escalation_needs_the_sla_to_say_it_is_eligible_and_happens_once() -> None:
    state = state_in(S.FORWARDED)
    with pytest.raises(DomainError, match="60 working days"):
        decide(
            state, EscalateToOmbudsman(ombudsman_office="NTT", province_code="53", eligible=False)
        )
    escalate = EscalateToOmbudsman(ombudsman_office="NTT", province_code="53", eligible=True)
    state = apply(state, decide(state, escalate), LATER)
    assert state.escalated
    assert decide(state, escalate) == []


# --- evolve never raises ------------------------------------------------------------------------
texts = st.text(min_size=1, max_size=20)
agencies = st.sampled_from([AGENCY, OTHER_AGENCY, "BPBD-KOTA-KUPANG"])
days = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 1, 1))
regions = st.none() | st.sampled_from([REGION, "5301", "53"])

EVENTS = st.one_of(
    st.just(submitted()),
    st.builds(ReportCompletionRequested, note=texts),
    st.builds(ReportAmended, text=texts),
    st.builds(
        ReportVerified,
        classification=st.sampled_from(Classification),
        category=st.none() | texts,
        region_code=regions,
        location=st.none() | st.just(Location(region_code="5301")),
        requires_field_inspection=st.booleans(),
    ),
    st.builds(ReportRejected, reason=st.sampled_from(RejectionReason)),
    st.builds(ReportPostponed, until=days),
    st.builds(ReportReferred, to_region=regions),
    st.builds(ProtectionChanged, anonymous=st.booleans(), confidential=st.booleans()),
    st.builds(ForwardedToOPD, agency_code=agencies, agency_name=texts, follow_up_due=days),
    st.builds(ReportReturned, agency_code=agencies, reason=texts),
    st.builds(
        ReportTransferred,
        from_agency=agencies,
        to_agency=agencies,
        to_agency_name=texts,
        follow_up_due=days,
    ),
    st.builds(FollowUpPosted, agency_code=agencies, text=texts, kind=st.sampled_from(FollowUpKind)),
    st.builds(ReporterReplied, text=texts),
    st.builds(ReportClosed, reason=st.sampled_from(CloseReason)),
    st.builds(ReportRated, rating=st.integers(1, 5)),
    st.builds(ReportReopened, reason=texts, agency_code=st.none() | agencies),
    st.builds(
        SlaBreached, stage=st.sampled_from(SlaStage), due=days, agency_code=st.none() | agencies
    ),
    st.builds(
        EscalatedToOmbudsman, ombudsman_office=texts, province_code=st.none() | st.just("53")
    ),
)
TIMES = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(EVENTS, TIMES), max_size=40))
def test_evolve_folds_any_sequence_of_events_without_raising(
    history: list[tuple[DomainEvent, datetime]],
) -> None:
    state: ReportState | None = None
    counted = 0
    for event, at in history:
        state = evolve(state, event, at)
        if state is not None:
            counted += 1
    if state is not None:
        # every event from the submission on is counted once; a second submission redefines nothing
        assert state.version == counted
        first = next(e for e, _ in history if isinstance(e, ReportSubmitted))
        assert state.tracking_id == first.tracking_id


# --- decide on any reachable state: only domain errors, and repeats yield nothing ----------------
COMMANDS = st.sampled_from(
    [row.command for row in TABLE.values()]
    + [
        CloseReport(reason=CloseReason.BY_ADMIN),
        RateReport(rating=1, now=LATER),
        ReturnReport(agency_code=OTHER_AGENCY, reason="not_ours"),
        ForwardReport(agency_code=OTHER_AGENCY, agency_name="x", follow_up_due=date(2026, 3, 9)),
        PostFollowUp(agency_code=OTHER_AGENCY, text="kami tangani"),
        TransferReport(
            from_agency=OTHER_AGENCY,
            to_agency=AGENCY,
            to_agency_name="Dinas Kesehatan",
            follow_up_due=date(2026, 3, 10),
        ),
        RecordBreach(stage=SlaStage.FOLLOW_UP, due=date(2026, 3, 9)),
        ChangeProtection(anonymous=True, confidential=False),
    ]
)
# Commands each of which is a new message: the same words twice are two messages (a double
# submit is caught by the idempotency key at the edge, not here). ReplyAsAdministrator came with
# the administrators' replies and was missing: the property then failed on the rare sequences
# that repeat one.
MESSAGES = (AmendReport, PostFollowUp, ReplyAsReporter, ReplyAsAdministrator)
REPORTERS_ACTIONS = (AmendReport, ReplyAsReporter, CloseReport, RateReport)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(COMMANDS, max_size=30))
def test_any_sequence_of_commands_raises_only_domain_errors_and_repeats_yield_nothing(
    commands: list[Command],
) -> None:
    state = fold_at([submitted()])
    for command in commands:
        try:
            events = decide(state, command)
        except DomainError:
            continue
        # A reporter's retry under their client's idempotency key is told from another request
        # by comparing the command with the first event it stored (intake's API): each of the
        # reporter's commands matches what it stored, or a true retry would be refused.
        if events and isinstance(command, REPORTERS_ACTIONS):
            assert same_request(command, events[0]), type(command).__name__
        state = apply(state, events, LATER)
        if events and not isinstance(command, MESSAGES):
            assert decide(state, command) == [], f"{type(command).__name__} repeated"


def test_the_history_helpers_build_what_they_say() -> None:
    state = fold_at([submitted(), verified(), forwarded(), followed_up()])
    assert state is not None
    assert (state.status, state.agency_code, state.follow_up_count, state.version) == (
        S.FOLLOWED_UP,
        AGENCY,
        1,
        4,
    )
    assert state.access_code_hash == ACCESS_HASH


# Commands of the system's timers: a stale one changes nothing rather than failing, so their
# rows say "nothing" where the table says "not allowed".
SYSTEM_TIMERS = (
    "submit again",
    "close (no response)",
    "close (incomplete)",
    "remind of the completion request",
)


@pytest.mark.parametrize("name", [n for n in TABLE if n not in SYSTEM_TIMERS])
def test_the_transitions_table_is_the_lifecycle(name: str) -> None:
    """`TRANSITIONS` (which decide checks and pages read) says exactly where a command acts."""
    row = TABLE[name]
    acting = {s for s, outcome in row.allowed.items() if isinstance(outcome, tuple) and outcome}
    assert set(TRANSITIONS[type(row.command)]) == acting
    if row.leads_to is not None:
        assert set(TRANSITIONS[type(row.command)].values()) == {row.leads_to}


def test_an_anonymous_reporters_files_are_stored_unnamed_and_still_match_a_retry() -> None:
    """Files named after people ("KTP Budi.jpg") are stored as lampiran-N in an anonymous
    report's events; a retry of the same completion still matches what was stored (files by
    content), another text does not."""
    photo = Attachment(sha256="a" * 64, name="KTP Budi.jpg", media_type="image/jpeg", size=9)
    letter = Attachment(
        sha256="b" * 64, name="surat Budi.pdf", media_type="application/pdf", size=9
    )
    anonymous = submitted().model_copy(update={"anonymous": True})
    state = fold_at([anonymous, ReportCompletionRequested(note="Lampirkan foto.")])
    amend = AmendReport(text="Foto dan surat terlampir.", attachments=(photo, letter))
    (event,) = decide(state, amend)
    assert [f.name for f in event.attachments] == ["lampiran-1.jpg", "lampiran-2.pdf"]
    assert same_request(amend, event)
    assert not same_request(amend.model_copy(update={"text": "Lain."}), event)
    assert not same_request(amend.model_copy(update={"attachments": (photo,)}), event)
    named = fold_at([submitted(), ReportCompletionRequested(note="Lampirkan foto.")])
    (kept,) = decide(named, amend)
    assert [f.name for f in kept.attachments] == ["KTP Budi.jpg", "surat Budi.pdf"]
