"""Which institutions an event of a report concerns, beyond the one its subject names.

An event is published on the subject of the institution the report is with after it
(`lapor.v1.events.<Type>.<region>.<agency>`); a return still names the institution it leaves.
A transfer or a delegation names the receiver, so the institution that hands the report on hears
of it only through a copy on its own subject: these are the institutions that get one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

# The events with which a report leaves an institution for another, and where the leaver is.
LEAVER_FIELD = {"ReportTransferred": "from_agency", "ReportDelegated": "from_agency"}


def agencies_left(
    event_type: str, data: Mapping[str, Any], subject_agency: str | None
) -> tuple[str, ...]:
    """The institutions that `event_type` moves the report away from (not the subject's own)."""
    field = LEAVER_FIELD.get(event_type)
    if field is None:
        return ()
    left = data.get(field)
    if not isinstance(left, str) or not left or left == subject_agency:
        return ()
    return (left,)


HandedOnHow = Literal["delegated", "transferred", "returned"]


def readable_after_handing_on(how: HandedOnHow, confidential: bool) -> bool:
    """May an institution still read (never act on) a report it handed on this way?

    After a delegation always: the delegating institution keeps answering for its unit's work,
    under the same deadline. After a transfer or a return too, unless the report is confidential:
    a confidential (*rahasia*) report is for the reporter and the institution handling it only.
    """
    return how == "delegated" or not confidential
