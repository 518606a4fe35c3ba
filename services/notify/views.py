"""Notify's read model: the delivery log, rebuilt from NotificationSent/Failed/Skipped events.

The outbox (services/notify/outbox.py) knows what is still on its way; this view knows every
outcome the event store holds, so the log survives the loss of the outbox and
`lapor rebuild notify` can restore it.
"""

from __future__ import annotations

import sqlite3

from shared.notifications.events import (
    NOTIFICATION_STREAM_PREFIX,
    NotificationFailed,
    NotificationSent,
    NotificationSkipped,
)
from shared.reports.lifecycle import stream_name
from shared.runtime.projection import ViewReader
from shared.sql import where_equal
from shared.store.port import RecordedEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    notification_id    TEXT PRIMARY KEY,
    tracking_id        TEXT NOT NULL,
    cause_event_id     TEXT NOT NULL,
    cause_event_type   TEXT NOT NULL,
    recipient_kind     TEXT NOT NULL,
    agency_code        TEXT,
    channel            TEXT NOT NULL,
    template           TEXT NOT NULL,
    language           TEXT NOT NULL,
    status             TEXT NOT NULL,
    attempts           INTEGER NOT NULL,
    possible_duplicate INTEGER NOT NULL DEFAULT 0,
    detail             TEXT,
    completed_at       TEXT NOT NULL,
    position           INTEGER NOT NULL,
    correlation_id     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_tracking ON notifications (tracking_id, position);
CREATE INDEX IF NOT EXISTS notifications_status ON notifications (status, position);
-- Each report's region now (the envelope's region_code of its newest event): what a regional
-- administrator's view of the log is limited to.
CREATE TABLE IF NOT EXISTS report_regions (
    tracking_id TEXT PRIMARY KEY,
    region_code TEXT
);
"""
TABLES = ("notifications", "report_regions")
REPORT_STREAM_PREFIX = stream_name("")


def apply(conn: sqlite3.Connection, event: RecordedEvent) -> None:
    if event.stream.startswith(REPORT_STREAM_PREFIX):
        conn.execute(
            "INSERT OR REPLACE INTO report_regions (tracking_id, region_code) VALUES (?, ?)",
            (event.stream.removeprefix(REPORT_STREAM_PREFIX), event.region_code),
        )
        return
    if not event.stream.startswith(NOTIFICATION_STREAM_PREFIX):
        return
    if event.event_type not in ("NotificationSent", "NotificationFailed", "NotificationSkipped"):
        return
    payload = event.payload()
    if isinstance(payload, NotificationSent):
        status, detail, duplicate = "sent", None, payload.possible_duplicate
    elif isinstance(payload, NotificationFailed):
        status, detail, duplicate = "failed", payload.error, False
    elif isinstance(payload, NotificationSkipped):
        status, detail, duplicate = "unreachable", payload.detail, False
    else:
        return
    conn.execute(
        "INSERT OR REPLACE INTO notifications (notification_id, tracking_id, cause_event_id,"
        " cause_event_type, recipient_kind, agency_code, channel, template, language, status,"
        " attempts, possible_duplicate, detail, completed_at, position, correlation_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            str(payload.notification_id),
            payload.tracking_id,
            str(payload.cause_event_id),
            payload.cause_event_type,
            payload.recipient_kind,
            payload.agency_code,
            payload.channel.value,
            payload.template,
            payload.language,
            status,
            payload.attempts,
            int(duplicate),
            detail,
            event.occurred_at.isoformat(),
            event.position,
            event.correlation_id,
        ),
    )


async def regions(view: ViewReader, tracking_ids: set[str]) -> dict[str, str | None]:
    """The region of each report the view knows of (a report it does not know is left out)."""
    found: dict[str, str | None] = {}
    ids = sorted(tracking_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = await view.fetchall(
            "SELECT tracking_id, region_code FROM report_regions WHERE tracking_id IN"  # noqa: S608
            f" ({', '.join('?' * len(chunk))})",  # placeholders only: the ids are parameters
            chunk,
        )
        found |= {r["tracking_id"]: r["region_code"] for r in rows}
    return found


async def outcomes(
    view: ViewReader, tracking_id: str | None, status: str | None, limit: int
) -> list[sqlite3.Row]:
    """Recorded outcomes in the store's order, of one report and/or with one status."""
    where, params = where_equal(tracking_id=tracking_id, status=status)
    sql = "SELECT * FROM notifications" + where + " ORDER BY position LIMIT ?"  # noqa: S608
    return await view.fetchall(sql, [*params, limit])
