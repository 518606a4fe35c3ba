"""Every event type LAPOR stores, by name: the one explicit list the store, the relay, the
AsyncAPI document and every consumer read events through.

Each context declares its own events (`shared.<context>.events`); this module only collects them,
so the contexts stay independent of each other and nothing registers itself on import.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from shared.access.events import ACCESS_EVENTS
from shared.audit.events import AUDIT_EVENTS
from shared.directory.events import DIRECTORY_EVENTS
from shared.directory.events import UPCASTERS as DIRECTORY_UPCASTERS
from shared.events.base import DomainEvent, UnknownEventType, Upcaster
from shared.notifications.events import NOTIFICATION_EVENTS
from shared.polls.events import POLL_EVENTS
from shared.polls.events import UPCASTERS as POLL_UPCASTERS
from shared.reports.events import REPORT_EVENTS
from shared.reports.events import UPCASTERS as REPORT_UPCASTERS

ALL_EVENTS: tuple[type[DomainEvent], ...] = (
    *REPORT_EVENTS,
    *POLL_EVENTS,
    *DIRECTORY_EVENTS,
    *NOTIFICATION_EVENTS,
    *ACCESS_EVENTS,
    *AUDIT_EVENTS,
)

# event_type -> the payload class of its current version.
EVENT_TYPES: MappingProxyType[str, type[DomainEvent]] = MappingProxyType(
    {cls.event_type: cls for cls in ALL_EVENTS}
)

# (event_type, from_version) -> function turning that payload into the next version's shape.
UPCASTERS: MappingProxyType[tuple[str, int], Upcaster] = MappingProxyType(
    {**REPORT_UPCASTERS, **POLL_UPCASTERS, **DIRECTORY_UPCASTERS}
)


def parse_payload(event_type: str, schema_version: int, data: dict[str, Any]) -> DomainEvent:
    """Parse a stored payload into its current class, upcasting old versions on the way."""
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        raise UnknownEventType(event_type)
    version = schema_version
    while version < cls.schema_version:
        data = UPCASTERS[(event_type, version)](data)
        version += 1
    return cls.model_validate(data)
