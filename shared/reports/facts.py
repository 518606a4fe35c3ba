"""What the deadline calculator keeps of a report's events: one `Fact` per event that moves a
deadline (no text, no personal data), read from stored events or from payloads."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from shared.events.base import DomainEvent
from shared.reports.events import (
    AdministratorReplied,
    CompletionReminded,
    EscalatedToOmbudsman,
    FollowUpPosted,
    ForwardedToOPD,
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
)
from shared.store.port import RecordedEvent

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
        ReportDelegated,
        AdministratorReplied,
        CompletionReminded,
        SlaDueSoon,
    )
)


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
        case ReportDelegated():
            return Fact(event_type=payload.event_type, agency_code=payload.to_agency, **base)
        case SlaDueSoon():
            return Fact(
                event_type=payload.event_type, stage=payload.stage.value, due=payload.due, **base
            )
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
            | AdministratorReplied()
            | CompletionReminded()
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
