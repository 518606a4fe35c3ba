"""Notify's events: which notice went to whom, on which channel, and how it ended.

They live in notify's own stream per report, `notifications-<tracking_id>`, so the report's stream
stays the report's story while the delivery log is still part of the audit trail. A notice is
named by a deterministic `notification_id` (uuid5 of the causing event id, the recipient kind, the
channel and, for officers, which officer), so a redelivered event maps to the same notice.

Privacy: no event here carries a phone number, an e-mail address, a platform handle or a name.
Officer notices name the agency, never the reporter.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.base import DomainEvent

NOTIFICATION_STREAM_PREFIX = "notifications-"


def notification_stream(tracking_id: str) -> str:
    return f"{NOTIFICATION_STREAM_PREFIX}{tracking_id}"


class NotificationChannel(StrEnum):
    """Where a notice goes. `web` means only the report page (no message leaves LAPOR)."""

    WEB = "web"
    SMS = "sms"
    EMAIL = "email"
    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    X = "x"


RecipientKind = Literal["reporter", "officer"]


class SkipReason(StrEnum):
    IDENTITY_ERASED = "identity_erased"
    NO_CONTACT = "no_contact"


class _NotificationOutcome(DomainEvent):
    notification_id: uuid.UUID = Field(
        description="uuid5(cause event id, recipient kind | channel | officer ref): one per"
        " (event, recipient)"
    )
    tracking_id: str
    cause_event_id: uuid.UUID = Field(description="The report event this notice is about")
    cause_event_type: str
    recipient_kind: RecipientKind
    agency_code: str | None = Field(
        default=None, description="For officer notices: the agency whose liaison officers"
    )
    channel: NotificationChannel
    template: str = Field(description="Notice template name, e.g. received, closed")
    language: Literal["id", "en"] = "id"
    attempts: int = Field(ge=0, description="Send attempts made (0 for web-only and skipped)")


class NotificationSent(_NotificationOutcome):
    event_type: ClassVar[str] = "NotificationSent"

    possible_duplicate: bool = Field(
        default=False,
        description="An earlier attempt was cut off by a crash after the message may have left:"
        " the recipient may have received it twice",
    )


class NotificationFailed(_NotificationOutcome):
    event_type: ClassVar[str] = "NotificationFailed"

    error: str = Field(max_length=500, description="Why, without any contact detail")


class NotificationSkipped(_NotificationOutcome):
    """The recipient cannot be reached at all; not a failure of a channel."""

    event_type: ClassVar[str] = "NotificationSkipped"

    reason: SkipReason
    detail: str = Field(max_length=500)


NOTIFICATION_EVENTS: tuple[type[DomainEvent], ...] = (
    NotificationSent,
    NotificationFailed,
    NotificationSkipped,
)
