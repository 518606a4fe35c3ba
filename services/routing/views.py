"""Routing's read models: the agency desk's report view and each report's history, from events,
and the queries the desk asks of them.

Nothing here ever holds who reported: the reporter's encrypted identity is not copied, and the
history keeps only what a report's public timeline shows (plus the actor's kind).
"""

from __future__ import annotations

import json
import sqlite3
from functools import lru_cache
from typing import Any, cast

from services.routing.decisions import usable_region
from shared.calendar import WorkingDayCalendar
from shared.reports import events
from shared.reports.events import FollowUpKind, Status
from shared.reports.policy import DEFAULT_POLICY, SlaPolicy
from shared.runtime.projection import ViewReader
from shared.store.port import RecordedEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    tracking_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    classification TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    category TEXT,
    lat REAL, lon REAL, region_code TEXT, address TEXT,
    channel TEXT NOT NULL,
    anonymous INTEGER NOT NULL,
    confidential INTEGER NOT NULL,
    requires_field_inspection INTEGER NOT NULL DEFAULT 0,
    agency_code TEXT,
    agency_name TEXT,
    routed_by TEXT,
    follow_up_due TEXT,
    forwarded_at TEXT,
    followed_up INTEGER NOT NULL DEFAULT 0,
    follow_up_count INTEGER NOT NULL DEFAULT 0,
    last_follow_up_at TEXT,
    returned_by TEXT NOT NULL DEFAULT '[]',
    returned_from TEXT,
    return_reason TEXT,
    return_note TEXT,
    suggested_agency TEXT,
    submitted_at TEXT NOT NULL,
    verified_at TEXT,
    updated_at TEXT NOT NULL,
    last_follow_up_kind TEXT,
    answered_since_follow_up INTEGER NOT NULL DEFAULT 0,
    delegated_from TEXT
);
CREATE INDEX IF NOT EXISTS routing_reports_by_agency
    ON reports (agency_code, status, follow_up_due);
CREATE INDEX IF NOT EXISTS routing_reports_by_status ON reports (status, updated_at);
CREATE TABLE IF NOT EXISTS history (
    position INTEGER PRIMARY KEY,
    tracking_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS routing_history_by_report ON history (tracking_id, position);
-- Every time a report leaves an institution (delegated to its unit, transferred, returned to the
-- admins): the institution it left keeps seeing it, as handed on, in its desk.
CREATE TABLE IF NOT EXISTS handed_on (
    position INTEGER PRIMARY KEY,
    tracking_id TEXT NOT NULL,
    from_agency TEXT NOT NULL,
    to_agency TEXT,
    to_agency_name TEXT,
    how TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS handed_on_by_agency ON handed_on (from_agency, position);
"""
TABLES = ("reports", "history", "handed_on")
VERSION = 2  # PRAGMA user_version of the view file: raise it when SCHEMA changes
# The indexes only the queries read through (the fold reads reports by their tracking id): a
# rebuild creates them once its tables are full (`Projector`'s deferred_indexes).
DEFERRED_INDEXES = (
    "routing_reports_by_agency",
    "routing_reports_by_status",
    "routing_history_by_report",
    "handed_on_by_agency",
)
WITH_AGENCY = (Status.FORWARDED.value, Status.FOLLOWED_UP.value)

# What the desk shows of each event: the same fields as the public timeline, never the reporter.
HISTORY_FIELDS: dict[str, tuple[str, ...]] = {
    "ReportSubmitted": ("classification", "category", "channel"),
    "ReportCompletionRequested": ("note",),
    "ReportAmended": ("text",),
    "ReportVerified": ("classification", "category", "region_code", "requires_field_inspection"),
    "ReportRejected": ("reason", "note", "duplicate_of"),
    "ReportPostponed": ("until", "note"),
    "ReportReferred": ("to_region", "note"),
    "ForwardedToOPD": ("agency_code", "agency_name", "follow_up_due", "routed_by"),
    "ReportReturned": ("agency_code", "reason", "note", "suggested_agency"),
    "ReportTransferred": ("from_agency", "to_agency", "to_agency_name", "note", "follow_up_due"),
    "FollowUpPosted": ("agency_code", "text", "kind"),
    "ReporterReplied": ("text",),
    "ReportClosed": ("reason", "note"),
    "ReportRated": ("rating", "comment"),
    "ReportReopened": ("reason", "agency_code"),
    "SlaBreached": ("stage", "due", "agency_code"),
    "EscalatedToOmbudsman": ("ombudsman_office", "province_code", "grounds"),
    "ProtectionChanged": ("anonymous", "confidential"),
    "ReportDelegated": ("from_agency", "to_agency", "to_agency_name", "note"),
    "AdministratorReplied": ("text",),
    "SlaDueSoon": ("stage", "due", "agency_code"),
}


@lru_cache(maxsize=1)
def _shipped_calendar() -> WorkingDayCalendar:
    return WorkingDayCalendar.default()


def _handed_on(
    conn: sqlite3.Connection,
    event: RecordedEvent,
    tracking_id: str,
    from_agency: str,
    to_agency: str | None,
) -> None:
    how = {
        "ReportDelegated": "delegated",
        "ReportTransferred": "transferred",
        "ReportReturned": "returned",
    }[event.event_type]
    _insert(
        conn,
        "handed_on",
        position=event.position,
        tracking_id=tracking_id,
        from_agency=from_agency,
        to_agency=to_agency,
        to_agency_name=event.data.get("to_agency_name"),
        how=how,
        at=event.occurred_at.isoformat(),
    )


def _insert(conn: sqlite3.Connection, table: str, **columns: object) -> None:
    """One row, unless it is there already (a redelivered event). Names come from code."""
    names, marks = ", ".join(columns), ", ".join("?" for _ in columns)
    conn.execute(
        f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({marks})",  # noqa: S608
        tuple(columns.values()),
    )


class _Changes:
    """What the open transaction's events set on one report's row, written once at its end."""

    __slots__ = ("columns", "follow_ups", "followed_up_floor")

    def __init__(self) -> None:
        self.columns: dict[str, object] = {}  # the latest value of each column set
        self.follow_ups = 0  # follow-ups posted (follow_up_count grows by as many)
        # MAX(followed_up, floor) where followed_up was not set outright in this transaction.
        self.followed_up_floor: int | None = None


class ReportViews:
    """The projector's apply (one event at a time) and the end of its transaction (`BatchEnd`):
    a report's row is updated once per transaction with what its events set, in their order
    (the history and hand-overs are written at each event). `calendar` and `policy` are the
    process's (the ones every deadline is counted with: `shared.runtime.rules`); the shipped
    calendar when none is given."""

    def __init__(
        self, calendar: WorkingDayCalendar | None = None, policy: SlaPolicy = DEFAULT_POLICY
    ) -> None:
        self.calendar = calendar
        self.policy = policy
        self._changes: dict[str, _Changes] = {}

    def _set(self, tracking_id: str, at: str, **columns: object) -> None:
        changes = self._changes.get(tracking_id)
        if changes is None:
            changes = self._changes[tracking_id] = _Changes()
        changes.columns.update(columns)
        changes.columns["updated_at"] = at

    def _followed_up(self, tracking_id: str, at: str, kind: FollowUpKind) -> None:
        # A question answers nothing: the first follow-up is still due after one.
        answered = int(kind is not FollowUpKind.QUESTION)
        self._set(
            tracking_id,
            at,
            status=Status.FOLLOWED_UP.value,
            last_follow_up_at=at,
            last_follow_up_kind=kind.value,
            answered_since_follow_up=0,
        )
        changes = self._changes[tracking_id]
        changes.follow_ups += 1
        columns = changes.columns
        if "followed_up" in columns:
            columns["followed_up"] = max(cast(int, columns["followed_up"]), answered)
        else:
            changes.followed_up_floor = max(changes.followed_up_floor or 0, answered)

    def _current(self, conn: sqlite3.Connection, tracking_id: str, *names: str) -> dict[str, Any]:
        """Columns of the report as its events so far left them (None: no such report)."""
        row = conn.execute(
            f"SELECT {', '.join(names)} FROM reports WHERE tracking_id = ?",  # noqa: S608
            (tracking_id,),
        ).fetchone()
        if row is None:
            return {}
        found = dict(zip(names, row, strict=True))
        changes = self._changes.get(tracking_id)
        if changes is not None:
            found.update((n, changes.columns[n]) for n in names if n in changes.columns)
        return found

    def finish(self, conn: sqlite3.Connection) -> None:
        for tracking_id, changes in self._changes.items():
            sets = [f"{name} = ?" for name in changes.columns]
            values: list[object] = list(changes.columns.values())
            if changes.followed_up_floor is not None:
                sets.append("followed_up = MAX(followed_up, ?)")
                values.append(changes.followed_up_floor)
            if changes.follow_ups:
                sets.append("follow_up_count = follow_up_count + ?")
                values.append(changes.follow_ups)
            conn.execute(
                f"UPDATE reports SET {', '.join(sets)} WHERE tracking_id = ?",  # noqa: S608
                (*values, tracking_id),
            )
        self._changes.clear()

    def discard(self) -> None:
        self._changes.clear()

    def apply(self, conn: sqlite3.Connection, event: RecordedEvent) -> None:
        """Fold one event into the views."""
        if not event.stream.startswith("report-") or event.event_type not in HISTORY_FIELDS:
            return
        tracking_id = event.stream.removeprefix("report-")
        at = event.occurred_at.isoformat()
        data = event.current_data()
        details = {k: data.get(k) for k in HISTORY_FIELDS[event.event_type]}
        conn.execute(
            "INSERT OR IGNORE INTO history (position, tracking_id, event_type, occurred_at,"
            " actor_kind, details) VALUES (?, ?, ?, ?, ?, ?)",
            (
                event.position,
                tracking_id,
                event.event_type,
                at,
                event.actor.kind,
                json.dumps(details),
            ),
        )
        payload = event.payload()
        match payload:
            case events.ReportSubmitted():
                loc = payload.location
                _insert(
                    conn,
                    "reports",
                    tracking_id=tracking_id,
                    status=Status.SUBMITTED.value,
                    classification=payload.classification.value,
                    title=payload.title,
                    body=payload.body,
                    category=payload.category,
                    lat=loc.lat,
                    lon=loc.lon,
                    region_code=loc.region_code,
                    address=loc.address,
                    channel=payload.channel.value,
                    anonymous=int(payload.anonymous),
                    confidential=int(payload.confidential),
                    submitted_at=at,
                    updated_at=at,
                )
            case events.ReportVerified():
                self._set(
                    tracking_id,
                    at,
                    status=Status.VERIFIED.value,
                    classification=payload.classification.value,
                    category=payload.category,
                    region_code=payload.region_code,
                    requires_field_inspection=int(payload.requires_field_inspection),
                    verified_at=at,
                )
                if payload.location is not None:
                    loc = payload.location
                    self._set(tracking_id, at, lat=loc.lat, lon=loc.lon, address=loc.address)
            case events.ReportRejected():
                self._set(tracking_id, at, status=Status.REJECTED.value)
            case events.ReportReferred():
                self._set(tracking_id, at, region_code=payload.to_region)
            case events.ProtectionChanged():
                self._set(
                    tracking_id,
                    at,
                    anonymous=int(payload.anonymous),
                    confidential=int(payload.confidential),
                )
            case events.ForwardedToOPD():
                self._set(
                    tracking_id,
                    at,
                    status=Status.FORWARDED.value,
                    agency_code=payload.agency_code,
                    agency_name=payload.agency_name,
                    routed_by=payload.routed_by,
                    follow_up_due=payload.follow_up_due.isoformat(),
                    forwarded_at=at,
                    followed_up=0,
                )
            case events.ReportDelegated() | events.ReportTransferred():
                _handed_on(conn, event, tracking_id, payload.from_agency, payload.to_agency)
                # A delegation keeps the institution's deadline; a transfer starts a new one.
                handed: dict[str, object] = (
                    {"delegated_from": payload.from_agency}
                    if isinstance(payload, events.ReportDelegated)
                    else {
                        "routed_by": "transfer",
                        "follow_up_due": payload.follow_up_due.isoformat(),
                        "forwarded_at": at,
                        "followed_up": 0,
                    }
                )
                self._set(
                    tracking_id,
                    at,
                    agency_code=payload.to_agency,
                    agency_name=payload.to_agency_name,
                    **handed,
                )
            case events.ReporterReplied():
                self._set(tracking_id, at, answered_since_follow_up=1)
            case events.ReportReturned():
                _handed_on(conn, event, tracking_id, payload.agency_code, None)
                row = self._current(conn, tracking_id, "returned_by")
                returned_by = [
                    *json.loads(row["returned_by"] if row else "[]"),
                    payload.agency_code,
                ]
                self._set(
                    tracking_id,
                    at,
                    status=Status.RETURNED.value,
                    agency_code=None,
                    agency_name=None,
                    follow_up_due=None,
                    returned_by=json.dumps(returned_by),
                    returned_from=payload.agency_code,
                    return_reason=payload.reason,
                    return_note=payload.note,
                    suggested_agency=payload.suggested_agency,
                )
            case events.FollowUpPosted():
                self._followed_up(tracking_id, at, payload.kind)
            case events.ReportClosed():
                self._set(tracking_id, at, status=Status.CLOSED.value)
            case events.ReportReopened():
                row = self._current(conn, tracking_id, "agency_code", "region_code")
                agency = payload.agency_code or (row["agency_code"] if row else None)
                # The reopening carries no due date: the agency's follow-up limit from that day, in
                # the report's region (its time zone and holidays), as sla's deadlines count it.
                due = (
                    self.policy.policy_for(agency).follow_up.due_after(
                        event.occurred_at,
                        self.calendar or _shipped_calendar(),
                        usable_region(row["region_code"]),
                    )
                    if agency and row
                    else None
                )
                self._set(
                    tracking_id,
                    at,
                    status=Status.FORWARDED.value,
                    agency_code=agency,
                    routed_by="reopen",
                    follow_up_due=due.isoformat() if due else None,
                    forwarded_at=at,
                    followed_up=0,
                )
            case _:
                pass


# --- queries -----------------------------------------------------------------------------------
async def inbox(
    views: ViewReader,
    agency: str,
    *,
    status: str | None = None,
    category: str | None = None,
    q: str | None = None,
    not_followed_up: bool = False,
    page: tuple[int, int] | None = None,
) -> list[sqlite3.Row]:
    """The reports with `agency`: those waiting for it first (not followed up yet, or the
    reporter answered since its last follow-up), then soonest due; `page` is (limit, offset)."""
    where = ["agency_code = ?", "status IN (?, ?)"]
    params: list[object] = [agency, *WITH_AGENCY]
    if status:
        where.append("status = ?")
        params.append(status)
    if category:
        where.append("category = ?")
        params.append(category)
    if q:
        where.append("(title LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\')")
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params.extend([like, like])
    if not_followed_up:
        where.append("followed_up = 0")
    order = (
        " ORDER BY (followed_up = 0 OR answered_since_follow_up = 1) DESC, follow_up_due ASC,"
        " forwarded_at ASC"
    )
    sql = "SELECT * FROM reports WHERE " + " AND ".join(where) + order  # noqa: S608
    if page is not None:
        sql += " LIMIT ? OFFSET ?"
        params.extend(page)
    return await views.fetchall(sql, params)


async def inbox_report(views: ViewReader, agency: str, tracking_id: str) -> sqlite3.Row | None:
    """The report if it is now with `agency`."""
    return await views.fetchone(
        "SELECT * FROM reports WHERE tracking_id = ? AND agency_code = ? AND status IN (?, ?)",
        (tracking_id, agency, *WITH_AGENCY),
    )


async def handed_on_by(views: ViewReader, agency: str, tracking_id: str) -> sqlite3.Row | None:
    """The last time the report left `agency` (how, to whom, when), if it ever did."""
    return await views.fetchone(
        "SELECT how, to_agency, to_agency_name, at FROM handed_on"
        " WHERE from_agency = ? AND tracking_id = ? ORDER BY position DESC LIMIT 1",
        (agency, tracking_id),
    )


async def report_row(views: ViewReader, tracking_id: str) -> sqlite3.Row | None:
    return await views.fetchone("SELECT * FROM reports WHERE tracking_id = ?", (tracking_id,))


async def history(views: ViewReader, tracking_id: str) -> list[sqlite3.Row]:
    return await views.fetchall(
        "SELECT * FROM history WHERE tracking_id = ? ORDER BY position", (tracking_id,)
    )


async def handed_on(views: ViewReader, agency: str, limit: int, offset: int) -> list[sqlite3.Row]:
    """Reports that left `agency` (delegated, transferred, returned), newest first, with where
    each is now."""
    return await views.fetchall(
        "SELECT h.*, r.status, r.title, r.agency_code AS now_agency_code,"
        " r.agency_name AS now_agency_name, r.follow_up_due, r.confidential"
        " FROM handed_on h JOIN reports r ON r.tracking_id = h.tracking_id"
        " WHERE h.from_agency = ? ORDER BY h.position DESC LIMIT ? OFFSET ?",
        (agency, limit, offset),
    )


async def returned(
    views: ViewReader, limit: int, offset: int, region_prefix: str | None = None
) -> list[sqlite3.Row]:
    """Reports institutions sent back, longest waiting first (within a region, when given)."""
    if region_prefix is None:
        return await views.fetchall(
            "SELECT * FROM reports WHERE status = ? ORDER BY updated_at LIMIT ? OFFSET ?",
            (Status.RETURNED.value, limit, offset),
        )
    return await views.fetchall(
        "SELECT * FROM reports WHERE status = ? AND substr(region_code, 1, ?) = ?"
        " ORDER BY updated_at LIMIT ? OFFSET ?",
        (Status.RETURNED.value, len(region_prefix), region_prefix, limit, offset),
    )
