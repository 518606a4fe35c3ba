"""The verification desk's read models, built from events; reads never load aggregates.

Tables
    desk_reports     one row per report: what an admin needs to decide, and the verification clock
    desk_text        FTS5 index of each report's content words (for duplicate suggestions)
    desk_history     every event of every report, with its actor (admins see who did what)
    duplicate_links  report → the report it was rejected as a duplicate of

The verification clock (DESIGN §2: verification within 3 working days of submission, a limit that
comes from `shared.reports.policy`): it starts at submission, pauses while a completion request
waits for the reporter (keeping the days that were left), resumes when the reporter amends the
report, and stops when the report is verified or rejected. A referral to another region recounts
the due day in that region's calendar and time zone.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.verification.similarity import bounding_box, fts_query, tokens
from shared.calendar import WorkingDayCalendar, deadline_end, local_date, timezone_for_region
from shared.reports.events import (
    REPORT_EVENTS,
    FollowUpPosted,
    ForwardedToOPD,
    ProtectionChanged,
    ReportAmended,
    ReportClosed,
    ReportCompletionRequested,
    ReportPostponed,
    ReportReferred,
    ReportRejected,
    ReportReopened,
    ReportReturned,
    ReportSubmitted,
    ReportTransferred,
    ReportVerified,
    SlaBreached,
    SlaStage,
    Status,
)
from shared.reports.policy import DEFAULT_POLICY, Limit
from shared.runtime.projection import ViewReader
from shared.store.port import RecordedEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS desk_reports (
    tracking_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    classification TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    amendments TEXT NOT NULL DEFAULT '[]',
    category TEXT,
    suggested_category TEXT,
    suggested_region TEXT,
    lat REAL, lon REAL, region_code TEXT, address TEXT,
    channel TEXT NOT NULL,
    anonymous INTEGER NOT NULL,
    confidential INTEGER NOT NULL,
    requires_field_inspection INTEGER NOT NULL DEFAULT 0,
    agency_code TEXT,
    submitted_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL,
    clock_started_at TEXT,
    clock_days INTEGER,
    paused INTEGER NOT NULL DEFAULT 0,
    due_date TEXT,
    due_at TEXT,
    postponed_until TEXT,
    postpone_note TEXT,
    completion_requested_at TEXT,
    completion_note TEXT,
    verified_at TEXT,
    rejected_reason TEXT,
    duplicate_of TEXT,
    decided_by TEXT,
    breached INTEGER NOT NULL DEFAULT 0,
    tokens TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS desk_by_status ON desk_reports (status, submitted_at);
CREATE INDEX IF NOT EXISTS desk_by_region ON desk_reports (region_code);
CREATE INDEX IF NOT EXISTS desk_by_submitted ON desk_reports (submitted_at);
CREATE INDEX IF NOT EXISTS desk_by_place ON desk_reports (lat, lon);
CREATE VIRTUAL TABLE IF NOT EXISTS desk_text USING fts5(tokens);
CREATE TABLE IF NOT EXISTS desk_history (
    position INTEGER PRIMARY KEY,
    tracking_id TEXT NOT NULL,
    stream_version INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS desk_history_by_report ON desk_history (tracking_id, position);
CREATE TABLE IF NOT EXISTS duplicate_links (
    tracking_id TEXT PRIMARY KEY,
    duplicate_of TEXT NOT NULL,
    linked_at TEXT NOT NULL,
    linked_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS duplicate_links_by_original ON duplicate_links (duplicate_of);
"""
TABLES = ("desk_reports", "desk_text", "desk_history", "duplicate_links")

OPEN_STATUSES = (Status.SUBMITTED.value, Status.COMPLETION_REQUESTED.value)
_REGION = re.compile(r"[0-9]{2,10}")
# Never shown, not even to admins: who reported is encrypted and stays with intake.
_HIDDEN_FIELDS = frozenset({"reporter", "access_code_hash", "title", "body"})
_REPORT_TYPES = frozenset(cls.event_type for cls in REPORT_EVENTS)


def iso(at: datetime) -> str:
    """UTC, always with microseconds, so stored instants compare correctly as text."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _calendar_region(code: str | None) -> str | None:
    return code if code is not None and _REGION.fullmatch(code) else None


# --- the verification clock --------------------------------------------------------------------
@dataclass(frozen=True)
class TimeLeft:
    due_date: date | None
    due_at: datetime | None
    seconds_left: float | None
    working_days_left: int | None
    overdue: bool
    paused: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "seconds_left": self.seconds_left,
            "working_days_left": self.working_days_left,
            "overdue": self.overdue,
            "paused": self.paused,
        }


class VerificationClock:
    """Counts the verification limit in the working-day calendar of a report's region."""

    def __init__(self, calendar: WorkingDayCalendar, limit: Limit) -> None:
        self.calendar = calendar
        self.limit = limit

    @classmethod
    def default(cls) -> VerificationClock:
        return cls(WorkingDayCalendar.default(), DEFAULT_POLICY.national.verification)

    def _shift(self, start: date, days: int, region: str | None) -> date:
        if self.limit.unit == "working":
            return self.calendar.add_working_days(start, days, region)
        return start + timedelta(days=days)

    def due(self, started_at: datetime, days: int, region_code: str | None) -> date:
        """The due day of `days` (limit units) counted from the local day of `started_at`."""
        region = _calendar_region(region_code)
        return self._shift(local_date(started_at, timezone_for_region(region)), days, region)

    def deadline(self, due: date, region_code: str | None) -> datetime:
        return deadline_end(due, timezone_for_region(_calendar_region(region_code)))

    def days_left(self, at: datetime, due: date, region_code: str | None) -> int:
        """Limit units from the local day of `at` to the due day (negative once overdue)."""
        region = _calendar_region(region_code)
        today = local_date(at, timezone_for_region(region))
        if self.limit.unit == "working":
            return self.calendar.working_days_between(today, due, region)
        return (due - today).days

    def time_left(self, row: sqlite3.Row, now: datetime) -> TimeLeft | None:
        if row["status"] not in OPEN_STATUSES:
            return None
        if row["paused"]:
            return TimeLeft(None, None, None, row["clock_days"], False, True)
        if row["due_date"] is None:
            return None
        due = date.fromisoformat(row["due_date"])
        end = self.deadline(due, row["region_code"])
        return TimeLeft(
            due_date=due,
            due_at=end,
            seconds_left=round((end - now).total_seconds(), 3),
            working_days_left=self.days_left(now, due, row["region_code"]),
            overdue=now > end,
            paused=False,
        )


# --- the projection ----------------------------------------------------------------------------
class DeskViews:
    """`apply` for the Projector: one event at a time, inside the projector's transaction."""

    def __init__(self, clock: VerificationClock) -> None:
        self.clock = clock

    def apply(self, conn: sqlite3.Connection, event: RecordedEvent) -> None:
        if not event.stream.startswith("report-") or event.event_type not in _REPORT_TYPES:
            return
        tracking_id = event.stream.removeprefix("report-")
        payload = event.payload()
        at = iso(event.occurred_at)
        details = {k: v for k, v in event.data.items() if k not in _HIDDEN_FIELDS}
        if isinstance(payload, ReportSubmitted):
            details = {
                k: details.get(k)
                for k in ("classification", "category", "channel", "anonymous", "confidential")
            }
        conn.execute(
            "INSERT OR IGNORE INTO desk_history (position, tracking_id, stream_version,"
            " event_type, occurred_at, actor_kind, actor_id, details)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.position,
                tracking_id,
                event.stream_version,
                event.event_type,
                at,
                event.actor.kind,
                event.actor.id,
                json.dumps(details, ensure_ascii=False),
            ),
        )
        if isinstance(payload, ReportSubmitted):
            self._submitted(conn, tracking_id, payload, event)
            return
        row = conn.execute(
            "SELECT rowid, * FROM desk_reports WHERE tracking_id = ?", (tracking_id,)
        ).fetchone()
        if row is None:
            return
        self._update(conn, tracking_id, {"version": event.stream_version})
        match payload:
            case ReportCompletionRequested():
                self._pause(conn, row, event)
            case ReportAmended():
                self._amended(conn, row, payload, event)
            case ReportVerified():
                loc = payload.location
                self._update(
                    conn,
                    tracking_id,
                    {
                        "status": Status.VERIFIED.value,
                        "classification": payload.classification.value,
                        "category": payload.category,
                        "region_code": payload.region_code,
                        "requires_field_inspection": int(payload.requires_field_inspection),
                        "agency_code": payload.agency_code,
                        "verified_at": at,
                        "decided_by": event.actor.id,
                        "postponed_until": None,
                        **self._stopped(),
                        **(
                            {"lat": loc.lat, "lon": loc.lon, "address": loc.address}
                            if loc is not None
                            else {}
                        ),
                    },
                )
            case ReportRejected():
                self._update(
                    conn,
                    tracking_id,
                    {
                        "status": Status.REJECTED.value,
                        "rejected_reason": payload.reason.value,
                        "postponed_until": None,
                        "duplicate_of": payload.duplicate_of,
                        "decided_by": event.actor.id,
                        **self._stopped(),
                    },
                )
                if payload.duplicate_of:
                    conn.execute(
                        "INSERT OR REPLACE INTO duplicate_links (tracking_id, duplicate_of,"
                        " linked_at, linked_by) VALUES (?, ?, ?, ?)",
                        (tracking_id, payload.duplicate_of, at, event.actor.id),
                    )
            case ReportPostponed():
                self._update(
                    conn,
                    tracking_id,
                    {"postponed_until": payload.until.isoformat(), "postpone_note": payload.note},
                )
            case ReportReferred():
                changes: dict[str, Any] = {"region_code": payload.to_region}
                if row["due_date"] is not None and row["clock_started_at"] is not None:
                    changes |= self._due(
                        datetime.fromisoformat(row["clock_started_at"]),
                        row["clock_days"],
                        payload.to_region,
                    )
                self._update(conn, tracking_id, changes)
            case ProtectionChanged():
                self._update(
                    conn,
                    tracking_id,
                    {
                        "anonymous": int(payload.anonymous),
                        "confidential": int(payload.confidential),
                    },
                )
            case ForwardedToOPD() | ReportReopened():
                agency = payload.agency_code or row["agency_code"]
                self._update(
                    conn,
                    tracking_id,
                    {"status": Status.FORWARDED.value, "agency_code": agency},
                )
            case ReportReturned():
                self._update(
                    conn,
                    tracking_id,
                    {"status": Status.RETURNED.value, "agency_code": None},
                )
            case ReportTransferred():
                self._update(conn, tracking_id, {"agency_code": payload.to_agency})
            case FollowUpPosted():
                self._update(conn, tracking_id, {"status": Status.FOLLOWED_UP.value})
            case ReportClosed():
                self._update(conn, tracking_id, {"status": Status.CLOSED.value})
            case SlaBreached():
                if payload.stage is SlaStage.VERIFICATION:
                    self._update(conn, tracking_id, {"breached": 1})
            case _:
                pass
        conn.execute(
            "UPDATE desk_reports SET updated_at = ? WHERE tracking_id = ?", (at, tracking_id)
        )

    # -- helpers --
    def _due(self, started_at: datetime, days: int, region_code: str | None) -> dict[str, Any]:
        due = self.clock.due(started_at, days, region_code)
        return {
            "clock_started_at": iso(started_at),
            "clock_days": days,
            "paused": 0,
            "due_date": due.isoformat(),
            "due_at": iso(self.clock.deadline(due, region_code)),
        }

    @staticmethod
    def _stopped() -> dict[str, Any]:
        return {"paused": 0, "due_date": None, "due_at": None}

    @staticmethod
    def _update(conn: sqlite3.Connection, tracking_id: str, changes: dict[str, Any]) -> None:
        columns = ", ".join(f"{name} = ?" for name in changes)
        conn.execute(
            f"UPDATE desk_reports SET {columns} WHERE tracking_id = ?",  # noqa: S608 (fixed names)
            (*changes.values(), tracking_id),
        )

    def _submitted(
        self, conn: sqlite3.Connection, tracking_id: str, p: ReportSubmitted, event: RecordedEvent
    ) -> None:
        loc = p.location
        words = tokens(p.title, p.body)
        at = iso(event.occurred_at)
        clock = self._due(event.occurred_at, self.clock.limit.days, loc.region_code)
        cursor = conn.execute(
            "INSERT OR IGNORE INTO desk_reports (tracking_id, status, classification, title, body,"
            " category, suggested_category, suggested_region, lat, lon, region_code, address,"
            " channel, anonymous, confidential, submitted_at, updated_at, version,"
            " clock_started_at, clock_days, paused, due_date, due_at, tokens)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                tracking_id,
                Status.SUBMITTED.value,
                p.classification.value,
                p.title,
                p.body,
                p.category,
                p.category,
                loc.region_code,
                loc.lat,
                loc.lon,
                loc.region_code,
                loc.address,
                p.channel.value,
                int(p.anonymous),
                int(p.confidential),
                at,
                at,
                event.stream_version,
                clock["clock_started_at"],
                clock["clock_days"],
                0,
                clock["due_date"],
                clock["due_at"],
                " ".join(sorted(words)),
            ),
        )
        if cursor.rowcount:
            conn.execute(
                "INSERT INTO desk_text (rowid, tokens) VALUES (?, ?)",
                (cursor.lastrowid, " ".join(sorted(words))),
            )

    def _pause(self, conn: sqlite3.Connection, row: sqlite3.Row, event: RecordedEvent) -> None:
        payload = event.payload()
        assert isinstance(payload, ReportCompletionRequested)
        changes: dict[str, Any] = {
            "status": Status.COMPLETION_REQUESTED.value,
            "completion_requested_at": iso(event.occurred_at),
            "completion_note": payload.note,
        }
        if row["due_date"] is not None:
            left = self.clock.days_left(
                event.occurred_at, date.fromisoformat(row["due_date"]), row["region_code"]
            )
            changes |= {"paused": 1, "clock_days": left, "due_date": None, "due_at": None}
        self._update(conn, row["tracking_id"], changes)

    def _amended(
        self, conn: sqlite3.Connection, row: sqlite3.Row, p: ReportAmended, event: RecordedEvent
    ) -> None:
        amendments = [
            *json.loads(row["amendments"]),
            {"text": p.text, "at": iso(event.occurred_at)},
        ]
        words = tokens(row["title"], row["body"], *(a["text"] for a in amendments))
        changes: dict[str, Any] = {
            "amendments": json.dumps(amendments, ensure_ascii=False),
            "tokens": " ".join(sorted(words)),
        }
        if row["status"] == Status.COMPLETION_REQUESTED.value:
            changes |= {"status": Status.SUBMITTED.value}
            if row["paused"]:
                changes |= self._due(event.occurred_at, row["clock_days"], row["region_code"])
        self._update(conn, row["tracking_id"], changes)
        conn.execute("DELETE FROM desk_text WHERE rowid = ?", (row["rowid"],))
        conn.execute(
            "INSERT INTO desk_text (rowid, tokens) VALUES (?, ?)",
            (row["rowid"], changes["tokens"]),
        )


# --- queries -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueFilter:
    status: str | None = None
    category: str | None = None
    region: str | None = None
    channel: str | None = None
    classification: str | None = None
    q: str | None = None
    postponed: str = "hide"
    overdue: bool | None = None
    limit: int = 50
    offset: int = 0


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def queue_query(f: QueueFilter, now: datetime, today: date) -> tuple[str, str, list[object]]:
    """(rows SQL, count SQL, params) for the queue: oldest first; submitted ones by default."""
    where: list[str] = []
    params: list[object] = []
    where.append("status = ?")
    params.append(f.status or Status.SUBMITTED.value)
    if f.postponed == "hide":
        where.append("(postponed_until IS NULL OR postponed_until <= ?)")
        params.append(today.isoformat())
    elif f.postponed == "only":
        where.append("postponed_until > ?")
        params.append(today.isoformat())
    if f.category:
        where.append("category = ?")
        params.append(f.category)
    if f.region:
        where.append("region_code LIKE ?")
        params.append(f.region + "%")
    if f.channel:
        where.append("channel = ?")
        params.append(f.channel)
    if f.classification:
        where.append("classification = ?")
        params.append(f.classification)
    if f.q:
        like = _like(f.q)
        where.append(
            "(tracking_id = ? OR title LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\'"
            " OR amendments LIKE ? ESCAPE '\\' OR address LIKE ? ESCAPE '\\')"
        )
        params.extend([f.q.strip().upper(), like, like, like, like])
    if f.overdue is True:
        where.append("due_at IS NOT NULL AND due_at < ?")
        params.append(iso(now))
    elif f.overdue is False:
        where.append("(due_at IS NULL OR due_at >= ?)")
        params.append(iso(now))
    clause = " AND ".join(where)
    rows = (
        f"SELECT * FROM desk_reports WHERE {clause}"  # noqa: S608 (fixed fragments, bound values)
        " ORDER BY submitted_at, tracking_id LIMIT ? OFFSET ?"
    )
    count = f"SELECT COUNT(*) AS n FROM desk_reports WHERE {clause}"  # noqa: S608
    return rows, count, params


async def queue(
    reader: ViewReader, f: QueueFilter, now: datetime, today: date
) -> tuple[list[sqlite3.Row], int]:
    rows_sql, count_sql, params = queue_query(f, now, today)
    rows = await reader.fetchall(rows_sql, [*params, f.limit, f.offset])
    total = await reader.fetchone(count_sql, params)
    return rows, int(total["n"]) if total else 0


async def report(reader: ViewReader, tracking_id: str) -> sqlite3.Row | None:
    return await reader.fetchone(
        "SELECT rowid, * FROM desk_reports WHERE tracking_id = ?", (tracking_id,)
    )


async def history(reader: ViewReader, tracking_id: str) -> list[sqlite3.Row]:
    return await reader.fetchall(
        "SELECT * FROM desk_history WHERE tracking_id = ? ORDER BY position", (tracking_id,)
    )


async def duplicates_of(reader: ViewReader, tracking_id: str) -> list[sqlite3.Row]:
    """Reports rejected as duplicates of this one."""
    return await reader.fetchall(
        "SELECT * FROM duplicate_links WHERE duplicate_of = ? ORDER BY linked_at", (tracking_id,)
    )


async def candidates(
    reader: ViewReader,
    target: sqlite3.Row,
    window: timedelta,
    metres: float,
    limit: int = 100,
) -> list[sqlite3.Row]:
    """Reports within `window` of the target's submission that share words or are nearby."""
    submitted = datetime.fromisoformat(target["submitted_at"])
    since, until = iso(submitted - window), iso(submitted + window)
    found: dict[str, sqlite3.Row] = {}
    query = fts_query(target["tokens"].split())
    if query is not None:
        for row in await reader.fetchall(
            "SELECT r.rowid, r.* FROM desk_text JOIN desk_reports r ON r.rowid = desk_text.rowid"
            " WHERE desk_text MATCH ? AND r.tracking_id != ? AND r.submitted_at BETWEEN ? AND ?"
            " ORDER BY bm25(desk_text) LIMIT ?",
            (query, target["tracking_id"], since, until, limit),
        ):
            found[row["tracking_id"]] = row
    if target["lat"] is not None and target["lon"] is not None:
        min_lat, max_lat, min_lon, max_lon = bounding_box(target["lat"], target["lon"], metres)
        for row in await reader.fetchall(
            "SELECT rowid, * FROM desk_reports WHERE lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?"
            " AND tracking_id != ? AND submitted_at BETWEEN ? AND ? LIMIT ?",
            (min_lat, max_lat, min_lon, max_lon, target["tracking_id"], since, until, limit),
        ):
            found.setdefault(row["tracking_id"], row)
    return list(found.values())


async def count_open(reader: ViewReader) -> Sequence[sqlite3.Row]:
    return await reader.fetchall(
        "SELECT status, COUNT(*) AS n FROM desk_reports WHERE status IN (?, ?) GROUP BY status",
        OPEN_STATUSES,
    )
