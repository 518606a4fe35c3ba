"""Notify's HTTP contract: the delivery log as ops, officers and reporters read it.

The field names and shapes are public (dashboards and agencies' systems read them): a field
changes only with a new version of the API. Timestamps are the ISO 8601 strings notify wrote down,
passed through as they are.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

# What `status` may be, and what `?status=` filters on.
STATUSES = ("pending", "sending", "retrying", "sent", "failed", "unreachable")
Status = Literal["pending", "sending", "retrying", "sent", "failed", "unreachable"]


class Notification(BaseModel):
    """One notice: what it was about, to whom and on which channel, and how it ended."""

    notification_id: str
    tracking_id: str
    event_type: str = Field(description="The report event that caused the notice")
    cause_event_id: str
    recipient: Literal["reporter", "officer"]
    agency_code: str | None = Field(description="The liaison officers' agency (officer notices)")
    recipient_masked: str | None = Field(
        description="The address, masked (`+62*********01`); none once the reporter is erased"
    )
    channel: str = Field(description="sms, email, whatsapp, messenger, instagram, x or web")
    template: str
    language: str
    status: Status
    attempts: int
    detail: str | None = Field(description="Why it failed or could not be delivered")
    possible_duplicate: bool = Field(
        description="Sent again after a crash during a send: the recipient may have it twice"
    )
    recorded: bool = Field(description="The outcome is recorded in the event store")
    correlation_id: str
    created_at: str | None
    first_attempt_at: str | None
    last_attempt_at: str | None
    next_attempt_at: str | None
    completed_at: str | None


class Problem(BaseModel):
    """An error answer: what is wrong, naming the header or field."""

    detail: str | list[dict[str, Any]]
