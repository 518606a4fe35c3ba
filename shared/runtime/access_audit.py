"""Recording the access audit: the one I/O step of `shared.access` (the store is passed in).

See `shared.access.events` for what is recorded and why.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog

from shared.access.events import (
    ConfidentialReportRead,
    ReporterIdentityErased,
    access_stream,
    read_by,
    reader_actor,
)
from shared.auth import Principal
from shared.store.port import ANY, EventStore, NewEvent, RecordedEvent


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


def _correlation_id(given: str | None) -> str:
    if given:
        return given
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
