"""The access audit: who read a confidential report, and when its reporter was erased.

Every read of a confidential report by an officer or an administrator (intake's report, timeline
and files with a Bearer token, the verification desk's detail, the agency desk's inbox detail) is
recorded before the data is returned, as a `ConfidentialReportRead` on the report's own access
stream `access-<tracking_id>`. The report's stream stays the report's story; the access stream is
append-only and hash-chained like every other, so `lapor audit verify` covers it, and the reporter
sees it on their report page (with the access code).

`ReporterIdentityErased` is appended there by `lapor privacy erase` after the report's data key
was deleted (crypto-shredding): the erasure itself is part of the audit trail.

Privacy: nothing here carries the report's content or who reported; only who read it (the
officer's token subject, role, agency and region scope), where (service, what) and when.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.auth import Principal
from shared.events.base import Actor, DomainEvent

ACCESS_STREAM_PREFIX = "access-"

ReadWhat = Literal["report", "timeline", "attachment", "desk_detail", "inbox_detail"]
ReaderRole = Literal["admin", "agency", "ombudsman", "client"]


def access_stream(tracking_id: str) -> str:
    return f"{ACCESS_STREAM_PREFIX}{tracking_id}"


class ConfidentialReportRead(DomainEvent):
    """An officer or administrator read a confidential report."""

    event_type: ClassVar[str] = "ConfidentialReportRead"

    tracking_id: str
    reader_subject: str = Field(max_length=200, description="The token's `sub`: who read it")
    reader_role: ReaderRole
    reader_agency: str | None = Field(default=None, description="For agency readers")
    reader_region: str | None = Field(default=None, description="The reader's region scope")
    service: Literal["intake", "verification", "routing", "sla"]
    what: ReadWhat = Field(description="Which view of the report was returned")


class ReporterIdentityErased(DomainEvent):
    """The report's data key was deleted: the reporter's identity and contact are unreadable."""

    event_type: ClassVar[str] = "ReporterIdentityErased"

    tracking_id: str
    key_deleted: bool = Field(
        description="A data key existed and was deleted (false: none was ever stored, e.g. an"
        " anonymous report without contact, or it was erased before)"
    )


TOKENS_STREAM = "tokens"


class TokenRevoked(DomainEvent):
    """A bearer token may no longer be used (lost, an officer left, a leak). Every service keeps
    the revoked token ids from these events and refuses them until they expire anyway."""

    event_type: ClassVar[str] = "TokenRevoked"

    token_id: str = Field(max_length=200, description="The token's `jti`")
    expires_at: datetime | None = Field(
        default=None,
        description="When the token would have expired (the revocation can be forgotten after)",
    )
    note: str | None = Field(default=None, max_length=500)


class SubjectTokensRevoked(DomainEvent):
    """Every token of one subject (an officer who left, a system whose secret leaked) issued up
    to `issued_before` may no longer be used; tokens issued to it afterwards are valid."""

    event_type: ClassVar[str] = "SubjectTokensRevoked"

    subject: str = Field(min_length=1, max_length=200, description="The tokens' `sub`")
    issued_before: datetime = Field(
        description="Tokens issued at or before this moment are refused (`iat`, whole seconds)"
    )
    note: str | None = Field(default=None, max_length=500)


ACCESS_EVENTS: tuple[type[DomainEvent], ...] = (
    ConfidentialReportRead,
    ReporterIdentityErased,
    TokenRevoked,
    SubjectTokensRevoked,
)


# --- deciding what to record (pure) ------------------------------------------------------------
def read_by(
    principal: Principal, tracking_id: str, service: str, what: str
) -> ConfidentialReportRead:
    return ConfidentialReportRead(
        tracking_id=tracking_id,
        reader_subject=principal.subject[:200],
        reader_role=principal.role.value,
        reader_agency=principal.agency,
        reader_region=principal.region,
        service=service,
        what=what,
    )


def reader_actor(principal: Principal) -> Actor:
    return Actor(
        kind="agency" if principal.role.value == "agency" else "admin", id=principal.subject
    )
