"""Intake's read models, built from events: the citizen's side of every report.

Tables (one SQLite file, rebuilt from the store by `lapor rebuild intake`):
- `reports`: one row per report (what the public and the reporter may see; never who reported).
- `reports_fts`: FTS5 over title and body, external content on `reports` kept by triggers.
- `reports_geo`: an R*Tree of public reports' positions, for map queries by bounding box.
- `timeline`: every event of every report, with the public part of its data.
- `stats_counts`: counters by status, category, region, agency, … kept as events arrive, so the
  statistics page reads a few hundred rows however many reports there are.

Every report lives here from its submission (its reporter may read it), but the public sees a
report only once it is **published**: forwarded to an institution at least once, not rejected,
not confidential (DESIGN §9). Public queries (lists, search, map, statistics, Open311 lists) hold
only published reports; confidential ones count only in the statistics' totals. What the public
reads of a report is its public text when an administrator set one (PublicTextSet: a phone number
or a name taken out), else the reporter's own words; the search indexes what the public reads.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from shared.calendar import deadline_end, timezone_for_region
from shared.events.base import UnknownEventType
from shared.reports.events import (
    AdministratorReplied,
    EscalatedToOmbudsman,
    FollowUpPosted,
    ForwardedToOPD,
    ProtectionChanged,
    PublicTextSet,
    ReportAmended,
    ReportClosed,
    ReportCompletionRequested,
    ReportDelegated,
    ReporterReplied,
    ReportRated,
    ReportReferred,
    ReportRejected,
    ReportReopened,
    ReportReturned,
    ReportSubmitted,
    ReportTransferred,
    ReportVerified,
    Status,
)
from shared.runtime.projection import Projector
from shared.store.port import RecordedEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    seq INTEGER PRIMARY KEY,
    tracking_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    classification TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    category TEXT,
    lat REAL, lon REAL, region_code TEXT, address TEXT,
    province_code TEXT, regency_code TEXT, district_code TEXT,
    channel TEXT NOT NULL,
    anonymous INTEGER NOT NULL,
    confidential INTEGER NOT NULL,
    agency_code TEXT,
    agency_name TEXT,
    access_code_hash TEXT NOT NULL,
    event_date TEXT,
    attachments TEXT NOT NULL DEFAULT '[]',
    submitted_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    follow_up_due TEXT,
    first_follow_up_at TEXT,
    follow_up_on_time INTEGER,
    rating INTEGER,
    published INTEGER NOT NULL DEFAULT 0,
    public_title TEXT,
    public_body TEXT,
    escalated INTEGER NOT NULL DEFAULT 0
);
-- Public lists: one partial index per filter; the rowid (seq) at the end of every index entry
-- gives "newest first" without sorting.
CREATE INDEX IF NOT EXISTS reports_by_status ON reports (status)
    WHERE confidential = 0 AND published = 1;
CREATE INDEX IF NOT EXISTS reports_by_category ON reports (category)
    WHERE confidential = 0 AND published = 1;
CREATE INDEX IF NOT EXISTS reports_by_province ON reports (province_code)
    WHERE confidential = 0 AND published = 1;
CREATE INDEX IF NOT EXISTS reports_by_regency ON reports (regency_code)
    WHERE confidential = 0 AND published = 1;
CREATE INDEX IF NOT EXISTS reports_by_district ON reports (district_code)
    WHERE confidential = 0 AND published = 1;
CREATE INDEX IF NOT EXISTS reports_by_region ON reports (region_code)
    WHERE confidential = 0 AND published = 1;
CREATE INDEX IF NOT EXISTS reports_by_agency ON reports (agency_code)
    WHERE confidential = 0 AND published = 1;
CREATE VIRTUAL TABLE IF NOT EXISTS reports_fts USING fts5(
    title, body, content='reports', content_rowid='seq', tokenize='unicode61 remove_diacritics 2'
);
-- The search indexes what the public reads: the public text when there is one.
CREATE TRIGGER IF NOT EXISTS reports_fts_insert AFTER INSERT ON reports BEGIN
    INSERT INTO reports_fts (rowid, title, body) VALUES (
        new.seq, COALESCE(new.public_title, new.title), COALESCE(new.public_body, new.body)
    );
END;
CREATE TRIGGER IF NOT EXISTS reports_fts_delete AFTER DELETE ON reports BEGIN
    INSERT INTO reports_fts (reports_fts, rowid, title, body) VALUES (
        'delete', old.seq, COALESCE(old.public_title, old.title),
        COALESCE(old.public_body, old.body)
    );
END;
CREATE TRIGGER IF NOT EXISTS reports_fts_update
AFTER UPDATE OF title, body, public_title, public_body ON reports BEGIN
    INSERT INTO reports_fts (reports_fts, rowid, title, body) VALUES (
        'delete', old.seq, COALESCE(old.public_title, old.title),
        COALESCE(old.public_body, old.body)
    );
    INSERT INTO reports_fts (rowid, title, body) VALUES (
        new.seq, COALESCE(new.public_title, new.title), COALESCE(new.public_body, new.body)
    );
END;
CREATE VIRTUAL TABLE IF NOT EXISTS reports_geo USING rtree(
    seq, min_lat, max_lat, min_lon, max_lon
);
CREATE TABLE IF NOT EXISTS timeline (
    position INTEGER PRIMARY KEY,
    tracking_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timeline_by_report ON timeline (tracking_id, position);
CREATE TABLE IF NOT EXISTS stats_counts (
    dimension TEXT NOT NULL,
    key TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (dimension, key)
) WITHOUT ROWID;
"""
TABLES = ("reports_fts", "reports_geo", "reports", "timeline", "stats_counts")
VERSION = 3  # PRAGMA user_version of the view file; raise it when SCHEMA changes incompatibly
# The indexes only the queries read through (the fold reads reports by their tracking id): a
# rebuild creates them once its tables are full (`Projector`'s deferred_indexes).
DEFERRED_INDEXES = (
    "reports_by_status",
    "reports_by_category",
    "reports_by_province",
    "reports_by_regency",
    "reports_by_district",
    "reports_by_region",
    "reports_by_agency",
    "timeline_by_report",
)


def is_stale(conn: sqlite3.Connection) -> bool:
    """A view file written by an older SCHEMA (it must be dropped and rebuilt)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    return "reports" in tables and version < VERSION


def drop_stale(conn: sqlite3.Connection, name: str) -> bool:
    """Drop an older SCHEMA's tables and checkpoint; True when there was something to drop."""
    if not is_stale(conn):
        conn.execute(f"PRAGMA user_version = {VERSION}")
        return False
    for table in (*TABLES, "timeline"):
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute("DELETE FROM checkpoint WHERE name = ?", (name,))
    conn.execute(f"PRAGMA user_version = {VERSION}")
    return True


# What the public timeline shows of each event: never who reported, never contact details,
# never attachment names (a file name can carry a name); only how many files came with it.
_PUBLIC_FIELDS: dict[str, tuple[str, ...]] = {
    "ReportSubmitted": ("channel",),
    "ReportCompletionRequested": ("note",),
    "ReportAmended": ("text",),
    "ReportVerified": ("classification", "category", "region_code", "requires_field_inspection"),
    "ReportRejected": ("reason", "note", "duplicate_of"),
    "ReportPostponed": ("until", "note"),
    "ReportReferred": ("to_region", "note"),
    "ForwardedToOPD": ("agency_code", "agency_name", "follow_up_due"),
    "ReportReturned": ("agency_code", "reason", "note"),
    "ReportTransferred": ("from_agency", "to_agency", "to_agency_name", "note"),
    "FollowUpPosted": ("agency_code", "text", "kind"),
    "ReporterReplied": ("text",),
    "ReportClosed": ("reason", "note"),
    "ReportRated": ("rating", "comment"),
    "ReportReopened": ("reason", "agency_code"),
    "SlaBreached": ("stage", "due", "agency_code"),
    "EscalatedToOmbudsman": ("ombudsman_office", "province_code", "grounds"),
    "ProtectionChanged": ("anonymous", "confidential"),
    "ReportDelegated": ("from_agency", "to_agency", "to_agency_name"),
    "AdministratorReplied": ("text",),
    "CompletionReminded": ("closes_on",),
    "SlaDueSoon": ("stage", "due"),
}


def region_parts(code: str | None) -> tuple[str | None, str | None, str | None]:
    """Province (2 digits), regency/city (4) and district (6) of a Kemendagri code."""
    if not code:
        return None, None, None
    return (
        code[:2],
        code[:4] if len(code) >= 4 else None,
        code[:6] if len(code) >= 6 else None,
    )


def _details(event: RecordedEvent) -> dict[str, Any]:
    data = event.current_data()
    details = {k: data.get(k) for k in _PUBLIC_FIELDS.get(event.event_type, ())}
    attachments = event.data.get("attachments")
    if attachments:
        details["attachment_count"] = len(attachments)
    return details


def _row(conn: sqlite3.Connection, tracking_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM reports WHERE tracking_id = ?", (tracking_id,)
    ).fetchone()
    return row


def _status(conn: sqlite3.Connection, tracking_id: str, status: Status, at: str) -> None:
    conn.execute(
        "UPDATE reports SET status = ?, updated_at = ? WHERE tracking_id = ?",
        (status.value, at, tracking_id),
    )


def _set_region(conn: sqlite3.Connection, tracking_id: str, code: str | None) -> None:
    province, regency, district = region_parts(code)
    conn.execute(
        "UPDATE reports SET region_code = ?, province_code = ?, regency_code = ?,"
        " district_code = ? WHERE tracking_id = ?",
        (code, province, regency, district, tracking_id),
    )


def _add_attachments(conn: sqlite3.Connection, tracking_id: str, event: RecordedEvent) -> None:
    new = event.data.get("attachments") or []
    if not new:
        return
    row = conn.execute(
        "SELECT attachments FROM reports WHERE tracking_id = ?", (tracking_id,)
    ).fetchone()
    if row is None:
        return
    known = json.loads(row[0])
    seen = {a["sha256"] for a in known}
    known.extend(a for a in new if a["sha256"] not in seen)
    conn.execute(
        "UPDATE reports SET attachments = ? WHERE tracking_id = ?", (json.dumps(known), tracking_id)
    )


class ReportViews:
    """The projector's apply, and the end of its transaction (`BatchEnd`): the counters and the
    map move once per report per transaction, by the difference between the report's row
    before the transaction's first event and after its last (the same sums as event by event)."""

    def __init__(self) -> None:
        # Each report the open transaction's events touched: its row before the first of them.
        self._before: dict[str, sqlite3.Row | None] = {}

    def apply(self, conn: sqlite3.Connection, event: RecordedEvent) -> None:
        if not event.stream.startswith("report-"):
            return
        tracking_id = event.stream.removeprefix("report-")
        at = event.occurred_at.isoformat()
        conn.execute(
            "INSERT OR IGNORE INTO timeline (position, tracking_id, event_type, occurred_at,"
            " actor_kind, details) VALUES (?, ?, ?, ?, ?, ?)",
            (
                event.position,
                tracking_id,
                event.event_type,
                at,
                event.actor.kind,
                json.dumps(_details(event)),
            ),
        )
        try:
            payload = event.payload()
        except UnknownEventType:  # from a newer version or another module: the timeline is enough
            return
        if tracking_id not in self._before:
            self._before[tracking_id] = _row(conn, tracking_id)
        _apply_report(conn, tracking_id, payload, event, at)

    def finish(self, conn: sqlite3.Connection) -> None:
        counts: Counter[tuple[str, str]] = Counter()
        for tracking_id, before in self._before.items():
            after = _row(conn, tracking_id)
            _count(counts, before, after)
            _sync_geo(conn, before, after)
        _write_counts(conn, counts)
        self._before.clear()

    def discard(self) -> None:
        self._before.clear()


def _apply_report(
    conn: sqlite3.Connection, tracking_id: str, payload: object, event: RecordedEvent, at: str
) -> None:
    match payload:
        case ReportSubmitted():
            loc = payload.location
            province, regency, district = region_parts(loc.region_code)
            conn.execute(
                "INSERT OR IGNORE INTO reports (tracking_id, status, classification, title, body,"
                " category, lat, lon, region_code, address, province_code, regency_code,"
                " district_code, channel, anonymous, confidential, access_code_hash, event_date,"
                " attachments, submitted_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    tracking_id,
                    Status.SUBMITTED.value,
                    payload.classification.value,
                    payload.title,
                    payload.body,
                    payload.category,
                    loc.lat,
                    loc.lon,
                    loc.region_code,
                    loc.address,
                    province,
                    regency,
                    district,
                    payload.channel.value,
                    int(payload.anonymous),
                    int(payload.confidential),
                    payload.access_code_hash,
                    payload.event_date.isoformat() if payload.event_date else None,
                    json.dumps([a.model_dump(mode="json") for a in payload.attachments]),
                    at,
                    at,
                ),
            )
        case ReportCompletionRequested():
            _status(conn, tracking_id, Status.COMPLETION_REQUESTED, at)
        case ReportAmended():
            conn.execute(
                "UPDATE reports SET status = CASE WHEN status = 'completion_requested'"
                " THEN 'submitted' ELSE status END, updated_at = ? WHERE tracking_id = ?",
                (at, tracking_id),
            )
            _add_attachments(conn, tracking_id, event)
        case ReportVerified():
            conn.execute(
                "UPDATE reports SET status = 'verified', classification = ?, category = ?,"
                " updated_at = ? WHERE tracking_id = ?",
                (payload.classification.value, payload.category, at, tracking_id),
            )
            _set_region(conn, tracking_id, payload.region_code)
            if payload.location is not None:
                conn.execute(
                    "UPDATE reports SET lat = ?, lon = ?, address = ? WHERE tracking_id = ?",
                    (
                        payload.location.lat,
                        payload.location.lon,
                        payload.location.address,
                        tracking_id,
                    ),
                )
        case ReportReferred():
            _set_region(conn, tracking_id, payload.to_region)
        case ReportRejected():
            conn.execute(
                "UPDATE reports SET status = 'rejected', published = 0, updated_at = ?"
                " WHERE tracking_id = ?",
                (at, tracking_id),
            )
        case ProtectionChanged():
            conn.execute(
                "UPDATE reports SET anonymous = ?, confidential = ?, updated_at = ?"
                " WHERE tracking_id = ?",
                (int(payload.anonymous), int(payload.confidential), at, tracking_id),
            )
        case ForwardedToOPD():
            # Published from its first forwarding on (seed 000: "LAPOR! akan menerbitkan tiap
            # laporan yang telah dilanjutkan").
            conn.execute(
                "UPDATE reports SET status = 'forwarded', published = 1, agency_code = ?,"
                " agency_name = ?, follow_up_due = ?, updated_at = ? WHERE tracking_id = ?",
                (
                    payload.agency_code,
                    payload.agency_name,
                    payload.follow_up_due.isoformat(),
                    at,
                    tracking_id,
                ),
            )
        case ReportReturned():
            conn.execute(
                "UPDATE reports SET status = 'returned', agency_code = NULL, agency_name = NULL,"
                " updated_at = ? WHERE tracking_id = ?",
                (at, tracking_id),
            )
        case ReportTransferred():
            conn.execute(
                "UPDATE reports SET agency_code = ?, agency_name = ?, follow_up_due = ?,"
                " updated_at = ? WHERE tracking_id = ?",
                (
                    payload.to_agency,
                    payload.to_agency_name,
                    payload.follow_up_due.isoformat(),
                    at,
                    tracking_id,
                ),
            )
        case ReportDelegated():
            conn.execute(
                "UPDATE reports SET agency_code = ?, agency_name = ?, updated_at = ?"
                " WHERE tracking_id = ?",
                (payload.to_agency, payload.to_agency_name, at, tracking_id),
            )
        case PublicTextSet():
            conn.execute(
                "UPDATE reports SET public_title = ?, public_body = ?, updated_at = ?"
                " WHERE tracking_id = ?",
                (payload.title, payload.body, at, tracking_id),
            )
        case FollowUpPosted():
            _status(conn, tracking_id, Status.FOLLOWED_UP, at)
            _first_follow_up(conn, tracking_id, event.occurred_at)
            _add_attachments(conn, tracking_id, event)
        case ReporterReplied():
            conn.execute(
                "UPDATE reports SET updated_at = ? WHERE tracking_id = ?", (at, tracking_id)
            )
            _add_attachments(conn, tracking_id, event)
        case AdministratorReplied():
            conn.execute(
                "UPDATE reports SET updated_at = ? WHERE tracking_id = ?", (at, tracking_id)
            )
        case ReportClosed():
            _status(conn, tracking_id, Status.CLOSED, at)
        case ReportRated():
            conn.execute(
                "UPDATE reports SET rating = ?, updated_at = ? WHERE tracking_id = ?",
                (payload.rating, at, tracking_id),
            )
        case ReportReopened():
            _status(conn, tracking_id, Status.FORWARDED, at)
        case EscalatedToOmbudsman():
            conn.execute(
                "UPDATE reports SET escalated = 1, updated_at = ? WHERE tracking_id = ?",
                (at, tracking_id),
            )
        case _:
            pass


def _first_follow_up(conn: sqlite3.Connection, tracking_id: str, at: datetime) -> None:
    row = conn.execute(
        "SELECT first_follow_up_at, follow_up_due, region_code FROM reports WHERE tracking_id = ?",
        (tracking_id,),
    ).fetchone()
    if row is None or row[0] is not None:
        return
    on_time = None
    if row[1]:
        due = date.fromisoformat(row[1])
        on_time = int(at <= deadline_end(due, timezone_for_region(row[2])))
    conn.execute(
        "UPDATE reports SET first_follow_up_at = ?, follow_up_on_time = ? WHERE tracking_id = ?",
        (at.isoformat(), on_time, tracking_id),
    )


def follow_up_due_kept(row: Any) -> str | None:
    """The first follow-up's last day while an institution holds the report. The row keeps the
    day after a return (the statistics count the report as forwarded), but sla stops that
    deadline then: nobody keeps it until the report is forwarded again, with a day of its own."""
    return row["follow_up_due"] if row["agency_code"] else None


# --- statistics: counters kept by difference -------------------------------------------------
def contributions(row: sqlite3.Row | None) -> list[tuple[str, str]]:
    """The counters one report adds to: only published reports count (DESIGN §9), confidential
    ones only in the totals."""
    if row is None or not row["published"]:
        return []
    keys = [("total", "all")]
    if row["confidential"]:
        keys.append(("total", "confidential"))
        return keys
    keys += [
        ("total", "public"),
        ("status", row["status"]),
        ("category", row["category"] or ""),
        ("classification", row["classification"]),
        ("channel", row["channel"]),
    ]
    if row["province_code"]:
        keys.append(("province", row["province_code"]))
    if row["regency_code"]:
        keys.append(("regency", row["regency_code"]))
    if row["agency_code"]:
        keys.append(("agency", row["agency_code"]))
    if row["follow_up_due"]:
        keys.append(("follow_up", "forwarded"))
        if row["first_follow_up_at"]:
            keys.append(("follow_up", "on_time" if row["follow_up_on_time"] else "late"))
    if row["rating"]:
        keys.append(("rating", str(row["rating"])))
    return keys


def _count(
    changes: Counter[tuple[str, str]], before: sqlite3.Row | None, after: sqlite3.Row | None
) -> None:
    """What one report's move adds to each counter (only the counters that changed: a report
    moving on changes its status and little else)."""
    old, new = contributions(before), contributions(after)
    if old == new:
        return
    for counter in old:
        changes[counter] -= 1
    for counter in new:
        changes[counter] += 1


def _write_counts(conn: sqlite3.Connection, changes: Counter[tuple[str, str]]) -> None:
    """One statement per counter a transaction changed. A counter back at zero has no row (the
    statistics read a missing counter as zero), so the rows are the same whether a report's
    events came in one transaction or in many."""
    grown = [(dimension, key, n) for (dimension, key), n in changes.items() if n > 0]
    shrunk = [(n, dimension, key) for (dimension, key), n in changes.items() if n < 0]
    if grown:
        conn.executemany(
            "INSERT INTO stats_counts (dimension, key, n) VALUES (?, ?, ?)"
            " ON CONFLICT (dimension, key) DO UPDATE SET n = n + excluded.n",
            grown,
        )
    if shrunk:
        conn.executemany(
            "UPDATE stats_counts SET n = n + ? WHERE dimension = ? AND key = ?", shrunk
        )
        conn.executemany(
            "DELETE FROM stats_counts WHERE dimension = ? AND key = ? AND n = 0",
            [(dimension, key) for _, dimension, key in shrunk],
        )


def _geo_key(row: sqlite3.Row | None) -> tuple[int, float, float] | None:
    if (
        row is None
        or row["confidential"]
        or not row["published"]
        or row["lat"] is None
        or row["lon"] is None
    ):
        return None
    return int(row["seq"]), float(row["lat"]), float(row["lon"])


def _sync_geo(
    conn: sqlite3.Connection, before: sqlite3.Row | None, after: sqlite3.Row | None
) -> None:
    old, new = _geo_key(before), _geo_key(after)
    if old == new:
        return
    if old is not None:
        conn.execute("DELETE FROM reports_geo WHERE seq = ?", (old[0],))
    if new is not None:
        conn.execute(
            "INSERT OR REPLACE INTO reports_geo (seq, min_lat, max_lat, min_lon, max_lon)"
            " VALUES (?, ?, ?, ?, ?)",
            (new[0], new[1], new[1], new[2], new[2]),
        )


# --- queries -----------------------------------------------------------------------------------
_TERM = re.compile(r"\w+")
MAX_TERMS = 12


def fts_query(text: str) -> str | None:
    """A safe FTS5 query: every word quoted (no operators, columns, prefixes or other syntax
    from the user: `NEAR`, `OR`, `title:`, `*`, `^` and quotes are plain text or separators).

    Words are ANDed. Returns None when the text has no word at all.
    """
    terms = ['"' + word.replace('"', '""') + '"' for word in _TERM.findall(text)[:MAX_TERMS]]
    return " ".join(terms) if terms else None


@dataclass(frozen=True)
class ReportFilter:
    status: str | None = None
    category: str | None = None
    region: str | None = None
    agency: str | None = None
    classification: str | None = None
    q: str | None = None


_REGION_COLUMN = {2: "province_code", 4: "regency_code", 6: "district_code"}


def _filters(f: ReportFilter, alias: str = "r") -> tuple[list[str], list[object]]:
    where = [f"{alias}.confidential = 0", f"{alias}.published = 1"]
    params: list[object] = []
    for column, value in (
        ("status", f.status),
        ("category", f.category),
        ("agency_code", f.agency),
        ("classification", f.classification),
    ):
        if value:
            where.append(f"{alias}.{column} = ?")
            params.append(value)
    if f.region:
        level = _REGION_COLUMN.get(len(f.region))
        if level:
            where.append(f"{alias}.{level} = ?")
            params.append(f.region)
        elif len(f.region) >= 10:
            where.append(f"{alias}.region_code = ?")
            params.append(f.region)
        else:  # an unusual length: a prefix range on the full code (':' sorts after '9')
            where.append(f"{alias}.region_code >= ? AND {alias}.region_code < ?")
            params.extend([f.region, f.region + ":"])
    return where, params


@dataclass
class Page:
    rows: list[sqlite3.Row] = field(default_factory=list)
    next_cursor: int | None = None


def list_query(
    f: ReportFilter, limit: int, before: int | None = None, offset: int = 0
) -> tuple[str, list[object]] | None:
    """SQL for one page of public reports, newest first. None: the search can match nothing."""
    where, params = _filters(f)
    if f.q is not None:
        match = fts_query(f.q)
        if match is None:
            return None
        if before is not None:
            where.append("reports_fts.rowid < ?")
            params.append(before)
        sql = (
            "SELECT r.* FROM reports_fts CROSS JOIN reports r ON r.seq = reports_fts.rowid"  # noqa: S608 - fixed names, bound values
            " WHERE reports_fts MATCH ? AND "
            + " AND ".join(where)
            + " ORDER BY reports_fts.rowid DESC LIMIT ? OFFSET ?"
        )
        return sql, [match, *params, limit, offset]
    if before is not None:
        where.append("r.seq < ?")
        params.append(before)
    sql = (
        "SELECT r.* FROM reports r WHERE "  # noqa: S608 - fixed names, bound values
        + " AND ".join(where)
        + " ORDER BY r.seq DESC LIMIT ? OFFSET ?"
    )
    return sql, [*params, limit, offset]


def map_query(
    f: ReportFilter, limit: int, bbox: tuple[float, float, float, float] | None
) -> tuple[str, list[object]]:
    """Public reports with a position: the newest, or (with a bbox) any `limit` inside it."""
    where, params = _filters(f)
    if bbox is None:
        where += ["r.lat IS NOT NULL", "r.lon IS NOT NULL"]
        sql = (
            "SELECT r.* FROM reports r WHERE "  # noqa: S608 - fixed names, bound values
            + " AND ".join(where)
            + " ORDER BY r.seq DESC LIMIT ?"
        )
        return sql, [*params, limit]
    min_lon, min_lat, max_lon, max_lat = bbox
    sql = (
        "SELECT r.* FROM reports_geo g CROSS JOIN reports r ON r.seq = g.seq"  # noqa: S608 - fixed names, bound values
        " WHERE g.min_lat >= ? AND g.max_lat <= ? AND g.min_lon >= ? AND g.max_lon <= ?"
        " AND r.lat BETWEEN ? AND ? AND r.lon BETWEEN ? AND ? AND "
        + " AND ".join(where)
        + " LIMIT ?"
    )
    return sql, [
        min_lat,
        max_lat,
        min_lon,
        max_lon,
        min_lat,
        max_lat,
        min_lon,
        max_lon,
        *params,
        limit,
    ]


def stats_from_counts(rows: Sequence[sqlite3.Row | tuple[str, str, int]]) -> dict[str, Any]:
    """The public statistics from the counters (confidential reports only in the totals)."""
    by: dict[str, dict[str, int]] = {}
    for dimension, key, n in rows:
        if n:
            by.setdefault(dimension, {})[key] = int(n)
    totals = by.get("total", {})
    follow = by.get("follow_up", {})
    forwarded = follow.get("forwarded", 0)
    on_time, late = follow.get("on_time", 0), follow.get("late", 0)
    ratings = by.get("rating", {})
    rated = sum(ratings.values())
    return {
        "total": totals.get("all", 0),
        "confidential": totals.get("confidential", 0),
        "public": totals.get("public", 0),
        "by_status": _sorted(by.get("status", {})),
        "by_category": _sorted(by.get("category", {})),
        "by_classification": _sorted(by.get("classification", {})),
        "by_channel": _sorted(by.get("channel", {})),
        "by_province": _sorted(by.get("province", {})),
        "by_regency": _sorted(by.get("regency", {})),
        "by_agency": _sorted(by.get("agency", {})),
        "follow_up": {
            "forwarded": forwarded,
            "followed_up": on_time + late,
            "on_time": on_time,
            "late": late,
            "share_on_time": round(on_time / forwarded, 4) if forwarded else None,
        },
        "rating": {
            "count": rated,
            "average": (
                round(sum(int(k) * v for k, v in ratings.items()) / rated, 2) if rated else None
            ),
            "by_stars": _sorted(ratings),
        },
    }


def _sorted(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def drop_expired_text(projector: Projector, cutoff: datetime) -> int:
    """Blank the body and address of reports finished before `cutoff`, and the free text (text,
    note, comment) of their timeline, in the projector's transaction (so a rebuild, which brings
    them back, is blanked again at the next pass). Returns how many reports were blanked."""
    at = cutoff.isoformat()
    with projector.transaction() as conn:
        conn.execute(
            "UPDATE timeline SET details = json_remove(details, '$.text', '$.note', '$.comment')"
            " WHERE tracking_id IN (SELECT tracking_id FROM reports"
            " WHERE status IN ('closed', 'rejected') AND updated_at < ?)"
            " AND (json_extract(details, '$.text') IS NOT NULL"
            " OR json_extract(details, '$.note') IS NOT NULL"
            " OR json_extract(details, '$.comment') IS NOT NULL)",
            (at,),
        )
        blanked = conn.execute(
            "UPDATE reports SET body = '', address = NULL"
            " WHERE status IN ('closed', 'rejected') AND updated_at < ?"
            " AND (body != '' OR address IS NOT NULL)",
            (at,),
        )
        return int(blanked.rowcount)
