"""Intake's read models: the public report view and the timeline, built from events."""

from __future__ import annotations

import json
import sqlite3

from shared.domain.events import (
    EscalatedToOmbudsman,
    FollowUpPosted,
    ForwardedToOPD,
    ProtectionChanged,
    ReportAmended,
    ReportClosed,
    ReportCompletionRequested,
    ReportRated,
    ReportRejected,
    ReportReopened,
    ReportReturned,
    ReportSubmitted,
    ReportTransferred,
    ReportVerified,
    Status,
)
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
    agency_code TEXT,
    agency_name TEXT,
    access_code_hash TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    follow_up_due TEXT,
    rating INTEGER
);
CREATE INDEX IF NOT EXISTS reports_by_status ON reports (status, submitted_at);
CREATE INDEX IF NOT EXISTS reports_by_region ON reports (region_code);
CREATE INDEX IF NOT EXISTS reports_by_agency ON reports (agency_code);
CREATE TABLE IF NOT EXISTS timeline (
    position INTEGER PRIMARY KEY,
    tracking_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timeline_by_report ON timeline (tracking_id, position);
"""
TABLES = ("reports", "timeline")

# What the public timeline shows of each event: never who reported, never contact details.
_PUBLIC_FIELDS: dict[str, tuple[str, ...]] = {
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
    "EscalatedToOmbudsman": ("ombudsman_office",),
    "ProtectionChanged": ("anonymous", "confidential"),
}


def _status(conn: sqlite3.Connection, tracking_id: str, status: Status, at: str) -> None:
    conn.execute(
        "UPDATE reports SET status = ?, updated_at = ? WHERE tracking_id = ?",
        (status.value, at, tracking_id),
    )


def apply(conn: sqlite3.Connection, event: RecordedEvent) -> None:
    if not event.stream.startswith("report-"):
        return
    tracking_id = event.stream.removeprefix("report-")
    at = event.occurred_at.isoformat()
    payload = event.payload()
    details = {k: event.data.get(k) for k in _PUBLIC_FIELDS.get(event.event_type, ())}
    conn.execute(
        "INSERT OR IGNORE INTO timeline (position, tracking_id, event_type, occurred_at,"
        " actor_kind, details) VALUES (?, ?, ?, ?, ?, ?)",
        (event.position, tracking_id, event.event_type, at, event.actor.kind, json.dumps(details)),
    )
    match payload:
        case ReportSubmitted():
            loc = payload.location
            conn.execute(
                "INSERT OR IGNORE INTO reports (tracking_id, status, classification, title, body,"
                " category, lat, lon, region_code, address, channel, anonymous, confidential,"
                " access_code_hash, submitted_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    payload.channel.value,
                    int(payload.anonymous),
                    int(payload.confidential),
                    payload.access_code_hash,
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
        case ReportVerified():
            conn.execute(
                "UPDATE reports SET status = 'verified', classification = ?, category = ?,"
                " region_code = ?, updated_at = ? WHERE tracking_id = ?",
                (
                    payload.classification.value,
                    payload.category,
                    payload.region_code,
                    at,
                    tracking_id,
                ),
            )
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
        case ReportRejected():
            _status(conn, tracking_id, Status.REJECTED, at)
        case ProtectionChanged():
            conn.execute(
                "UPDATE reports SET anonymous = ?, confidential = ?, updated_at = ?"
                " WHERE tracking_id = ?",
                (int(payload.anonymous), int(payload.confidential), at, tracking_id),
            )
        case ForwardedToOPD():
            conn.execute(
                "UPDATE reports SET status = 'forwarded', agency_code = ?, agency_name = ?,"
                " follow_up_due = ?, updated_at = ? WHERE tracking_id = ?",
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
        case FollowUpPosted():
            _status(conn, tracking_id, Status.FOLLOWED_UP, at)
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
                "UPDATE reports SET updated_at = ? WHERE tracking_id = ?", (at, tracking_id)
            )
        case _:
            pass
