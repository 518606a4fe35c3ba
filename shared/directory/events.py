"""Directory events: every change to the institution directory is an audited fact.

The seed file (`shared/directory/data/directory.json`) is the starting point; `DirectoryChanged`
events on the `directory` stream are applied on top of it, in order (`shared/directory/state.py`).

The records here are the storage contract, deliberately looser than `shared.directory.model`'s file
models: a stored event must stay readable even if the directory's validation rules get stricter.
Whether a change makes a valid directory is checked when it is decided, and again when applied.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events.base import DomainEvent, Upcaster
from shared.regions.legacy import official_code

DIRECTORY_STREAM = "directory"

DirectoryChange = Literal["institution_added", "institution_updated", "rule_set", "rule_removed"]


class LiaisonOfficerRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    email: str | None = None
    phone: str | None = None


class InstitutionRecord(BaseModel):
    """An institution as the directory file describes it (see docs/directory-format.md)."""

    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    level: str
    region_code: str | None = None
    parent: str | None = None
    sms_keywords: tuple[str, ...] = ()
    liaison_officers: tuple[LiaisonOfficerRecord, ...] = ()
    categories: tuple[str, ...] = ()


class RoutingRuleRecord(BaseModel):
    """Region (prefix) and category to institution; (region_prefix, category) is its key."""

    model_config = ConfigDict(frozen=True)

    region_prefix: str | None = None
    category: str | None = None
    agency_code: str
    note: str | None = None


class DirectoryChanged(DomainEvent):
    """One institution added or updated, or one routing rule set or removed."""

    event_type: ClassVar[str] = "DirectoryChanged"
    # v2: region codes are official Kemendagri codes (v1 was written with the pilot's codes)
    schema_version: ClassVar[int] = 2

    change: DirectoryChange
    code: str = Field(description="The institution's agency code (for a rule: its agency)")
    institution: InstitutionRecord | None = Field(
        default=None, description="The institution as it is after the change"
    )
    rule: RoutingRuleRecord | None = Field(
        default=None, description="The rule set or removed (removal matches on its key)"
    )
    source: Literal["admin", "import"] = "admin"
    note: str | None = Field(default=None, max_length=2000)


DIRECTORY_EVENTS: tuple[type[DomainEvent], ...] = (DirectoryChanged,)


def _official_codes(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    institution, rule = data.get("institution"), data.get("rule")
    if isinstance(institution, dict) and institution.get("region_code"):
        out["institution"] = {
            **institution,
            "region_code": official_code(institution["region_code"]),
        }
    if isinstance(rule, dict) and rule.get("region_prefix"):
        out["rule"] = {**rule, "region_prefix": official_code(rule["region_prefix"])}
    return out


# Version 1 carried the pilot's region codes (`shared.regions.legacy`); read as official ones.
UPCASTERS: dict[tuple[str, int], Upcaster] = {("DirectoryChanged", 1): _official_codes}

__all__ = [
    "DIRECTORY_STREAM",
    "UPCASTERS",
    "DirectoryChange",
    "DirectoryChanged",
    "InstitutionRecord",
    "LiaisonOfficerRecord",
    "RoutingRuleRecord",
]
