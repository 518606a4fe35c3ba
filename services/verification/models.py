"""The desk's HTTP contract: request bodies and the JSON answers of every route.

The request models are shared by the JSON API and the HTML console, so both accept and refuse
exactly the same things. The response models describe the JSON as administrators' tools already
read it: instants are the ISO strings the views store (UTC, with microseconds), and a field that
can be null is Optional.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.regions.checks import RegionCodeIn
from shared.reports.events import Classification, Location, RejectionReason, Status
from shared.values import Channel, Visible

REGION_PATTERN = r"^[0-9]{2,10}$"
AGENCY_PATTERN = r"^[A-Z0-9-]+$"
MAX_BULK = 200

Instant = Annotated[str, Field(description="ISO 8601 instant (UTC, with microseconds)")]


# --- requests ------------------------------------------------------------------------------------
class VerifyIn(BaseModel):
    """Every field optional: `{}` verifies the report as submitted."""

    model_config = ConfigDict(extra="forbid")

    classification: Classification | None = None
    category: str | None = Field(default=None, max_length=64)
    region_code: RegionCodeIn | None = None
    requires_field_inspection: bool = False
    agency_code: str | None = Field(default=None, pattern=AGENCY_PATTERN, max_length=100)
    location: Location | None = Field(default=None, description="A corrected location")


class RequestCompletionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Annotated[str, Visible] = Field(
        min_length=1, max_length=2000, description="What the reporter must add"
    )


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: RejectionReason | None = Field(
        default=None, description="Defaults to `duplicate` when `duplicate_of` is given"
    )
    note: Annotated[str | None, Visible] = Field(default=None, max_length=2000)
    duplicate_of: str | None = Field(default=None, max_length=20)


class PostponeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    until: date
    note: Annotated[str | None, Visible] = Field(default=None, max_length=2000)


class NotOurAuthorityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Annotated[str | None, Visible] = Field(default=None, max_length=2000)
    to_region: RegionCodeIn | None = Field(
        default=None, description="Another region's admins (digits or dotted); none: national"
    )


class ForwardIn(BaseModel):
    """Forward a returned report to an institution (its follow-up deadline counted from now)."""

    model_config = ConfigDict(extra="forbid")
    agency_code: str = Field(pattern=AGENCY_PATTERN, max_length=100)
    note: Annotated[str | None, Visible] = Field(default=None, max_length=2000)


class AdminReplyIn(BaseModel):
    """An administrator's answer on the report's follow-up page (it restarts the 10 working days
    after which a report with a final answer closes)."""

    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Visible] = Field(min_length=1, max_length=10_000)


class PublicTextIn(BaseModel):
    """What the public reads of the report instead of the reporter's words (a phone number or a
    name taken out); the reporter and the institution keep the original."""

    model_config = ConfigDict(extra="forbid")
    title: Annotated[str, Visible] = Field(min_length=1, max_length=200)
    body: Annotated[str, Visible] = Field(min_length=1, max_length=10_000)
    note: Annotated[str | None, Visible] = Field(default=None, max_length=2000)


class ProtectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    anonymous: bool | None = None
    confidential: bool | None = None
    note: Annotated[str | None, Visible] = Field(default=None, max_length=2000)


class BulkVerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tracking_ids: list[str] = Field(min_length=1, max_length=MAX_BULK)


# --- the queue and one report ------------------------------------------------------------------
class TimeLeft(BaseModel):
    """The desk's deadline: verification (3 working days in the region's calendar, paused while
    the reporter completes the report), or re-forwarding a report an institution returned (3
    working days). While paused only `working_days_left` is known: the working days the admins
    will have again once the reporter answers."""

    due_date: date | None
    due_at: str | None = Field(description="The end of the due day, in the region's time zone")
    seconds_left: float | None
    working_days_left: int | None = Field(description="Negative once overdue")
    overdue: bool
    paused: bool


class Amendment(BaseModel):
    text: str
    at: Instant


class DeskLocation(BaseModel):
    lat: float | None
    lon: float | None
    region_code: str | None
    address: str | None


class ReturnedInfo(BaseModel):
    by: str | None = Field(description="The institution that returned it")
    reason: str | None
    note: str | None
    suggested_agency: str | None = Field(description="Who LAPOR or the institution suggests")


class QueueRow(BaseModel):
    """A report as the desk shows it in the queue."""

    tracking_id: str
    status: Status
    classification: Classification
    title: str
    body: str
    amendments: list[Amendment]
    category: str | None
    suggested_category: str | None = Field(description="The category the reporter chose")
    suggested_region: str | None = Field(description="The region the reporter gave")
    location: DeskLocation
    channel: Channel
    anonymous: bool
    confidential: bool
    requires_field_inspection: bool
    agency_code: str | None
    submitted_at: Instant
    updated_at: Instant
    version: int
    postponed_until: date | None
    completion_requested_at: Instant | None
    completion_note: str | None
    verification_breached: bool
    time_left: TimeLeft | None = Field(description="None once the report has left the desk")
    deadline_stage: Literal["verification", "reforward"] | None = Field(
        default=None, description="Which deadline `time_left` counts down"
    )
    reforward_breached: bool = False
    amended_after_request: bool = Field(
        default=False, description="The reporter answered a completion request: decide again"
    )
    returned: ReturnedInfo | None = Field(
        default=None, description="For a returned report: who returned it and why"
    )
    public_title: str | None = Field(default=None, description="The public text, if one is set")
    public_body: str | None = None


class DuplicateLink(BaseModel):
    tracking_id: str = Field(description="A report rejected as a duplicate of this one")
    linked_at: Instant


class ActorOut(BaseModel):
    kind: str
    id: str


class HistoryEntry(BaseModel):
    event_type: str
    occurred_at: Instant
    stream_version: int
    actor: ActorOut
    details: dict[str, Any] = Field(
        description="The event's fields, without the reporter and the report's text"
    )


class ReportDetail(QueueRow):
    """The admin's view of one report: the queue row, the decision, duplicates and history."""

    verified_at: Instant | None
    rejected_reason: RejectionReason | None
    duplicate_of: str | None
    decided_by: str | None = Field(description="The admin who verified or rejected it")
    duplicates: list[DuplicateLink]
    history: list[HistoryEntry]


class DuplicateSuggestion(BaseModel):
    """A likely duplicate: similar words or within ~500 m, submitted within 30 days."""

    tracking_id: str
    title: str
    status: Status
    channel: Channel
    category: str | None
    region_code: str | None
    submitted_at: Instant
    text_similarity: float
    distance_m: float | None
    score: float
    reasons: list[Literal["similar_text", "nearby", "same_category"]]


# --- actions -------------------------------------------------------------------------------------
class ActionOutcome(BaseModel):
    """What an action did: `changed` is false for a harmless repeat."""

    tracking_id: str
    action: Literal[
        "verify",
        "reject",
        "request-completion",
        "postpone",
        "not-our-authority",
        "protection",
        "forward",
        "reply",
        "public-text",
    ]
    status: Status
    changed: bool
    events: list[str] = Field(description="The event types it stored")
    version: int


class BulkDone(BaseModel):
    tracking_id: str
    outcome: Literal["verified", "unchanged"]
    status: Status
    events: list[str]


class BulkConflict(BaseModel):
    tracking_id: str
    outcome: Literal["conflict"]
    status: Status | None
    detail: str


class BulkNotFound(BaseModel):
    tracking_id: str
    outcome: Literal["not_found"]
    status: None


BulkResult = Annotated[BulkDone | BulkConflict | BulkNotFound, Field(discriminator="outcome")]


class BulkVerifyOut(BaseModel):
    results: list[BulkResult]
    verified: int = Field(description="How many reports this request verified")


# --- errors --------------------------------------------------------------------------------------
class Problem(BaseModel):
    detail: str


class FieldProblem(BaseModel):
    loc: list[str | int]
    field: str = Field(description="The field at fault, dotted (`location.lat`)")
    msg: str
    type: str | None = Field(default=None, description="Present for malformed input")


class InvalidOut(BaseModel):
    detail: list[FieldProblem]


class StateSummary(BaseModel):
    tracking_id: str
    status: Status
    version: int
    classification: Classification
    category: str | None
    region_code: str | None
    anonymous: bool
    confidential: bool
    postponed_until: date | None
    agency_code: str | None
    requires_field_inspection: bool


class EventSummary(BaseModel):
    event_type: str
    occurred_at: str
    actor: ActorOut


class ConflictDetail(BaseModel):
    msg: str
    status: Status | None
    current_version: int
    current: StateSummary | None
    last_event: EventSummary | None


class ConflictOut(BaseModel):
    detail: ConflictDetail
