"""The lifecycle metrics: every report step counted once, and the two times that matter timed
(verification → first forwarding, forwarding → the institution's first follow-up).

The relay sees every event exactly once, in the store's global order, right after JetStream
acknowledged it; so it counts here, and keeps in memory the few timestamps each open report needs
(when it was verified, when it was last forwarded and whether it has been answered since). It
never reads a stream back. After a restart the memory starts empty: a step whose start was
published before the restart is counted but not timed (a slight undercount of the histograms,
never a wrong time). The memory is bounded: finished reports leave it, and past `capacity` open
reports the oldest are forgotten the same way.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.logs import get_logger
from shared.metrics import (
    FOLLOW_UPS_POSTED,
    REPORT_STATUS_CHANGES,
    REPORTS_FORWARDED,
    REPORTS_SUBMITTED,
    TIME_TO_FIRST_FOLLOW_UP,
    TIME_TO_FORWARD,
)

log = get_logger(__name__)

STATUS_OF_EVENT = {
    "ReportSubmitted": "submitted",
    "ReportCompletionRequested": "completion_requested",
    "ReportVerified": "verified",
    "ReportRejected": "rejected",
    "ForwardedToOPD": "forwarded",
    "ReportTransferred": "forwarded",
    "ReportReturned": "returned",
    "FollowUpPosted": "followed_up",
    "ReportClosed": "closed",
}
STATUSES = tuple(sorted(set(STATUS_OF_EVENT.values())))
FINISHED = frozenset({"ReportClosed", "ReportRejected"})
_AGENCY = re.compile(r"^[A-Z0-9-]{1,64}$")
_PROVINCE = re.compile(r"^([0-9]{2})[0-9]*$")


def province_of(region_code: object) -> str:
    """The two-digit province prefix of a Kemendagri region code (dots allowed), `_` otherwise."""
    if not isinstance(region_code, str):
        return "_"
    found = _PROVINCE.match(region_code.replace(".", ""))
    return found.group(1) if found else "_"


def agency_label(code: object) -> str:
    return code if isinstance(code, str) and _AGENCY.match(code) else "_"


class Published(Protocol):
    """What the lifecycle reads of a published event (shared.store.port.RecordedEvent)."""

    @property
    def event_type(self) -> str: ...
    @property
    def stream(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def region_code(self) -> str | None: ...
    @property
    def data(self) -> dict[str, Any]: ...


@dataclass
class _Report:
    verified_at: datetime | None = None
    forwarded_once: bool = False
    forwarded_at: datetime | None = None  # the latest forwarding or transfer, until answered


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


class LifecycleMetrics:
    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._reports: OrderedDict[str, _Report] = OrderedDict()
        for status in STATUSES:  # at 0 from the start, so that increase() sees the first one
            REPORT_STATUS_CHANGES.labels(status)

    def __len__(self) -> int:
        return len(self._reports)

    def observe(self, events: Sequence[Published]) -> None:
        """Count newly published events (once each: skip JetStream duplicates). Never raises."""
        for event in events:
            try:
                self._observe(event)
            except Exception as error:  # metrics must never stop the relay
                log.warning(
                    "lifecycle_metrics_failed",
                    event_type=event.event_type,
                    error=type(error).__name__,
                )

    def _report(self, stream: str) -> _Report:
        report = self._reports.get(stream)
        if report is None:
            report = self._reports[stream] = _Report()
            if len(self._reports) > self.capacity:
                self._reports.popitem(last=False)
        else:
            self._reports.move_to_end(stream)
        return report

    def _observe(self, event: Published) -> None:
        kind = event.event_type
        status = STATUS_OF_EVENT.get(kind)
        if status is None:
            return
        REPORT_STATUS_CHANGES.labels(status).inc()
        data = event.data
        at = event.occurred_at
        if kind in FINISHED:
            self._reports.pop(event.stream, None)
        elif kind == "ReportSubmitted":
            location = data.get("location") or {}
            REPORTS_SUBMITTED.labels(
                str(data.get("channel") or "_"),
                str(data.get("classification") or "_"),
                province_of(location.get("region_code") or event.region_code),
            ).inc()
            self._report(event.stream)
        elif kind == "ReportVerified":
            self._report(event.stream).verified_at = at
        elif kind in ("ForwardedToOPD", "ReportTransferred"):
            agency = data.get("agency_code") if kind == "ForwardedToOPD" else data.get("to_agency")
            REPORTS_FORWARDED.labels(agency_label(agency)).inc()
            report = self._report(event.stream)
            if kind == "ForwardedToOPD" and not report.forwarded_once and report.verified_at:
                TIME_TO_FORWARD.observe(_seconds(report.verified_at, at))
            report.forwarded_once = True
            report.forwarded_at = at
        elif kind == "FollowUpPosted":
            FOLLOW_UPS_POSTED.labels(agency_label(data.get("agency_code"))).inc()
            report = self._report(event.stream)
            if report.forwarded_at is not None:
                TIME_TO_FIRST_FOLLOW_UP.observe(_seconds(report.forwarded_at, at))
                report.forwarded_at = None
        elif kind == "ReportReturned":
            self._report(event.stream).forwarded_at = None
