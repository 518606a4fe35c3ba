"""Routing's HTTP contract: the request and response models of the JSON API.

Institutions' own systems code against these shapes (docs/agency-integration.md), so field names
and nesting stay exactly as they are. Instants and days are strings as the views store them
(ISO 8601, with the offset they were recorded with): re-serialising them as datetimes would
change `+00:00` into `Z`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from shared.directory.model import Institution, RoutingRule
from shared.reports.events import FollowUpKind
from shared.values import Attachment, Visible

AGENCY_CODE = r"^[A-Z0-9-]+$"
ReturnReason = Literal["not_our_authority", "wrong_region", "duplicate", "other"]


# --- requests ----------------------------------------------------------------------------------
class FollowUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Visible] = Field(
        min_length=1, max_length=10_000, description="The answer or action taken"
    )
    kind: FollowUpKind = Field(
        default=FollowUpKind.INTERIM,
        description="interim (work in progress), final (done) or question (to the reporter)",
    )
    attachments: tuple[Attachment, ...] = Field(default=(), max_length=20)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        return value


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ReturnReason = Field(description="Why the report is not for this institution")
    note: Annotated[str | None, Visible] = Field(default=None, max_length=2000)
    suggested_agency: str | None = Field(
        default=None,
        pattern=AGENCY_CODE,
        description="Who should get it instead, if the agency knows (else LAPOR suggests one)",
    )


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency_code: str = Field(
        pattern=AGENCY_CODE,
        max_length=64,
        description="An institution under the same parent, or one of your own units (then it is"
        " a delegation: the unit answers under the same deadline)",
    )
    note: Annotated[str | None, Visible] = Field(
        default=None, max_length=2000, description="Why it goes there"
    )


class DelegateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency_code: str = Field(
        pattern=AGENCY_CODE,
        max_length=64,
        description="One of your own units in the directory (e.g. a Puskesmas of a Dinkes)",
    )
    note: Annotated[str | None, Visible] = Field(
        default=None, max_length=2000, description="What the unit should do"
    )


class ForwardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency_code: str = Field(pattern=AGENCY_CODE, max_length=64)
    note: str | None = Field(default=None, max_length=2000)


# --- errors ------------------------------------------------------------------------------------
class ErrorOut(BaseModel):
    detail: Any = Field(
        description="What went wrong: a text, or a list of {loc, field, msg} naming each field"
    )


# --- the directory -----------------------------------------------------------------------------
class AgencyOut(BaseModel):
    code: str = Field(description="Agency code, as in NATS subjects")
    name: str
    level: str = Field(description="national|province|regency|city|opd|unit")
    region_code: str | None = Field(description="Kemendagri code without dots")
    parent: str | None = Field(description="The parent institution's code")

    @classmethod
    def of(cls, inst: Institution) -> AgencyOut:
        return cls.model_validate(inst, from_attributes=True)


class AgencyDetail(AgencyOut):
    categories: list[str]
    sms_keywords: list[str]
    children: list[str] = Field(description="Codes of the institutions directly under it")


class AgencyChanged(AgencyOut):
    events: list[str] = Field(description="Event types stored (empty when nothing changed)")


class RoutingRuleOut(BaseModel):
    region_prefix: str | None = Field(
        description="Kemendagri code (2, 4, 6 or 10 digits); null matches any region"
    )
    category: str | None = Field(description="Category code; null matches any")
    agency_code: str
    note: str | None

    @classmethod
    def of(cls, rule: RoutingRule) -> RoutingRuleOut:
        return cls.model_validate(rule.model_dump(mode="json"))


class RoutingRuleChanged(RoutingRuleOut):
    events: list[str] = Field(description="Event types stored (empty when nothing changed)")


class RoutingRuleRemoved(BaseModel):
    region_prefix: str | None
    category: str | None
    events: list[str] = Field(description="Event types stored (empty when there was no rule)")


# --- the agency desk ---------------------------------------------------------------------------
class TimeLeftOut(BaseModel):
    due: str = Field(description="The first follow-up's due day (YYYY-MM-DD)")
    deadline: str = Field(description="The due day's last instant in the report region's time")
    seconds: int = Field(description="Until the deadline; negative once overdue")
    working_days: int = Field(description="Working days left; negative once overdue")
    overdue: bool


class LocationOut(BaseModel):
    lat: float | None
    lon: float | None
    region_code: str | None
    address: str | None


class InboxItem(BaseModel):
    """A report as the desk shows it: never who reported."""

    tracking_id: str
    status: str
    classification: str
    title: str
    body: str
    category: str | None
    location: LocationOut
    channel: str
    anonymous: bool
    confidential: bool
    requires_field_inspection: bool
    agency_code: str | None
    agency_name: str | None
    routed_by: str | None = Field(
        description="rule|region|national|admin|transfer|reopen: how the institution was chosen"
    )
    forwarded_at: str | None
    follow_up_due: str | None
    follow_up_done: bool
    follow_up_count: int
    time_left: TimeLeftOut | None = Field(
        description="Until the end of the first follow-up's due day; null once an interim or"
        " final follow-up was posted (a question answers nothing)"
    )
    submitted_at: str
    updated_at: str
    last_follow_up_kind: str | None = Field(
        default=None, description="interim|final|question: the kind of your last follow-up"
    )
    answered_since_follow_up: bool = Field(
        default=False,
        description="The reporter answered since your last follow-up (e.g. your question)",
    )
    delegated_from: str | None = Field(
        default=None, description="The institution that delegated it to you, if one did"
    )

    @computed_field(  # type: ignore[prop-decorator]
        description="Your last follow-up asked the reporter a question not answered yet (the"
        ' desk marks it "Menunggu jawaban pelapor")'
    )
    @property
    def awaiting_reply(self) -> bool:
        return self.last_follow_up_kind == "question" and not self.answered_since_follow_up


class HistoryItem(BaseModel):
    """One event of the report, with the fields its public timeline shows for its type (e.g.
    `agency_code`, `follow_up_due` of a ForwardedToOPD; `text`, `kind` of a FollowUpPosted)."""

    model_config = ConfigDict(extra="allow")

    event_type: str
    occurred_at: str
    actor: str = Field(description="The kind of actor: citizen, admin, agency, system…")


class HandedOn(BaseModel):
    """How a report left your institution: you may read it, only its holder acts on it."""

    how: Literal["delegated", "transferred", "returned"]
    at: str = Field(description="When it left (ISO 8601)")
    to_agency: str | None = Field(description="Where it went (none: back to the LAPOR admins)")
    to_agency_name: str | None


class InboxDetail(InboxItem):
    history: list[HistoryItem] = Field(description="Oldest first")
    handed_on: HandedOn | None = Field(
        default=None,
        description="Set when the report is no longer with your institution (read-only for"
        " you): how it left, to whom and when",
    )


class SuggestedAgency(BaseModel):
    code: str
    name: str


class ReturnedInfo(BaseModel):
    by: str | None = Field(description="The institution that returned it")
    reason: str | None
    note: str | None
    returned_by: list[str] = Field(description="Every institution that returned it, in order")
    suggested_agency: SuggestedAgency | None


class ReturnedItem(InboxItem):
    returned: ReturnedInfo


class FollowUpOut(BaseModel):
    tracking_id: str
    status: str
    kind: str
    events: list[str]


class ReturnOut(BaseModel):
    tracking_id: str
    status: str
    reason: str
    suggested_agency: SuggestedAgency | None
    events: list[str]


class TransferOut(BaseModel):
    tracking_id: str
    status: str
    agency_code: str
    agency_name: str
    follow_up_due: str
    events: list[str]


class DelegateOut(BaseModel):
    tracking_id: str
    status: str
    agency_code: str
    agency_name: str
    follow_up_due: str | None = Field(description="Unchanged: the unit answers by the same day")
    events: list[str]


class HandedOnItem(BaseModel):
    """A report that left your institution, and where it is now."""

    tracking_id: str
    title: str
    how: Literal["delegated", "transferred", "returned"]
    at: str = Field(description="When it left (ISO 8601)")
    to_agency: str | None = Field(description="Where it went (none: back to the LAPOR admins)")
    to_agency_name: str | None
    status: str = Field(description="Its status now")
    now_agency_code: str | None = Field(description="The institution holding it now")
    now_agency_name: str | None
    confidential: bool


class ForwardOut(BaseModel):
    tracking_id: str
    status: str
    agency_code: str
    agency_name: str
    routed_by: str
    follow_up_due: str | None
    events: list[str]
