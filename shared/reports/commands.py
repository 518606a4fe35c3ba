"""Report commands: what people and services ask of a report. `decide` (in `lifecycle`) checks
each against the report's state and answers with events or a domain error.

Commands carry no idempotency key: the repository turns a key into fixed event ids.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.crypto import EncryptedBlob
from shared.reports.events import (
    Classification,
    CloseReason,
    EscalationGrounds,
    FollowUpKind,
    Location,
    RejectionReason,
    SlaStage,
)
from shared.values import Attachment, Channel


class Command(BaseModel):
    """Commands carry no idempotency key: the use case turns a key into fixed event ids."""

    model_config = ConfigDict(frozen=True)


class SubmitReport(Command):
    tracking_id: str
    classification: Classification
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=10_000)
    category: str | None = None
    location: Location = Location()
    event_date: date | None = None
    channel: Channel
    channel_message_id: str | None = None
    anonymous: bool = False
    confidential: bool = False
    attachments: tuple[Attachment, ...] = ()
    reporter: EncryptedBlob | None = None
    access_code_hash: str
    language: Literal["id", "en"] = "id"


class RequestCompletion(Command):
    note: str


class AmendReport(Command):
    text: str
    attachments: tuple[Attachment, ...] = ()


class VerifyReport(Command):
    classification: Classification | None = None
    category: str | None = None
    region_code: str | None = None
    location: Location | None = None
    requires_field_inspection: bool = False
    agency_code: str | None = None


class RejectReport(Command):
    reason: RejectionReason
    note: str | None = None
    duplicate_of: str | None = None


class PostponeReport(Command):
    until: date
    note: str | None = None
    due: date | None = Field(
        default=None, description="The report's current due date: postponing never passes it"
    )


class ReferReport(Command):
    to_region: str | None = None
    note: str | None = None


class ChangeProtection(Command):
    anonymous: bool | None = None
    confidential: bool | None = None
    note: str | None = None


class ForwardReport(Command):
    agency_code: str
    agency_name: str
    follow_up_due: date
    routed_by: Literal["rule", "region", "national", "admin", "transfer", "reopen"] = "rule"


class ReturnReport(Command):
    agency_code: str
    reason: str
    note: str | None = None
    suggested_agency: str | None = None


class TransferReport(Command):
    from_agency: str
    to_agency: str
    to_agency_name: str
    follow_up_due: date
    note: str | None = None


class PostFollowUp(Command):
    agency_code: str
    text: str
    kind: FollowUpKind = FollowUpKind.INTERIM
    attachments: tuple[Attachment, ...] = ()


class ReplyAsReporter(Command):
    text: str
    attachments: tuple[Attachment, ...] = ()


class CloseReport(Command):
    reason: CloseReason
    note: str | None = None
    now: datetime | None = None
    no_response_after: datetime | None = Field(
        default=None,
        description="For no_response: the follow-up the deadline was counted from",
    )


class RateReport(Command):
    rating: int = Field(ge=1, le=5)
    comment: str | None = None
    now: datetime


class RecordBreach(Command):
    stage: SlaStage
    due: date


class EscalateToOmbudsman(Command):
    ombudsman_office: str
    province_code: str | None
    eligible: bool = Field(description="Escalation is open (sla decides from the deadlines)")
    opens_on: date | None = Field(default=None, description="When it opens, if not yet")
    grounds: EscalationGrounds | None = None
    evidence_sha256: str | None = None
    reason: str | None = Field(default=None, description="Why it is not open, if it is not")
    eligible_from: datetime | None = Field(
        default=None, description="The first instant it is open, if a matter of time"
    )


class DelegateReport(Command):
    """The institution holding a report hands it to one of its own units (routing checks)."""

    from_agency: str
    to_agency: str
    to_agency_name: str
    note: str | None = None


class ReplyAsAdministrator(Command):
    text: str = Field(min_length=1, max_length=10_000)


class SetPublicText(Command):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=10_000)
    note: str | None = None


class RemindCompletion(Command):
    closes_on: date


class RecordDueSoon(Command):
    stage: SlaStage
    due: date
