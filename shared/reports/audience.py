"""Which institutions an event of a report concerns, beyond the one its subject names.

An event is published on the subject of the institution the report is with after it
(`lapor.v1.events.<Type>.<region>.<agency>`); a return still names the institution it leaves.
A transfer or a delegation names the receiver, so the institution that hands the report on hears
of it only through a copy on its own subject: these are the institutions that get one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
