"""The access audit: who read a confidential report, and when its reporter was erased.

Every read of a confidential report by an officer or an administrator (intake's report, timeline
and files with a Bearer token, the verification desk's detail, the agency desk's inbox detail) is
recorded before the data is returned, as a `ConfidentialReportRead` on the report's own access
stream `access-<tracking_id>`. The report's stream stays the report's story; the access stream is
append-only and hash-chained like every other, so `lapor audit verify` covers it, and the reporter
sees it on their report page (with the access code).

`ReporterIdentityErased` is appended there by `lapor privacy erase` after the report's data key
was deleted (crypto-shredding): the erasure itself is part of the audit trail.

Privacy: nothing here carries the report's content or who reported; only who read it (the
officer's token subject, role, agency and region scope), where (service, what) and when.

Every process that validates or parses events must import this module once (it registers the
types with `shared.domain.events.register_event`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from shared.domain.events import Actor, DomainEvent, register_event

if TYPE_CHECKING:
    from shared.auth import Principal
    from shared.store.port import EventStore, RecordedEvent

ACCESS_STREAM_PREFIX = "access-"

ReadWhat = Literal["report", "timeline", "attachment", "desk_detail", "inbox_detail"]
ReaderRole = Literal["admin", "agency", "ombudsman", "client"]


def access_stream(tracking_id: str) -> str:
    return f"{ACCESS_STREAM_PREFIX}{tracking_id}"


class ConfidentialReportRead(DomainEvent):
    """An officer or administrator read a confidential report."""

    event_type: ClassVar[str] = "ConfidentialReportRead"

    tracking_id: str
    reader_subject: str = Field(max_length=200, description="The token's `sub`: who read it")
    reader_role: ReaderRole
    reader_agency: str | None = Field(default=None, description="For agency readers")
    reader_region: str | None = Field(default=None, description="The reader's region scope")
    service: Literal["intake", "verification", "routing", "sla"]
    what: ReadWhat = Field(description="Which view of the report was returned")


class ReporterIdentityErased(DomainEvent):
    """The report's data key was deleted: the reporter's identity and contact are unreadable."""

    event_type: ClassVar[str] = "ReporterIdentityErased"

    tracking_id: str
    key_deleted: bool = Field(
        description="A data key existed and was deleted (false: none was ever stored, e.g. an"
        " anonymous report without contact, or it was erased before)"
    )


ACCESS_EVENTS: tuple[type[DomainEvent], ...] = (ConfidentialReportRead, ReporterIdentityErased)

for _cls in ACCESS_EVENTS:
    register_event(_cls)


# --- deciding what to record (pure) ------------------------------------------------------------
def read_by(
    principal: Principal, tracking_id: str, service: str, what: str
) -> ConfidentialReportRead:
    return ConfidentialReportRead(
        tracking_id=tracking_id,
        reader_subject=principal.subject[:200],
        reader_role=principal.role.value,
        reader_agency=principal.agency,
        reader_region=principal.region,
        service=service,
        what=what,
    )


def reader_actor(principal: Principal) -> Actor:
    return Actor(
        kind="agency" if principal.role.value == "agency" else "admin", id=principal.subject
    )


def reads_for_reporter(events: Sequence[RecordedEvent]) -> list[dict[str, Any]]:
    """What the reporter is shown of their report's access stream, oldest first.

    The officer's token subject stays in the store for auditors (the Ombudsman); the reporter sees
    the role, the institution, the service and the time.
    """
    shown: list[dict[str, Any]] = []
    for event in events:
        if event.event_type == ConfidentialReportRead.event_type:
            shown.append(
                {
                    "event_type": event.event_type,
                    "read_at": event.occurred_at.isoformat(),
                    "reader_role": event.data.get("reader_role"),
                    "reader_agency": event.data.get("reader_agency"),
                    "service": event.data.get("service"),
                    "what": event.data.get("what"),
                }
            )
        elif event.event_type == ReporterIdentityErased.event_type:
            shown.append({"event_type": event.event_type, "read_at": event.occurred_at.isoformat()})
    return shown


# --- recording (the one I/O step; the store is passed in) --------------------------------------
def _correlation_id(given: str | None) -> str:
    if given:
        return given
    import structlog

    bound = structlog.contextvars.get_contextvars().get("correlation_id")
    return str(bound) if bound else str(uuid.uuid4())


async def record_confidential_read(
    store: EventStore,
    principal: Principal,
    tracking_id: str,
    *,
    service: str,
    what: str,
    at: datetime,
    correlation_id: str | None = None,
) -> RecordedEvent:
    """Append one ConfidentialReportRead to `access-<tracking_id>` (any expected version: reads
    have no invariant to protect). Raises the store's errors: the caller must not return the
    report when its read could not be recorded (fail closed)."""
    from shared.store.port import ANY, NewEvent

    event = NewEvent.of(
        read_by(principal, tracking_id, service, what),
        occurred_at=at,
        actor=reader_actor(principal),
        correlation_id=_correlation_id(correlation_id),
    )
    (stored,) = await store.append(access_stream(tracking_id), [event], expected_version=ANY)
    return stored


async def access_log(store: EventStore, tracking_id: str) -> list[dict[str, Any]]:
    """The reporter's view of who read their confidential report."""
    return reads_for_reporter(await store.read(access_stream(tracking_id)))
