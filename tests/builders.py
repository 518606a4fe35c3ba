"""Sample reports, commands and histories for the domain and use-case tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from shared.events.base import Actor, DomainEvent
from shared.reports.commands import SubmitReport
from shared.reports.events import (
    Classification,
    CloseReason,
    FollowUpKind,
    FollowUpPosted,
    ForwardedToOPD,
    Location,
    RejectionReason,
    ReportClosed,
    ReportCompletionRequested,
    ReportRejected,
    ReportReturned,
    ReportSubmitted,
    ReportVerified,
    Status,
)
from shared.reports.lifecycle import ReportState, evolve
from shared.values import Channel

TRACKING_ID = "ABCDEFGH2K"  # shape only; the domain does not check the check character
AGENCY = "DINKES-KOTA-KUPANG"
OTHER_AGENCY = "DISHUB-KOTA-KUPANG"
REGION = "5371"
ACCESS_HASH = "a" * 64
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
ADMIN = Actor(kind="admin", id="admin-1")
OFFICER = Actor(kind="agency", id="officer-1")
CITIZEN = Actor(kind="citizen", id="reporter")
SYSTEM = Actor(kind="system", id="sla")


def submit_command(tracking_id: str = TRACKING_ID, **changes: object) -> SubmitReport:
    fields: dict[str, object] = {
        "tracking_id": tracking_id,
        "classification": Classification.COMPLAINT,
        "title": "Jalan berlubang di Jl. El Tari",
        "body": "Lubang besar di depan kantor gubernur, sudah tiga minggu.",
        "category": "infrastruktur",
        "location": Location(lat=-10.16, lon=123.6, region_code=REGION, address="Jl. El Tari"),
        "channel": Channel.WEB,
        "access_code_hash": ACCESS_HASH,
    }
    fields.update(changes)
    return SubmitReport.model_validate(fields)


def submitted(tracking_id: str = TRACKING_ID) -> ReportSubmitted:
    c = submit_command(tracking_id)
    return ReportSubmitted(
        tracking_id=c.tracking_id,
        classification=c.classification,
        title=c.title,
        body=c.body,
        category=c.category,
        location=c.location,
        channel=c.channel,
        access_code_hash=c.access_code_hash,
    )


def verified() -> ReportVerified:
    return ReportVerified(
        classification=Classification.COMPLAINT, category="infrastruktur", region_code=REGION
    )


def forwarded(agency: str = AGENCY) -> ForwardedToOPD:
    return ForwardedToOPD(
        agency_code=agency, agency_name=f"Dinas {agency}", follow_up_due=date(2026, 3, 9)
    )


def followed_up(agency: str = AGENCY, kind: FollowUpKind = FollowUpKind.INTERIM) -> FollowUpPosted:
    return FollowUpPosted(agency_code=agency, text="Tim kami akan memeriksa minggu ini.", kind=kind)


# The shortest history that leaves a report in each status.
HISTORIES: dict[Status, list[DomainEvent]] = {
    Status.SUBMITTED: [submitted()],
    Status.COMPLETION_REQUESTED: [
        submitted(),
        ReportCompletionRequested(note="Mohon lampirkan foto"),
    ],
    Status.VERIFIED: [submitted(), verified()],
    Status.FORWARDED: [submitted(), verified(), forwarded()],
    Status.RETURNED: [
        submitted(),
        verified(),
        forwarded(),
        ReportReturned(agency_code=AGENCY, reason="not_our_authority"),
    ],
    # answered for good: the report counts down to closing unless someone replies
    Status.FOLLOWED_UP: [
        submitted(),
        verified(),
        forwarded(),
        followed_up(kind=FollowUpKind.FINAL),
    ],
    Status.CLOSED: [
        submitted(),
        verified(),
        forwarded(),
        followed_up(),
        ReportClosed(reason=CloseReason.RESOLVED),
    ],
    Status.REJECTED: [submitted(), ReportRejected(reason=RejectionReason.SPAM)],
}


def fold_at(
    events: Iterable[DomainEvent], start: datetime = T0, step: timedelta = timedelta(hours=1)
) -> ReportState | None:
    """Fold events as if each happened `step` after the previous one."""
    state: ReportState | None = None
    at = start
    for event in events:
        state = evolve(state, event, at)
        at += step
    return state


def state_in(status: Status) -> ReportState:
    state = fold_at(HISTORIES[status])
    assert state is not None and state.status is status
    return state


def apply(state: ReportState | None, events: Iterable[DomainEvent], at: datetime) -> ReportState:
    for event in events:
        state = evolve(state, event, at)
    assert state is not None
    return state
