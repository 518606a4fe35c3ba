"""Report events: the storage contract. Past tense, frozen, versioned; the store keeps them forever.

A payload class names its `event_type` and `schema_version`. Older versions stay readable through
`UPCASTERS`, which turn a stored payload of version N into version N+1 before it is parsed.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.crypto import EncryptedBlob
from shared.events.base import DomainEvent, Upcaster
from shared.regions.legacy import official_code
from shared.values import Attachment, Channel


class Classification(StrEnum):
    COMPLAINT = "complaint"
    ASPIRATION = "aspiration"
    INFORMATION_REQUEST = "information_request"


class Status(StrEnum):
    SUBMITTED = "submitted"
    COMPLETION_REQUESTED = "completion_requested"
    VERIFIED = "verified"
    FORWARDED = "forwarded"
    RETURNED = "returned"
    FOLLOWED_UP = "followed_up"
    CLOSED = "closed"
    REJECTED = "rejected"


class RejectionReason(StrEnum):
    DUPLICATE = "duplicate"
    SPAM = "spam"
    NOT_PUBLIC_SERVICE = "not_public_service"
    NO_RESPONSE = "no_response_to_completion"
    OTHER = "other"


class CloseReason(StrEnum):
    BY_REPORTER = "by_reporter"
    NO_RESPONSE = "no_response"  # 10 working days after a final answer without a reply
    RESOLVED = "resolved"
    BY_ADMIN = "by_admin"
    INCOMPLETE = "incomplete"  # 10 working days after a completion request without an answer


class SlaStage(StrEnum):
    VERIFICATION = "verification"  # 3 working days from submission to verification
    FOLLOW_UP = "follow_up"  # 5 working days from forwarding to the first interim or final answer
    RESOLUTION = "resolution"  # 14/60 days from forwarding to the final answer
    REFORWARD = "reforward"  # 3 working days from a return to the next forwarding or decision


class EscalationGrounds(StrEnum):
    NO_FINAL_ANSWER = "no_final_answer"  # 60 working days since submission without a final answer
    REOPENED_WITHOUT_ANSWER = "reopened_without_answer"  # 5 working days after reopening


class FollowUpKind(StrEnum):
    INTERIM = "interim"
    FINAL = "final"
    QUESTION = "question"


class Location(BaseModel):
    model_config = ConfigDict(frozen=True)

    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    region_code: str | None = Field(
        default=None, pattern=r"^[0-9]{2,10}$", description="Kemendagri code without dots"
    )
    address: str | None = Field(default=None, max_length=500)


class ReportSubmitted(DomainEvent):
    """v2: `location.region_code` is an official Kemendagri code (v1 had the pilot's codes)."""

    event_type: ClassVar[str] = "ReportSubmitted"
    schema_version: ClassVar[int] = 2

    tracking_id: str
    classification: Classification
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=10_000)
    category: str | None = None
    location: Location = Location()
    event_date: date | None = None
    channel: Channel
    channel_message_id: str | None = Field(
        default=None, description="The channel's own message id, for idempotent intake"
    )
    anonymous: bool = False
    confidential: bool = False
    attachments: tuple[Attachment, ...] = ()
    reporter: EncryptedBlob | None = Field(
        default=None, description="Name and contact, encrypted with the report's data key"
    )
    access_code_hash: str
    language: Literal["id", "en"] = "id"


class ReportCompletionRequested(DomainEvent):
    event_type: ClassVar[str] = "ReportCompletionRequested"
    note: str


class ReportAmended(DomainEvent):
    event_type: ClassVar[str] = "ReportAmended"
    text: str
    attachments: tuple[Attachment, ...] = ()


class ReportVerified(DomainEvent):
    """v2: `region_code` and `location.region_code` are official codes (v1: the pilot's)."""

    event_type: ClassVar[str] = "ReportVerified"
    schema_version: ClassVar[int] = 2
    classification: Classification
    category: str | None
    region_code: str | None
    location: Location | None = None
    requires_field_inspection: bool = False
    agency_code: str | None = Field(default=None, description="Chosen by the admin, if any")


class ReportRejected(DomainEvent):
    event_type: ClassVar[str] = "ReportRejected"
    reason: RejectionReason
    note: str | None = None
    duplicate_of: str | None = None


class ReportPostponed(DomainEvent):
    event_type: ClassVar[str] = "ReportPostponed"
    until: date
    note: str | None = None


class ReportReferred(DomainEvent):
    """Not our authority at the verification desk: to another region's admins or the nation."""

    event_type: ClassVar[str] = "ReportReferred"
    schema_version: ClassVar[int] = 2  # v2: `to_region` is an official code (v1: the pilot's)
    to_region: str | None = None
    note: str | None = None


class ProtectionChanged(DomainEvent):
    event_type: ClassVar[str] = "ProtectionChanged"
    anonymous: bool
    confidential: bool
    note: str | None = None


class ForwardedToOPD(DomainEvent):
    event_type: ClassVar[str] = "ForwardedToOPD"
    agency_code: str
    agency_name: str
    follow_up_due: date = Field(description="Last working day for the first follow-up")
    routed_by: Literal["rule", "region", "national", "admin", "transfer", "reopen"] = "rule"


class ReportReturned(DomainEvent):
    event_type: ClassVar[str] = "ReportReturned"
    agency_code: str
    reason: str
    note: str | None = None
    suggested_agency: str | None = None


class ReportTransferred(DomainEvent):
    event_type: ClassVar[str] = "ReportTransferred"
    from_agency: str
    to_agency: str
    to_agency_name: str
    note: str | None = None
    follow_up_due: date


class FollowUpPosted(DomainEvent):
    event_type: ClassVar[str] = "FollowUpPosted"
    agency_code: str
    text: str
    kind: FollowUpKind = FollowUpKind.INTERIM
    attachments: tuple[Attachment, ...] = ()


class ReporterReplied(DomainEvent):
    event_type: ClassVar[str] = "ReporterReplied"
    text: str
    attachments: tuple[Attachment, ...] = ()


class ReportClosed(DomainEvent):
    event_type: ClassVar[str] = "ReportClosed"
    reason: CloseReason
    note: str | None = None


class ReportRated(DomainEvent):
    event_type: ClassVar[str] = "ReportRated"
    rating: int = Field(ge=1, le=5)
    comment: str | None = None


class ReportReopened(DomainEvent):
    event_type: ClassVar[str] = "ReportReopened"
    reason: str
    agency_code: str | None = None


class SlaBreached(DomainEvent):
    event_type: ClassVar[str] = "SlaBreached"
    stage: SlaStage
    due: date
    agency_code: str | None = None


class EscalatedToOmbudsman(DomainEvent):
    event_type: ClassVar[str] = "EscalatedToOmbudsman"
    ombudsman_office: str
    province_code: str | None
    evidence_sha256: str | None = None
    grounds: EscalationGrounds | None = Field(
        default=None, description="Why escalation was open (absent in events before it existed)"
    )


class ReportDelegated(DomainEvent):
    """An institution hands a report to one of its own units (Dinkes → Puskesmas, a city's
    desk → its OPD). The unit answers under the same follow-up deadline."""

    event_type: ClassVar[str] = "ReportDelegated"
    from_agency: str
    to_agency: str
    to_agency_name: str
    note: str | None = None


class AdministratorReplied(DomainEvent):
    """A LAPOR administrator answers on the report's follow-up page (it restarts the 10 working
    days after which a report with a final answer closes)."""

    event_type: ClassVar[str] = "AdministratorReplied"
    text: str = Field(min_length=1, max_length=10_000)


class PublicTextSet(DomainEvent):
    """What the public sees of a report instead of the reporter's own words (a phone number or
    a name taken out). The original stays for the reporter and the institution."""

    event_type: ClassVar[str] = "PublicTextSet"
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=10_000)
    note: str | None = None


class CompletionReminded(DomainEvent):
    """The reporter was asked for missing information 5 working days ago and has not answered:
    sla reminds them once; the report closes as incomplete on `closes_on` without an answer."""

    event_type: ClassVar[str] = "CompletionReminded"
    closes_on: date


class SlaDueSoon(DomainEvent):
    """A deadline ends on `due` (the next working day or sooner): a warning for the people who
    must act (administrators for verification and re-forwarding, the institution for answers)."""

    event_type: ClassVar[str] = "SlaDueSoon"
    stage: SlaStage
    due: date
    agency_code: str | None = None


REPORT_EVENTS: tuple[type[DomainEvent], ...] = (
    ReportSubmitted,
    ReportCompletionRequested,
    ReportAmended,
    ReportVerified,
    ReportRejected,
    ReportPostponed,
    ReportReferred,
    ProtectionChanged,
    ForwardedToOPD,
    ReportReturned,
    ReportTransferred,
    FollowUpPosted,
    ReporterReplied,
    ReportClosed,
    ReportRated,
    ReportReopened,
    SlaBreached,
    EscalatedToOmbudsman,
    ReportDelegated,
    AdministratorReplied,
    PublicTextSet,
    CompletionReminded,
    SlaDueSoon,
)


def _official_location(data: dict[str, Any]) -> dict[str, Any]:
    location = data.get("location")
    if isinstance(location, dict) and location.get("region_code"):
        location = {**location, "region_code": official_code(location["region_code"])}
        return {**data, "location": location}
    return data


def _official_field(name: str) -> Upcaster:
    def upcast(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, name: official_code(data.get(name))} if data.get(name) else data

    return upcast


# (event_type, from_version) -> upcaster to the next version. Version 1 of the events that carry
# a region code was written with the pilot's region file: its codes become the official ones of
# the same name (`shared.regions.legacy`); the stored events stay as they are.
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("ReportSubmitted", 1): _official_location,
    ("ReportVerified", 1): lambda data: _official_field("region_code")(_official_location(data)),
    ("ReportReferred", 1): _official_field("to_region"),
}
