"""What the deadline calculator keeps of a report's events: one `Fact` per event that moves a
deadline (no text, no personal data), read from stored events or from payloads."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.events.base import DomainEvent
from shared.reports import events
from shared.store.port import RecordedEvent

# The events that move a deadline; every other event is ignored (and never parsed).
RELEVANT_EVENT_TYPES: frozenset[str] = frozenset(
    cls.event_type
    for cls in (
        events.ReportSubmitted,
        events.ReportCompletionRequested,
        events.ReportAmended,
        events.ReportVerified,
        events.ReportRejected,
        events.ReportReferred,
        events.ForwardedToOPD,
        events.ReportReturned,
        events.ReportTransferred,
        events.FollowUpPosted,
        events.ReporterReplied,
        events.ReportClosed,
        events.ReportReopened,
        events.SlaBreached,
        events.EscalatedToOmbudsman,
        events.ReportDelegated,
        events.AdministratorReplied,
        events.CompletionReminded,
        events.SlaDueSoon,
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
    fields: dict[str, object]
    match payload:
        case events.ReportSubmitted():
            fields = {"region_code": payload.location.region_code}
        case events.ReportVerified():
            fields = {
                "region_code": payload.region_code,
                "requires_field_inspection": payload.requires_field_inspection,
            }
        case events.ReportReferred():
            fields = {"region_code": payload.to_region}
        case events.ForwardedToOPD():
            fields = {"agency_code": payload.agency_code, "follow_up_due": payload.follow_up_due}
        case events.ReportTransferred():
            fields = {"agency_code": payload.to_agency, "follow_up_due": payload.follow_up_due}
        case events.ReportReturned() | events.ReportReopened():
            fields = {"agency_code": payload.agency_code}
        case events.FollowUpPosted():
            fields = {"agency_code": payload.agency_code, "kind": payload.kind.value}
        case events.ReportClosed():
            fields = {"reason": payload.reason.value}
        case events.ReportDelegated():
            fields = {"agency_code": payload.to_agency}
        case events.SlaDueSoon():
            fields = {"stage": payload.stage.value, "due": payload.due}
        case events.SlaBreached():
            fields = {
                "stage": payload.stage.value,
                "due": payload.due,
                "agency_code": payload.agency_code,
            }
        case (
            events.ReportCompletionRequested()
            | events.ReportAmended()
            | events.ReportRejected()
            | events.ReporterReplied()
            | events.AdministratorReplied()
            | events.CompletionReminded()
            | events.EscalatedToOmbudsman()
        ):
            fields = {}
        case _:
            return None
    return Fact(
        event_type=payload.event_type,
        version=version,
        at=at,
        event_id=event_id,
        correlation_id=correlation_id,
        **fields,
    )


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


def _location_region(data: dict[str, Any]) -> dict[str, object]:
    return {"region_code": (data.get("location") or {}).get("region_code")}


def _no_fields(data: dict[str, Any]) -> dict[str, object]:
    return {}


# `fact_of`'s fields read from a payload's stored data (its current version): the same keys, with
# the payload class's defaults where the data leaves a field out. Dates and enum values stay text
# here: `Fact` parses them as the payload class would have.
_STORED_FIELDS: dict[str, Callable[[dict[str, Any]], dict[str, object]]] = {
    "ReportSubmitted": _location_region,
    "ReportVerified": lambda d: {
        "region_code": d.get("region_code"),
        "requires_field_inspection": d.get("requires_field_inspection", False),
    },
    "ReportReferred": lambda d: {"region_code": d.get("to_region")},
    "ForwardedToOPD": lambda d: {
        "agency_code": d.get("agency_code"),
        "follow_up_due": d.get("follow_up_due"),
    },
    "ReportTransferred": lambda d: {
        "agency_code": d.get("to_agency"),
        "follow_up_due": d.get("follow_up_due"),
    },
    "ReportReturned": lambda d: {"agency_code": d.get("agency_code")},
    "ReportReopened": lambda d: {"agency_code": d.get("agency_code")},
    "FollowUpPosted": lambda d: {
        "agency_code": d.get("agency_code"),
        "kind": d.get("kind", events.FollowUpKind.INTERIM.value),
    },
    "ReportClosed": lambda d: {"reason": d.get("reason")},
    "ReportDelegated": lambda d: {"agency_code": d.get("to_agency")},
    "SlaDueSoon": lambda d: {"stage": d.get("stage"), "due": d.get("due")},
    "SlaBreached": lambda d: {
        "stage": d.get("stage"),
        "due": d.get("due"),
        "agency_code": d.get("agency_code"),
    },
    "ReportCompletionRequested": _no_fields,
    "ReportAmended": _no_fields,
    "ReportRejected": _no_fields,
    "ReporterReplied": _no_fields,
    "AdministratorReplied": _no_fields,
    "CompletionReminded": _no_fields,
    "EscalatedToOmbudsman": _no_fields,
}


def fact_of_stored(event: RecordedEvent) -> Fact | None:
    """`fact_of_recorded` read straight from the stored data, without parsing the payload into
    its class (a third of an sla rebuild's pydantic time): for a replay of the store, whose
    payloads were validated when they were appended. The same `Fact` for every payload the
    store accepts (tests/unit/test_fact_of_stored.py); a live view keeps `fact_of_recorded`,
    which refuses a payload that is not one."""
    fields = _STORED_FIELDS.get(event.event_type)
    if fields is None:
        return None
    return Fact(
        event_type=event.event_type,
        version=event.stream_version,
        at=event.occurred_at,
        event_id=str(event.event_id),
        correlation_id=event.correlation_id,
        **fields(event.current_data()),
    )


def facts_of(recorded: Iterable[RecordedEvent]) -> list[Fact]:
    return [f for f in (fact_of_recorded(e) for e in recorded) if f is not None]
