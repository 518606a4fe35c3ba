"""The desk's input: request bodies and their translation into report commands.

Shared by the JSON API and the HTML console, so both accept and refuse exactly the same things.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from services.verification.desk import Desk, Invalid
from shared.directory.model import load_categories
from shared.reports.commands import ChangeProtection, Command, VerifyReport
from shared.reports.events import Classification, Location, RejectionReason
from shared.reports.tracking import InvalidTrackingId, normalize_tracking_id

REGION_PATTERN = r"^[0-9]{2,10}$"
AGENCY_PATTERN = r"^[A-Z0-9-]+$"
MAX_BULK = 200


# --- input -------------------------------------------------------------------------------------
class VerifyIn(BaseModel):
    """Every field optional: `{}` verifies the report as submitted."""

    model_config = ConfigDict(extra="forbid")

    classification: Classification | None = None
    category: str | None = Field(default=None, max_length=64)
    region_code: str | None = Field(default=None, pattern=REGION_PATTERN)
    requires_field_inspection: bool = False
    agency_code: str | None = Field(default=None, pattern=AGENCY_PATTERN, max_length=100)
    location: Location | None = Field(default=None, description="A corrected location")


class RequestCompletionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=2000, description="What the reporter must add")


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: RejectionReason | None = Field(
        default=None, description="Defaults to `duplicate` when `duplicate_of` is given"
    )
    note: str | None = Field(default=None, max_length=2000)
    duplicate_of: str | None = Field(default=None, max_length=20)


class PostponeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    until: date
    note: str | None = Field(default=None, max_length=2000)


class NotOurAuthorityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=2000)
    to_region: str | None = Field(
        default=None, pattern=REGION_PATTERN, description="Another region's admins; none: national"
    )


class ProtectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    anonymous: bool | None = None
    confidential: bool | None = None
    note: str | None = Field(default=None, max_length=2000)


class BulkVerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tracking_ids: list[str] = Field(min_length=1, max_length=MAX_BULK)


# --- translation -------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def category_codes() -> frozenset[str]:
    """The category codes of the shared category list (empty if it cannot be read)."""
    return frozenset(c["code"] for c in categories())


def categories() -> list[dict[str, str]]:
    try:
        return [{"code": c.code, "name": c.name} for c in load_categories()]
    except (OSError, ValueError):
        return []


def check_category(code: str | None) -> None:
    known = category_codes()
    if code is not None and known and code not in known:
        raise Invalid("category", f"unknown category {code!r}")


def normalized(raw: str, field: str, where: str = "body") -> str:
    try:
        return normalize_tracking_id(raw)
    except InvalidTrackingId as error:
        raise HTTPException(
            422, [{"loc": [where, field], "field": field, "msg": str(error)}]
        ) from error


def tracking_id_param(tracking_id: str) -> str:
    return normalized(tracking_id, "tracking_id", "path")


TrackingId = Annotated[str, Depends(tracking_id_param)]


def verify_command(body: VerifyIn) -> VerifyReport:
    check_category(body.category)
    region = body.region_code or (body.location.region_code if body.location else None)
    location = body.location
    if location is not None and region is not None and location.region_code != region:
        location = location.model_copy(update={"region_code": region})
    return VerifyReport(
        classification=body.classification,
        category=body.category,
        region_code=region,
        location=location,
        requires_field_inspection=body.requires_field_inspection,
        agency_code=body.agency_code,
    )


def protection_command(body: ProtectionIn) -> ChangeProtection:
    if body.anonymous is None and body.confidential is None:
        raise Invalid("anonymous", "give anonymous, confidential or both")
    return ChangeProtection(
        anonymous=body.anonymous, confidential=body.confidential, note=body.note
    )


async def reject_command(desk: Desk, tracking_id: str, body: RejectIn) -> Command:
    duplicate_of = normalized(body.duplicate_of, "duplicate_of") if body.duplicate_of else None
    return await desk.reject_command(body.reason, body.note, duplicate_of, tracking_id)
