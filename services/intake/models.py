"""Intake's HTTP contract: what the JSON API takes (`…In`) and answers (`…Out`).

Citizens' apps, institutions and other systems code against these names and shapes: a field is
never renamed nor retyped. Answers that leave a field out (a report's files for the public, the
officers' reads for anyone but the reporter) are served with `response_model_exclude_unset`, so
a field that was not set stays out of the JSON as it always has.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from shared.regions import InvalidRegionCode, normalize_code
from shared.reports.events import Classification, Location
from shared.values import Visible, normalize_phone, visible_text


# --- what the API takes ------------------------------------------------------------------------
class ReporterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str | None, Visible] = Field(default=None, max_length=200)
    phone: str | None = Field(
        default=None,
        pattern=r"^\+?[0-9 \-]{6,20}$",
        description="Any common way of writing it (`0812 3456 7890`, `0812.3456.7890`,"
        " `+62 812-3456-7890`); stored as +62…",
    )
    email: EmailStr | None = None

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return None
            return normalize_phone(value) or value
        return value

    @field_validator("name", "email", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    def is_empty(self) -> bool:
        return not (self.name or self.phone or self.email)


UPLOAD_TOKEN = Field(
    pattern=r"^[0-9a-f]{64}$",
    description="The upload_token POST /api/v1/attachments answered: only who uploaded a file"
    " can attach it",
)


class AttachmentRef(BaseModel):
    """A file uploaded before (POST /api/v1/attachments), named by its sha256 and upload_token."""

    model_config = ConfigDict(extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    name: str | None = Field(default=None, max_length=255)
    upload_token: str = UPLOAD_TOKEN


class LocationIn(Location):
    """Where it happened. `region_code`: an official Kemendagri code of any level, digits or
    dotted (`3578`, `35.78.01`); unknown codes are refused (422) with the nearest real region
    suggested. `lat` and `lon` go together and must be in Indonesia."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region_code: str | None = Field(
        default=None,
        max_length=14,
        description="Kemendagri code, digits (3578011001) or dotted (35.78.01.1001)",
    )

    @field_validator("region_code", mode="before")
    @classmethod
    def _plain(cls, value: object) -> object:
        # Dotted to digits; anything else goes on as it is, for the domain to refuse by name.
        if not isinstance(value, str) or not value.strip():
            return None if isinstance(value, str) else value
        try:
            return normalize_code(value)
        except InvalidRegionCode:
            return value.strip()

    @field_validator("address", mode="before")
    @classmethod
    def _visible(cls, value: object) -> object:
        return visible_text(value)


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    classification: Classification = Classification.COMPLAINT
    title: Annotated[str, Visible] = Field(min_length=3, max_length=200)
    body: Annotated[str, Visible] = Field(min_length=10, max_length=10_000)
    category: str | None = Field(default=None, max_length=64)
    location: LocationIn = LocationIn()
    event_date: date | None = None
    anonymous: bool = False
    confidential: bool = False
    reporter: ReporterIn | None = None
    language: str = Field(default="id", pattern=r"^(id|en)$")
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=20)


class TextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Visible] = Field(min_length=1, max_length=10_000)
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=20)


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: int = Field(ge=1, le=5)
    comment: Annotated[str | None, Visible] = Field(default=None, max_length=2000)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Annotated[str | None, Visible] = Field(default=None, max_length=2000)


# --- what it answers ---------------------------------------------------------------------------
class SubmitOut(BaseModel):
    tracking_id: str
    access_code: str
    status: str


class ActionOut(BaseModel):
    """A reporter's action was recorded: the events it appended, in order."""

    tracking_id: str
    events: list[str]


class ErrorOut(BaseModel):
    """Every error: `detail` is a message naming the field, or a list of `{field, msg, …}`."""

    detail: str | list[dict[str, object]]


class FileOut(BaseModel):
    """A stored file: content-addressed, its type read from its bytes."""

    sha256: str
    name: str
    media_type: str
    size: int


class UploadOut(FileOut):
    """The file just uploaded, with what attaches it (to a report, a reply, a poll)."""

    upload_token: str = Field(
        description="Name it with the sha256 in `attachments`: proof that you uploaded the file"
    )


class CategoryOut(BaseModel):
    code: str
    name: str
    name_en: str


class RegionOut(BaseModel):
    code: str
    name: str
    level: str
    lat: float | None
    lon: float | None


class LocationOut(BaseModel):
    lat: float | None
    lon: float | None
    region_code: str | None
    address: str | None


class OfficerReadOut(BaseModel):
    """One entry of a confidential report's access log, as its reporter sees it."""

    event_type: str
    read_at: str
    reader_role: str | None = None
    reader_agency: str | None = None
    service: str | None = None
    what: str | None = None


class ReportOut(BaseModel):
    """A report as the caller may see it.

    Published (forwarded to an institution, not rejected): everything but who reported; the
    public reads the public text when an administrator set one. Not published yet: anyone with
    the tracking ID sees `tracking_id`, `status`, `published` and the dates only; its reporter
    (`X-Access-Code`) and the officers who handle it see everything. `attachments` (and
    `public_title`/`public_body`) only for the reporter and officers; `reporter_identity_erased`
    and `officer_reads` only on a single report."""

    tracking_id: str
    status: str
    published: bool | None = Field(
        default=None, description="Public: forwarded at least once, not rejected (DESIGN §9)"
    )
    classification: str | None = None
    title: str | None = None
    body: str | None = None
    category: str | None = None
    location: LocationOut | None = None
    channel: str | None = None
    anonymous: bool | None = None
    confidential: bool | None = None
    agency_code: str | None = None
    agency_name: str | None = None
    follow_up_due: str | None = None
    event_date: str | None = None
    rating: int | None = None
    attachment_count: int | None = None
    submitted_at: str
    updated_at: str
    attachments: list[FileOut] | None = None
    public_title: str | None = Field(
        default=None, description="What the public reads instead of the title (if set)"
    )
    public_body: str | None = Field(
        default=None, description="What the public reads instead of the text (if set)"
    )
    reporter_identity_erased: bool | None = None
    officer_reads: list[OfficerReadOut] | None = Field(
        default=None, description="Only for the reporter of a confidential report"
    )


class TimelineEntryOut(BaseModel):
    """One event of a report, with the public part of its data after the three fields every
    entry has. Which more fields depends on the event type (never who reported, never file
    names): `channel` (ReportSubmitted); `note` (ReportCompletionRequested); `text`
    (ReportAmended, ReporterReplied); `classification`, `category`, `region_code`,
    `requires_field_inspection` (ReportVerified); `reason`, `note`, `duplicate_of`
    (ReportRejected); `until`, `note` (ReportPostponed); `to_region`, `note` (ReportReferred);
    `agency_code`, `agency_name`, `follow_up_due` (ForwardedToOPD); `agency_code`, `reason`,
    `note` (ReportReturned); `from_agency`, `to_agency`, `to_agency_name`, `note`
    (ReportTransferred); `agency_code`, `text`, `kind` (FollowUpPosted); `reason`, `note`
    (ReportClosed); `rating`, `comment` (ReportRated); `reason`, `agency_code`
    (ReportReopened); `stage`, `due`, `agency_code` (SlaBreached); `ombudsman_office`
    (EscalatedToOmbudsman); `anonymous`, `confidential` (ProtectionChanged); and
    `attachment_count` when files came with the event. Free text may be gone after the views'
    retention period."""

    model_config = ConfigDict(extra="allow")

    event_type: str
    occurred_at: str
    actor: str = Field(description="Who acted: citizen, admin, agency, system…")


class FollowUpStats(BaseModel):
    forwarded: int
    followed_up: int
    on_time: int
    late: int
    share_on_time: float | None


class RatingStats(BaseModel):
    count: int
    average: float | None
    by_stars: dict[str, int]


class StatsOut(BaseModel):
    """Counts of public reports by dimension; confidential ones only in `total`/`confidential`."""

    total: int
    confidential: int
    public: int
    by_status: dict[str, int]
    by_category: dict[str, int]
    by_classification: dict[str, int]
    by_channel: dict[str, int]
    by_province: dict[str, int]
    by_regency: dict[str, int]
    by_agency: dict[str, int]
    follow_up: FollowUpStats
    rating: RatingStats


# --- the map: GeoJSON (RFC 7946) --------------------------------------------------------------
class PointOut(BaseModel):
    type: Literal["Point"] = "Point"
    coordinates: list[float] = Field(description="[longitude, latitude]")


class FeaturePropertiesOut(BaseModel):
    tracking_id: str
    status: str
    category: str | None
    classification: str
    title: str
    submitted_at: str
    agency_code: str | None = Field(default=None, description="The institution it is with")


class FeatureOut(BaseModel):
    type: Literal["Feature"] = "Feature"
    geometry: PointOut
    properties: FeaturePropertiesOut


class FeatureCollectionOut(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[FeatureOut]


Answers = dict[int | str, dict[str, Any]]
NOT_FOUND: Answers = {
    404: {"model": ErrorOut, "description": "No such report (or not yours to see)"}
}
TOO_MANY: Answers = {429: {"model": ErrorOut, "description": "Too many tries from this address"}}
REPORTER_ERRORS: Answers = {
    401: {"model": ErrorOut, "description": "X-Access-Code missing"},
    403: {"model": ErrorOut, "description": "Wrong access code"},
    **NOT_FOUND,
    409: {"model": ErrorOut, "description": "Not possible in the report's status"},
    **TOO_MANY,
}
